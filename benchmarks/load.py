"""Benchmark: reading a year of candles for three symbols, in each form traders keep them.

The candles are Binance's 2024 5-minute bars from `../shared/data/binance-2024` when that folder
is there (gzip CSV, one file per pair), else a seeded random walk of the same size. They are
written once per form into a temporary freqtrade-style folder (plain CSV, gzip CSV, Feather,
freqtrade's JSON lists gzip-compressed, Parquet) and read with `backtest`'s own loader
(`history.load_file`: read, validate, range), the forms alternating (round-robin); the table
gives the median and best of `--repeat` reads and the ratio to plain CSV.

    .venv/bin/python benchmarks/load.py [--repeat N] [--data DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from autotrade_tui.backtest.history import load_file
from autotrade_tui.backtest.request import Request

sys.path.insert(0, str(Path(__file__).parent))
from table import print_ratios

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance-2024"
COLS = ["open", "high", "low", "close", "volume"]


def candles(data: Path) -> dict[str, pd.DataFrame]:
    """Per symbol: timestamp (ms), open, high, low, close, volume."""
    if all((data / f"{s.replace('/', '_')}-5m.csv.gz").is_file() for s in SYMBOLS):
        return {s: pd.read_csv(data / f"{s.replace('/', '_')}-5m.csv.gz") for s in SYMBOLS}
    out = {}
    n = 96_480
    for k, sym in enumerate(SYMBOLS):
        rng = np.random.default_rng(k)
        close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
        open_ = np.r_[close[0], close[:-1]]
        out[sym] = pd.DataFrame({"timestamp": 1_704_067_200_000 + np.arange(n) * 300_000,
                                 "open": open_, "high": np.maximum(open_, close) * 1.001,
                                 "low": np.minimum(open_, close) * 0.999, "close": close,
                                 "volume": rng.lognormal(2, 0.5, n)})
    return out


def write(parts: dict[str, pd.DataFrame], root: Path) -> dict[str, Path]:
    forms = {"csv": root / "csv", "csv.gz": root / "csvgz", "feather": root / "feather",
             "json.gz (freqtrade lists)": root / "jsongz", "parquet": root / "parquet"}
    for folder in forms.values():
        folder.mkdir()
    for sym, df in parts.items():
        stem = sym.replace("/", "_") + "-5m"
        text = df.to_csv(index=False)
        (forms["csv"] / f"{stem}.csv").write_text(text)
        (forms["csv.gz"] / f"{stem}.csv.gz").write_bytes(gzip.compress(text.encode()))
        dated = df[COLS].copy()
        dated.insert(0, "date", pd.to_datetime(df["timestamp"], unit="ms", utc=True))
        dated.to_feather(forms["feather"] / f"{stem}.feather")
        lists = json.dumps(df[["timestamp", *COLS]].to_numpy().tolist())
        (forms["json.gz (freqtrade lists)"] / f"{stem}.json.gz").write_bytes(
            gzip.compress(lists.encode()))
        df.to_parquet(forms["parquet"] / f"{stem}.parquet")
    return forms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data", type=Path, default=SHARED)
    args = ap.parse_args()
    parts = candles(args.data)
    source = str(args.data) if args.data.is_dir() else "a seeded random walk"
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        forms = write(parts, Path(tmp))
        for _ in range(args.repeat):
            for name, folder in forms.items():
                req = Request(str(folder), SYMBOLS, True, None, None, "5m", 300, "offline",
                              True, "")
                started = time.perf_counter()
                history = load_file(req)
                times.setdefault(name, []).append(time.perf_counter() - started)
    print(f"{history.candles():,} candles ({len(SYMBOLS)} symbols, 5m) from {source}; "
          f"{args.repeat} reads each, round-robin\n")
    print_ratios(times, "csv", 28, "÷ plain CSV")


if __name__ == "__main__":
    main()

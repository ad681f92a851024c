"""Benchmark: do the offline models' confidences mean something (SPEC §7.2, issue 17)?

For every 5-minute bar where a model, flat, answers BUY or SELL (its rule over the whole series,
as the backtest's fast path computes it: `vector_rules` on the indicators up to that bar), the
price after one decision interval and after one hour says whether the answer was right
(BUY: the close went up). The answers are binned by confidence (the gates are 0.60 for a vote
of both, 0.55 for one model alone); per bin: how many, the share right after 5 minutes and
after 1 hour, and the mean move in the answer's direction after 1 hour in basis points (what
a trade would earn before fees; a round trip costs 20 bps of notional at the default fee).
Calibrated means the right share and the move grow with the confidence, and the answers the
gates let through are right more often than not.

Sources as `benchmarks/strategy.py`: the simulated market (`--profile`, `--seeds N` ×
`--days`) and `--data FILE` (e.g. the real Binance 2024 candles).

    .venv/bin/python benchmarks/calibration.py --seeds 20 --days 30
    .venv/bin/python benchmarks/calibration.py --profile none \
        --data ../shared/data/binance-2024/BTC_USDT-5m.csv.gz --symbols BTC/USDT
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from autotrade_tui.ai.offline import HELD, MeanReverter, TrendFollower
from autotrade_tui.backtest.fast import indicator_keys
from autotrade_tui.backtest.history import History
from autotrade_tui.config import defaults
from autotrade_tui.core import indicators as ta

sys.path.insert(0, str(Path(__file__).parent))
from strategy import SIM_START, file_windows, sim_history  # (the same sources)

BINS = (0.0, 0.55, 0.60, 0.70, 0.80, 1.01)
HOUR_BARS = 12
OHLCV = ("open", "high", "low", "close", "volume")
BUY, SELL = 1, 2  # `ai.offline.ACTIONS` codes


def answers(history: History, models: tuple[object, ...]) -> dict[str, list[np.ndarray]]:
    """Per model: (confidence, right after 1 bar, right after 1 h, signed 1 h move in bps) of
    each flat BUY/SELL answer inside the history's range, as four arrays."""
    keys = indicator_keys(models)
    out: dict[str, list[np.ndarray]] = {}
    for series in history.series.values():
        close = np.asarray(series.close, dtype=np.float64)
        frame = ta.compute_frame(pd.DataFrame({c: getattr(series, c) for c in OHLCV}), keys)
        inside = (np.asarray(series.ts) >= history.start) & (np.asarray(series.ts) < history.end)
        n = len(close)
        for m in models:
            cols = [close, *(np.zeros(n) if k == HELD else frame[k].to_numpy()
                             for k in m.inputs)]  # type: ignore[attr-defined]
            rule = m.vector_rules(*cols)  # type: ignore[attr-defined]
            j = np.flatnonzero(((rule.action == BUY) | (rule.action == SELL)) & inside
                               & (np.arange(n) + HOUR_BARS < n))
            sign = np.where(rule.action[j] == BUY, 1.0, -1.0)
            one = (close[j + 1] / close[j] - 1) * sign
            hour = (close[j + HOUR_BARS] / close[j] - 1) * sign
            merge(out, m.name, [rule.confidence[j], one > 0, hour > 0, hour * 1e4])  # type: ignore[attr-defined]
    return out


def merge(into: dict[str, list[np.ndarray]], name: str, cols: list[np.ndarray]) -> None:
    have = into.setdefault(name, [np.empty(0)] * 4)
    into[name] = [np.concatenate([a, b]) for a, b in zip(have, cols, strict=True)]


def table(title: str, found: dict[str, list[np.ndarray]]) -> None:
    print(f"\n{title}")
    print(f"{'model':26} {'confidence':>11} {'answers':>8} {'right 5m':>9} {'right 1h':>9} "
          f"{'1h move bps':>12}")
    for name, (conf, one, hour, bps) in found.items():
        for lo, hi in itertools.pairwise(BINS):
            sel = (conf >= lo) & (conf < hi)
            if not sel.any():
                continue
            label = f"{lo:.2f}-{min(hi, 1.0):.2f}"
            print(f"{name:26} {label:>11} {int(sel.sum()):8,} {one[sel].mean():9.1%} "
                  f"{hour[sel].mean():9.1%} {bps[sel].mean():12.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--profile", choices=("realistic", "eventful", "none"), default="realistic")
    ap.add_argument("--data", action="append", default=[])
    ap.add_argument("--symbols", default="")
    args = ap.parse_args()
    settings = defaults()
    models = (TrendFollower(float(settings.commission_rate)),
              MeanReverter(float(settings.commission_rate)))
    if args.profile != "none":
        merged: dict[str, list[np.ndarray]] = {}
        s = settings.replace(sim_profile=args.profile)
        for seed in range(1, args.seeds + 1):
            for name, cols in answers(sim_history(s, seed, args.days, SIM_START),
                                      models).items():
                merge(merged, name, cols)
        table(f"simulated market ({args.profile}), seeds 1-{args.seeds} x {args.days:g} days",
              merged)
    symbols = [s for s in args.symbols.split(",") if s]
    for path in args.data:
        merged = {}
        for window in file_windows(path, symbols, args.days):
            for name, cols in answers(window, models).items():
                merge(merged, name, cols)
        table(path, merged)


if __name__ == "__main__":
    main()

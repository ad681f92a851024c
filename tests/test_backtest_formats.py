"""Data as traders keep it (SPEC §5.3): the same candles as CSV (with and without a header, gzip),
JSON (records, freqtrade's lists, gzip), Parquet, Feather and freqtrade data folders give the
same backtest bit for bit; the format is told by content where the suffix lies; a folder
takes the finest timeframe present and aggregates it; bad files name their file and line."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from autotrade_tui.ai.offline import MeanReverter, TrendFollower
from autotrade_tui.backtest.history import load_file
from autotrade_tui.backtest.runner import Backtest
from autotrade_tui.config import defaults
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.errors import DataFileError, UserError
from autotrade_tui.market.datafiles import sniff
from autotrade_tui.market.replay import ReplayFeed
from tests.test_backtest import SYMBOLS, T0, market
from tests.test_backtest_parity import BUSY, request

COLS = ["open", "high", "low", "close", "volume"]


def pair(sym: str) -> str:
    return sym.replace("/", "_")


def per_symbol(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {sym: part.drop(columns="symbol").reset_index(drop=True)
            for sym, part in df.groupby("symbol", sort=False)}


def csv_text(df: pd.DataFrame, header: bool = True, ms: bool = False) -> str:
    """repr() of every float: the shortest text that reads back to the same double."""
    lines = ["timestamp,open,high,low,close,volume"] if header else []
    for row in df.itertuples(index=False):
        ts = int(row.timestamp) * 1000 if ms else int(row.timestamp)
        lines.append(",".join([str(ts), *(repr(float(getattr(row, c))) for c in COLS)]))
    return "\n".join(lines) + "\n"


def freqtrade_lists(df: pd.DataFrame) -> list[list[float]]:
    return [[int(r.timestamp) * 1000, *(float(getattr(r, c)) for c in COLS)]
            for r in df.itertuples(index=False)]


def feather_frame(df: pd.DataFrame) -> pd.DataFrame:
    """freqtrade's columns: `date` (UTC datetimes), open, high, low, close, volume."""
    out = df[COLS].copy()
    out.insert(0, "date", pd.to_datetime(df["timestamp"].to_numpy(), unit="s", utc=True))
    return out


def write_forms(df: pd.DataFrame, root: Path) -> dict[str, Path]:
    """The candles of `df` (a symbol column, 5-minute bars) in every form a trader keeps."""
    parts = per_symbol(df)
    forms: dict[str, Path] = {}
    one = root / "all.csv"
    with_symbol = df[["timestamp", "symbol", *COLS]]
    one.write_text("timestamp,symbol,open,high,low,close,volume\n" + "".join(
        f"{int(r.timestamp)},{r.symbol}," + ",".join(repr(float(getattr(r, c))) for c in COLS)
        + "\n" for r in with_symbol.itertuples(index=False)))
    forms["csv with a symbol column"] = one
    records = {sym: [{"timestamp": int(r.timestamp) * 1000,
                      **{c: float(getattr(r, c)) for c in COLS}}
                     for r in p.itertuples(index=False)] for sym, p in parts.items()}
    (root / "all.json.gz").write_bytes(gzip.compress(json.dumps(records).encode()))
    forms["json.gz of records per symbol"] = root / "all.json.gz"
    with_symbol.to_parquet(root / "all.parquet")
    forms["parquet with a symbol column"] = root / "all.parquet"
    for name, writer in {
        "feather": lambda p, f: feather_frame(p).to_feather(f),
        "json": lambda p, f: f.write_text(json.dumps(freqtrade_lists(p))),
        "json.gz": lambda p, f: f.write_bytes(gzip.compress(json.dumps(
            freqtrade_lists(p)).encode())),
        "csv.gz": lambda p, f: f.write_bytes(gzip.compress(csv_text(p, header=False,
                                                                    ms=True).encode())),
        "csv": lambda p, f: f.write_text(csv_text(p)),
        "parquet": lambda p, f: p.to_parquet(f),
    }.items():
        folder = root / f"folder-{name}"
        folder.mkdir()
        for sym, p in parts.items():
            writer(p, folder / f"{pair(sym)}-5m.{name}")
        forms[f"freqtrade folder of .{name}"] = folder
    futures = root / "binance" / "futures"
    futures.mkdir(parents=True)
    for sym, p in parts.items():
        feather_frame(p).to_feather(futures / f"{pair(sym)}_USDT-5m-futures.feather")
    forms["freqtrade futures folder"] = root / "binance"
    return forms


def outcome_key(out: object) -> tuple:
    """Everything a run produced, as plain values."""
    return (out.trades, out.equity, out.times, out.events, out.counts,  # type: ignore[attr-defined]
            [(d.ts, d.symbol, d.result, d.note, d.price) for d in out.decided])  # type: ignore[attr-defined]


async def test_the_same_candles_in_every_form_give_the_same_backtest(tmp_path: Path) -> None:
    df = market(n=400)
    forms = write_forms(df, tmp_path)
    settings = defaults(symbols=SYMBOLS, **BUSY, event_triggered_decisions=True)
    runs = {}
    for name, path in forms.items():
        history = load_file(request(path))
        assert history.symbols == SYMBOLS, name
        runs[name] = outcome_key(await Backtest(settings, history,
                                                (TrendFollower(), MeanReverter())).run())
    first = next(iter(runs.values()))
    assert first[0] and first[3]  # it traded and raised events: the comparison says something
    for name, key in runs.items():
        assert key == first, name  # bit for bit: floats compared with ==


def test_the_format_is_told_by_content_where_the_suffix_lies(tmp_path: Path) -> None:
    part = per_symbol(market(n=30, symbols=["BTC/USDT"]))["BTC/USDT"]
    feather_frame(part).to_feather(tmp_path / "real.feather")
    lying = {"feather.csv": (tmp_path / "real.feather").read_bytes(),
             "gzip-json.json": gzip.compress(json.dumps(freqtrade_lists(part)).encode()),
             "json.txt": json.dumps(freqtrade_lists(part)).encode(),
             "csv.parquet": csv_text(part).encode()}
    want = ReplayFeed(tmp_path / "real.feather", VirtualClock(0)).frame().drop(columns="_row")
    for name, data in lying.items():
        (tmp_path / name).write_bytes(data)
        got = ReplayFeed(tmp_path / name, VirtualClock(0)).frame().drop(columns="_row")
        assert got.equals(want), name
    assert [sniff(b"PAR1..."), sniff(b"ARROW1.."), sniff(b' \n[{"a": 1}]'), sniff(b"ts,o\n")] \
        == ["parquet", "feather", "json", "csv"]


def test_a_folder_takes_the_finest_timeframe_and_aggregates_it(tmp_path: Path) -> None:
    minute = per_symbol(market(n=600, symbols=["BTC/USDT"], step=60))["BTC/USDT"]
    feather_frame(minute).to_feather(tmp_path / "BTC_USDT-1m.feather")
    five = per_symbol(market(n=120, seed=9, symbols=["BTC/USDT"]))["BTC/USDT"]
    feather_frame(five).to_feather(tmp_path / "BTC_USDT-5m.feather")  # other candles: unused
    (tmp_path / "BTC_USDT-1m-mark.feather").write_bytes(b"mark prices: never read")
    history = load_file(request(tmp_path, symbols=["BTC/USDT"], timeframe="15m",
                                bar_seconds=900))
    s = history.series["BTC/USDT"]
    assert history.source == f"folder {tmp_path.name}" and history.bar_seconds == 900
    assert len(s) == 600 // 15 and s.ts[1] - s.ts[0] == 900
    assert s.open[0] == minute["open"].iloc[0] and s.close[0] == minute["close"].iloc[14]
    assert s.high[0] == minute["high"].iloc[:15].max()
    assert s.volume[0] == pytest.approx(minute["volume"].iloc[:15].sum(), rel=1e-12)


def test_a_folder_names_what_it_lacks(tmp_path: Path) -> None:
    part = per_symbol(market(n=30, symbols=["BTC/USDT"]))["BTC/USDT"]
    feather_frame(part).to_feather(tmp_path / "BTC_USDT-1h.feather")
    with pytest.raises(UserError, match=r"no candles for ETH/USDT \(looked for e\.g\. "
                                        r"ETH_USDT-5m\.feather; it has BTC_USDT\)"):
        load_file(request(tmp_path, symbols=["BTC/USDT", "ETH/USDT"]))
    with pytest.raises(UserError, match=r"builds 5m candles \(have BTC/USDT: 1h\)"):
        load_file(request(tmp_path, symbols=["BTC/USDT"]))


def test_bad_files_name_file_and_line(tmp_path: Path) -> None:
    part = per_symbol(market(n=10, symbols=["BTC/USDT"]))["BTC/USDT"]
    text = csv_text(part).splitlines()
    text[4] = text[4].replace(text[4].split(",")[5], "oops", 1)  # line 5: volume
    body = "\n".join(text[:3]) + "\n\n\n" + "\n".join(text[3:]) + "\n"  # 2 blank lines
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(body.encode()))
    with pytest.raises(DataFileError) as err:
        ReplayFeed(tmp_path / "b.csv.gz", VirtualClock(0))
    assert str(err.value) == f"{tmp_path / 'b.csv.gz'}: row 7: volume 'oops' is not a number"
    assert body.splitlines()[6].endswith(",oops")  # row 7 is the file's 7th line
    lists = freqtrade_lists(part)
    lists[3] = lists[3][:4]
    (tmp_path / "BTC_USDT-5m.json").write_text(json.dumps(lists))
    with pytest.raises(DataFileError, match=r"BTC_USDT-5m\.json: the top level row 4 has 4 "
                                            r"values: need 6"):
        ReplayFeed(tmp_path / "BTC_USDT-5m.json", VirtualClock(0))
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress(body.encode())[:-12])
    with pytest.raises(DataFileError, match=r"cut\.csv\.gz: is a damaged gzip or zip file"):
        ReplayFeed(tmp_path / "cut.csv.gz", VirtualClock(0))


def test_an_exchange_archive_without_a_header(tmp_path: Path) -> None:
    """data.binance.vision's klines: 12 columns, no header, open time in ms (µs since 2025)."""
    part = per_symbol(market(n=5, symbols=["BTC/USDT"]))["BTC/USDT"]
    lines = [f"{int(r.timestamp) * 1_000_000},{r.open!r},{r.high!r},{r.low!r},{r.close!r},"
             f"{r.volume!r},{int(r.timestamp) * 1_000_000 + 299_999_999},1.0,7,0.5,0.4,0"
             for r in part.itertuples(index=False)]
    (tmp_path / "BTCUSDT-5m-2025-01.csv").write_text("\n".join(lines) + "\n")
    frame = ReplayFeed(tmp_path / "BTCUSDT-5m-2025-01.csv", VirtualClock(0)).frame()
    assert frame["ts"].tolist() == [T0 + 300 * k for k in range(5)]
    assert frame["close"].tolist() == part["close"].tolist()
    assert frame["_row"].tolist() == [1, 2, 3, 4, 5]  # no header: line 1 is a bar
    with zipfile.ZipFile(tmp_path / "BTCUSDT-5m-2025-01.zip", "w") as archive:  # as shipped
        archive.write(tmp_path / "BTCUSDT-5m-2025-01.csv", "BTCUSDT-5m-2025-01.csv")
    zipped = ReplayFeed(tmp_path / "BTCUSDT-5m-2025-01.zip", VirtualClock(0)).frame()
    assert zipped.equals(frame)

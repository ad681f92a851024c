"""ReplayFeed: file formats, validation errors naming file and row, gaps, playback on the clock."""

from __future__ import annotations

import json
import logging
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.errors import DataFileError, MarketDataError
from autotrade_tui.market.base import MarketFeed
from autotrade_tui.market.replay import Gap, ReplayFeed

T0 = 1_700_000_100.0  # a multiple of 300 and of 900: 5m and 15m bars start here
HEADER = "timestamp,open,high,low,close,volume\n"


def bars(n: int = 12, start: float = T0, step: int = 300, price: float = 100.0) -> list[dict]:
    out = []
    for i in range(n):
        o = price + i
        c = o + 0.5
        out.append({"timestamp": start + i * step, "open": o, "high": c + 1, "low": o - 1,
                    "close": c, "volume": 10.0 + i})
    return out


def write_csv(path: Path, rows: list[dict], header: str = HEADER) -> Path:
    cols = header.strip().split(",")
    lines = [",".join(str(r.get(c, "")) for c in cols) for r in rows]
    path.write_text(header + "\n".join(lines) + "\n")
    return path


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "btc.csv", bars())


# --- playback ---------------------------------------------------------------------------

async def test_plays_on_the_clock(csv_file: Path) -> None:
    clock = VirtualClock(T0 - 10)
    feed = ReplayFeed(csv_file, clock, ["BTC/USDT"])
    assert isinstance(feed, MarketFeed) and feed.mode == "REPLAY"
    assert await feed.fetch_tickers(["BTC/USDT"]) == {}  # before the first bar
    assert feed.candles("BTC/USDT", "5m") == []
    assert feed.latest_ts() is None

    clock.set(T0 + 299)  # the first bar is open: nothing is known of it yet
    assert await feed.fetch_tickers(["BTC/USDT"]) == {} and feed.latest_ts() is None
    clock.set(T0 + 300)  # the first bar's close: it is visible, stamped at its close
    t = (await feed.fetch_tickers(["BTC/USDT"]))["BTC/USDT"]
    assert t.last == 100.5 and t.ts == T0 + 300 and t.volume_24h == 10.0
    clock.set(T0 + 4 * 300 + 120)  # inside the 5th bar: the 4th closed 120 s ago
    t = (await feed.fetch_tickers(["BTC/USDT"]))["BTC/USDT"]
    assert t.last == 103.5 and t.ts == T0 + 4 * 300  # the time of the price, not of now
    candles = await feed.fetch_ohlcv("BTC/USDT", "5m", limit=200)
    assert [c.ts for c in candles] == [T0 + 300 * i for i in range(4)]  # drawn at their open
    assert candles[-1].close == 103.5 and candles[-1].volume == 13.0
    assert feed.candles("BTC/USDT", "5m", limit=2) == candles[-2:]
    assert feed.candles("BTC/USDT", "5m", limit=2, since=T0 + 1) == candles[1:3]

    clock.set(T0 + 100 * 300)  # long after the file ends: the price goes stale
    t = (await feed.fetch_tickers(["BTC/USDT"]))["BTC/USDT"]
    assert t.last == 111.5 and t.ts == T0 + 12 * 300
    assert feed.latest_ts() == T0 + 12 * 300
    assert feed.end_ts == T0 + 11 * 300 and feed.start_ts == T0


def test_coarser_timeframes_aggregate_without_look_ahead(csv_file: Path) -> None:
    clock = VirtualClock(T0 + 300 * 5)  # bars 0..4 closed; 15m buckets: [0,1,2], [3,4,(5)]
    feed = ReplayFeed(csv_file, clock, ["BTC/USDT"])
    q = feed.candles("BTC/USDT", "15m")
    assert [c.ts for c in q] == [T0, T0 + 900]
    assert (q[0].open, q[0].high, q[0].low, q[0].close, q[0].volume) == (100, 103.5, 99, 102.5,
                                                                          33.0)
    # The current 15m bar holds bars 3 and 4 only: bar 5 (not yet visible) is left out.
    assert (q[1].open, q[1].high, q[1].close, q[1].volume) == (103, 105.5, 104.5, 27.0)
    hour = feed.candles("BTC/USDT", "1h")
    assert len(hour) == 1 and hour[0].close == 104.5
    with pytest.raises(MarketDataError, match="300s bars: it cannot give 1m candles"):
        feed.candles("BTC/USDT", "1m")
    with pytest.raises(MarketDataError, match="no data for ETH/USDT"):
        feed.candles("ETH/USDT", "5m")


def test_frame_exposes_the_whole_validated_series(csv_file: Path) -> None:
    feed = ReplayFeed(csv_file, VirtualClock(0))
    df = feed.frame()
    assert list(df.columns[:6]) == ["ts", "open", "high", "low", "close", "volume"]
    assert len(df) == 12 and all(df[c].dtype == np.float64 for c in df.columns[:6])
    assert df["ts"].iloc[0] == T0 and df["close"].iloc[-1] == 111.5
    df.loc[0, "close"] = -1  # a copy: the feed is not changed
    assert feed.frame()["close"].iloc[0] == 100.5
    assert feed.symbols == ["BTC/USDT"] and feed.timeframe_seconds == 300


def test_timestamp_formats_agree(tmp_path: Path) -> None:
    rows = bars(3)
    variants = {
        "s": [r["timestamp"] for r in rows],
        "ms": [int(r["timestamp"] * 1000) for r in rows],
        "iso_z": [datetime.fromtimestamp(r["timestamp"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                  for r in rows],
        "iso_naive": [datetime.fromtimestamp(r["timestamp"], UTC).strftime("%Y-%m-%d %H:%M:%S")
                      for r in rows],
    }
    for name, stamps in variants.items():
        path = write_csv(tmp_path / f"{name}.csv", [{**r, "timestamp": s}
                                                    for r, s in zip(rows, stamps, strict=True)])
        ts = ReplayFeed(path, VirtualClock(0)).frame()["ts"].tolist()
        assert ts == [T0, T0 + 300, T0 + 600], name


async def test_json_list_dict_and_symbol_column(tmp_path: Path) -> None:
    clock = VirtualClock(T0 + 3000)
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps(bars(4)))
    assert ReplayFeed(listed, clock, ["SOL/USDT"]).candles("SOL/USDT", "5m")[-1].close == 103.5

    keyed = tmp_path / "dict.json"
    keyed.write_text(json.dumps({"BTC/USDT": bars(4), "ETH/USDT": bars(4, price=2000.0)}))
    feed = ReplayFeed(keyed, clock)
    assert feed.symbols == ["BTC/USDT", "ETH/USDT"]
    assert feed.candles("ETH/USDT", "5m")[-1].close == 2003.5

    mixed = [dict(r, symbol="btc/usdt") for r in bars(4)] + \
            [dict(r, symbol="ETH/USDT") for r in bars(4, price=2000.0)]
    mixed.sort(key=lambda r: r["timestamp"])  # interleaved, as exports usually are
    path = write_csv(tmp_path / "multi.csv", mixed, "timestamp,symbol,open,high,low,close,volume\n")
    feed = ReplayFeed(path, clock, ["BTC/USDT", "ETH/USDT", "XRP/USDT"])
    tickers = await feed.fetch_tickers(feed.symbols)
    assert {s: t.last for s, t in tickers.items()} == {"BTC/USDT": 103.5, "ETH/USDT": 2003.5}
    with pytest.raises(MarketDataError, match="no data for XRP/USDT"):
        feed.candles("XRP/USDT", "5m")


def test_single_series_serves_every_given_symbol(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "one.csv", bars(3))
    feed = ReplayFeed(path, VirtualClock(T0 + 900), ["BTC/USDT", "ETH/USDT"])
    assert feed.candles("BTC/USDT", "5m") == feed.candles("ETH/USDT", "5m")
    assert len(feed.candles("ETH/USDT", "5m")) == 3


def test_dataframe_source() -> None:
    df = pd.DataFrame(bars(5))
    feed = ReplayFeed(df, VirtualClock(T0 + 600), ["BTC/USDT"])
    assert len(feed.candles("BTC/USDT", "5m")) == 2
    bad = df.copy()
    bad.loc[3, "low"] = 500.0
    with pytest.raises(DataFileError, match=r"<DataFrame>: row 4: high is below low"):
        ReplayFeed(bad, VirtualClock(0))


def test_gaps_are_warnings_not_errors(tmp_path: Path) -> None:
    rows = bars(10)
    del rows[6:9]  # three 5m bars missing before the last one
    del rows[2]  # one missing after the 2nd
    feed = ReplayFeed(write_csv(tmp_path / "gappy.csv", rows), VirtualClock(0))
    assert feed.timeframe_seconds == 300
    # rows are the file's lines (the header is line 1)
    assert [(g.row, g.missing_bars) for g in feed.gaps] == [(4, 1), (7, 3)]
    gap = feed.gaps[1]
    assert isinstance(gap, Gap) and gap.after_ts == T0 + 5 * 300 and gap.before_ts == T0 + 9 * 300
    assert "3 bar(s) missing" in str(gap) and "row 7" in str(gap)
    assert "2 gap(s)" in feed.note


def test_sub_second_steps_are_one_second_bars(tmp_path: Path) -> None:
    rows = [{**r, "timestamp": T0 + i * 0.2} for i, r in enumerate(bars(5))]
    feed = ReplayFeed(write_csv(tmp_path / "fast.csv", rows), VirtualClock(T0 + 10))
    assert feed.timeframe_seconds == 1  # rounded to 0, it divided by zero
    assert feed.candles("BTC/USDT", "1m")[-1].volume == sum(r["volume"] for r in rows)


def test_gap_warning_is_logged_unless_the_caller_reports_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = bars(10)
    del rows[4]
    path = write_csv(tmp_path / "gappy.csv", rows)
    with caplog.at_level(logging.WARNING, logger="autotrade_tui.market.replay"):
        ReplayFeed(path, VirtualClock(0))
        (record,) = caplog.records
        assert record.getMessage().startswith(f"{path}: 1 gap(s) in the data, first: ")
        caplog.clear()
        assert len(ReplayFeed(path, VirtualClock(0), log_gaps=False).gaps) == 1
        assert caplog.records == []


# --- validation -------------------------------------------------------------------------

def _csv_error(tmp_path: Path, rows: list[dict], header: str = HEADER) -> str:
    path = write_csv(tmp_path / "bad.csv", rows, header)
    with pytest.raises(DataFileError) as err:
        ReplayFeed(path, VirtualClock(0))
    assert str(path) in str(err.value)
    return str(err.value)


# rows name the file's own lines: the header is line 1, the first bar line 2
@pytest.mark.parametrize(("row", "change", "message"), [
    (2, {"close": ""}, "row 4: close is empty"),
    (0, {"open": "nan"}, "row 2: open is empty"),
    (4, {"volume": "lots"}, "row 6: volume 'lots' is not a number"),
    (1, {"timestamp": "yesterday"}, "row 3: timestamp 'yesterday' is not epoch seconds"),
    (3, {"low": 0}, "row 5: low must be > 0"),
    (3, {"open": -5, "low": -6}, "row 5: open must be > 0"),
    (5, {"volume": -1}, "row 7: volume must be ≥ 0"),
    (6, {"high": 50}, "row 8: high is below low"),
    (6, {"high": 106.2}, "row 8: high is below open or close"),
    (6, {"low": 106.9}, "row 8: low is above open or close"),
    (7, {"timestamp": T0 + 300 * 6}, "row 9: duplicate timestamp"),
    (7, {"timestamp": T0 + 300 * 2}, "row 9: timestamp is earlier than the row before"),
])
def test_each_validation_error_names_file_and_row(tmp_path: Path, row: int, change: dict,
                                                  message: str) -> None:
    rows = bars()
    rows[row] = {**rows[row], **change}
    assert message in _csv_error(tmp_path, rows)


@pytest.mark.parametrize(("col", "message"), [
    ("timestamp", "row 2: timestamp True is not epoch seconds, epoch milliseconds or ISO-8601"),
    ("open", "row 2: open True is not a number"),
    ("volume", "row 2: volume False is not a number"),
])
def test_json_booleans_are_not_numbers(tmp_path: Path, col: str, message: str) -> None:
    rows = bars(4)
    rows[1][col] = col != "volume"  # pandas reads true as 1 (a 1970 timestamp), false as 0
    path = tmp_path / "b.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(DataFileError) as err:
        ReplayFeed(path, VirtualClock(0))
    assert str(err.value) == f"{path}: {message}"


def test_boolean_columns_are_not_numbers() -> None:
    df = pd.DataFrame(bars(3))
    df["volume"] = True
    with pytest.raises(DataFileError, match=r"<DataFrame>: row 1: volume True is not a number "
                                            r"\(and 2 more row\(s\)\)"):
        ReplayFeed(df, VirtualClock(0))


@pytest.mark.parametrize(("line", "row"), [(1, 2), (2, 3), (5, 6)])
def test_a_row_longer_than_the_header_is_named(tmp_path: Path, line: int, row: int) -> None:
    # Line 2 too long: pandas takes its first field as the index and shifts every column,
    # which used to surface as "row 2: volume is empty". Later lines: a tokenizer error.
    path = write_csv(tmp_path / "long.csv", bars(6))
    lines = path.read_text().splitlines()
    lines[line] += ",99"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError) as err:
        ReplayFeed(path, VirtualClock(0))
    assert str(err.value) == f"{path}: row {row} has 7 fields, more than the header's 6"


def test_error_counts_further_bad_rows(tmp_path: Path) -> None:
    rows = [{**r, "volume": -1} if i in (2, 5, 7) else r for i, r in enumerate(bars())]
    assert "row 4: volume must be ≥ 0 (and 2 more row(s))" in _csv_error(tmp_path, rows)


def test_missing_columns_and_empty_files(tmp_path: Path) -> None:
    msg = _csv_error(tmp_path, bars(), "timestamp,open,high,low,close\n")
    assert "missing column(s) volume" in msg and "found: timestamp, open" in msg
    assert "has a header but no data rows" in _csv_error(tmp_path, [], HEADER)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataFileError, match=r"empty\.csv: is not a readable CSV file"):
        ReplayFeed(tmp_path / "empty.csv", VirtualClock(0))


def test_unsorted_check_is_per_symbol_and_json_rows_name_their_symbol(tmp_path: Path) -> None:
    data = {"BTC/USDT": bars(4), "ETH/USDT": bars(4)}
    data["ETH/USDT"][3]["timestamp"] = T0  # out of order within ETH only
    path = tmp_path / "d.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataFileError, match=r"d.json: ETH/USDT row 4: timestamp is earlier"):
        ReplayFeed(path, VirtualClock(0))


def test_unreadable_files_get_clear_messages(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"nope\.csv: no such file"):
        ReplayFeed(tmp_path / "nope.csv", VirtualClock(0))
    with zipfile.ZipFile(tmp_path / "x.xlsx", "w") as book:  # a spreadsheet: a zip of many
        book.writestr("xl/workbook.xml", "<workbook/>")
        book.writestr("xl/sheet1.xml", "<sheet/>")
    with pytest.raises(DataFileError, match=r"x\.xlsx: is a zip archive of 2 files, not one "):
        ReplayFeed(tmp_path / "x.xlsx", VirtualClock(0))
    (tmp_path / "broken.json").write_text('[{"timestamp": 1,')
    with pytest.raises(DataFileError, match=r"broken\.json: is not valid JSON"):
        ReplayFeed(tmp_path / "broken.json", VirtualClock(0))
    (tmp_path / "scalar.json").write_text('{"BTC/USDT": 5}')
    with pytest.raises(DataFileError, match="'BTC/USDT' must be a list of objects"):
        ReplayFeed(tmp_path / "scalar.json", VirtualClock(0))
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00garbage\x00")
    with pytest.raises(DataFileError, match=r"bin\.csv"):
        ReplayFeed(tmp_path / "bin.csv", VirtualClock(0))


def test_parquet_reads_like_csv_and_a_bad_one_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "b.parquet"
    pd.DataFrame(bars(3)).to_parquet(path)
    csv = write_csv(tmp_path / "b.csv", bars(3))
    parquet_frame = ReplayFeed(path, VirtualClock(0)).frame()
    csv_frame = ReplayFeed(csv, VirtualClock(0)).frame()
    assert parquet_frame["_row"].tolist() == [1, 2, 3]  # table rows; a CSV's: its lines
    assert csv_frame["_row"].tolist() == [2, 3, 4]
    assert parquet_frame.drop(columns="_row").equals(csv_frame.drop(columns="_row"))
    with_symbols = pd.DataFrame([{**b, "symbol": s} for b in bars(4) for s in ("A/USDT", "B/USDT")])
    with_symbols.to_parquet(tmp_path / "s.parquet")
    assert len(ReplayFeed(tmp_path / "s.parquet", VirtualClock(0)).frame("B/USDT")) == 4
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataFileError, match=r"bad\.parquet: cannot be read"):
        ReplayFeed(tmp_path / "bad.parquet", VirtualClock(0))



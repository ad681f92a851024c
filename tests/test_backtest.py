"""`autotrade-tui backtest` from the command line: the --json figures, the text report, the
backtest database, ranges and timeframes, and every bad input ending in one line, exit 2."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autotrade_tui.backtest.metrics import max_drawdown_pct, sharpe
from autotrade_tui.backtest.render import Progress
from autotrade_tui.backtest.store import BacktestStore, decisions, events, trades
from autotrade_tui.cli import main
from autotrade_tui.config import KEYS

T0 = 1_717_200_000  # a multiple of 300 and 900: 2024-06-01 00:00 UTC
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
BASES = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0, "SOL/USDT": 150.0}
SPEC_KEYS = {"candles", "seconds", "candles_per_second", "return_pct", "max_drawdown_pct",
             "sharpe", "total_trades", "win_rate", "total_fees", "liquidations",
             "final_equity", "symbols", "from", "to", "timeframe", "models", "initial_capital",
             "decisions", "gaps"}


def market(n: int = 576, seed: int = 3, symbols: list[str] | None = None,
           step: int = 300) -> pd.DataFrame:
    """`n` bars per symbol: 8-hour up and down trends plus noise, so both offline models
    find trades (a trend to follow, extremes to fade); one row per symbol and bar."""
    rng = np.random.default_rng(seed)
    parts = []
    for sym in symbols or SYMBOLS:
        base = BASES.get(sym, 100.0)
        drift = np.repeat(rng.choice([-1.0, 1.0], n // 96 + 1) * 0.0008, 96)[:n]
        close = base * np.exp(np.cumsum(drift + rng.normal(0, 0.003, n)))
        open_ = np.r_[base, close[:-1]]
        high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.001, n)))
        low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.001, n)))
        parts.append(pd.DataFrame({"timestamp": T0 + np.arange(n) * step, "symbol": sym,
                                   "open": open_, "high": high, "low": low, "close": close,
                                   "volume": rng.lognormal(3, 0.4, n)}))
    return pd.concat(parts).sort_values(["timestamp", "symbol"], kind="stable")


def write(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config, no setting from the environment; user dirs under tmp."""
    for key in KEYS:
        if key.env:
            monkeypatch.delenv(key.env, raising=False)
    monkeypatch.delenv("AUTOTRADE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return tmp_path


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(["backtest", *args])
    got = capsys.readouterr()
    return rc, got.out, got.err


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    rc, out, err = run_cli([*args, "--json"], capsys)
    assert rc == 0, err
    return json.loads(out)


# --- the figures ------------------------------------------------------------------------

def test_json_figures_and_the_saved_run(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write(market(), home / "m.csv")
    db = home / "bt.db"
    m = run_json(["--data", str(data), "--results-db", str(db)], capsys)
    assert set(m) >= SPEC_KEYS
    assert m["symbols"] == SYMBOLS and m["timeframe"] == "5m"
    assert m["candles"] == 3 * 576 and m["decisions"] == 3 * 576  # every candle, every symbol
    assert m["from"] == "2024-06-01T00:00:00Z" and m["to"] == "2024-06-03T00:00:00Z"
    assert m["models"] == ["offline/trend-follower", "offline/mean-reversion"]
    assert m["gaps"] == 0 and m["first_gap"] is None
    assert m["total_trades"] > 3 and m["fills"] > m["total_trades"]
    assert 0.0 <= m["win_rate"] <= 100.0 and m["total_fees"] > 0
    assert m["final_equity"] == pytest.approx(m["initial_capital"] * (1 + m["return_pct"] / 100))
    assert m["max_drawdown_pct"] >= 0 and math.isfinite(m["sharpe"])
    assert m["candles_per_second"] == pytest.approx(m["candles"] / m["seconds"], rel=0.01)
    counts = m["decision_counts"]
    assert counts["BUY"] + counts["SELL"] + counts["HOLD"] == m["decisions"]

    with BacktestStore(db) as store:
        (run,) = store.runs()
        assert run["id"] == m["run_id"] and run["candles"] == m["candles"]
        assert run["return_pct"] == m["return_pct"] and run["metrics"]["sharpe"] == m["sharpe"]
        assert run["settings"]["leverage"] == 20.0 and len(run["equity_curve"]) > 100
        fills = store.run_rows(trades, run["id"])
        kept = store.run_rows(decisions, run["id"])
        assert len(store.run_rows(events, run["id"])) == m["events"]
    assert len(fills) == m["fills"]
    closes = [f for f in fills if f["order_type"] in ("CLOSE", "LIQUIDATION")]
    assert len(closes) == m["total_trades"]
    assert sum(f["fee"] for f in fills) == pytest.approx(m["total_fees"])
    seqs = {d["seq"] for d in kept}
    auto = [f for f in fills if f["source"] == "auto"]
    assert auto and all(f["decision_seq"] in seqs for f in auto)
    assert all(f["reason"] for f in auto)  # the vote's reason, written when saved
    for d in kept:
        assert d["final_decision"] in ("BUY", "SELL") and d["vote_reason"]
        assert d["model_1_reasoning"] and d["model_2_reasoning"]
    assert not (home / "xdg-data" / "autotrade-tui" / "autotrade.db").exists()  # never live


def test_same_data_same_result_and_runs_accumulate(home: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = write(market(n=300), home / "m.csv")
    first = run_json(["--data", str(data)], capsys)
    again = run_json(["--data", str(data)], capsys)
    timing = {"seconds", "candles_per_second", "load_seconds", "save_seconds", "run_id"}
    assert {k: v for k, v in first.items() if k not in timing} == \
        {k: v for k, v in again.items() if k not in timing}
    assert (first["run_id"], again["run_id"]) == (1, 2)
    default_db = home / "xdg-data" / "autotrade-tui" / "backtests.db"
    assert first["database"].endswith(str(default_db))
    with BacktestStore(default_db) as store:
        assert [r["id"] for r in store.runs()] == [1, 2]


def test_text_report_has_the_chart_and_the_trades(home: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    data = write(market(n=300), home / "m.csv")
    rc, out, err = run_cli(["--data", str(data), "--results-db", str(home / "bt.db")], capsys)
    assert rc == 0 and err == ""  # no progress bar when stderr is not a terminal
    assert "Equity (USDT)" in out and "days since start" in out and "\x1b" not in out
    for text in ("return", "max drawdown", "Sharpe", "win rate", "liquidations",
                 "candles/s", "Trades by symbol:", "SOL/USDT", "saved as run 1"):
        assert text in out


def test_progress_bar() -> None:
    buf = io.StringIO()
    p = Progress(buf, width=10)
    p(50, 200)
    p(200, 200)
    text = buf.getvalue()
    assert text.startswith("\r[##........]  25%  50/200 candles")
    assert "\r[##########] 100%  200/200 candles" in text and text.endswith("\n")


# --- ranges, timeframes, symbols --------------------------------------------------------

def test_range_keeps_earlier_bars_as_warm_up(home: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = write(market(), home / "m.csv")
    whole = run_json(["--data", str(data), "--results-db", str(home / "a.db")], capsys)
    day2 = run_json(["--data", str(data), "--results-db", str(home / "b.db"),
                     "--from", "2024-06-02", "--to", "2024-06-02"], capsys)
    assert day2["candles"] == 3 * 288 and day2["decisions"] == 3 * 288
    assert (day2["from"], day2["to"]) == ("2024-06-02T00:00:00Z", "2024-06-03T00:00:00Z")
    with BacktestStore(home / "b.db") as b:
        mine = b.run_rows(trades, 1)
        made = b.run_rows(decisions, 1)
    # Indicators already warm at the first decision of day 2: no model reads a missing value
    # (the rules also read the open position, so fills differ from the whole run's). Its
    # first bar opens at midnight and is decided on at its close: every decision is at a bar's
    # close inside day 2 (HOLDs are only counted, so the first trade may come later).
    assert made and min(d["ts"] for d in made) >= T0 + 86_400 + 300
    assert all((d["ts"] - T0) % 300 == 0 and d["ts"] <= T0 + 2 * 86_400 for d in made)
    assert mine and min(f["ts"] for f in mine) >= T0 + 86_400
    assert not any("missing" in d["model_1_reasoning"] + d["model_2_reasoning"] for d in made)
    assert whole["candles"] == 2 * day2["candles"]


def test_coarser_timeframe_aggregates(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write(market(), home / "m.csv")
    m = run_json(["--data", str(data), "--results-db", str(home / "bt.db"), "--timeframe", "15m"],
                 capsys)
    assert m["timeframe"] == "15m" and m["candles"] == 3 * 576 // 3
    assert m["decisions"] == m["candles"]  # 5-minute cycles, but a new candle every 15


def test_decision_interval_skips_candles(home: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADING_INTERVAL_MINUTES", "15")
    data = write(market(n=300), home / "m.csv")
    m = run_json(["--data", str(data), "--results-db", str(home / "bt.db")], capsys)
    assert m["candles"] == 900 and m["decisions"] == 300  # every third 5m candle


def test_single_series_file(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = market(n=300, symbols=["BTC/USDT"]).drop(columns="symbol")
    data = write(df, home / "one.csv")
    m = run_json(["--data", str(data), "--results-db", str(home / "a.db")], capsys)
    assert m["symbols"] == ["BTC/USDT"] and m["candles"] == 300  # not once per default symbol
    m = run_json(["--data", str(data), "--results-db", str(home / "b.db"), "--symbols", "ETH/USDT"],
                 capsys)
    assert m["symbols"] == ["ETH/USDT"] and m["candles"] == 300


def test_the_config_init_file_changes_nothing(home: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`config init` writes every key at its default: a backtest reading it is the same run
    as without it (a single-series file stays one series, a file's symbols stay its own)."""
    assert main(["config", "init"]) == 0
    capsys.readouterr()
    one = write(market(n=300, symbols=["BTC/USDT"]).drop(columns="symbol"), home / "one.csv")
    two = write(market(n=300, symbols=["BTC/USDT", "ETH/USDT"]), home / "two.csv")
    for data, symbols in ((one, ["BTC/USDT"]), (two, ["BTC/USDT", "ETH/USDT"])):
        m = run_json(["--data", str(data), "--results-db", str(home / "r.db")], capsys)
        assert m["symbols"] == symbols and m["candles"] == 300 * len(symbols)
    # a file that names other symbols is a choice
    cfg = next((home / "xdg-config").rglob("config.toml"))
    cfg.write_text(cfg.read_text().replace('symbols = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]',
                                           'symbols = ["ETH/USDT"]'))
    m = run_json(["--data", str(one), "--results-db", str(home / "r.db")], capsys)
    assert m["symbols"] == ["ETH/USDT"]


def test_gaps_are_reported_and_crossed(home: Path, capsys: pytest.CaptureFixture[str],
                                       caplog: pytest.LogCaptureFixture) -> None:
    df = market(n=400, symbols=["BTC/USDT"])
    df = df[~df["timestamp"].isin([T0 + 100 * 300, T0 + 101 * 300, T0 + 250 * 300])]
    data = write(df, home / "gappy.csv")
    rc, out, err = run_cli(["--data", str(data), "--results-db", str(home / "bt.db"), "--json"],
                           capsys)
    assert rc == 0
    m = json.loads(out)
    assert m["gaps"] == 2 and m["candles"] == 397
    assert "2 bar(s) missing between 2024-06-01 08:15:00 UTC and 2024-06-01 08:30:00 UTC" \
        in m["first_gap"]
    assert err.count("\n") == 1 and "warning: 2 gap(s) in the data, first: " in err
    # Said once: no log record either (unconfigured logging prints it on stderr again).
    assert not [r for r in caplog.records if "gap" in r.getMessage()]
    # The replay steps from bar to bar: nothing to decide inside a hole, every bar decided.
    assert m["decisions"] == 397


def test_one_minute_data_feeds_the_event_window(home: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    df = market(n=1600, symbols=["BTC/USDT"], step=60)
    crash = df["timestamp"] >= T0 + 1500 * 60  # a 6 % drop over three minutes at minute 1500
    k = np.clip((df["timestamp"] - (T0 + 1500 * 60)) / 60 + 1, 0, 3).to_numpy()
    factor = 1 - 0.02 * k
    for col in ("open", "high", "low", "close"):
        df.loc[crash, col] = df.loc[crash, col] * factor[crash.to_numpy()]
    df["high"] = df[["open", "high", "low", "close"]].max(axis=1)
    df["low"] = df[["open", "high", "low", "close"]].min(axis=1)
    data = write(df, home / "1m.csv")
    m = run_json(["--data", str(data), "--results-db", str(home / "bt.db"), "--timeframe", "1m"],
                 capsys)
    assert m["timeframe"] == "1m" and m["candles"] == 1600
    assert m["decisions"] == 320  # 5-minute cycles on 1-minute candles
    with BacktestStore(home / "bt.db") as store:
        kinds = {(e["event_type"], e["ts"]) for e in store.run_rows(events, m["run_id"])}
    crashes = sorted(ts for kind, ts in kinds if kind == "FLASH_CRASH")
    assert any(T0 + 1500 * 60 <= ts <= T0 + 1503 * 60 for ts in crashes)
    assert {kind for kind, _ in kinds} > {"FLASH_CRASH"}  # volume/volatility baselines too


# --- bad input: one line, exit 2, nothing written --------------------------------------

def _unsorted(home: Path) -> Path:
    df = market(n=50, symbols=["BTC/USDT"])
    rows = df.to_dict("records")
    rows[20], rows[21] = rows[21], rows[20]
    return write(pd.DataFrame(rows), home / "unsorted.csv")


def _wrong_columns(home: Path) -> Path:
    df = market(n=50, symbols=["BTC/USDT"]).rename(columns={"close": "last"})
    return write(df, home / "columns.csv")


def _spaced(step: int, name: str) -> Callable[[Path], Path]:
    def make(home: Path) -> Path:
        return write(market(n=50, symbols=["BTC/USDT"], step=step).drop(columns="symbol"),
                     home / name)
    return make


def _bool_timestamp(home: Path) -> Path:
    rows = market(n=5, symbols=["BTC/USDT"]).drop(columns="symbol").to_dict("records")
    rows[2]["timestamp"] = True  # JSON true: pandas would read it as 1, i.e. 1970
    (home / "bools.json").write_text(json.dumps(rows))
    return home / "bools.json"


def _extra_field(row: int) -> Callable[[Path], Path]:
    def make(home: Path) -> Path:
        path = write(market(n=5, symbols=["BTC/USDT"]).drop(columns="symbol"), home / "extra.csv")
        lines = path.read_text().splitlines()
        lines[row - 1] += ",99"  # the file's line `row` (the header is line 1)
        path.write_text("\n".join(lines) + "\n")
        return path
    return make


@pytest.mark.parametrize(("make", "args", "expected"), [
    (_unsorted, [], "unsorted.csv: row 23: timestamp is earlier than the row before "
                    "(rows must be sorted)"),
    (_wrong_columns, [], "columns.csv: missing column(s) close"),
    (None, ["--from", "2030-01-01"], "error: --from starts the range at 2030-01-01 00:00 UTC, "
                                     "after the data ends: file m.csv covers 2024-06-01 00:00 "
                                     "UTC .. 2024-06-01 08:20 UTC\n"),
    (None, ["--to", "2024-05-01"], "error: --to ends the range at 2024-05-02 00:00 UTC, before "
                                   "the data starts: file m.csv covers 2024-06-01 00:00 UTC"),
    (None, ["--from", "2024-13-01"], "--from '2024-13-01' is not a date (use YYYY-MM-DD"),
    (None, ["--to", "June 3rd"], "--to 'June 3rd' is not a date"),
    (None, ["--to", "9999-12-31"], "error: --to '9999-12-31' is out of the supported range "
                                   "(dates from 0001-01-01 to 9999-12-30, UTC)\n"),
    (None, ["--from", "0001-01-01T00:00+01:00"], "--from '0001-01-01T00:00+01:00' is out of "
                                                 "the supported range"),
    (None, ["--from", "2024-06-02", "--to", "2024-06-01"],
     "error: --from '2024-06-02' is after --to '2024-06-01'\n"),
    (None, ["--from", "2024-06-01T05:00", "--to", "2024-06-01T05:00"],
     "error: --from '2024-06-01T05:00' and --to '2024-06-01T05:00' are the same moment"),
    (None, ["--timeframe", "1m"], "has 5m bars: it cannot give 1m candles (use --timeframe 5m, "
                                  "15m, 1h, 4h or 1d)\n"),
    (_spaced(120, "2m.csv"), [], "2m.csv has 120 s bars: it cannot give 5m candles "
                                 "(use --timeframe 1h, 4h or 1d)\n"),
    (_spaced(313, "odd.csv"), [], "odd.csv has bars 313 s apart: it cannot give 5m candles, "
                                  "and no --timeframe (1m, 5m, 15m, 1h, 4h, 1d) is a multiple "
                                  "of 313 s\n"),
    (_bool_timestamp, [], "bools.json: row 3: timestamp True is not epoch seconds"),
    (_extra_field(2), [], "extra.csv: row 2 has 7 fields, more than the header's 6\n"),
    (_extra_field(5), [], "extra.csv: row 5 has 7 fields, more than the header's 6\n"),
    (None, ["--timeframe", "7m"], "--timeframe '7m' is not one of 1m, 5m"),
    (None, ["--symbols", "DOGE/USDT"], "no data for DOGE/USDT"),
])
def test_bad_input(home: Path, capsys: pytest.CaptureFixture[str], make: object,
                   args: list[str], expected: str) -> None:
    data = make(home) if callable(make) else write(market(n=100), home / "m.csv")
    db = home / "bt.db"
    rc, out, err = run_cli(["--data", str(data), "--results-db", str(db), *args], capsys)
    assert rc == 2 and out == ""
    assert err.startswith("autotrade-tui: error: ") and err.count("\n") == 1, err
    assert expected in err and "Traceback" not in err
    assert not db.exists()  # nothing written


def test_range_after_the_last_closed_candle(home: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """From the exchange: refused before any download, and before the database exists."""
    db = home / "bt.db"
    rc, out, err = run_cli(["--from", "2999-01-01", "--results-db", str(db)], capsys)
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("autotrade-tui: error: no closed candles in 2999-01-01 00:00 UTC "
                          "onwards: --from is after the last closed 5m candle (it is ")
    assert not db.exists()


def test_missing_file(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _out, err = run_cli(["--data", str(home / "nope.csv"), "--results-db", str(home / "bt.db")],
                           capsys)
    assert rc == 2 and err.count("\n") == 1 and "nope.csv" in err and "is not a file" in err
    assert not (home / "bt.db").exists()


# --- metric definitions -----------------------------------------------------------------

def test_max_drawdown() -> None:
    assert max_drawdown_pct(np.array([100.0, 120.0, 90.0, 130.0, 117.0])) == pytest.approx(25.0)
    assert max_drawdown_pct(np.array([100.0, 101.0, 102.0])) == 0.0
    assert max_drawdown_pct(np.array([])) == 0.0


def test_sharpe_is_annualised_from_per_candle_returns() -> None:
    eq = np.array([100.0, 101.0, 100.5, 102.0, 101.0, 103.0])
    r = eq[1:] / eq[:-1] - 1
    expected = r.mean() / r.std(ddof=1) * math.sqrt(365 * 288)  # 5m candles in a year
    assert sharpe(eq, 300) == pytest.approx(expected)
    assert sharpe(eq, 3600) == pytest.approx(expected / math.sqrt(12))
    assert sharpe(np.full(10, 100.0), 300) == 0.0  # flat: no risk, no ratio
    assert sharpe(np.array([100.0, 101.0]), 300) == 0.0


def test_backtest_never_writes_into_the_live_database(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--db` names the live account; a backtest leaves that file exactly as it was."""
    import hashlib

    from autotrade_tui.store.store import Store

    live = home / "live.db"
    Store(live).close()
    before = hashlib.sha256(live.read_bytes()).hexdigest()
    data = write(market(), home / "m.csv")
    rc = main(["--db", str(live), "backtest", "--data", str(data), "--results-db",
               str(home / "bt.db"), "--json"])  # backtest itself does not take --db
    assert rc == 0
    m = json.loads(capsys.readouterr().out)
    assert m["candles"] > 0 and (home / "bt.db").exists()
    assert hashlib.sha256(live.read_bytes()).hexdigest() == before

"""The store on a real database (an SQLite file, and PostgreSQL when TEST_DATABASE_URL is set):
exact restore, one transaction per trade, one engine per DB, schema version and migrations."""

from __future__ import annotations

import math
import os
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from dataclasses import astuple, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from autotrade_tui.core.engine import EngineConfig, EngineState, Ledger, TradingEngine, copy_state
from autotrade_tui.core.models import (
    Action,
    Entry,
    EventType,
    MarketEvent,
    ModelVote,
    Position,
    Severity,
    Side,
    VoteResult,
)
from autotrade_tui.errors import EngineLockedError, StoreError
from autotrade_tui.store import codec
from autotrade_tui.store import store as store_mod
from autotrade_tui.store.db import resolve_url
from autotrade_tui.store.store import Store, to_dt
from autotrade_tui.store.tables import DecisionRow, TradeRow

SEED_COLUMNS = {
    "trades": "id timestamp symbol order_type side amount price pnl fee margin leverage",
    "ai_decisions": "id timestamp symbol model_1_decision model_2_decision final_decision "
                    "model_1_confidence model_2_confidence model_1_reasoning model_2_reasoning "
                    "executed input_data",
    "account_snapshots": "id timestamp total_equity total_capital unrealized_pnl open_positions "
                         "total_trades winning_trades losing_trades win_rate total_fees",
    "market_events": "id timestamp symbol event_type severity description suggested_action "
                     "metrics processed",
    "market_data_cache": "id timestamp symbol timeframe ohlcv_data indicators",
}


def is_sqlite(db: str) -> bool:
    return "://" not in db


def query(db: str, sql: str) -> list[Any]:
    """Raw rows through a reader Store's engine (the same SQL on both databases)."""
    with Store(db) as store, store.engine.connect() as con:
        return list(con.execute(text(sql)).all())


def test_schema_has_seed_columns_indexes_and_wal(db_url: str) -> None:
    with Store(db_url) as store:
        insp = inspect(store.engine)
        for table, cols in SEED_COLUMNS.items():
            have = {c["name"] for c in insp.get_columns(table)}
            assert set(cols.split()) <= have, table
        for table in ("trades", "ai_decisions", "market_events"):
            indexed = {c for ix in insp.get_indexes(table) for c in ix["column_names"]}
            assert {"timestamp", "symbol"} <= indexed, table
    if is_sqlite(db_url):
        con = sqlite3.connect(db_url)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert query(db_url, "SELECT value FROM schema_meta") == [(str(store_mod.SCHEMA_VERSION),)]


def test_new_database_has_no_state_and_schema_is_idempotent(db_url: str) -> None:
    with Store(db_url) as store:
        assert store.load_state() is None
    with Store(db_url) as store:  # second open: create_all must not fail or duplicate
        assert store.load_state() is None
    assert query(db_url, "SELECT key, value FROM schema_meta") == [
        ("schema_version", str(store_mod.SCHEMA_VERSION))]


def test_migration_steps_run_once_in_one_transaction(db_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    old = store_mod.SCHEMA_VERSION  # a database of today's version; the next one adds a step
    Store(db_url).close()
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", old + 1)

    def broken(con: Any) -> None:
        con.execute(text("ALTER TABLE trades ADD COLUMN note2 TEXT"))
        raise RuntimeError("step 1 failed half-way")

    monkeypatch.setitem(store_mod.MIGRATIONS, old, broken)
    with pytest.raises(RuntimeError, match="half-way"):
        Store(db_url)
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", old)  # look with the old program
    with Store(db_url) as store:
        assert "note2" not in {c["name"] for c in inspect(store.engine).get_columns("trades")}
    assert query(db_url, "SELECT value FROM schema_meta") == [(str(old),)]

    calls: list[int] = []

    def step(con: Any) -> None:
        calls.append(1)
        con.execute(text("ALTER TABLE trades ADD COLUMN note2 TEXT"))

    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", old + 1)
    monkeypatch.setitem(store_mod.MIGRATIONS, old, step)
    Store(db_url).close()
    Store(db_url).close()  # already at the new version: the step does not run again
    assert calls == [1]
    assert query(db_url, "SELECT value FROM schema_meta") == [(str(old + 1),)]
    assert query(db_url, "SELECT count(note2) FROM trades") == [(0,)]

    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", old)
    with pytest.raises(StoreError, match=f"schema version {old + 1}, newer than this program"):
        Store(db_url)


def _trade_some(engine: TradingEngine, store: Store) -> None:
    for i, (sym, act, px) in enumerate([("BTC/USDT", Action.BUY, 60_000.0),
                                        ("BTC/USDT", Action.BUY, 59_000.0),
                                        ("ETH/USDT", Action.SELL, 3_000.0),
                                        ("SOL/USDT", Action.BUY, 150.0),
                                        ("SOL/USDT", Action.SELL, 155.0)]):
        ex = engine.execute(act, sym, px, 1_700_000_000 + i)
        store.record_trades(ex.trades, engine.state)


def test_restore_is_exact(db_url: str) -> None:
    engine = TradingEngine(EngineConfig())
    with Store(db_url, writer=True) as store:
        _trade_some(engine, store)
        store.save_state(engine.state, paused=True)
    with Store(db_url, writer=True) as store:
        loaded = store.load_state()
    assert loaded is not None
    state, paused = loaded
    assert paused is True
    assert state.ledger == engine.ledger  # floats round-trip exactly through REAL
    assert state.positions == engine.positions
    assert [len(p.entries) for p in state.positions.values()] == [2, 1, 1]
    assert TradingEngine(EngineConfig(), state).invariant_error() < 1e-6


def test_records_decisions_events_snapshots(db_url: str) -> None:
    with Store(db_url) as store:
        v1 = ModelVote("a", Action.BUY, 0.8, "up", prompt_tokens=10, completion_tokens=5,
                       cost=0.01)
        v2 = ModelVote("b", None, error="timeout")
        did = store.record_decision(symbol="BTC/USDT", ts=1e9, price=1.0, votes=[v1, v2],
                                    result=VoteResult(Action.BUY, 0.8, "alone", 0.55),
                                    executed=False, note="paused",
                                    input_data={"x": float("nan"), "prompt": "hi"})
        assert did >= 1
        store.set_decision_executed(did, True, "opened LONG")
        store.record_events([MarketEvent(1e9, "BTC/USDT", EventType.FLASH_CRASH,
                                         Severity.HIGH, "fell", "reduce", {"pct": -3.1})])
        assert store.usage_totals() == (15, 0.01)
        [dec] = store.rows(DecisionRow)
        assert dec.executed is True and dec.input_data == {"x": None, "prompt": "hi"}
        assert dec.timestamp == to_dt(1e9) and dec.timestamp.tzinfo is not None
    [row] = query(db_url, "SELECT model_2_decision, model_2_error, executed, "
                          "input_data, execution_note FROM ai_decisions")
    assert row[0] is None and row[1] == "timeout" and row[2] == 1
    assert codec.decode(row[3]) == {"x": None, "prompt": "hi"} and row[4] == "opened LONG"
    assert query(db_url, "SELECT event_type, severity FROM market_events") == [
        ("FLASH_CRASH", "HIGH")]


def test_text_json_and_timestamps_round_trip(db_url: str) -> None:
    long_text = "Ünïcødé ✓ 📈\nline 2\t'quoted' \"double\"\n" * 5_000  # ~190 kB
    with Store(db_url) as store:
        v1 = ModelVote("a", Action.SELL, 0.7, long_text)
        v2 = ModelVote("b", Action.SELL, 0.6, "")
        did = store.record_decision(symbol="ETH/USDT", ts=1_700_000_000.123456, price=2.5,
                                    votes=[v1, v2],
                                    result=VoteResult(Action.SELL, 0.65, "both", 0.6),
                                    executed=False, note="",
                                    input_data={"nested": {"l": [1, 2.5, None, True, "s"]}})
        engine = TradingEngine(EngineConfig())
        ex = engine.execute(Action.BUY, "BTC/USDT", 60_000.0, 1_700_000_001.5)
        store.record_trades(ex.trades, engine.state, decision_id=did)
        [dec] = store.rows(DecisionRow)
        [trade] = store.rows(TradeRow)
    assert dec.model_1_reasoning == long_text and dec.executed is False
    assert dec.input_data == {"nested": {"l": [1, 2.5, None, True, "s"]}}
    assert dec.timestamp == to_dt(1_700_000_000.123456)
    assert dec.timestamp.utcoffset() is not None and dec.timestamp.utcoffset().total_seconds() == 0
    assert trade.timestamp == to_dt(1_700_000_001.5) and trade.decision_id == did
    assert trade.timestamp.utcoffset() is not None


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def test_doubles_round_trip_bit_exactly(db_url: str) -> None:
    """Exact engine restore depends on it: REAL on SQLite, double precision on PostgreSQL."""
    rng = random.Random(11)
    vals = [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(600)]
    vals = [v for v in vals if math.isfinite(v)]
    vals += [0.1 + 0.2, 1 / 3, 5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
             1.7976931348623157e308, -1e-300, 123456789.12345679, 60_000.00000000001]
    vals += [rng.uniform(-1e6, 1e6) for _ in range(200)]
    vals += [0.0] * (-len(vals) % 6)
    positions = {}
    for i in range(0, len(vals), 6):
        sym = f"S{i:04d}"
        positions[sym] = Position(sym, Side.LONG if i % 12 else Side.SHORT,
                                  [Entry(*vals[i:i + 6])], opened_at=vals[i])
    ledger = Ledger(vals[1], vals[2], vals[3], vals[4], 7, 4, 3, 1, vals[5], "")
    prices = {f"P{i}": v for i, v in enumerate(vals[:100])}
    with Store(db_url) as store:
        store.save_state(EngineState(ledger, positions), prices=prices)
        loaded = store.load_state()
        assert store.last_prices() == prices
        assert all(_bits(store.last_prices()[k]) == _bits(v) for k, v in prices.items())
    assert loaded is not None
    state, paused = loaded
    assert paused is False
    assert [_bits(x) for x in astuple(state.ledger) if isinstance(x, float)] == [
        _bits(x) for x in astuple(ledger) if isinstance(x, float)]
    assert state.ledger == ledger
    assert sorted(state.positions) == sorted(positions)
    for sym, pos in positions.items():
        got = state.positions[sym]
        assert got.side == pos.side and _bits(got.opened_at) == _bits(pos.opened_at)
        assert [[_bits(x) for x in astuple(e)] for e in got.entries] == [
            [_bits(x) for x in astuple(e)] for e in pos.entries], sym


def test_trade_and_state_commit_together(db_url: str) -> None:
    """A failing write leaves neither the trade nor the ledger change behind."""
    engine = TradingEngine(EngineConfig())
    with Store(db_url, writer=True) as store:
        before = copy_state(engine.state)
        store.save_state(before)
        ex = engine.execute(Action.BUY, "BTC/USDT", 60_000.0, 1.0)
        bad = replace(ex.trades[0], symbol=None)  # NOT NULL violation inside the transaction
        with pytest.raises(StoreError, match="database write failed"):
            store.record_trades([bad], engine.state)
        state, _ = store.load_state()  # type: ignore[misc]
    assert state.ledger == before.ledger and state.positions == {}
    assert query(db_url, "SELECT count(*) FROM trades") == [(0,)]


def test_second_engine_is_refused_but_readers_are_not(db_url: str) -> None:
    with Store(db_url, writer=True):
        with pytest.raises(EngineLockedError, match="already trading"):
            Store(db_url, writer=True)
        with Store(db_url) as reader:
            assert reader.load_state() is None
    with Store(db_url, writer=True):  # released on close
        pass


def test_writers_on_two_databases_do_not_block_each_other(db_url: str,
                                                          other_db_url: str) -> None:
    """PostgreSQL advisory locks are per database: two accounts on one server both trade."""
    with Store(db_url, writer=True) as a, Store(other_db_url, writer=True) as b:
        engine = TradingEngine(EngineConfig())
        a.save_state(engine.state)
        b.save_state(engine.state)
        with pytest.raises(EngineLockedError):
            Store(other_db_url, writer=True)


HOLDER = """
import sys, time
from autotrade_tui.store.store import Store
store = Store(sys.argv[1], writer=True)
print("locked", flush=True)
time.sleep(120)
"""


def test_lock_is_released_when_the_holder_is_killed(db_url: str) -> None:
    """kill -9: the kernel drops the flock; PostgreSQL ends the session and its lock."""
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, db_url], stdout=subprocess.PIPE,
                            text=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        with pytest.raises(EngineLockedError, match="already trading"):
            Store(db_url, writer=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10  # the server notices the closed socket (milliseconds)
    while True:
        try:
            with Store(db_url, writer=True) as store:
                store.save_state(TradingEngine(EngineConfig()).state)
            break
        except EngineLockedError:
            assert time.monotonic() < deadline, "lock still held 10 s after the kill"
            time.sleep(0.05)


def test_url_resolution(tmp_path: Path) -> None:
    default = tmp_path / "d.db"
    assert resolve_url(None, default) == f"sqlite:///{default}"
    assert resolve_url("postgres://u:p@h/db", default) == "postgresql+psycopg://u:p@h/db"
    assert resolve_url("postgresql://h/db", default) == "postgresql+psycopg://h/db"
    assert resolve_url("rel.db", default).endswith("/rel.db")
    with pytest.raises(StoreError, match="unsupported"):
        Store("mysql://u:secret@h/db")


def test_unusable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot"):
        Store(blocker / "sub" / "x.db")

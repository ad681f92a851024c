"""The store on a real SQLite file: exact restore, one transaction per trade, one engine per DB."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import inspect

from autotrade_tui.core.engine import EngineConfig, TradingEngine, copy_state
from autotrade_tui.core.models import (
    Action,
    EventType,
    MarketEvent,
    ModelVote,
    Severity,
    VoteResult,
)
from autotrade_tui.errors import EngineLockedError, StoreError
from autotrade_tui.store.db import resolve_url
from autotrade_tui.store.store import Store

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


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "acct.db"


def test_schema_has_seed_columns_indexes_and_wal(db: Path) -> None:
    with Store(db) as store:
        insp = inspect(store.engine)
        for table, cols in SEED_COLUMNS.items():
            have = {c["name"] for c in insp.get_columns(table)}
            assert set(cols.split()) <= have, table
        for table in ("trades", "ai_decisions", "market_events"):
            indexed = {c for ix in insp.get_indexes(table) for c in ix["column_names"]}
            assert {"timestamp", "symbol"} <= indexed, table
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT value FROM schema_meta").fetchone()[0] == "1"


def test_new_database_has_no_state_and_schema_is_idempotent(db: Path) -> None:
    with Store(db) as store:
        assert store.load_state() is None
    with Store(db) as store:  # second open: create_all must not fail or duplicate
        assert store.load_state() is None


def _trade_some(engine: TradingEngine, store: Store) -> None:
    for i, (sym, act, px) in enumerate([("BTC/USDT", Action.BUY, 60_000.0),
                                        ("BTC/USDT", Action.BUY, 59_000.0),
                                        ("ETH/USDT", Action.SELL, 3_000.0),
                                        ("SOL/USDT", Action.BUY, 150.0),
                                        ("SOL/USDT", Action.SELL, 155.0)]):
        ex = engine.execute(act, sym, px, 1_700_000_000 + i)
        store.record_trades(ex.trades, engine.state)


def test_restore_is_exact(db: Path) -> None:
    engine = TradingEngine(EngineConfig())
    with Store(db, writer=True) as store:
        _trade_some(engine, store)
        store.save_state(engine.state, paused=True)
    with Store(db, writer=True) as store:
        loaded = store.load_state()
    assert loaded is not None
    state, paused = loaded
    assert paused is True
    assert state.ledger == engine.ledger  # floats round-trip exactly through REAL
    assert state.positions == engine.positions
    assert [len(p.entries) for p in state.positions.values()] == [2, 1, 1]
    assert TradingEngine(EngineConfig(), state).invariant_error() < 1e-6


def test_records_decisions_events_snapshots(db: Path) -> None:
    with Store(db) as store:
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
    con = sqlite3.connect(db)
    row = con.execute("SELECT model_2_decision, model_2_error, executed, input_data, "
                      "execution_note FROM ai_decisions").fetchone()
    assert row[0] is None and row[1] == "timeout" and row[2] == 1
    assert '"x": null' in row[3] and row[4] == "opened LONG"
    assert con.execute("SELECT event_type, severity FROM market_events").fetchone() == (
        "FLASH_CRASH", "HIGH")


def test_trade_and_state_commit_together(db: Path) -> None:
    """A failing write leaves neither the trade nor the ledger change behind."""
    engine = TradingEngine(EngineConfig())
    with Store(db, writer=True) as store:
        before = copy_state(engine.state)
        store.save_state(before)
        ex = engine.execute(Action.BUY, "BTC/USDT", 60_000.0, 1.0)
        bad = replace(ex.trades[0], symbol=None)  # NOT NULL violation inside the transaction
        with pytest.raises(StoreError, match="database write failed"):
            store.record_trades([bad], engine.state)
        state, _ = store.load_state()  # type: ignore[misc]
    assert state.ledger == before.ledger and state.positions == {}
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM trades").fetchone()[0] == 0


def test_second_engine_is_refused_but_readers_are_not(db: Path) -> None:
    with Store(db, writer=True):
        with pytest.raises(EngineLockedError, match="already trading"):
            Store(db, writer=True)
        with Store(db) as reader:
            assert reader.load_state() is None
    with Store(db, writer=True):  # released on close
        pass


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

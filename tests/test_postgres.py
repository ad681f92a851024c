"""PostgreSQL only (collected when TEST_DATABASE_URL is set): column types, the advisory lock,
and lost connections: a backend killed between or inside writes, a commit whose answer is lost."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, LargeBinary, String, Text, event
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from autotrade_tui.core.engine import EngineConfig, TradingEngine, copy_state
from autotrade_tui.core.models import Action
from autotrade_tui.errors import EngineLockedError, StoreError
from autotrade_tui.store.lock import ADVISORY_KEY
from autotrade_tui.store.store import Store
from tests.conftest import TEST_PG_URL, fresh_pg_database, libpq_url


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database(TEST_PG_URL) as url:
        yield url


def admin(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(libpq_url(url), autocommit=True)


def terminate(url: str, pids: list[int] | None = None) -> list[int]:
    """pg_terminate_backend the given sessions (default: every other session on the
    database) and wait until the server has ended them."""
    with admin(url) as a:
        if pids is None:
            pids = [r[0] for r in a.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")]
        for pid in pids:
            a.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while a.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                        (pids,)).fetchone() != (0,):
            assert time.monotonic() < deadline, "backends still alive"
            time.sleep(0.02)
    return pids


def lock_holders(url: str) -> list[int]:
    """Sessions holding the engine's advisory lock on this database."""
    with admin(url) as a:
        return [r[0] for r in a.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = %s AND objid = %s AND objsubid = 1",
            (ADVISORY_KEY >> 32, ADVISORY_KEY & 0xFFFF_FFFF))]


def count(url: str, table: str) -> int:
    with admin(url) as a:
        row = a.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def kill_on(store: Store, prefix: str, times: int) -> list[int]:
    """Terminate the backend running a statement starting with `prefix`, just before it runs,
    the first `times` times. Returns the pids killed."""
    killed: list[int] = []

    def hook(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(prefix) and len(killed) < times:
            pid = conn.connection.dbapi_connection.info.backend_pid
            killed.append(pid)
            terminate(store.url, [pid])

    event.listen(store.engine, "before_cursor_execute", hook)
    return killed


def buy(engine: TradingEngine, sym: str, px: float, ts: float) -> list[Any]:
    return engine.execute(Action.BUY, sym, px, ts).trades


def expected_type(col: Any) -> str:
    t = col.type.impl if isinstance(col.type, TypeDecorator) else col.type
    for kind, name in ((DateTime, "timestamp with time zone"), (Float, "double precision"),
                       (JSON, "json"), (LargeBinary, "bytea"), (Boolean, "boolean"),
                       (Text, "text"),
                       (String, "character varying"), (Integer, "integer")):
        if isinstance(t, kind):
            return name
    raise AssertionError(f"unexpected column type {t!r}")


def test_column_types(pg_url: str) -> None:
    """floats are double precision (exact restore), timestamps carry the time zone."""
    Store(pg_url).close()
    with admin(pg_url) as a:
        have = {(t, c): d for t, c, d in a.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public'")}
    want = {(t.name, c.name): expected_type(c) for t in SQLModel.metadata.sorted_tables
            for c in t.columns}
    assert {k: have.get(k) for k in want} == want
    kinds = list(want.values())
    assert kinds.count("double precision") >= 30 and kinds.count("timestamp with time zone") == 5
    # input_data (schema 2) and the snapshots' open_positions (schema 4) are compressed
    # (bytea); the other JSON columns stay json
    assert kinds.count("json") == 4 and kinds.count("bytea") == 2 and kinds.count("boolean") == 3


def test_engine_lock_is_a_session_advisory_lock_on_this_database(pg_url: str) -> None:
    assert lock_holders(pg_url) == []
    with Store(pg_url, writer=True):
        assert len(lock_holders(pg_url)) == 1
        with Store(pg_url):  # readers take no lock
            assert len(lock_holders(pg_url)) == 1
    assert lock_holders(pg_url) == []


def test_write_after_every_session_was_terminated(pg_url: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Between two writes the server drops every session (as a restart does): the pool
    reconnects, the lost engine lock is taken again, the second write lands once."""
    engine = TradingEngine(EngineConfig())
    with Store(pg_url, writer=True) as store:
        store.record_trades(buy(engine, "BTC/USDT", 60_000.0, 1.0), engine.state)
        [old_holder] = lock_holders(pg_url)
        assert old_holder in terminate(pg_url)
        with caplog.at_level(logging.WARNING):
            store.record_trades(buy(engine, "ETH/USDT", 3_000.0, 2.0), engine.state)
        assert "session holding the engine lock was lost" in caplog.text
        assert "engine lock taken again" in caplog.text
        [new_holder] = lock_holders(pg_url)
        assert new_holder != old_holder
        with pytest.raises(EngineLockedError):
            Store(pg_url, writer=True)
        loaded = store.load_state()
    assert loaded is not None and loaded[0] == engine.state
    assert count(pg_url, "trades") == 2


def test_backend_killed_inside_the_transaction_is_retried_whole(
        pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = TradingEngine(EngineConfig())
    with Store(pg_url, writer=True) as store:
        store.retry_delays = (0.05, 0.05, 0.05)
        store.record_trades(buy(engine, "BTC/USDT", 60_000.0, 1.0), engine.state)
        killed = kill_on(store, "INSERT INTO position_entries", times=2)
        trades = buy(engine, "ETH/USDT", 3_000.0, 2.0) + buy(engine, "SOL/USDT", 150.0, 3.0)
        with caplog.at_level(logging.WARNING):
            store.record_trades(trades, engine.state)  # killed after its trades were inserted
        assert len(killed) == 2
        assert caplog.text.count("database connection lost") == 2
        assert "write retried" in caplog.text and "attempt 3 of 4" in caplog.text
        loaded = store.load_state()
    assert loaded is not None and loaded[0] == engine.state
    assert count(pg_url, "trades") == 3 and count(pg_url, "position_entries") == 3


def test_write_that_keeps_failing_is_a_store_error_and_writes_nothing(pg_url: str) -> None:
    engine = TradingEngine(EngineConfig())
    with Store(pg_url, writer=True) as store:
        store.retry_delays = (0.01, 0.01)
        store.record_trades(buy(engine, "BTC/USDT", 60_000.0, 1.0), engine.state)
        before = copy_state(engine.state)
        killed = kill_on(store, "INSERT INTO trades", times=99)
        with pytest.raises(StoreError, match="database write failed after 3 attempts"):
            store.record_trades(buy(engine, "ETH/USDT", 3_000.0, 2.0), engine.state)
        assert len(killed) == 3
        loaded = store.load_state()
    assert loaded is not None and loaded[0] == before
    assert count(pg_url, "trades") == 1


def test_read_is_retried(pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = TradingEngine(EngineConfig())
    with Store(pg_url, writer=True) as store:
        store.retry_delays = (0.01,)
        store.record_trades(buy(engine, "BTC/USDT", 60_000.0, 1.0), engine.state)
        killed = kill_on(store, "SELECT position_entries", times=1)
        with caplog.at_level(logging.WARNING):
            loaded = store.load_state()
        assert len(killed) == 1 and "read retried" in caplog.text
    assert loaded is not None and loaded[0] == engine.state


def _patch_commit(store: Store, monkeypatch: pytest.MonkeyPatch,
                  fault: Callable[[Any, Callable[[Any], None]], None]) -> list[int]:
    """Replace the first DBAPI commit of a write with `fault(psycopg_conn, real_commit)`."""
    dialect = store.engine.dialect
    real = dialect.do_commit
    fired: list[int] = []

    def do_commit(fairy: Any) -> None:
        if fired:
            real(fairy)
            return
        conn = fairy.dbapi_connection
        fired.append(conn.info.backend_pid)
        fault(conn, real)

    monkeypatch.setattr(dialect, "do_commit", do_commit)
    return fired


def test_commit_whose_answer_is_lost_is_not_written_twice(
        pg_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The server committed, then the connection died before we heard: txid_status says
    'committed', so the write is not repeated."""

    def committed_then_lost(conn: Any, real: Callable[[Any], None]) -> None:
        real(conn)
        conn.close()
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    engine = TradingEngine(EngineConfig())
    with Store(pg_url, writer=True) as store:
        fired = _patch_commit(store, monkeypatch, committed_then_lost)
        with caplog.at_level(logging.WARNING):
            store.record_trades(buy(engine, "BTC/USDT", 60_000.0, 1.0), engine.state)
        assert fired and "the server had committed it" in caplog.text
        loaded = store.load_state()
    assert loaded is not None and loaded[0] == engine.state
    assert count(pg_url, "trades") == 1


def test_commit_lost_before_the_server_committed_is_run_again(
        pg_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def killed_then_commit(conn: Any, real: Callable[[Any], None]) -> None:
        terminate(pg_url, [conn.info.backend_pid])
        real(conn)

    engine = TradingEngine(EngineConfig())
    with Store(pg_url, writer=True) as store:
        store.retry_delays = (0.01,)
        fired = _patch_commit(store, monkeypatch, killed_then_commit)
        with caplog.at_level(logging.WARNING):
            store.record_trades(buy(engine, "BTC/USDT", 60_000.0, 1.0), engine.state)
        assert fired and "write retried" in caplog.text
        assert "had committed" not in caplog.text
        loaded = store.load_state()
    assert loaded is not None and loaded[0] == engine.state
    assert count(pg_url, "trades") == 1


def test_lost_lock_taken_by_another_engine_stops_the_writes(pg_url: str) -> None:
    engine = TradingEngine(EngineConfig())
    first = Store(pg_url, writer=True)
    try:
        first.save_state(engine.state)
        before = copy_state(engine.state)
        terminate(pg_url, lock_holders(pg_url))
        with Store(pg_url, writer=True) as second:  # the lock was free: a second engine
            with pytest.raises(EngineLockedError, match="lost its lock"):
                first.record_trades(buy(engine, "BTC/USDT", 60_000.0, 1.0), engine.state)
            loaded = second.load_state()
        assert loaded is not None and loaded[0] == before
        assert count(pg_url, "trades") == 0
    finally:
        first.close()


def test_engine_whose_lock_lapsed_while_another_traded_stops_writing(pg_url: str) -> None:
    """The lock is free again by the next write, but the account moved on without us: the
    stale engine must not overwrite it."""
    stale = TradingEngine(EngineConfig())
    first = Store(pg_url, writer=True)
    try:
        assert first.load_state() is None
        first.save_state(stale.state)
        terminate(pg_url, lock_holders(pg_url))
        with Store(pg_url, writer=True) as second:
            loaded = second.load_state()
            assert loaded is not None
            other = TradingEngine(EngineConfig(), loaded[0])
            second.record_trades(buy(other, "ETH/USDT", 3_000.0, 5.0), other.state)
        with pytest.raises(EngineLockedError, match="another engine traded meanwhile"):
            first.record_trades(buy(stale, "BTC/USDT", 60_000.0, 1.0), stale.state)
        with pytest.raises(EngineLockedError):  # and it stays stopped
            first.record_events([])
        assert lock_holders(pg_url) == []  # the lock it took again is given back
        with Store(pg_url) as reader:
            now = reader.load_state()
        assert now is not None and now[0] == other.state
        assert count(pg_url, "trades") == 1
    finally:
        first.close()


def test_commit_of_unknown_outcome_stops_the_writes(pg_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection dies during COMMIT and the server cannot be asked afterwards: the
    write is not repeated blindly, and later writes are refused (a restart reloads)."""

    def lost(conn: Any, _real: Callable[[Any], None]) -> None:
        conn.close()
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    engine = TradingEngine(EngineConfig())
    with Store(pg_url, writer=True) as store:
        store.retry_delays = (0.01, 0.01)
        _patch_commit(store, monkeypatch, lost)
        asked = kill_on(store, "SELECT txid_status", times=99)
        with pytest.raises(StoreError, match="cannot tell whether it committed"):
            store.record_trades(buy(engine, "BTC/USDT", 60_000.0, 1.0), engine.state)
        assert len(asked) == 3
        with pytest.raises(StoreError, match=r"outcome is unknown.*restart"):
            store.record_events([])
        assert store.load_state() is None  # reads still work; nothing was committed
    assert count(pg_url, "trades") == 0

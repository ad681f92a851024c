"""The backtest database (never the live account's): runs with their trades, decisions and
events, the market-data cache and the LLM response cache. SQLAlchemy Core on its own tables."""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from autotrade_tui.errors import StoreError
from autotrade_tui.store.store import _short

meta = MetaData()

runs = Table(
    "backtest_runs", meta,
    Column("id", Integer, primary_key=True),
    Column("created_at", Float, nullable=False),  # wall time of the run
    Column("source", Text, nullable=False),
    Column("symbols", JSON, nullable=False),
    Column("timeframe", String(8), nullable=False),
    Column("date_from", Float, nullable=False),
    Column("date_to", Float, nullable=False),
    Column("models", JSON, nullable=False),
    Column("candles", Integer, nullable=False),
    Column("return_pct", Float), Column("max_drawdown_pct", Float), Column("sharpe", Float),
    Column("total_trades", Integer), Column("win_rate", Float), Column("total_fees", Float),
    Column("liquidations", Integer), Column("final_equity", Float),
    Column("metrics", JSON, nullable=False),  # the whole --json object
    Column("settings", JSON, nullable=False),  # account/decision settings the run used
    Column("equity_curve", JSON, nullable=False),  # [[ts, equity], ...], at most ~2,000 points
)
trades = Table(
    "backtest_trades", meta,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("backtest_runs.id"), index=True, nullable=False),
    Column("ts", Float, nullable=False), Column("symbol", String(40), nullable=False),
    Column("order_type", String(16), nullable=False), Column("side", String(8), nullable=False),
    Column("amount", Float), Column("price", Float), Column("pnl", Float), Column("fee", Float),
    Column("margin", Float), Column("leverage", Float), Column("source", String(16)),
    Column("reason", Text), Column("decision_seq", Integer),  # backtest_decisions.seq
)
decisions = Table(
    "backtest_decisions", meta,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("backtest_runs.id"), index=True, nullable=False),
    Column("ts", Float, nullable=False), Column("symbol", String(40), nullable=False),
    Column("price", Float), Column("source", String(16)),
    Column("seq", Integer, nullable=False),  # its number within the run (trades refer to it)
    Column("model_1_name", Text), Column("model_1_decision", String(8)),
    Column("model_1_confidence", Float), Column("model_1_reasoning", Text),
    Column("model_2_name", Text), Column("model_2_decision", String(8)),
    Column("model_2_confidence", Float), Column("model_2_reasoning", Text),
    Column("final_decision", String(8)), Column("final_confidence", Float),
    Column("vote_reason", Text), Column("executed", Boolean), Column("note", Text),
)
events = Table(
    "backtest_events", meta,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("backtest_runs.id"), index=True, nullable=False),
    Column("ts", Float, nullable=False), Column("symbol", String(40), nullable=False),
    Column("event_type", String(24)), Column("severity", String(12)),
    Column("description", Text), Column("suggested_action", Text), Column("metrics", JSON),
)
llm_cache = Table(
    "llm_cache", meta,
    Column("key", String(64), primary_key=True),  # sha256 of model id + exact prompt
    Column("response", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)


def default_path() -> Path:
    from autotrade_tui.config import user_data_dir

    return user_data_dir() / "backtests.db"


class BacktestStore:
    """One backtest database file (or URL)."""

    def __init__(self, db: str | Path | None = None) -> None:
        from autotrade_tui.config import mask_url
        from autotrade_tui.store.db import create_db_engine, resolve_url
        from autotrade_tui.store.tables import MarketDataCacheRow

        self.url = resolve_url(db, default_path())
        self.shown = mask_url(self.url)
        self.cache_table: Table = MarketDataCacheRow.__table__  # type: ignore[assignment]
        self.engine: Engine = create_db_engine(self.url)
        try:
            meta.create_all(self.engine)
            self.cache_table.create(self.engine, checkfirst=True)
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise StoreError(f"cannot open the backtest database {self.shown}: "
                             f"{_short(exc)}") from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> BacktestStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, what: str) -> AbstractContextManager[Connection]:
        return _txn(self.engine, f"backtest database {self.shown}: {what}")

    # ---- runs
    def save_run(self, run: dict[str, Any], trade_rows: Sequence[dict[str, Any]],
                 decision_rows: Sequence[dict[str, Any]],
                 event_rows: Sequence[dict[str, Any]]) -> int:
        """The run and everything it produced, in one transaction; returns the run id."""
        with self._write("saving the run") as conn:
            run_id = int(conn.execute(insert(runs).values(**run)).inserted_primary_key[0])
            for table, rows in ((decisions, decision_rows), (trades, trade_rows),
                                (events, event_rows)):
                if rows:
                    conn.execute(insert(table), [{**r, "run_id": run_id} for r in rows])
        return run_id

    def run_rows(self, table: Table, run_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).where(table.c.run_id == run_id)
                                .order_by(table.c.id))
            return [dict(r._mapping) for r in rows]

    def runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(runs).order_by(runs.c.id))]

    # ---- market data cache
    def cached_bars(self, source: str, symbol: str, timeframe: str
                    ) -> list[tuple[float, float, list[list[float]]]]:
        """(covered from, covered to, bars) of every cached download of this series."""
        t = self.cache_table
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.start_ts, t.c.end_ts, t.c.ohlcv_data).where(
                (t.c.source == source) & (t.c.symbol == symbol) & (t.c.timeframe == timeframe)))
            return [(float(a), float(b), list(data or [])) for a, b, data in rows]

    def cache_bars(self, source: str, symbol: str, timeframe: str, start: float, end: float,
                   bars: list[list[float]]) -> None:
        """Store a download covering [start, end); downloads it contains are dropped."""
        t = self.cache_table
        with self._write("caching market data") as conn:
            conn.execute(delete(t).where(
                (t.c.source == source) & (t.c.symbol == symbol) & (t.c.timeframe == timeframe)
                & (t.c.start_ts >= start) & (t.c.end_ts <= end)))
            conn.execute(insert(t).values(
                timestamp=datetime.now(UTC), symbol=symbol, timeframe=timeframe,
                ohlcv_data=bars, indicators={}, source=source, start_ts=start, end_ts=end))

    # ---- LLM response cache
    def llm_cache(self) -> LlmCache:
        with self.engine.connect() as conn:
            known = dict(conn.execute(select(llm_cache.c.key, llm_cache.c.response)).all())
        return LlmCache(self, known)


class LlmCache(MutableMapping[str, str]):
    """The openai_compat response cache (key: sha256 of model + prompt → raw answer), loaded
    from the backtest database; new answers are written by `flush` (after each cycle)."""

    def __init__(self, store: BacktestStore, known: dict[str, str]) -> None:
        self.store = store
        self.data = known
        self.pending: dict[str, str] = {}
        self.hits = 0

    def __getitem__(self, key: str) -> str:
        value = self.data[key]
        self.hits += 1
        return value

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: str, value: str) -> None:
        self.data[key] = value
        self.pending[key] = value

    def __delitem__(self, key: str) -> None:
        del self.data[key]
        self.pending.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def flush(self) -> None:
        if not self.pending:
            return
        rows = [{"key": k, "response": v, "created_at": time.time()}
                for k, v in self.pending.items()]
        with self.store._write("caching model answers") as conn:
            conn.execute(delete(llm_cache).where(llm_cache.c.key.in_(list(self.pending))))
            conn.execute(insert(llm_cache), rows)
        self.pending.clear()


@contextmanager
def _txn(engine: Engine, what: str) -> Iterator[Connection]:
    """One transaction; SQLAlchemy errors become StoreError saying what failed."""
    try:
        with engine.begin() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise StoreError(f"{what} failed: {_short(exc)}") from None


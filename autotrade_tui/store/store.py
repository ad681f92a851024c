"""Persistence and recovery (SPEC §10). Synchronous: the runtime calls it off the event loop.

A trade and the ledger/position change it causes commit in ONE transaction, so after a crash
the database holds either both or neither; `load_state` gives the engine back exactly.

Every write is a function of a fresh Session run in one transaction. When the connection is
lost (PostgreSQL restarted, backend terminated, network) the server has rolled that
transaction back, so the whole function runs again, a bounded number of times with a backoff,
each retry logged as a warning; then StoreError. A connection lost *during* COMMIT leaves the
outcome unknown: on PostgreSQL the transaction id is asked for with `txid_status` so a
committed write is never written twice. Reads are retried the same way.

Storage faults (SPEC §10) go through one mechanism (store/faults.py): every failure is
translated once into StoreError naming its cause; a fault that lasts is reported once a minute
(`StoreError.repeat`), and the next success ends it (`fault` turns "" again; on SQLite the WAL
is then checkpointed and truncated). A writer takes its lock before it touches the schema,
checks an existing SQLite file first (`PRAGMA quick_check`, read-only: a damaged file is left
as it is; a missing one that its lock file says an engine held is refused, not made anew), and
checks before and after every write, and on every `check()`, that the file and its -wal/-shm
are still the ones it opened (StoreFileChanged: the engine stops).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import defer
from sqlmodel import Session, SQLModel

from autotrade_tui.config import default_db_path, mask_url
from autotrade_tui.core.decision import DecisionRecorded
from autotrade_tui.core.engine import EngineState, Ledger, copy_state
from autotrade_tui.core.metrics import max_drawdown_pct
from autotrade_tui.core.models import (
    Entry,
    MarketEvent,
    ModelVote,
    Position,
    Side,
    Trade,
    VoteResult,
)
from autotrade_tui.errors import EngineLockedError, StoreError, StoreFatal
from autotrade_tui.store import faults, queries, records, retention
from autotrade_tui.store import lock as locks
from autotrade_tui.store.codec import compress_column
from autotrade_tui.store.db import (
    BUSY_TIMEOUT_MS,
    create_db_engine,
    create_private,
    is_postgres,
    resolve_url,
    sqlite_path,
)
from autotrade_tui.store.tables import (
    SCHEMA_VERSION,
    USAGE_INDEX,
    AccountStateRow,
    DecisionRow,
    EventRow,
    PositionEntryRow,
    SchemaMetaRow,
    ScorecardRow,
    SnapshotRow,
    TradeRow,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
THIN_EVERY = 3_600.0  # seconds of the app clock between two thinnings of the snapshots

# Schema changes: bump SCHEMA_VERSION (tables.py) and add MIGRATIONS[old] = a step that turns a
# schema of version `old` into `old + 1` (ALTER TABLE ..., data fixes). On start, create_all adds
# missing tables, then every step from the stored version up runs, and the new version is
# recorded: all in one transaction (DDL is transactional on both databases), serialised by an
# advisory lock on PostgreSQL.
def _to_v2(conn: Connection) -> None:
    """1 → 2: `input_data` compressed (existing rows rewritten in batches; the file shrinks
    at the next `db vacuum`), the usage index added."""
    compress_column(conn, "ai_decisions", "input_data")
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {USAGE_INDEX} "
                         "ON ai_decisions (ts, tokens, cost)")


def _to_v3(conn: Connection) -> None:
    """2 → 3: the `model_scorecard` table (SPEC §16). create_all has made it already (a new
    table needs no conversion); the step is here so the version records it."""


def _to_v4(conn: Connection) -> None:
    """3 → 4: the equity snapshots' `open_positions` compressed (rewritten in batches, like
    `input_data` in version 2; the file shrinks at the next `db vacuum`)."""
    compress_column(conn, "account_snapshots", "open_positions")


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _to_v2, 2: _to_v3, 3: _to_v4}


def to_dt(ts: float) -> datetime:
    """Epoch seconds → timezone-aware UTC datetime (the `timestamp` columns)."""
    return datetime.fromtimestamp(ts, UTC)


class Store:
    """The database of one account. `writer=True` takes the one-engine-per-database lock;
    `read_only=True` (`report`, `export`) opens an SQLite file read-only and changes nothing,
    so a read-only medium serves too.

    Every method raises StoreError when the database cannot be read or written (after the
    retries of a lost connection), its `cause` named; StoreFatal when writing on could lose
    what is recorded: EngineLockedError when a writer finds its lock taken by another engine,
    StoreFileChanged when its SQLite file was deleted or replaced. After a StoreFatal every
    write raises it again.
    """

    # Pauses between the attempts of a read or write whose connection was lost (seconds):
    # five retries over ~8 s ride out a PostgreSQL restart.
    retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)

    def __init__(self, db: str | Path | None = None, *, writer: bool = False,
                 read_only: bool = False) -> None:
        self.url = resolve_url(db, default_db_path())
        self.shown_url = mask_url(self.url)
        self._path = sqlite_path(self.url)
        existed = self._path is not None and self._path.exists()  # before _open makes it
        read_only = read_only and self._path is not None and not writer
        self.engine = (_read_only_engine(self._path) if read_only and self._path is not None
                       else create_db_engine(self.url, create=False))  # made in _open
        self._pg = is_postgres(self.url)
        self._lock: locks.EngineLock = locks.NoLock()
        # PostgreSQL writer: the engine state as it last loaded or wrote it, checked when a
        # lost lock has been re-taken (`_known_set` False until known).
        self._known: EngineState | None = None
        self._known_set = False
        self._recheck = False
        # Set when a commit's outcome could not be learnt, or the file was deleted/replaced:
        # later writes are refused, since this process no longer knows what the database
        # holds (a restart reloads it).
        self._fence: StoreError | None = None
        self._episodes = faults.Episodes()
        self._files: faults.FileIdentity | None = None
        self._holder: Any = None  # keeps the -wal/-shm files (and their identity) alive
        # Writes (and the writer's bookkeeping of them) one at a time: the runtime calls the
        # store from worker threads.
        self._wlock = threading.RLock()
        self._next_thin = -math.inf  # the first snapshot thins what aged while stopped
        try:
            self._open(writer=writer, read_only=read_only, existed=existed)
        except SQLAlchemyError as exc:
            self._abandon(existed)
            raise faults.store_error(exc, "cannot open the database", self.shown_url,
                                     self._path) from None
        except BaseException:
            self._abandon(existed)
            raise

    def _open(self, *, writer: bool, read_only: bool, existed: bool) -> None:
        """Lock, check, schema, in that order: a second engine started at the same moment
        fails on the lock (never on the schema), a damaged file is never written to, and a
        file gone since an engine held it is never silently a new account."""
        path = self._path
        if writer and path is not None:
            self._lock = file_lock = locks.FileLock(path)
            gone = faults.missing_database(path, file_lock.previous_holder)
            if gone is not None:
                raise gone
            if existed:  # empty and never locked before: a new database interrupted at birth
                faults.check_existing(path, empty_is_new=not file_lock.previous_holder)
        elif writer and self._pg:
            self._lock = locks.AdvisoryLock(self.engine)
        if read_only:
            self._check_schema_version()
            return
        if path is not None:  # owner-only, and only now: a file refused above is not made
            create_private(path)
        self._init_schema(probe=writer)
        if writer and path is not None:
            self._holder = self.engine.raw_connection()  # WAL files stay while it is open
            self._holder.cursor().execute("SELECT 1 FROM schema_meta").fetchall()
            self._files = faults.FileIdentity(path)

    def _abandon(self, existed: bool) -> None:
        """After a failed open: closed again; a database this open was to create does not
        count as one an engine held (its lock file says again what it said before)."""
        if not existed and isinstance(self._lock, locks.FileLock):
            self._lock.restore()
        self.close()

    def close(self) -> None:
        with self._wlock:
            if self._holder is not None:
                with contextlib.suppress(Exception):  # closing must not hide why we stop
                    self._holder.close()
                self._holder = None
            self._lock.release()
            self.engine.dispose()

    @property
    def fault(self) -> str:
        """The cause of the storage fault in progress ("" when the last operation worked)."""
        return self._episodes.current

    def check(self) -> None:
        """Once a tick: raises StoreFatal when this writer must stop (its SQLite file was
        deleted or replaced, its lock lost to another engine); cheap (three `stat`s)."""
        with self._wlock:
            if isinstance(self._fence, StoreFatal):
                raise self._fence
            self._check_files()

    def _check_files(self) -> None:
        if self._files is None:
            return
        try:
            self._files.check()
        except StoreFatal as exc:
            self._fence = exc
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _init_schema(self, *, probe: bool = False) -> None:
        """Create what is missing and migrate to SCHEMA_VERSION, in one transaction. `probe`:
        write the version even when unchanged, so a file that cannot be written (read-only,
        full disk) is refused at start, not at the first trade."""
        meta = SchemaMetaRow.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as conn:
            if self._pg:  # two engines starting at once must not both create tables
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": locks.SCHEMA_KEY})
            elif conn.dialect.name == "sqlite":  # pysqlite alone would autocommit each DDL
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: no deadlock
            SQLModel.metadata.create_all(conn)  # idempotent: creates only what is missing
            stored = conn.execute(select(meta.c.value).where(
                meta.c.key == "schema_version")).scalar()
            version = self._known_version(stored)
            for old in range(version, SCHEMA_VERSION):
                MIGRATIONS[old](conn)
            if stored is None:
                conn.execute(meta.insert().values(key="schema_version",
                                                  value=str(SCHEMA_VERSION)))
            elif version != SCHEMA_VERSION or probe:
                conn.execute(meta.update().where(meta.c.key == "schema_version")
                             .values(value=str(SCHEMA_VERSION)))

    def _known_version(self, stored: object) -> int:
        version = SCHEMA_VERSION if stored is None else int(str(stored))
        if version > SCHEMA_VERSION:
            raise StoreError(f"the database {self.shown_url} has schema version {version}, "
                             f"newer than this program ({SCHEMA_VERSION}); upgrade "
                             "autotrade-tui")
        return version

    def _check_schema_version(self) -> None:
        """A reader's schema check: it changes nothing, so an older schema is read as it is."""
        meta = SchemaMetaRow.__table__  # type: ignore[attr-defined]
        with self.engine.connect() as conn:
            if not conn.dialect.has_table(conn, meta.name):
                raise StoreError(f"{self.shown_url} is not an autotrade-tui database (it has "
                                 "no schema_meta table)", cause="not a database")
            self._known_version(conn.execute(select(meta.c.value).where(
                meta.c.key == "schema_version")).scalar())

    # ---- transactions
    def _write(self, body: Callable[[Session], T]) -> T:
        """Run `body` in ONE transaction and commit it; the result of `body` is returned.

        `body` may run more than once (a lost connection rolls its transaction back), so it
        builds everything it adds itself. Raises StoreError, EngineLockedError.
        """
        with self._wlock:
            return self._retrying(body, write=True)

    def _read(self, body: Callable[[Session], T]) -> T:
        return self._retrying(body, write=False)

    def _retrying(self, body: Callable[[Session], T], *, write: bool) -> T:
        what = "write" if write else "read"
        attempts = len(self.retry_delays) + 1
        for attempt in range(1, attempts + 1):
            if write and self._fence is not None:
                raise self._fence
            try:
                if write:
                    self._before_write()
                result = self._once(body, write)
                if write:  # what was just committed is in the file the next start reads
                    self._check_files()
                self._succeeded(write)
                return result
            except StoreError as exc:
                raise self._episodes.failed(exc, write=write) from None
            except (SQLAlchemyError, OSError) as exc:
                if attempt == attempts or not isinstance(exc, SQLAlchemyError) \
                        or not self._lost_connection(exc):
                    after = f" after {attempt} attempts" if attempt > 1 else ""
                    where = str(self._path) if self._path is not None else self.shown_url
                    raise self._episodes.failed(faults.store_error(
                        exc, f"database {what} failed", where, self._path, after),
                        write=write) from None
                delay = self.retry_delays[attempt - 1]
                log.warning("database connection lost (%s); %s retried in %.1f s "
                            "(attempt %d of %d)", _short(exc), what, delay, attempt + 1,
                            attempts)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _before_write(self) -> None:
        self._check_files()
        self._recheck |= self._lock.ensure()
        if self._recheck:
            self._check_not_written_meanwhile()
            self._recheck = False

    def _succeeded(self, write: bool) -> None:
        """A read or write worked: a fault in progress is over (a write's only when a write
        works). After one, the WAL is checkpointed and truncated, so space freed on the disk
        is really free again."""
        ended = self._episodes.succeeded(write=write)
        if ended and self._holder is not None:
            try:
                self._holder.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except Exception as exc:  # only tidying: the next autocheckpoint does it too
                log.debug("WAL checkpoint after a fault failed: %s", exc)
        if ended:
            log.info("the database works again (%s is over)", ended)

    def _once(self, body: Callable[[Session], T], write: bool) -> T:
        with Session(self.engine) as s:
            if not write:
                return body(s)
            xid = None
            if self._pg:  # to settle a commit whose answer is lost (see _commit_status)
                xid = s.connection().execute(text("SELECT txid_current()")).scalar()
            result = body(s)
            s.flush()
            try:
                s.commit()
            except SQLAlchemyError as exc:
                # Lost during COMMIT: it may have committed. Ask before running it again.
                if xid is None or not self._lost_connection(exc):
                    raise
                if self._commit_status(xid) == "committed":
                    log.warning("database connection lost during commit; the server had "
                                "committed it (%s)", _short(exc))
                    return result
                raise
            return result

    def _commit_status(self, xid: int) -> str:
        """`committed` or `aborted` (txid_status) once the server answers; StoreError if it
        cannot tell within the retry delays (the write must then not be repeated blindly)."""
        for delay in (*self.retry_delays, None):
            try:
                with self.engine.connect() as conn:
                    status = conn.execute(text("SELECT txid_status(:x)"), {"x": xid}).scalar()
                if status in ("committed", "aborted"):
                    return str(status)
            except SQLAlchemyError as exc:
                if not self._lost_connection(exc):
                    raise
            if delay is None:
                break
            time.sleep(delay)
        self._fence = StoreError("an earlier database commit was interrupted and its outcome "
                                 f"is unknown (transaction {xid}); no more writes: restart to "
                                 "reload the last committed state")
        raise StoreError("database connection lost during a commit and the server cannot tell "
                         f"whether it committed (transaction {xid}); restart to reload the "
                         "last committed state")

    def _check_not_written_meanwhile(self) -> None:
        """After the lock was re-taken: the account state must still be the one this writer
        knows, else another engine traded while the lock was free and this one is stale."""
        if not self._known_set:
            return
        loaded = self._once(_load_state, write=False)
        if (loaded[0] if loaded else None) != self._known:
            self._lock.release()
            self._lock = _Fenced()
            raise EngineLockedError(_Fenced.message)

    def _lost_connection(self, exc: SQLAlchemyError) -> bool:
        """A dropped connection or a server-side abort: the transaction did not happen."""
        if getattr(exc, "connection_invalidated", False):
            return True
        return self._pg and isinstance(exc, OperationalError | InterfaceError)

    # ---- engine state
    def load_state(self) -> tuple[EngineState, bool] | None:
        """The engine state and the paused flag as last committed; None on a new database."""
        with self._wlock:
            loaded = self._read(_load_state)
            self._know(loaded[0] if loaded else None)
        return loaded

    def _know(self, state: EngineState | None) -> None:
        if isinstance(self._lock, locks.AdvisoryLock):
            self._known = copy_state(state) if state is not None else None
            self._known_set = True

    def last_prices(self) -> dict[str, float]:
        def body(s: Session) -> dict[str, float]:
            acc = s.get(AccountStateRow, 1)
            return dict(acc.last_prices or {}) if acc else {}

        return self._read(body)

    def save_state(self, state: EngineState, *, paused: bool | None = None,
                   prices: Mapping[str, float] | None = None, ts: float = 0.0,
                   trades: Sequence[Trade] = (), decision_id: int | None = None) -> None:
        """Write the ledger and positions, with the trades that changed them, in one txn."""
        def body(s: Session) -> None:
            for t in trades:
                s.add(_trade_row(t, decision_id))
            _put_state(s, state, paused, prices, ts)

        with self._wlock:
            self._write(body)
            self._know(state)

    def record_trades(self, trades: Sequence[Trade], state: EngineState,
                      decision_id: int | None = None, ts: float = 0.0) -> None:
        self.save_state(state, trades=trades, decision_id=decision_id, ts=ts)

    # ---- records
    def record_decision(self, *, symbol: str, ts: float, price: float, votes: Sequence[ModelVote],
                        result: VoteResult, executed: bool, note: str,
                        input_data: dict[str, Any], source: str = "auto",
                        trades: Sequence[Trade] = (), state: EngineState | None = None,
                        prices: Mapping[str, float] | None = None) -> int:
        """The decision row; with `state`, also its trades and the new engine state, all in
        ONE transaction (a decision never says "executed" without its fills)."""
        v1, v2 = votes
        fields = dict(
            timestamp=to_dt(ts), ts=ts, symbol=symbol, price=price, source=source,
            model_1_name=v1.model, model_2_name=v2.model,
            model_1_decision=v1.decision.value if v1.ok and v1.decision else None,
            model_2_decision=v2.decision.value if v2.ok and v2.decision else None,
            model_1_confidence=v1.confidence, model_2_confidence=v2.confidence,
            model_1_reasoning=v1.reasoning, model_2_reasoning=v2.reasoning,
            model_1_error=v1.error, model_2_error=v2.error,
            final_decision=result.decision.value, final_confidence=result.confidence,
            vote_reason=result.reason, executed=executed, execution_note=note,
            input_data=_jsonable(input_data),
            tokens=sum(v.prompt_tokens + v.completion_tokens for v in votes),
            cost=sum(v.cost for v in votes), latency_s=max(v.latency_s for v in votes),
        )

        def body(s: Session) -> int:
            row = DecisionRow(**fields)
            s.add(row)
            s.flush()
            assert row.id is not None
            for t in trades:
                s.add(_trade_row(t, row.id))
            if state is not None:
                _put_state(s, state, None, prices, ts)
            return row.id

        with self._wlock:
            decision_id = self._write(body)
            if state is not None:
                self._know(state)
        return decision_id

    def set_decision_executed(self, decision_id: int, executed: bool, note: str) -> None:
        def body(s: Session) -> None:
            row = s.get(DecisionRow, decision_id)
            if row is not None:
                row.executed, row.execution_note = executed, note
                s.add(row)

        self._write(body)

    def save_scorecard(self, shadows: Mapping[str, Any], ts: float) -> None:
        """The scorecard's state (`Scorecard.to_dict()`), one row per model, in one txn."""
        rows = {name: json.dumps(state, allow_nan=True) for name, state in shadows.items()}

        def body(s: Session) -> None:
            for name, state in rows.items():
                s.merge(ScorecardRow(model=name, state=state, ts=ts))

        self._write(body)

    def load_scorecard(self) -> dict[str, Any]:
        """What `save_scorecard` wrote: model → its state ({} on a new account)."""
        def body(s: Session) -> dict[str, Any]:
            return {r.model: json.loads(r.state)
                    for r in s.exec(select(ScorecardRow)).scalars()}  # type: ignore[call-overload]

        return self._read(body)

    def record_events(self, events: Iterable[MarketEvent]) -> None:
        events = list(events)  # iterated again if the write is retried

        def body(s: Session) -> None:
            for e in events:
                s.add(EventRow(timestamp=to_dt(e.ts), ts=e.ts, symbol=e.symbol,
                               event_type=e.event_type.value, severity=e.severity.value,
                               description=e.description, suggested_action=e.suggested_action,
                               metrics=_jsonable(e.metrics)))

        self._write(body)

    def record_snapshot(self, ts: float, *, equity: float, capital: float, unrealized: float,
                        positions: list[dict[str, Any]], ledger: Ledger,
                        prices: Mapping[str, float]) -> None:
        def body(s: Session) -> None:
            s.add(SnapshotRow(timestamp=to_dt(ts), ts=ts, total_equity=equity,
                              total_capital=capital, unrealized_pnl=unrealized,
                              open_positions=_jsonable(positions),
                              total_trades=ledger.total_trades,
                              winning_trades=ledger.winning_trades,
                              losing_trades=ledger.losing_trades,
                              win_rate=ledger.win_rate * 100.0, total_fees=ledger.total_fees))
            acc = s.get(AccountStateRow, 1)
            if acc is not None and prices:
                acc.last_prices = {**(acc.last_prices or {}), **prices}
                s.add(acc)

        self._write(body)
        if ts >= self._next_thin:  # once an hour (of the app clock): a day's rows at most
            self._next_thin = ts + THIN_EVERY
            try:
                self.thin(ts)
            except StoreFatal:
                raise
            except StoreError as exc:  # the snapshot is written; thinning waits an hour
                log.warning("thinning the equity snapshots failed: %s", exc)

    def thin(self, now: float) -> int:
        """Thin the equity snapshots that have aged into a coarser tier (store/retention.py);
        returns how many rows were deleted."""
        return self._write(lambda s: retention.thin_snapshots(s.connection(), now))

    def table_sizes(self) -> list[retention.TableSize]:
        """Rows and bytes of every table of the schema (`db stats`)."""
        names = sorted(SQLModel.metadata.tables)
        return self._read(lambda s: retention.table_sizes(s.connection(), names))

    def vacuum(self) -> None:
        """Give the space of deleted rows back to the file system (SQLite VACUUM, PostgreSQL
        VACUUM ANALYZE); needs the writer's lock, so never under a running engine."""
        with self._wlock, self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # not in a txn
            conn.exec_driver_sql("VACUUM" if not self._pg else "VACUUM ANALYZE")
            if not self._pg:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    # ---- reading
    def rows(self, table: type[SQLModel], limit: int | None = None,
             newest_first: bool = True, since_ts: float | None = None) -> list[Any]:
        col = table.id  # type: ignore[attr-defined]
        q = select(table).order_by(col.desc() if newest_first else col)
        if since_ts is not None:
            q = q.where(table.ts >= since_ts)  # type: ignore[attr-defined]
        if limit:
            q = q.limit(limit)
        return self._read(lambda s: list(s.exec(q).scalars()))  # type: ignore[call-overload]

    # ---- the records as the domain's objects (store.base.EngineStore), newest first
    def recent_decisions(self, limit: int | None = None) -> list[DecisionRecorded]:
        # without their inputs (kilobytes a row to decompress and parse, never shown here)
        q = select(DecisionRow).options(defer(DecisionRow.input_data))  # type: ignore[arg-type]
        q = q.order_by(DecisionRow.id.desc()).limit(limit)  # type: ignore[union-attr]
        rows = self._read(lambda s: list(s.exec(q).scalars()))  # type: ignore[call-overload]
        return [records.decision_from_row(r) for r in rows]

    def recent_trades(self, limit: int | None = None) -> list[Trade]:
        return [records.trade_from_row(r) for r in self.rows(TradeRow, limit)]

    def recent_events(self, limit: int | None = None,
                      since_ts: float | None = None) -> list[MarketEvent]:
        return [records.event_from_row(r)
                for r in self.rows(EventRow, limit, since_ts=since_ts)]

    def last_closes(self) -> dict[str, float]:
        return queries.last_closes(self)

    def newest_ts(self) -> float | None:
        return queries.newest_ts(self)

    def equity_curve(self, limit: int = 2000) -> list[tuple[float, float]]:
        """The newest `limit` points (ts, equity), oldest first: two columns, not the rows."""
        q = select(SnapshotRow.ts, SnapshotRow.total_equity).order_by(  # type: ignore[call-overload]
            SnapshotRow.id.desc()).limit(limit)  # type: ignore[union-attr]
        rows = self._read(lambda s: s.connection().execute(q).all())
        return [(float(ts), float(eq)) for ts, eq in reversed(rows)]

    def max_drawdown_pct(self, initial_capital: float | None = None,
                         current_equity: float | None = None) -> float:
        """Largest fall of the equity curve in percent: from the initial capital (where every
        account starts; without it a loss before the first snapshot would not count), through
        the snapshots, to the equity now."""
        q = select(SnapshotRow.total_equity).order_by(SnapshotRow.id)  # type: ignore[arg-type]
        series = self._read(lambda s: list(s.exec(q).scalars()))  # type: ignore[call-overload]
        start = [] if initial_capital is None else [initial_capital]
        end = [] if current_equity is None else [current_equity]
        return max_drawdown_pct([*start, *series, *end])

    def usage_totals(self, since_ts: float | None = None) -> tuple[int, float]:
        """Model tokens and cost summed over decisions (since a time, or ever)."""
        q = select(func.coalesce(func.sum(DecisionRow.tokens), 0),
                   func.coalesce(func.sum(DecisionRow.cost), 0.0))
        if since_ts is not None:
            q = q.where(DecisionRow.ts >= since_ts)  # type: ignore[arg-type]
        tokens, cost = self._read(lambda s: s.exec(q).one())  # type: ignore[call-overload]
        return int(tokens), float(cost)


class _Fenced:
    """The lock of a writer that found the account changed by another engine: no more writes."""

    message = ("this engine lost its lock on the database for a moment and another engine "
               "traded meanwhile; its state is stale: nothing more is written, restart it")

    def ensure(self) -> bool:
        raise EngineLockedError(self.message)

    def release(self) -> None:
        pass


def _load_state(s: Session) -> tuple[EngineState, bool] | None:
    acc = s.get(AccountStateRow, 1)
    if acc is None:
        return None
    ledger = Ledger(acc.initial_capital, acc.capital, acc.realized_pnl, acc.total_fees,
                    acc.total_trades, acc.winning_trades, acc.losing_trades,
                    acc.liquidations, acc.peak_equity, acc.halted_reason)
    positions: dict[str, Position] = {}
    rows = s.exec(select(PositionEntryRow).order_by(  # type: ignore[call-overload]
        PositionEntryRow.symbol, PositionEntryRow.seq)).scalars()
    for r in rows:
        pos = positions.setdefault(r.symbol, Position(r.symbol, Side(r.side), [], r.opened_at))
        pos.entries.append(Entry(r.price, r.quantity, r.margin, r.leverage, r.fee, r.ts))
    return EngineState(ledger, positions), acc.paused


def _put_state(s: Session, state: EngineState, paused: bool | None,
               prices: Mapping[str, float] | None, ts: float) -> None:
    lg = state.ledger
    acc = s.get(AccountStateRow, 1)
    if acc is None:
        acc = AccountStateRow(id=1, initial_capital=lg.initial_capital, capital=lg.capital,
                              realized_pnl=0, total_fees=0, total_trades=0, winning_trades=0,
                              losing_trades=0, liquidations=0, peak_equity=0)
    acc.initial_capital, acc.capital = lg.initial_capital, lg.capital
    acc.realized_pnl, acc.total_fees = lg.realized_pnl, lg.total_fees
    acc.total_trades, acc.winning_trades = lg.total_trades, lg.winning_trades
    acc.losing_trades, acc.liquidations = lg.losing_trades, lg.liquidations
    acc.peak_equity, acc.halted_reason = lg.peak_equity, lg.halted_reason
    if paused is not None:
        acc.paused = paused
    if prices:
        acc.last_prices = {**(acc.last_prices or {}), **prices}
    acc.updated_ts = ts or acc.updated_ts
    s.add(acc)
    s.exec(delete(PositionEntryRow))  # type: ignore[call-overload]
    for pos in state.positions.values():
        for seq, e in enumerate(pos.entries):
            s.add(PositionEntryRow(symbol=pos.symbol, side=pos.side.value, price=e.price,
                                   quantity=e.quantity, margin=e.margin,
                                   leverage=e.leverage, fee=e.fee, ts=e.ts,
                                   opened_at=pos.opened_at, seq=seq))


def _trade_row(t: Trade, decision_id: int | None) -> TradeRow:
    return TradeRow(timestamp=to_dt(t.ts), ts=t.ts, symbol=t.symbol, order_type=t.order_type.value,
                    side=t.side.value, amount=t.amount, price=t.price, pnl=t.pnl, fee=t.fee,
                    margin=t.margin, leverage=t.leverage, source=t.source.value,
                    reason=t.reason, decision_id=decision_id)


def _jsonable(obj: Any) -> Any:
    """Plain JSON values only: NaN/inf become null, numpy scalars floats, the rest strings."""
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item"):  # numpy scalar
        return _jsonable(obj.item())
    return str(obj)


_short = faults.short  # the backtest store formats its errors the same way


def _read_only_engine(path: Path) -> Engine:
    """`report`/`export` on an SQLite file: opened read-only (nothing written, not even the
    WAL mode), so a read-only medium works. There SQLite cannot make the -shm file a WAL
    reader needs; with no -wal content to miss the file is then read as immutable."""
    import sqlite3

    from sqlalchemy.pool import QueuePool
    from sqlmodel import create_engine

    def connect() -> sqlite3.Connection:
        con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False,
                              timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return con
        except sqlite3.OperationalError as exc:
            wal = path.with_name(path.name + "-wal")
            if faults.medium_cause(path) != "read-only" or (wal.exists()
                                                            and wal.stat().st_size):
                raise
            log.debug("read-only medium: %s read as immutable (%s)", path, exc)
            con.close()
        return sqlite3.connect(f"{path.as_uri()}?immutable=1", uri=True,
                               check_same_thread=False)

    return create_engine("sqlite://", creator=connect, poolclass=QueuePool)

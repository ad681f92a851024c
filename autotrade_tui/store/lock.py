"""One engine per database: an exclusive file lock beside an SQLite file, a session-level
advisory lock on PostgreSQL (works across machines). A second engine gets EngineLockedError.

PostgreSQL advisory locks live in the server session that took them and are scoped to the
current database: two databases on one server never block each other, and a holder that dies
(kill -9, lost network) loses its lock as soon as the server drops its session. The writer
checks its lock session before every write (`ensure`): if the session was dropped (server
restart, pg_terminate_backend) it takes the lock again, or raises EngineLockedError when
another engine got it in between. (The Store then also checks that nobody wrote the account
state while the lock was not held.)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from autotrade_tui.errors import EngineLockedError, StoreError
from autotrade_tui.store.faults import cause_of

log = logging.getLogger(__name__)

ADVISORY_KEY = 0x6175_746F_7472  # "autotr": the same key on every machine
SCHEMA_KEY = ADVISORY_KEY + 1  # transaction-level: serialises schema creation/migration

_TAKEN = ("another autotrade-tui engine is already trading on this PostgreSQL database; "
          "stop it first, or use `autotrade-tui report` for a read-only view")


class EngineLock(Protocol):
    def ensure(self) -> bool:
        """Before a write: True if the lock had been lost and was taken again, False if it was
        held all along. Raises EngineLockedError if another engine holds it now,
        SQLAlchemyError when the database cannot be reached to tell."""

    def release(self) -> None: ...


class FileLock:
    def __init__(self, db_path: Path) -> None:
        import fcntl

        self.path = db_path.with_name(db_path.name + ".lock")
        # owner-only (0600), like the database: created with that mode, not the umask's
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            self._fh = os.fdopen(fd, "a+")
        except OSError as exc:  # a directory, a root-owned file, a read-only medium: one line
            raise _lock_error(self.path, exc) from None
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.seek(0)
            holder = self._fh.read().strip() or "?"
            self._fh.close()
            raise EngineLockedError(
                f"another autotrade-tui engine (pid {holder}) is already trading on {db_path}; "
                "stop it first, or use `autotrade-tui report` for a read-only view") from None
        try:
            self._fh.seek(0)
            # The last holder's pid: "" when no engine ever held this lock (a new database).
            self.previous_holder = self._fh.read().strip()
            self._fh.seek(0)
            self._fh.truncate()
            self._fh.write(str(os.getpid()))
            self._fh.flush()
        except OSError as exc:
            self._fh.close()
            raise _lock_error(self.path, exc) from None

    def ensure(self) -> bool:
        return False  # an flock lives as long as our descriptor: it cannot be lost while open

    def restore(self) -> None:
        """Write back the previous holder (before `release`): an open that failed before its
        database existed never counts as an engine having held it."""
        if self._fh.closed:
            return
        try:
            self._fh.seek(0)
            self._fh.truncate()
            self._fh.write(self.previous_holder)
            self._fh.flush()
        except OSError:  # what it says then errs on the side of refusing a missing file
            pass

    def release(self) -> None:
        if not self._fh.closed:
            self._fh.close()  # closing the descriptor drops the flock


def _lock_error(path: Path, exc: OSError) -> StoreError:
    """One line naming why the lock file cannot be used (a directory, no permission, a
    read-only or full disk) and where."""
    cause = cause_of(exc, path) or (exc.strerror or type(exc).__name__).lower()
    return StoreError(f"cannot take the engine lock {path}: {cause}", cause=cause)


class AdvisoryLock:
    """`pg_try_advisory_lock` on a connection kept out of the pool for the Store's lifetime."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._acquire()

    def _acquire(self) -> None:
        conn = self._engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                               {"k": ADVISORY_KEY}).scalar()
            conn.commit()  # a session-level lock outlives the transaction; stay idle, not "in tx"
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            raise EngineLockedError(_TAKEN)
        self._conn = conn

    def alive(self) -> bool:
        """True while the session holding the lock answers."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.rollback()
            return True
        except SQLAlchemyError:
            return False

    def ensure(self) -> bool:
        if self.alive():
            return False
        log.warning("the database session holding the engine lock was lost; taking the lock "
                    "again")
        self._drop()
        try:
            self._acquire()
        except EngineLockedError:
            raise EngineLockedError(
                "this engine lost its lock on the PostgreSQL database (its session was "
                "dropped) and another engine has taken it; nothing more is written here"
            ) from None
        log.warning("engine lock taken again")
        return True

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()  # dead: do not hand it back to the pool
                self._conn.close()
            except SQLAlchemyError:
                pass
            self._conn = None

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            self._conn.commit()
            self._conn.close()
        except SQLAlchemyError:
            self._drop()  # a dead session holds no lock any more
        self._conn = None


class NoLock:
    def ensure(self) -> bool:
        return False

    def release(self) -> None:
        pass

"""One engine per database: an exclusive file lock beside an SQLite file, a session-level
advisory lock on PostgreSQL (works across machines). A second engine gets EngineLockedError."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from autotrade_tui.errors import EngineLockedError

ADVISORY_KEY = 0x6175_746F_7472  # "autotr": the same key on every machine


class EngineLock(Protocol):
    def release(self) -> None: ...


class FileLock:
    def __init__(self, db_path: Path) -> None:
        import fcntl

        self.path = db_path.with_name(db_path.name + ".lock")
        self._fh = self.path.open("a+")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.seek(0)
            holder = self._fh.read().strip() or "?"
            self._fh.close()
            raise EngineLockedError(
                f"another autotrade-tui engine (pid {holder}) is already trading on {db_path}; "
                "stop it first, or use `autotrade-tui report` for a read-only view") from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(str(os.getpid()))
        self._fh.flush()

    def release(self) -> None:
        if not self._fh.closed:
            self._fh.close()  # closing the descriptor drops the flock


class AdvisoryLock:
    def __init__(self, engine: Engine) -> None:
        self._conn: Connection | None = engine.connect()
        got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                 {"k": ADVISORY_KEY}).scalar()
        self._conn.commit()
        if not got:
            self._conn.close()
            self._conn = None
            raise EngineLockedError("another autotrade-tui engine is already trading on this "
                                    "PostgreSQL database; stop it first, or use "
                                    "`autotrade-tui report` for a read-only view")

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None


class NoLock:
    def release(self) -> None:
        pass

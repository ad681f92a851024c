"""Database URLs and connections: a path or URL in, a configured SQLAlchemy engine out."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

from autotrade_tui.config import mask_url
from autotrade_tui.errors import StoreError
from autotrade_tui.store.urls import is_postgres as is_postgres
from autotrade_tui.store.urls import resolve_url as resolve_url
from autotrade_tui.store.urls import sqlite_path

BUSY_TIMEOUT_MS = 30_000
PAGE_SIZE = 16384
CACHE_KIB = 512
WAL_CHECKPOINT_PAGES = 64  # 1 MiB of 16 KiB pages
WAL_LIMIT_BYTES = 1024 * 1024
PG_CONNECT_TIMEOUT_S = 10  # an unreachable host fails in seconds, not a TCP timeout


def create_db_engine(url: str, *, create: bool = True) -> Engine:
    """An engine with WAL + busy timeout on SQLite; pre-ping and a connect timeout on
    PostgreSQL (a pooled connection killed by a server restart is replaced on checkout).
    `create` False: a new SQLite file is left to the caller (`create_private`), e.g. after
    it took the engine lock; its folder is made all the same."""
    from sqlmodel import create_engine

    path = sqlite_path(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the database folder {path.parent}: "
                             f"{exc.strerror}") from None
        if create:
            create_private(path)
        eng = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000,
                                               "check_same_thread": False})
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    if url.startswith("sqlite"):
        from sqlalchemy.pool import StaticPool

        return create_engine(url, connect_args={"check_same_thread": False},
                             poolclass=StaticPool)
    if is_postgres(url):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise StoreError("PostgreSQL needs the 'postgres' extra: "
                             "pip install 'autotrade-tui[postgres]'") from None
        return create_engine(url, pool_pre_ping=True, pool_recycle=1800,
                             connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S})
    raise StoreError(f"unsupported database URL {mask_url(url)} (use a file path, sqlite:/// "
                     "or postgresql://)")


def create_private(path: Path) -> None:
    """A new database file is created owner-only (0600: it is the account's data) before
    SQLite opens it; SQLite gives its -wal and -shm files the mode of the database file. An
    existing file keeps the mode its owner gave it."""
    # It exists, or cannot be created: then SQLite's own open says why.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    # 16 KiB pages (new files only: an existing file keeps its own): a decision row is ~2 KB
    # and a page holds whole rows, so what does not fit stays unused: 22 % of a 4 KiB page,
    # 15 % of an 8 KiB one, 6 % of a 16 KiB one (a soak's 2,877 decisions: 2,361 → 2,124
    # bytes a row; SPEC §10 "Runs for a year"). Before journal_mode: WAL fixes the page size
    # of a new file.
    cur.execute(f"PRAGMA page_size={PAGE_SIZE}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # Page cache per pooled connection (SQLite's default 2 MiB each): a few connections'
    # caches filling as the file grows were a slow RSS creep over days (SPEC §10: flat);
    # the hot pages (indexes' ends, the account row) fit in far less.
    cur.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    # FULL: a committed trade survives power loss too, not only kill -9; trades are rare.
    cur.execute("PRAGMA synchronous=FULL")
    # A bounded WAL (SPEC §10): checkpointed every 1 MiB (64 pages), and cut back to
    # 1 MiB when it is reused, instead of SQLite's 1000 pages and no limit.
    cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cur.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
    cur.close()

"""Shared fixtures. `db_url`: a fresh, empty database per test: an SQLite file always, and a
fresh PostgreSQL database as well when TEST_DATABASE_URL names a server (its role needs
CREATEDB; each test's database is created beside it and dropped after)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

TEST_PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
DB_KINDS = ["sqlite", *(["postgresql"] if TEST_PG_URL else [])]

# PostgreSQL-only tests are not collected at all without a server (rather than skipped).
collect_ignore = [] if TEST_PG_URL else ["test_postgres.py"]


@pytest.fixture(autouse=True)
def api_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every engine a test opens (services.open_engine) serves its API (SPEC §13) on its default
    socket, under the user runtime dir: here a fresh short directory per test (a Unix socket
    path has at most 107 bytes; pytest's tmp_path can be longer), never the user's own."""
    path = Path(tempfile.mkdtemp(prefix="atr-", dir="/tmp" if os.name == "posix" else None))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def libpq_url(url: str) -> str:
    """An SQLAlchemy/`--db` URL as libpq spells it (no `+psycopg`)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def fresh_pg_database(server_url: str) -> Iterator[str]:
    """A new, uniquely named database on the server of `server_url`; its URL; dropped after."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = f"autotrade_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_url(server_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq_url(server_url), autocommit=True) as admin:
            # FORCE: a SIGKILLed worker's session may not be gone yet.
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))


@pytest.fixture(params=DB_KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: an SQLite file path, or a `postgresql://` URL."""
    if request.param == "sqlite":
        yield str(tmp_path / "acct.db")
        return
    with fresh_pg_database(TEST_PG_URL) as url:
        yield url


@pytest.fixture
def other_db_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second fresh database of the same kind as `db_url` (on the same server)."""
    if "://" not in db_url:
        yield str(tmp_path / "other.db")
        return
    with fresh_pg_database(TEST_PG_URL) as url:
        yield url

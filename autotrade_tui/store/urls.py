"""`--db`/DATABASE_URL as URLs and files: plain string work, no SQLAlchemy (the cockpit checks
its SQLite file in a thread before the heavy imports are done: `tui/startup.begin_check`)."""

from __future__ import annotations

from pathlib import Path


def resolve_url(db: str | Path | None, default_path: Path) -> str:
    """`--db`/DATABASE_URL as the user gives it → an SQLAlchemy URL.

    A plain path is an SQLite file; `postgres://` and `postgresql://` use psycopg 3;
    empty means the SQLite file in the user data dir.
    """
    text = str(db).strip() if db else ""
    if not text:
        return f"sqlite:///{default_path}"
    if text == ":memory:":
        return "sqlite://"
    for prefix in ("postgres://", "postgresql://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix):]
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL (None for in-memory or other databases)."""
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    return None


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")

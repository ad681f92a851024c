"""`autotrade-tui db stats|vacuum` (SPEC §10 "Runs for a year"): what each table holds and
takes on disk; and giving deleted rows' space back (thin the aged snapshots, then VACUUM).

`stats` reads (it works beside a running engine, on a read-only medium too); `vacuum` writes,
so it takes the engine's lock: under a running engine it stops with the "already trading" line
(exit 3) instead of stalling the trader.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from autotrade_tui.store.db import sqlite_path
from autotrade_tui.store.queries import newest_ts
from autotrade_tui.store.retention import TableSize
from autotrade_tui.store.store import Store

if TYPE_CHECKING:
    from autotrade_tui.config import Settings


def run_db(action: str, settings: Settings, *, as_json: bool = False) -> int:
    db = settings.database_url.get()
    if action == "vacuum":
        with Store(db, writer=True) as store:
            before = _file_bytes(store)
            # The clock the rows were written on: a fast sim runs ahead of the wall clock.
            now = max(time.time(), newest_ts(store) or 0.0)
            deleted = store.thin(now)
            store.vacuum()
            after = _file_bytes(store)
        print(f"thinned {deleted:,} equity snapshots; file {_mb(before)} → {_mb(after)}")
        return 0
    with Store(db, read_only=True) as store:
        sizes = store.table_sizes()
        total = _file_bytes(store)
        where = str(sqlite_path(store.url) or store.shown_url)
    if as_json:
        import json

        print(json.dumps({"database": where, "file_bytes": total,
                          "tables": [s.__dict__ for s in sizes]}, indent=2))
        return 0
    print(render_stats(where, total, sizes))
    return 0


def render_stats(where: str, total: int, sizes: list[TableSize]) -> str:
    lines = [f"database {where}  ({_mb(total)} on disk, -wal included)",
             f"  {'table':<20} {'rows':>12} {'size':>10}"]
    for s in sorted(sizes, key=lambda s: (-s.bytes, s.name)):
        lines.append(f"  {s.name:<20} {s.rows:>12,} {_mb(s.bytes):>10}")
    return "\n".join(lines)


def _file_bytes(store: Store) -> int:
    """The SQLite file and its -wal (0 for a server database)."""
    path = sqlite_path(store.url)
    if path is None:
        return sum(s.bytes for s in store.table_sizes())
    files = (path, Path(f"{path}-wal"))
    return sum(p.stat().st_size for p in files if p.exists())


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"

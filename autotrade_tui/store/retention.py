"""What keeps the database small for a year (SPEC §10 "Runs for a year"): equity snapshots thin
as they age, and `db stats` / `db vacuum` show and reclaim the space.

Thinning: a snapshot is written every minute; older than a day only some rows of each
15-minute bucket are kept, older than 30 days some rows of each hour. The rows kept in a bucket
are its first, its lowest and highest equity, and the peak and trough of the largest fall
inside it. So the equity curve keeps its shape, and the maximum drawdown of what is kept is
exactly the one of what was there: a fall across buckets runs from one bucket's highest to a
later bucket's lowest, a fall inside a bucket is its own largest one, both kept (and a subset
can only have smaller falls). Thinning the thinned again keeps that, tier after tier.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from autotrade_tui.store.tables import SchemaMetaRow, SnapshotRow

DAY = 86_400.0
# (age in seconds, bucket width in seconds): rows older than `age` are thinned to `width`.
TIERS: tuple[tuple[float, float], ...] = ((DAY, 900.0), (30 * DAY, 3_600.0))
WINDOW = 7 * DAY  # rows read at once: a year-old database is thinned a week at a time
BATCH = 500  # ids per DELETE (SQLite's bound-parameter limit is far above; stays portable)


@dataclass(frozen=True)
class Point:
    id: int
    ts: float
    equity: float


def keep_in_bucket(points: Sequence[Point]) -> set[int]:
    """The ids kept of one bucket's points (in time order): first, lowest, highest, and the
    peak and trough of the largest fall inside the bucket."""
    if not points:
        return set()
    keep = {points[0].id, min(points, key=lambda p: p.equity).id,
            max(points, key=lambda p: p.equity).id}
    peak, best, pair = points[0], 0.0, None
    for p in points:
        if p.equity > peak.equity:
            peak = p
        fall = peak.equity - p.equity
        if fall > best:
            best, pair = fall, (peak.id, p.id)
    if pair is not None:
        keep.update(pair)
    return keep


def kept_ids(points: Sequence[Point], width: float) -> set[int]:
    """The ids kept when `points` (in time order) are thinned to buckets of `width` seconds."""
    keep: set[int] = set()
    bucket: list[Point] = []
    current = None
    for p in points:
        b = math.floor(p.ts / width)
        if b != current and bucket:
            keep |= keep_in_bucket(bucket)
            bucket = []
        current = b
        bucket.append(p)
    return keep | keep_in_bucket(bucket)


def thin_snapshots(conn: Connection, now: float) -> int:
    """Thin what has aged into each tier since the last run (a marker per tier in
    schema_meta); returns how many snapshot rows were deleted. Runs in the caller's
    transaction."""
    deleted = 0
    for age, width in TIERS:
        key = f"snapshots_thinned_{int(width)}s"
        end = math.floor((now - age) / width) * width  # whole buckets only
        start = _marker(conn, key)
        if start is None:  # first run: from the oldest row
            oldest = conn.execute(select(SnapshotRow.ts).order_by(  # type: ignore[arg-type]
                SnapshotRow.ts).limit(1)).scalar()
            start = math.floor(oldest / width) * width if oldest is not None else end
        while start < end:
            stop = min(end, start + WINDOW)
            deleted += _thin_window(conn, start, stop, width)
            start = stop
        _set_marker(conn, key, max(end, start))
    return deleted


def _thin_window(conn: Connection, start: float, stop: float, width: float) -> int:
    ts = SnapshotRow.ts
    q = select(SnapshotRow.id, ts, SnapshotRow.total_equity)  # type: ignore[call-overload]
    rows = conn.execute(q.where(ts >= start, ts < stop).order_by(ts, SnapshotRow.id)).all()
    points = [Point(int(i), float(t), float(e)) for i, t, e in rows]
    keep = kept_ids(points, width)
    drop = [p.id for p in points if p.id not in keep]
    table = SnapshotRow.__table__  # type: ignore[attr-defined]
    for i in range(0, len(drop), BATCH):
        conn.execute(delete(table).where(table.c.id.in_(drop[i:i + BATCH])))
    return len(drop)


def _marker(conn: Connection, key: str) -> float | None:
    meta = SchemaMetaRow.__table__  # type: ignore[attr-defined]
    value = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
    return None if value is None else float(value)


def _set_marker(conn: Connection, key: str, value: float) -> None:
    meta = SchemaMetaRow.__table__  # type: ignore[attr-defined]
    if conn.execute(meta.update().where(meta.c.key == key).values(value=repr(value))).rowcount:
        return
    conn.execute(meta.insert().values(key=key, value=repr(value)))


@dataclass(frozen=True)
class TableSize:
    name: str
    rows: int
    bytes: int  # pages of the table and its indexes (SQLite: dbstat; PostgreSQL: total size)


def table_sizes(conn: Connection, tables: Sequence[str]) -> list[TableSize]:
    """Rows and bytes of each table, its indexes included; bytes 0 when the database cannot
    tell (an SQLite built without the dbstat table)."""
    from sqlalchemy import text

    sizes: dict[str, int] = {}
    if conn.dialect.name == "sqlite":
        try:
            found = conn.execute(text(
                "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1")).all()
            sizes = {str(n): int(b) for n, b in found}
        except Exception:  # no dbstat in this SQLite: rows only
            sizes = {}
    out = []
    for name in tables:
        if not conn.dialect.has_table(conn, name):  # a table a newer schema adds
            continue
        rows = int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar() or 0)
        size = sizes.get(name, 0)
        if conn.dialect.name == "postgresql":
            size = int(conn.execute(text("SELECT pg_total_relation_size(:t)"),
                                    {"t": name}).scalar() or 0)
        out.append(TableSize(name, rows, size))
    return out

"""Equity snapshots thin as they age (SPEC §10 "Runs for a year"): the rows of the last day
stay, older ones keep a few per 15 minutes, after 30 days a few per hour; the maximum drawdown
and the curve's shape (first, lowest, highest) are those of the full series. Real SQLite files."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from autotrade_tui.core.engine import Ledger
from autotrade_tui.core.metrics import max_drawdown_pct
from autotrade_tui.store import retention
from autotrade_tui.store.retention import DAY, Point, kept_ids
from autotrade_tui.store.store import Store, to_dt
from autotrade_tui.store.tables import SnapshotRow

NOW = 1_790_000_000.0


def _walk(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    eq, out = 100_000.0, []
    for _ in range(n):
        eq *= 1 + rng.gauss(0, 0.002) + (rng.random() < 0.002) * rng.choice((-0.05, 0.04))
        out.append(eq)
    return out


def test_thinning_keeps_the_drawdown_first_lowest_and_highest() -> None:
    for seed in range(40):
        equity = _walk(3_000, seed)
        points = [Point(i, 60.0 * i, e) for i, e in enumerate(equity)]
        keep = kept_ids(points, 900.0)
        kept = [p.equity for p in points if p.id in keep]
        assert max_drawdown_pct(kept) == max_drawdown_pct(equity), seed
        assert len(kept) <= 5 * (3_000 // 15 + 1) and len(kept) < len(equity) / 3
        assert kept[0] == equity[0] and min(kept) == min(equity) and max(kept) == max(equity)
        again = kept_ids([p for p in points if p.id in keep], 3_600.0)  # the next tier
        assert max_drawdown_pct([p.equity for p in points if p.id in again]) \
            == max_drawdown_pct(equity)


def _fill(store: Store, days: int) -> list[float]:
    """A snapshot a minute for `days` days up to NOW (inserted in bulk: the test is about
    what thinning keeps, record_snapshot is exercised below)."""
    n = days * 1440
    equity = _walk(n, 7)
    table = SnapshotRow.__table__  # type: ignore[attr-defined]
    rows = [dict(timestamp=to_dt(NOW - 60.0 * (n - i)), ts=NOW - 60.0 * (n - i),
                 total_equity=e, total_capital=e, unrealized_pnl=0.0, open_positions=[],
                 total_trades=0, winning_trades=0, losing_trades=0, win_rate=0.0,
                 total_fees=0.0) for i, e in enumerate(equity)]
    with store.engine.begin() as conn:
        conn.execute(table.insert(), rows)
    return equity


def _times(db: Path) -> list[float]:
    return [t for (t,) in sqlite3.connect(db).execute(
        "SELECT ts FROM account_snapshots ORDER BY ts")]


def test_a_40_day_history_thins_by_age_and_reports_the_same(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with Store(db, writer=True) as store:
        equity = _fill(store, 40)
        before = store.max_drawdown_pct(100_000.0, equity[-1])
        deleted = store.thin(NOW)
        assert store.max_drawdown_pct(100_000.0, equity[-1]) == before
        curve = store.equity_curve(100_000)
        assert store.thin(NOW) == 0  # already done: nothing more to delete
    times = _times(db)
    assert deleted == 40 * 1440 - len(times)
    day = [t for t in times if t >= NOW - DAY]
    month = [t for t in times if NOW - 30 * DAY <= t < NOW - DAY]
    old = [t for t in times if t < NOW - 30 * DAY]
    assert len(day) == 1440  # the last day whole
    assert 29 * 96 * 2 <= len(month) <= 29 * 96 * 5  # a few per 15 minutes
    assert 10 * 24 * 2 <= len(old) <= 10 * 24 * 5  # a few per hour
    assert curve[0][1] == equity[0] and curve[-1][1] == equity[-1]
    assert min(e for _, e in curve) == min(equity) and max(e for _, e in curve) == max(equity)


def test_record_snapshot_thins_once_an_hour_of_the_app_clock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "b.db"
    calls: list[float] = []
    with Store(db, writer=True) as store:
        _fill(store, 3)
        real = retention.thin_snapshots

        def counting(conn: object, now: float) -> int:
            calls.append(now)
            return real(conn, now)  # type: ignore[arg-type]

        monkeypatch.setattr(retention, "thin_snapshots", counting)
        for i in range(130):  # 130 minutes after NOW
            store.record_snapshot(NOW + 60.0 * i, equity=1.0, capital=1.0, unrealized=0.0,
                                  positions=[], ledger=Ledger(1.0, 1.0), prices={})
    assert calls == [NOW, NOW + 3_600.0, NOW + 7_200.0]
    assert len([t for t in _times(db) if t < NOW - DAY]) < 2 * 1440 / 3


def test_db_stats_and_vacuum_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from autotrade_tui.cli import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # no user config file
    for name in ("AUTOTRADE_CONFIG", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "c.db"
    with Store(db, writer=True) as store:
        _fill(store, 3)
    assert main(["db", "stats", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "account_snapshots" in x)
    assert f"{3 * 1440:,}" in line and " MB" in line
    with Store(db, writer=True):  # a running engine holds the lock: vacuum waits its turn
        assert main(["db", "vacuum", "--db", str(db)]) == 3
    assert "already" in capsys.readouterr().err
    size = db.stat().st_size
    assert main(["db", "vacuum", "--db", str(db)]) == 0  # its clock: the newest row, NOW
    assert "thinned" in capsys.readouterr().out
    assert db.stat().st_size < size and len(_times(db)) < 2 * 1440
    assert main(["db", "stats", "--db", str(tmp_path / "missing.db")]) == 0
    assert not (tmp_path / "missing.db").exists()

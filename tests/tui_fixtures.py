"""Builders for the cockpit tests: the App on the simulated market (fixed seed) with a virtual
clock and a real SQLite store, plus small helpers to wait for it and read what it shows."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable

from autotrade_tui.config import defaults
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.market.sim import SimMarket
from autotrade_tui.runtime.link import LocalLink
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.services import open_engine
from autotrade_tui.store.store import Store
from autotrade_tui.tui.app import AutotradeApp

START = 1_750_000_020.0  # 2025-06-15 15:07:00 UTC
SEED = 42
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
NARROW, WIDE = (80, 24), (160, 50)


def make_app(tmp_path: Path, *, autorun: bool = True, **overrides: Any) -> AutotradeApp:
    db = tmp_path / "t.db"
    settings = defaults(database_url=str(db), market_source="sim", symbols=SYMBOLS,
                        **overrides)

    async def factory(s: Any) -> LocalLink:
        clock = VirtualClock(START)
        return await open_engine(s, clock=clock, feed=SimMarket(s.symbols, clock, SEED),
                                 store=Store(db, writer=True))

    return AutotradeApp(settings, runtime_factory=factory, autorun=autorun)


@asynccontextmanager
async def running(tmp_path: Path, *, size: tuple[int, int] = NARROW,
                  **overrides: Any) -> AsyncIterator[tuple[AutotradeApp, Pilot[Any]]]:
    """The cockpit of `make_app(tmp_path, **overrides)` at `size`, `ready` (first cycle
    shown); the app stays readable after the block (return code, database)."""
    app = make_app(tmp_path, **overrides)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        yield app, pilot


def runtime_of(app: AutotradeApp) -> Runtime:
    """The app's runtime, which must be open."""
    assert isinstance(app.runtime, LocalLink)
    return app.runtime.runtime


async def wait_for(pilot: Pilot[Any], cond: Callable[[], object], what: str,
                   limit_s: float = 20.0) -> None:
    deadline = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def busy(app: AutotradeApp, *groups: str) -> bool:
    return any(w.group in groups and not w.is_finished for w in app.workers)


async def ready(pilot: Pilot[Any]) -> AutotradeApp:
    """The runtime is open, its first decision cycle done and shown, the chart drawn."""
    app = pilot.app
    assert isinstance(app, AutotradeApp)

    def first_cycle() -> bool:
        link = app.runtime
        return (isinstance(link, LocalLink) and link.runtime.cycles >= 1
                and link.runtime.next_decision_at is not None)

    await wait_for(pilot, first_cycle, "the first decision cycle")
    from autotrade_tui.tui.widgets.candle_chart import CandleChart
    from autotrade_tui.tui.widgets.decision_list import DecisionList

    chart = app.cockpit.query_one(CandleChart)
    await wait_for(pilot, lambda: len(app.cockpit.query_one(DecisionList).decisions) >= 3,
                   "the decisions list")
    await wait_for(pilot, lambda: chart._plot is not None and not busy(app, "chart"),
                   "the chart")
    await settle(pilot)
    return app


async def settle(pilot: Pilot[Any]) -> None:
    """Let commands, charts and history readers finish, then let the screen catch up."""
    app = pilot.app
    await wait_for(pilot, lambda: not busy(app, "commands", "chart", "equity", "history")
                   and not app.cockpit.figures_pending,  # type: ignore[attr-defined]
                   "workers and repaints to finish")
    await pilot.pause()
    # Tables size their columns when idle: wait for it, or a loaded machine can take the
    # picture between a new row and its column widths.
    await wait_for(pilot, lambda: not any(t._require_update_dimensions
                                          for t in app.screen.query(DataTable)),
                   "table column widths")
    await pilot.pause(0.1)  # a screen refresh: what the terminal would show by now


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def screen_text(app: AutotradeApp) -> str:
    """What the terminal shows, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())

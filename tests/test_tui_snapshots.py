"""Snapshots of the cockpit at 80x24 and 160x50: simulated market with a fixed seed, a frozen
virtual clock, one manual LONG open; notifications cleared (toasts live on wall time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, TabbedContent

from autotrade_tui.core.models import Side
from tests.tui_fixtures import make_app, ready, runtime_of, settle, wait_for


async def with_a_long(pilot: Pilot[Any]) -> None:
    app = await ready(pilot)
    await runtime_of(app).manual_open("BTC/USDT", Side.LONG)
    await wait_for(pilot, lambda: app.cockpit.query_one("#positions", DataTable).row_count == 1,
                   "the position row")
    await settle(pilot)
    app.clear_notifications()
    await settle(pilot)


async def on_decisions(pilot: Pilot[Any]) -> None:
    app = await ready(pilot)
    app.cockpit.query_one(TabbedContent).active = "tab-decisions"
    await settle(pilot)
    app.clear_notifications()
    await settle(pilot)


async def confirming_a_short(pilot: Pilot[Any]) -> None:
    await with_a_long(pilot)
    await pilot.press("s")
    await settle(pilot)


def test_market_80x24(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=with_a_long)


def test_market_160x50(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=(160, 50), run_before=with_a_long)


def test_decisions_80x24(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=on_decisions)


def test_decisions_160x50(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=(160, 50), run_before=on_decisions)


def test_confirmation_80x24(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24),
                        run_before=confirming_a_short)

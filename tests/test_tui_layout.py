"""Layout at the sizes SPEC §11 names (issue 21 point 9): the header's risk text whole at 80
columns, candle bodies visibly wider on a narrow chart, and no candle on the chart's frame."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult

from autotrade_tui.core.models import Side
from autotrade_tui.runtime.updates import Status
from autotrade_tui.tui.widgets.status_bar import StatusBar
from tests.tui_fixtures import running, runtime_of, screen_text, settle, wait_for

NOW = 1_750_000_020.0  # 15:07:00 UTC


def status(**over: Any) -> Status:
    fields: dict[str, Any] = dict(
        mode="SIM", note="", models=("offline/trend-follower", "offline/mean-reversion"),
        offline_models=True, paused=False, halted_reason="", next_decision_at=NOW + 300,
        now=NOW, last_data_ts=NOW, speed=60.0, risk="exp 140/200% DD 12.3/15%")
    return Status(**{**fields, **over})


class Header(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar()


@pytest.mark.parametrize("width", [80, 120, 160])
async def test_the_headers_second_line_keeps_the_risk_text_whole(width: int) -> None:
    async with Header().run_test(size=(width, 3)) as pilot:
        bar = pilot.app.query_one(StatusBar)
        bar.symbol, bar.timeframe = "BTC/USDT", "5m"
        bar.status = status()
        await pilot.pause()
        first, second = bar.render().plain.splitlines()
        assert len(first) <= width and len(second) <= width
        assert "×60" in first and first.rstrip().endswith("BTC/USDT 5m")
        for part in ("15:07:00 UTC", "next decision 5:00", "AUTO ON", "data 0s",
                     "exp 140/200% DD 12.3/15%"):
            assert part in second, (width, second)
        assert "…" not in second
        assert ("│" in second) is (width > 80)  # the parts closer together only when needed


def chart_rows(app: Any) -> list[str]:
    """The rows inside the chart's frame, between the y axis and the right edge."""
    lines = screen_text(app).splitlines()
    top = next(i for i, line in enumerate(lines) if "┌" in line)
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    left, right = lines[top].index("┌"), lines[top].index("┐")
    return [line[left + 1:right] for line in lines[top + 1:bottom]]


@pytest.mark.parametrize(("size", "body"), [((80, 24), 2), ((120, 40), 1)])
async def test_candles_have_even_bodies_and_none_touches_the_frame(
        tmp_path: Path, size: tuple[int, int], body: int) -> None:
    async with running(tmp_path, size=size) as (app, pilot):
        await runtime_of(app).manual_open("BTC/USDT", Side.LONG)
        await wait_for(pilot, lambda: "entry" in screen_text(app), "the chart with its entry")
        await settle(pilot)
        rows = chart_rows(app)
        assert rows and all(len(r) == len(rows[0]) for r in rows)
        bodies = [len(run) for r in rows for run in re.findall("█+", r)]
        assert bodies and set(bodies) == {body}  # as wide as each other, apart from the next
        assert all(r[0] in " ─" and r[-1] in " ─" for r in rows), rows  # a free edge column
        # 80x24: a visible chart (SPEC §11), not a staircase of 1-column blocks
        assert len(rows[0]) // (body + 1) >= 20

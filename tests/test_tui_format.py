"""Numbers and lines formatted one way (SPEC §11, issue 21 point 9): chart ticks round and with
separators, dates on time axes longer than a day, the typographic minus, event lines with a
hanging indent."""

from __future__ import annotations

from pathlib import Path

from autotrade_tui.tui.format import nice_ticks, tick_label, time_labels
from autotrade_tui.tui.views import EventView
from autotrade_tui.tui.widgets.event_feed import hanging
from tests.account_fixtures import view
from tests.tui_fixtures import WIDE, running, screen_text, settle

DAY = 86_400.0
T = 1_750_000_020.0  # 2025-06-15 15:07:00 UTC


def labels(lo: float, hi: float) -> list[str]:
    ticks = nice_ticks(lo, hi, 6)
    return [tick_label(v, ticks) for v in ticks]


def test_price_ticks_are_round_with_separators_and_a_real_minus() -> None:
    assert labels(82_666.4, 83_249.3) == ["82,800", "83,000", "83,200"]
    assert labels(204.1, 213.3) == ["206", "208", "210", "212"]
    assert labels(0.5012, 0.5139) == ["0.505", "0.510"]
    assert labels(0.5012, 0.5089) == ["0.502", "0.504", "0.506", "0.508"]
    assert labels(0.0, 1.1) == ["0.00", "0.25", "0.50", "0.75", "1.00"]
    assert labels(-1_234.0, 50.0) == ["−1,000", "−500", "0"]


def test_time_axes_longer_than_a_day_carry_dates() -> None:
    assert time_labels([T, T + 3_600], 3 * 3_600) == ["15:07", "16:07"]
    assert time_labels([T, T + DAY], 2 * DAY) == ["06-15 15:07", "06-16 15:07"]
    assert time_labels([T, T + 30 * DAY], 200 * DAY) == ["06-15", "07-15"]


def test_a_wrapped_event_hangs_under_its_text_not_its_time() -> None:
    e = EventView(T, "BTC/USDT", "LIQUIDATION_RISK", "HIGH",
                  "BTC/USDT LONG is 4.37 % from liquidation (price 82,711, liquidation 79,101)",
                  "x closes it")
    lines = hanging(e, detail=False, width=50).plain.splitlines()
    assert len(lines) >= 2 and lines[0].startswith("15:07:00 HIGH")
    assert all(line.startswith(" " * 9) and line[9] != " " for line in lines[1:])
    assert all(len(line) <= 50 for line in lines)


async def test_the_events_panel_keeps_its_right_border_at_160x50(tmp_path: Path) -> None:
    async with running(tmp_path, size=WIDE) as (app, pilot):
        await settle(pilot)
        feed = app.cockpit.query_one("#market-events")
        right = feed.region.right - 1
        rows = screen_text(app).splitlines()[feed.region.y + 1: feed.region.bottom - 1]
        assert rows and all(row[right] in "│┃|" for row in rows)


async def test_a_row_painted_before_its_widths_are_measured_is_not_left_cut() -> None:
    """The flaky `' BTC/US LONG 2.41 82,84 …'` (issue 21 point 10): a paint between `add_row`
    and the table's idle width pass cached the row at the header widths. Reproduced without
    timing: the row is rendered at once, before the idle pass."""
    from textual.app import App, ComposeResult

    from autotrade_tui.tui.widgets.positions_table import PositionsTable

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield PositionsTable()

    position = {"symbol": "BTC/USDT", "side": "LONG", "quantity": 2.40517,
                "entry_price": 82_884.46, "mark_price": 82_881.23,
                "liquidation_price": 79_100.55, "margin": 10_000.0, "unrealized_pnl": -7.77,
                "liquidation_distance_pct": 4.6}
    async with One().run_test(size=(100, 8)) as pilot:
        table = pilot.app.query_one(PositionsTable)
        table.styles.height, table.styles.width = 5, 100  # no resize to clear its caches
        await pilot.pause()
        table.account = view([position])
        assert table._require_update_dimensions  # widths not measured yet
        table.render_line(1)  # a paint comes first (a loaded machine)
        await pilot.pause()  # the idle pass measures the widths
        assert not table._require_update_dimensions
        row = table.render_line(1).text
        assert " BTC/USDT" in row and " 2.40517" in row and "82,884.46" in row

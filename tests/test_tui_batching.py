"""The event feed and the trade history draw once for what comes together (SPEC §11: panes
redraw at most a few times a second, the cockpit never starves the engine), and a hidden feed
draws when it shows; what they hold stays bounded. A chart on a hidden tab is not plotted until
it shows."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import TabbedContent, TabPane

from autotrade_tui.tui.views import EventView, TradeView
from autotrade_tui.tui.widgets import event_feed, trade_history
from autotrade_tui.tui.widgets.equity_chart import EquityChart
from autotrade_tui.tui.widgets.event_feed import EventFeed
from autotrade_tui.tui.widgets.trade_history import TradeHistory


def event(i: int) -> EventView:
    return EventView(1_750_000_000.0 + i, "BTC/USDT", "VOLUME_SPIKE", "MEDIUM",
                     f"BTC/USDT volume {i}× its 24 h average", "watch")


def trade(i: int) -> TradeView:
    return TradeView(1_750_000_000.0 + i, "BTC/USDT", "OPEN", "LONG", 0.1, 100.0, 0.0, 0.5,
                     "auto", "")


class Panes(App[None]):
    def compose(self) -> ComposeResult:
        with TabbedContent(initial="shown"):
            with TabPane("shown", id="shown"):
                yield EventFeed(id="seen")
            with TabPane("hidden", id="hidden"):
                yield EventFeed(id="unseen")
            with TabPane("trades", id="tab-trades"):  # its rows are built hidden too
                yield TradeHistory(id="trades")


def counting(widget: object, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(widget, name)

    def counted() -> None:
        calls.append(1)
        original()

    setattr(widget, name, counted)
    return calls


async def test_a_burst_of_events_and_trades_is_one_redraw_and_a_hidden_feed_waits() -> None:
    async with Panes().run_test(size=(120, 40)) as pilot:
        app = pilot.app
        seen, unseen = app.query_one("#seen", EventFeed), app.query_one("#unseen", EventFeed)
        trades = app.query_one(TradeHistory)
        await pilot.pause()
        drawn, hidden_drawn = counting(seen, "_show"), counting(unseen, "_show")
        rebuilt = counting(trades, "_rebuild")
        for i in range(40):  # what arrives in one turn of the loop
            seen.add(event(i))
            unseen.add(event(i))
            trades.add(trade(i))
        await pilot.pause()
        assert (len(drawn), len(rebuilt), len(hidden_drawn)) == (1, 1, 0)
        assert seen.events[0] == event(39) and trades.row_count == 40
        assert "volume 39×" in str(seen.query_one(".lines").render())
        assert seen.border_title == "Events (40)" and trades.border_title == "Trades (40)"
        assert unseen.events[0] == event(39)  # the data is there, the lines are not drawn
        app.query_one(TabbedContent).active = "hidden"
        await pilot.pause()
        await pilot.pause()
        assert len(hidden_drawn) == 1 and "volume 39×" in str(unseen.query_one(".lines").render())


async def test_the_feed_and_the_history_keep_a_fixed_number_of_lines() -> None:
    async with Panes().run_test(size=(120, 40)) as pilot:
        app = pilot.app
        seen, unseen = app.query_one("#seen", EventFeed), app.query_one("#unseen", EventFeed)
        trades = app.query_one(TradeHistory)
        for i in range(event_feed.KEEP + trade_history.KEEP + 50):
            seen.add(event(i))
            unseen.add(event(i))  # hidden: bounded too, though never drawn
            trades.add(trade(i))
            if i % 100 == 0:
                await pilot.pause()
        await pilot.pause()
        assert len(seen.events) == len(unseen.events) == event_feed.KEEP
        assert len(trades.trades) == trades.row_count == trade_history.KEEP


class Charts(App[None]):
    def compose(self) -> ComposeResult:
        with TabbedContent(initial="market"):
            with TabPane("market", id="market"):
                yield EventFeed(id="seen")
            with TabPane("equity", id="tab-equity"):
                yield EquityChart(id="equity")


async def test_a_hidden_chart_is_not_plotted_until_its_tab_shows() -> None:
    """A year's equity curve loaded at start, live points every mark: nothing is plotted while
    its tab is hidden (the 2 s timer skips it); showing the tab draws it once."""
    async with Charts().run_test(size=(120, 40)) as pilot:
        app = pilot.app
        chart = app.query_one(EquityChart)
        plotted = counting(chart, "redraw")
        chart.load([(1_750_000_000.0 + 60 * i, 100_000.0 + i) for i in range(2_000)])
        for i in range(50):
            chart.add(1_750_200_000.0 + 60 * i, 101_000.0 + i)
        chart._refresh_if_dirty()  # what the 2 s timer calls
        await pilot.pause()
        assert plotted == [] and chart._dirty and len(chart.points) == 2_050
        app.query_one(TabbedContent).active = "tab-equity"
        await pilot.pause()
        await pilot.pause()
        assert len(plotted) == 1

"""The main screen: header, account cards, and the tabs (Market, Decisions, Events, Trades,
Equity). It holds the view state (selected symbol, timeframe, account, status) that flows
down into the panes, and turns keys into intents posted up to the app."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.lazy import Lazy
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, TabbedContent, TabPane

from autotrade_tui.core.account import AccountView
from autotrade_tui.core.text import one_line
from autotrade_tui.tui.actions import bindings
from autotrade_tui.tui.messages import DecideNow, ManualOrder, TogglePause
from autotrade_tui.tui.views import DecisionView, EventView, History, TradeView
from autotrade_tui.tui.widgets.account_cards import AccountCards
from autotrade_tui.tui.widgets.candle_chart import CandleChart
from autotrade_tui.tui.widgets.decision_detail import DecisionDetail
from autotrade_tui.tui.widgets.decision_list import DecisionList
from autotrade_tui.tui.widgets.equity_chart import EquityChart
from autotrade_tui.tui.widgets.event_feed import EventFeed
from autotrade_tui.tui.widgets.model_scorecard import ModelScorecard
from autotrade_tui.tui.widgets.positions_table import PositionsTable
from autotrade_tui.tui.widgets.status_bar import StatusBar
from autotrade_tui.tui.widgets.trade_history import TradeHistory

if TYPE_CHECKING:
    from autotrade_tui.runtime.interface import EngineLink

REFRESH_HZ = 4
TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")
TABS = ("tab-market", "tab-decisions", "tab-events", "tab-trades", "tab-equity")


BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]  # the app's HORIZONTAL_BREAKPOINTS


def breakpoint_class(width: int) -> str:
    return [name for low, name in BREAKPOINTS if width >= low][-1]


class CockpitScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = bindings("cockpit")  # tui.actions

    symbol: reactive[str] = reactive("")
    timeframe: reactive[str] = reactive("5m")
    account: reactive[AccountView | None] = reactive(None, always_update=True)
    status: reactive[Any] = reactive(None, always_update=True)

    def __init__(self, symbols: list[str] | None = None, width: int = 0) -> None:
        # The breakpoint class from the start: the first resize then restyles nothing.
        super().__init__(classes=breakpoint_class(width) if width else None)
        self.symbols: list[str] = list(symbols or [])
        self._pending: dict[str, Any] = {}
        self._flush_timer: Timer | None = None
        self._flushed_at = 0.0
        if self.symbols:
            self.set_reactive(CockpitScreen.symbol, self.symbols[0])

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status").data_bind(CockpitScreen.status, CockpitScreen.symbol,
                                               CockpitScreen.timeframe)
        yield AccountCards(id="cards").data_bind(CockpitScreen.account)
        with TabbedContent(id="tabs", initial="tab-market"):
            with TabPane("Market", id="tab-market"), Horizontal(id="market"):
                with Vertical(id="market-main"):
                    yield CandleChart(id="chart").data_bind(
                        CockpitScreen.symbol, CockpitScreen.timeframe, CockpitScreen.account)
                    yield PositionsTable(id="positions").data_bind(CockpitScreen.symbol,
                                                                   CockpitScreen.account)
                yield Lazy(EventFeed(detail=False, id="market-events", classes="wide-only"))
            with TabPane("Decisions", id="tab-decisions"):
                yield Lazy(Container(DecisionList(id="decision-list"),
                                     DecisionDetail(id="decision-detail"), id="decisions"))
            with TabPane("Events", id="tab-events"):
                yield Lazy(EventFeed(id="events"))
            with TabPane("Trades", id="tab-trades"):
                yield Lazy(TradeHistory(id="trades"))
            with TabPane("Equity", id="tab-equity"):
                yield Lazy(EquityChart(id="equity"))
            with TabPane("Models", id="tab-models"):
                yield Lazy(ModelScorecard(id="models"))
        yield Footer(compact=True, show_command_palette=False)

    # ---- data down (called by the app)
    async def panes_mounted(self) -> None:
        """Wait for the panes mounted lazily (after the first frame) to be in the DOM."""
        while self.query(Lazy):  # noqa: ASYNC110  (Lazy gives no completion signal)
            await asyncio.sleep(0.01)

    def attach(self, runtime: EngineLink) -> None:
        """The runtime is ready: its symbols, clock, candles and first figures."""
        self.symbols = list(runtime.symbols)
        if self.symbol not in self.symbols:
            self.symbol = self.symbols[0] if self.symbols else ""
        self.query_one(StatusBar).now = runtime.now
        self.status = runtime.status()
        self.account = runtime.account()
        self.query_one(CandleChart).attach(runtime.candles)

    def show_phase(self, text: str) -> None:
        self.query_one(StatusBar).phase = text

    def show_alert(self, text: str) -> None:
        """Replace the header's second line (it may quote an error: one cleaned line)."""
        self.query_one(StatusBar).alert = one_line(text)

    def show_history(self, history: History) -> None:
        self.query_one(DecisionList).load(history.decisions)
        self.query_one(TradeHistory).load(history.trades)
        for feed in self.query(EventFeed):
            feed.load(history.events)
        self.query_one(EquityChart).load(history.equity)

    def prices_moved(self) -> None:
        self.query_one(CandleChart).prices_moved()

    def show_account(self, account: AccountView, now: float) -> None:
        self.query_one(EquityChart).add(now, account.equity)
        self._pending["account"] = account
        self._flush_soon()

    def show_status(self, status: Any) -> None:
        self._pending["status"] = status
        self._flush_soon()

    def _flush_soon(self) -> None:
        """At most `REFRESH_HZ` repaints of the live figures: a sim at --speed 60 marks the
        account 12 times a second; the eye needs far fewer, the CPU is better spent elsewhere."""
        if self._flush_timer is None:
            wait = max(0.01, self._flushed_at + 1.0 / REFRESH_HZ - time.monotonic())
            self._flush_timer = self.set_timer(wait, self._flush, name="live figures")

    @property
    def figures_pending(self) -> bool:
        """Live figures are waiting for the next repaint (tests wait for it)."""
        return bool(self._pending)

    def _flush(self) -> None:
        self._flush_timer = None
        self._flushed_at = time.monotonic()
        pending, self._pending = self._pending, {}
        if "status" in pending:
            self.status = pending["status"]
        if "account" in pending:
            self.account = acc = pending["account"]
            for table in self.query(ModelScorecard):  # once its tab has been built
                table.show(acc.scorecard or (), acc.scorecard_curves or {})

    def add_decision(self, d: DecisionView) -> None:
        self.query_one(DecisionList).add(d)

    def add_trade(self, t: TradeView) -> None:
        self.query_one(TradeHistory).add(t)

    def add_event(self, e: EventView) -> None:
        for feed in self.query(EventFeed):
            feed.add(e)

    # ---- selection inside the screen
    @on(PositionsTable.Selected)
    def _position_selected(self, event: PositionsTable.Selected) -> None:
        self.symbol = event.symbol

    @on(TabbedContent.TabActivated)
    def _focus_tab(self, event: TabbedContent.TabActivated) -> None:
        """The arrows work in a tab as soon as it shows (no Tab key first): its list takes
        the focus. The Market tab leaves focus alone (its keys act on the selection)."""
        target = {"tab-decisions": DecisionList, "tab-trades": TradeHistory}.get(
            event.pane.id or "")
        if target is not None:
            self.call_after_refresh(self._focus_first, target)

    def _focus_first(self, kind: type) -> None:
        found = self.query(kind)
        if found:
            found.first().focus()

    @on(DecisionList.Chosen)
    def _decision_chosen(self, event: DecisionList.Chosen) -> None:
        self.query_one(DecisionDetail).decision = event.decision

    # ---- keys → intents (up to the app)
    def action_order(self, kind: str) -> None:
        self.post_message(ManualOrder(kind, self.symbol))

    def action_pause(self) -> None:
        self.post_message(TogglePause())

    def action_decide(self) -> None:
        self.post_message(DecideNow(self.symbol))

    def action_select(self, index: int) -> None:
        if index < len(self.symbols):
            self.symbol = self.symbols[index]
        else:
            self.notify(f"no symbol {index + 1}: {len(self.symbols)} symbol(s) configured",
                        severity="warning", timeout=3)

    def action_timeframe(self) -> None:
        i = TIMEFRAMES.index(self.timeframe) if self.timeframe in TIMEFRAMES else 0
        self.timeframe = TIMEFRAMES[(i + 1) % len(TIMEFRAMES)]

    def action_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        i = TABS.index(tabs.active) if tabs.active in TABS else 0
        tabs.active = TABS[(i + step) % len(TABS)]

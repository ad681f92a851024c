"""The Textual cockpit: an App that opens the trading runtime in a worker after the first
frame, runs it on its own loop, turns its updates into messages, and routes the user's
intents (confirmed manual orders, pause, decide now) back to it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerState

from autotrade_tui.core.text import clean, one_line
from autotrade_tui.tui import messages as m
from autotrade_tui.tui.commands import TradingCommands
from autotrade_tui.tui.screens.cockpit import BREAKPOINTS, CockpitScreen
from autotrade_tui.tui.screens.confirm import ConfirmScreen
from autotrade_tui.tui.screens.help import HelpScreen
from autotrade_tui.tui.theme import AUTOTRADE
from autotrade_tui.tui.views import (
    decision_from_update,
    event_from_ongoing,
    event_from_update,
    history_view,
    trade_from_update,
)
from autotrade_tui.tui.widgets.decision_list import DecisionList

if TYPE_CHECKING:
    from rich.console import RenderableType
    from textual.notifications import SeverityLevel

    from autotrade_tui.runtime.interface import EngineLink

RuntimeFactory = Callable[[Any], Awaitable["EngineLink"]]
ORDER_TITLES = {"long": "Open LONG", "short": "Open SHORT", "close": "Close position",
                "close_all": "Close ALL positions"}
SEVERITY = {"info": "information", "warning": "warning", "error": "error"}
NOTICE_LIMIT = 1_000  # a toast is a few lines, not a dump


# Imported in a thread before the runtime opens, so the event loop (the UI) never stalls on
# them: sqlmodel/SQLAlchemy, numpy, pandas/TA-Lib, and ccxt when the exchange may be used.
PRELOAD = ("autotrade_tui.store.store", "autotrade_tui.report", "autotrade_tui.market.sim",
           "autotrade_tui.ai.factory", "autotrade_tui.ai.prompts", "autotrade_tui.runtime.trader",
           "autotrade_tui.core.indicators")
PRELOAD_EXCHANGE = ("autotrade_tui.market.ccxt_feed", "ccxt.async_support", "httpx")


def preload(settings: Any) -> None:
    import importlib

    names = PRELOAD + (PRELOAD_EXCHANGE if settings.market_source in ("auto", "ccxt") else ())
    for name in names:
        importlib.import_module(name)


async def open_runtime(settings: Any) -> EngineLink:
    """An engine in this process (`runtime.link.LocalLink`), its heavy imports done off the
    event loop first."""
    await asyncio.to_thread(preload, settings)
    from autotrade_tui.runtime.link import LocalLink

    return await LocalLink.open(settings)


class AutotradeApp(App[None]):
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))  # absolute: subclasses live elsewhere
    TITLE = "autotrade-tui"
    COMMANDS = App.COMMANDS | {TradingCommands}
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = BREAKPOINTS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "help", key_display="?"), Binding("q", "quit", "quit")]

    def __init__(self, settings: Any, *, runtime_factory: RuntimeFactory = open_runtime,
                 autorun: bool = True) -> None:
        """`runtime_factory` builds the runtime (tests pass one with a virtual clock);
        `autorun=False` leaves the runtime's loops to the caller (tests drive its ticks)."""
        super().__init__()
        self.settings, self.runtime_factory, self.autorun = settings, runtime_factory, autorun
        self.runtime: EngineLink | None = None  # the one way to the engine (SPEC §13 seam)
        self._decisions: list[Any] = []  # decisions waiting for the list (one rebuild)
        self._quitting = False
        self.register_theme(AUTOTRADE)
        self.theme = "autotrade"

    @property
    def cockpit(self) -> CockpitScreen:
        return self._cockpit

    def get_default_screen(self) -> CockpitScreen:
        """The cockpit is the first and main screen (no blank default screen under it)."""
        self._cockpit = CockpitScreen(list(self.settings.symbols), self.size.width)
        return self._cockpit

    def on_mount(self) -> None:
        self.call_after_refresh(self.run_runtime)  # the first frame first
        # SIGTERM (systemd, kill) or SIGHUP (the SSH session closed): quit as `q` does, the
        # state saved, exit 0 (SPEC §11), instead of dying with 143 mid-write.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._terminated)

    def _terminated(self) -> None:
        if not self._quitting:
            self._quitting = True
            self.call_later(self.action_quit)

    # ---- the runtime's life
    @work(exclusive=True, group="runtime", exit_on_error=False, description="trading runtime")
    async def run_runtime(self) -> None:
        from autotrade_tui.errors import AutotradeError, EngineLockedError, UserError

        await self.cockpit.panes_mounted()  # so that an early exit never races their mount
        self.cockpit.show_phase("connecting… opening the database, market data and models")
        try:
            runtime = await self.runtime_factory(self.settings)
        except EngineLockedError as exc:
            self.exit(return_code=3, message=f"autotrade-tui: {exc}")
            return
        except AutotradeError as exc:
            code = 2 if isinstance(exc, UserError) else 1
            self.exit(return_code=code, message=f"autotrade-tui: error: {exc}")
            return
        self.runtime = runtime
        self.cockpit.attach(runtime)
        try:
            self.cockpit.show_history(history_view(await runtime.history()))
        except Exception as exc:  # the live panes still fill; say what is missing
            self.notify(f"history: {type(exc).__name__}: {exc}", severity="error", timeout=10)
        runtime.subscribe(self._forward)
        if self.autorun:
            await runtime.run()
        if runtime.fatal is not None:  # another engine took the database (3), or it was lost (1)
            from autotrade_tui.errors import EngineLockedError

            code = 3 if isinstance(runtime.fatal, EngineLockedError) else 1
            self.runtime = None
            await runtime.close()  # a "stopped" alert gets its few seconds
            self.exit(return_code=code, message=f"autotrade-tui: {runtime.fatal}")

    def _forward(self, update: Any) -> None:
        message = m.from_update(update)
        if message is not None:
            self.post_message(message)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            text = (f"{event.worker.description or event.worker.name}: "
                    f"{type(error).__name__}: {error}")
            stopped = event.worker.group == "runtime"  # nothing trades any more: say so
            if stopped:
                self.cockpit.show_alert(f"STOPPED {text} — q quits")
            self.notify(text, severity="error", timeout=60 if stopped else 10)

    async def shutdown_runtime(self) -> None:
        """Stop the loops, let the worker finish, close feed/models/store (once)."""
        runtime, self.runtime = self.runtime, None
        if runtime is None:
            self.workers.cancel_group(self, "runtime")
            return
        runtime.stop()
        for worker in [w for w in self.workers if w.group == "runtime"]:
            try:
                await asyncio.wait_for(worker.wait(), 10)
            except Exception:  # a failed or slow loop must not keep the user waiting
                worker.cancel()
        await runtime.close()

    async def action_quit(self) -> None:
        await self.cockpit.panes_mounted()
        await self.shutdown_runtime()
        self.exit()

    async def on_unmount(self) -> None:
        await self.shutdown_runtime()

    # ---- foreign text never reaches the terminal raw (core.text)
    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every toast (screens' and panes' `notify` come here too) as plain, cleaned text: a
        notice may quote an exchange, a server or a model. `markup` is ignored: never markup."""
        super().notify(clean(message, NOTICE_LIMIT), title=one_line(title), severity=severity,
                       timeout=timeout, markup=False)

    def exit(self, result: None = None, return_code: int = 0,
             message: RenderableType | None = None) -> None:
        """A text `message` (printed once the terminal is back; it may quote an error from
        outside) is printed as plain, cleaned text, never as markup."""
        if isinstance(message, str):
            message = Text(clean(message, NOTICE_LIMIT))
        super().exit(result, return_code, message)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # ---- runtime updates → the cockpit
    def on_prices_tick(self, _msg: m.PricesTick) -> None:
        self.cockpit.prices_moved()

    def on_account_changed(self, msg: m.AccountChanged) -> None:
        now = self.runtime.now() if self.runtime else 0.0
        self.cockpit.show_account(msg.account, now)

    def on_status_updated(self, msg: m.StatusUpdated) -> None:
        self.cockpit.show_status(msg.status)

    def on_decision_made(self, msg: m.DecisionMade) -> None:
        # A cycle's decisions arrive together: the list is rebuilt once for all of them
        # (after the messages already waiting), not once each (SPEC §11: never starve).
        if not self._decisions:
            self.call_later(self._show_decisions)
        self._decisions.append(decision_from_update(msg.decision))

    def _show_decisions(self) -> None:
        batch, self._decisions = self._decisions, []
        if len(batch) == 1:
            self.cockpit.add_decision(batch[0])
        elif batch:
            self.cockpit.query_one(DecisionList).load(batch)

    def on_trade_made(self, msg: m.TradeMade) -> None:
        self.cockpit.add_trade(trade_from_update(msg.trade))

    def on_event_seen(self, msg: m.EventSeen) -> None:
        self.cockpit.add_event(event_from_update(msg.event))

    def on_event_still_there(self, msg: m.EventStillThere) -> None:
        self.cockpit.add_event(event_from_ongoing(msg.ongoing))

    def on_notice_posted(self, msg: m.NoticePosted) -> None:
        self.notify(msg.text, severity=SEVERITY.get(msg.level, "information"),  # type: ignore[arg-type]
                    timeout=6 if msg.level == "info" else 10)

    # ---- user intents → the runtime
    def _live_runtime(self) -> EngineLink | None:
        if self.runtime is None:
            self.notify("still connecting: the runtime is not ready yet", severity="warning",
                        timeout=3)
        return self.runtime

    @work(group="commands", exit_on_error=False, description="order preview")
    async def on_manual_order(self, msg: m.ManualOrder) -> None:
        from autotrade_tui.errors import AutotradeError
        from autotrade_tui.tui.orders import NothingToDo, describe

        runtime = self._live_runtime()
        if runtime is None:
            return
        try:
            text = describe(await runtime.preview(msg.kind, msg.symbol))
        except NothingToDo as exc:
            self.notify(str(exc), severity="warning", timeout=4)
            return
        except AutotradeError as exc:  # an attached engine out of reach: nothing to confirm
            self.notify(str(exc), title="no preview", severity="error", timeout=8)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.send_order(msg.kind, msg.symbol)
            else:
                self.notify("cancelled: nothing was traded", timeout=3)

        self.push_screen(ConfirmScreen(ORDER_TITLES[msg.kind], text), answered)

    @work(group="commands", exit_on_error=False, description="manual order")
    async def send_order(self, kind: str, symbol: str) -> None:
        from autotrade_tui.core.engine import Rejected
        from autotrade_tui.errors import AutotradeError

        if self.runtime is None:
            return
        try:
            result = await self.runtime.order(kind, symbol)
        except Rejected as exc:
            self.notify(str(exc), title="refused", severity="warning", timeout=8)
            return
        except AutotradeError as exc:  # the database failed: nothing was traded
            self.notify(str(exc), title="not traded", severity="error", timeout=10)
            return
        self.notify(result, title="done (manual)", timeout=6)

    @work(group="commands", exit_on_error=False, description="pause / resume")
    async def on_toggle_pause(self, _msg: m.TogglePause) -> None:
        runtime = self._live_runtime()
        if runtime is not None:
            await runtime.toggle_pause()

    def on_decide_now(self, msg: m.DecideNow) -> None:
        """`d` may trade (a BUY/SELL vote that passes the gates executes, as manual), so it
        asks first, like every manual action."""
        runtime = self._live_runtime()
        if runtime is None:
            return
        symbol = msg.symbol
        if runtime.trading_off:
            then = "Automatic trading is paused: the vote is recorded, nothing is traded."
        else:
            then = ("If the vote is BUY or SELL and passes the gates (confidence, positions, "
                    "capital), it is executed now at the market price and recorded as manual.")
        text = f"Ask both models about {symbol} now.\n{then}"

        def answered(yes: bool | None) -> None:
            if yes:
                self.decide(symbol)
            else:
                self.notify("cancelled: no decision was asked for", timeout=3)

        self.push_screen(ConfirmScreen("Decide now", text), answered)

    @work(group="commands", exit_on_error=False, description="decide now")
    async def decide(self, symbol: str) -> None:
        if self.runtime is None:
            return
        self.notify(f"asking both models about {symbol}…", timeout=3)
        rec = await self.runtime.decide_now(symbol)
        if rec is not None:
            r = rec.result
            self.notify(f"{symbol}: {r.decision.value} {r.confidence:.2f} — {rec.note}",
                        title="decision (manual)", timeout=8)


def run_tui(settings: Any) -> int:
    """Run the cockpit until the user quits; the exit code (3: another engine trades)."""
    app = AutotradeApp(settings)
    app.run()
    return app.return_code or 0

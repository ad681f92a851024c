"""The Textual cockpit: an App that opens the trading runtime in a worker after the first
frame, runs it on its own loop, and owns its life (start, failure, quit). Updates reach the
panes through tui.routing, the user's intents the engine through tui.intents, toasts are
cleaned by tui.plain; keys, palette and help come from one table, tui.actions."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import BindingType
from textual.worker import Worker, WorkerState

from autotrade_tui.tui.actions import bindings
from autotrade_tui.tui.commands import TradingCommands
from autotrade_tui.tui.intents import Intents
from autotrade_tui.tui.plain import PlainText
from autotrade_tui.tui.routing import UpdateRouting
from autotrade_tui.tui.screens.cockpit import BREAKPOINTS, CockpitScreen
from autotrade_tui.tui.screens.help import HelpScreen
from autotrade_tui.tui.startup import open_runtime
from autotrade_tui.tui.theme import AUTOTRADE
from autotrade_tui.tui.views import history_view

if TYPE_CHECKING:
    from autotrade_tui.config import Settings
    from autotrade_tui.runtime.interface import EngineLink

RuntimeFactory = Callable[[Any], Awaitable["EngineLink"]]


class AutotradeApp(UpdateRouting, Intents, PlainText):
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))  # absolute: subclasses live elsewhere
    TITLE = "autotrade-tui"
    COMMANDS = App.COMMANDS | {TradingCommands}
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = BREAKPOINTS
    BINDINGS: ClassVar[list[BindingType]] = bindings("app")  # ? and q (tui.actions)

    def __init__(self, settings: Settings, *, runtime_factory: RuntimeFactory = open_runtime,
                 autorun: bool = True) -> None:
        """`runtime_factory` builds the runtime (tests pass one with a virtual clock);
        `autorun=False` leaves the runtime's loops to the caller (tests drive its ticks)."""
        super().__init__()
        self.settings, self.runtime_factory, self.autorun = settings, runtime_factory, autorun
        self.runtime: EngineLink | None = None  # the one way to the engine (SPEC §13 seam)
        self._quitting = False
        self._unsubscribe: Callable[[], None] = lambda: None
        self.register_theme(AUTOTRADE)
        self.theme = "autotrade"

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
        self._unsubscribe = runtime.subscribe(self._forward)
        if self.autorun:
            await runtime.run()
        if runtime.fatal is not None:  # another engine took the database (3), or it was lost (1)
            code = 3 if isinstance(runtime.fatal, EngineLockedError) else 1
            self.runtime = None
            await runtime.close()  # a "stopped" alert gets its few seconds
            self.exit(return_code=code, message=f"autotrade-tui: {runtime.fatal}")

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
        self._unsubscribe()  # nothing more is posted; what is queued drains while we wait
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

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def run_tui(settings: Settings) -> int:
    """Run the cockpit until the user quits; the exit code (3: another engine trades)."""
    app = AutotradeApp(settings)
    app.run()
    return app.return_code or 0

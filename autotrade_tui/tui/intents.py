"""The user's intents on their way to the engine: manual orders and "decide now" shown and
confirmed first (the action table's titles, tui.actions), pause/resume, each sent through
`runtime: EngineLink` in a named worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import work
from textual.app import App

from autotrade_tui.tui import messages as m
from autotrade_tui.tui.actions import BY_INTENT
from autotrade_tui.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from autotrade_tui.runtime.interface import EngineLink


class Intents(App[None]):
    """The app's half that sends what the user asked for (a mixin of the app)."""

    runtime: EngineLink | None

    def _live_runtime(self) -> EngineLink | None:
        if self.runtime is None:
            self.notify("still connecting: the runtime is not ready yet", severity="warning",
                        timeout=3)
        return self.runtime

    def _ask(self, intent: str, text: str, then: Callable[[], object]) -> None:
        """The confirmation every manual action goes through: `then` on yes, a note on no."""
        action = BY_INTENT[intent]

        def answered(yes: bool | None) -> None:
            if yes:
                then()
            else:
                self.notify(action.cancelled, timeout=3)

        self.push_screen(ConfirmScreen(action.confirm, text), answered)

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
        self._ask(msg.kind, text, lambda: self.send_order(msg.kind, msg.symbol))

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
        self._ask("decide", f"Ask both models about {symbol} now.\n{then}",
                  lambda: self.decide(symbol))

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

"""Command palette entries (Ctrl+P) for the cockpit's actions, on the selected symbol."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from autotrade_tui.tui.messages import DecideNow, ManualOrder, TogglePause


class TradingCommands(Provider):
    """The same intents as the keys b s x X p d t ?, posted to the app."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        cockpit = getattr(app, "cockpit", None)
        symbol = getattr(cockpit, "symbol", "") or "the selected symbol"
        post = app.post_message
        out: list[tuple[str, str, Callable[[], object]]] = [
            (f"Open / add LONG {symbol}", "key b · asks for confirmation",
             partial(post, ManualOrder("long", symbol))),
            (f"Open / add SHORT {symbol}", "key s · asks for confirmation",
             partial(post, ManualOrder("short", symbol))),
            (f"Close position {symbol}", "key x · asks for confirmation",
             partial(post, ManualOrder("close", symbol))),
            ("Close all positions", "key X · asks for confirmation",
             partial(post, ManualOrder("close_all", symbol))),
            ("Pause / resume automatic trading", "key p", partial(post, TogglePause())),
            (f"Decide now {symbol}", "key d · both models vote now",
             partial(post, DecideNow(symbol))),
            ("Help: keys and panes", "key ?", partial(app.run_action, "help")),
        ]
        if cockpit is not None:
            out.append(("Cycle chart timeframe", "key t", cockpit.action_timeframe))
            for i, sym in enumerate(cockpit.symbols[:9]):
                out.append((f"Select {sym}", f"key {i + 1}", partial(cockpit.action_select, i)))
        return out

    async def discover(self) -> Hits:
        for name, help_text, run in self._commands():
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, run in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text)

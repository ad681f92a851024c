"""Command palette entries (Ctrl+P) for the cockpit's actions, on the selected symbol: the
action table's (tui.actions), each run as its key runs it."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from autotrade_tui.tui.actions import palette_entries


class TradingCommands(Provider):
    """The same actions as the keys b s x X p d t 1–9 ?, by name."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        cockpit = getattr(app, "cockpit", None)
        symbol = getattr(cockpit, "symbol", "") or "the selected symbol"
        symbols = list(getattr(cockpit, "symbols", ()))[:9]
        return [(e.name, e.help, partial(app.run_action, e.run, cockpit))
                if e.scope == "cockpit" else (e.name, e.help, partial(app.run_action, e.run))
                for e in palette_entries(symbol, symbols)
                if e.scope != "cockpit" or cockpit is not None]

    async def discover(self) -> Hits:
        for name, help_text, run in self._commands():
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, run in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text)

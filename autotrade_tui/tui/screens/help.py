"""The help screen: every key (from the action table, tui.actions) and every pane, reachable
with `?`."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from autotrade_tui.tui.actions import help_rows

KEYS = tuple(help_rows())  # the action table's words, in its order

PANES = (
    ("Header", "data mode (LIVE DATA / SIM / REPLAY), PAPER, the two models, the clock, "
               "time to the next decision, automatic trading ON / PAUSED, data age or STALE"),
    ("Cards", "equity (return, free capital), realized / unrealized P&L, open positions, "
              "win rate"),
    ("Market", "candles of the selected symbol with entry and liquidation lines; positions "
               "(the highlighted row selects its symbol); events beside them when wide"),
    ("Decisions", "every decision; the highlighted one shows both models side by side, the "
                  "vote and why it was or was not executed"),
    ("Events", "market events, newest first: CRITICAL red, HIGH orange, MEDIUM dim"),
    ("Trades", "every fill, newest first, with P&L after fees and who made it"),
    ("Equity", "the equity curve from the account snapshots, then live"),
    ("Models", "each model's own answers traded alone on a shadow ledger, beside the real "
               "account (ensemble): return, drawdown, direction accuracy, errors, cost"),
)


def help_text() -> Content:
    parts: list[str | tuple[str, str]] = [("Keys", "bold $primary"), "\n"]
    for key, what in KEYS:
        parts += [(f" {key:>8} ", "bold $accent"), f" {what}\n"]
    parts += ["\n", ("Panes", "bold $primary"), "\n"]
    for name, what in PANES:
        parts += [(f" {name:>9} ", "bold $accent"), f" {what}\n"]
    parts += ["\n", ("Paper trading only: no order ever reaches an exchange.", "$text-muted")]
    return Content.assemble(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "close"),
                Binding("question_mark", "dismiss", "close", key_display="?")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_text(), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "autotrade-tui — help (Esc closes)"

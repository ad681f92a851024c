"""The cockpit's one action table: every key the user has, with the words each place that
offers it uses (footer, help screen, command palette, confirmation). Bindings, the palette and
the help screen are built from it, so a key is declared once (SPEC §11 "Keys")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from textual.binding import Binding, BindingType

Scope = Literal["cockpit", "app", "dialog", "textual"]


class Key(NamedTuple):
    """One key bound to one Textual action."""

    key: str  # Textual's name of the key
    run: str  # the Textual action it runs, in its scope's namespace
    label: str = ""  # the footer's / key panel's word
    show: bool = True  # in the footer
    display: str | None = None  # how the footer writes the key, when not as Textual does


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the user can do, as every place that offers it says it."""

    shown: str  # the key(s) as the help screen writes them
    help: str  # the help screen's line
    keys: tuple[Key, ...] = ()  # the bindings ((): Textual's own key, only explained)
    scope: Scope = "cockpit"  # whose bindings: the cockpit screen, the app, a confirmation
    intent: str = ""  # the name the app's command code knows it by
    palette: str = ""  # the palette's name: "{symbol}" the selected one, "{each}" one a symbol
    palette_help: str = ""  # the palette's line under the name ("{n}": the symbol's key)
    confirm: str = ""  # the title of the confirmation it asks for
    cancelled: str = ""  # the note when that confirmation is declined


ASKS = "asks for confirmation"
ACTIONS: tuple[Action, ...] = (
    Action("b", "open or add a LONG on the selected symbol (asks first)",
           (Key("b", "order('long')", "long"),), intent="long",
           palette="Open / add LONG {symbol}", palette_help=f"key b · {ASKS}",
           confirm="Open LONG", cancelled="cancelled: nothing was traded"),
    Action("s", "open or add a SHORT on the selected symbol (asks first)",
           (Key("s", "order('short')", "short"),), intent="short",
           palette="Open / add SHORT {symbol}", palette_help=f"key s · {ASKS}",
           confirm="Open SHORT", cancelled="cancelled: nothing was traded"),
    Action("x", "close the position on the selected symbol (asks first)",
           (Key("x", "order('close')", "close"),), intent="close",
           palette="Close position {symbol}", palette_help=f"key x · {ASKS}",
           confirm="Close position", cancelled="cancelled: nothing was traded"),
    Action("X", "close all positions (asks first)",
           (Key("X", "order('close_all')", "close all"),), intent="close_all",
           palette="Close all positions", palette_help=f"key X · {ASKS}",
           confirm="Close ALL positions", cancelled="cancelled: nothing was traded"),
    Action("p", "pause / resume automatic trading (manual orders stay possible)",
           (Key("p", "pause", "pause"),), intent="pause",
           palette="Pause / resume automatic trading", palette_help="key p"),
    Action("d", "decide now: both models vote on the selected symbol (asks first; a BUY/SELL "
                "that passes the gates trades, as manual)",
           (Key("d", "decide", "decide"),), intent="decide",
           palette="Decide now {symbol}", palette_help="key d · both models vote now",
           confirm="Decide now", cancelled="cancelled: no decision was asked for"),
    Action("t", "cycle the chart timeframe: 1m 5m 15m 1h 4h 1d",
           (Key("t", "timeframe", "tf"),), intent="timeframe",
           palette="Cycle chart timeframe", palette_help="key t"),
    Action("1–9", "select symbol 1–9 (the order of the symbols setting)",
           (Key("1", "select(0)", "sym", display="1-9"),
            *(Key(str(i), f"select({i - 1})", show=False) for i in range(2, 10))),
           intent="select", palette="Select {each}", palette_help="key {n}"),
    Action("[ ]", "previous / next tab",
           (Key("right_square_bracket", "tab(1)", "next tab", show=False),
            Key("left_square_bracket", "tab(-1)", "previous tab", show=False))),
    Action("Tab", "move focus (tab bar, tables); arrows move inside; ←/→ on the tab bar",
           scope="textual"),
    Action("Ctrl+P", "command palette: every action by name", scope="textual"),
    Action("?", "this help", (Key("question_mark", "help", "help", display="?"),),
           scope="app", intent="help", palette="Help: keys and panes", palette_help="key ?"),
    Action("q", "quit (the account is saved; open positions stay open)",
           (Key("q", "quit", "quit"),), scope="app", intent="quit"),
    Action("y Enter", "in a confirmation: do it",
           (Key("y", "answer(True)", "confirm"), Key("enter", "answer(True)", "confirm", False)),
           scope="dialog"),
    Action("n Esc", "in a confirmation: cancel",
           (Key("n", "answer(False)", "cancel"), Key("escape", "answer(False)", "cancel", False)),
           scope="dialog"),
)

BY_INTENT = {a.intent: a for a in ACTIONS if a.intent}


def keys_of(scope: Scope) -> list[Key]:
    """The keys a scope binds, in the table's order (the footer's order)."""
    return [key for action in ACTIONS if action.scope == scope for key in action.keys]


def bindings(scope: Scope) -> list[BindingType]:
    """The Textual bindings of a scope (a confirmation's keys win over everything else)."""
    return [Binding(k.key, k.run, k.label, show=k.show, key_display=k.display,
                    priority=scope == "dialog") for k in keys_of(scope)]


def help_rows() -> list[tuple[str, str]]:
    """(keys, what they do) for the help screen, every action in the table's order."""
    return [(a.shown, a.help) for a in ACTIONS]


class PaletteEntry(NamedTuple):
    name: str
    help: str
    scope: Scope
    run: str  # the Textual action, in its scope's namespace


def palette_entries(symbol: str, symbols: list[str]) -> list[PaletteEntry]:
    """The command palette's entries for the selected `symbol` ("{each}": one for each of the
    first nine `symbols`, run by its own key's action)."""
    out: list[PaletteEntry] = []
    for a in ACTIONS:
        if not a.palette:
            continue
        if "{each}" in a.palette:
            out += [PaletteEntry(a.palette.format(each=sym), a.palette_help.format(n=i + 1),
                                 a.scope, key.run)
                    for i, (sym, key) in enumerate(zip(symbols, a.keys, strict=False))]
        else:
            out.append(PaletteEntry(a.palette.format(symbol=symbol), a.palette_help, a.scope,
                                    a.keys[0].run))
    return out

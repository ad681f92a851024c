"""Open positions, live: size, entry, mark, liquidation price, margin, unrealized P&L
(green/red) and the distance to liquidation. The row under the cursor is the selection."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

from autotrade_tui.core.account import AccountView, PositionFigures
from autotrade_tui.core.models import Side
from autotrade_tui.tui.format import money, pct, price, qty, short
from autotrade_tui.tui.theme import colour
from autotrade_tui.tui.widgets.table import FreshTable

COLUMNS = ("Symbol", "Side", "Size", "Entry", "Mark", "Liq.", "Margin", "uP&L", "to liq.")


class PositionsTable(FreshTable):
    """One row per position (row key = symbol); rebuilt only when the set of symbols changes."""

    account: reactive[AccountView | None] = reactive(None, always_update=True)
    symbol: reactive[str] = reactive("")

    @dataclass
    class Selected(Message):
        """The user moved the cursor onto a position."""

        symbol: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=0)
        self.show_cursor = False  # until the selected symbol has a row (_follow)

    def on_mount(self) -> None:
        for i, name in enumerate(COLUMNS):
            self.add_column(Text(f" {name}", justify="left" if i < 2 else "right"), key=name)
        self.border_title = "Positions"

    def watch_account(self, acc: AccountView | None) -> None:
        positions = acc.positions if acc else ()
        rows = {p.symbol: self._cells(p) for p in positions}
        if list(rows) != [str(k.value) for k in self.rows]:
            with self.prevent(DataTable.RowHighlighted):
                self.clear()
                for sym, cells in rows.items():
                    self.add_row(*cells, key=sym)
                self._follow(self.symbol)
        else:
            # Every cell but the row key is rewritten: a position flipped LONG → SHORT keeps
            # its row (same symbol) while its side, entry and liquidation all change.
            for sym, cells in rows.items():
                for name, cell in zip(COLUMNS[1:], cells[1:], strict=True):
                    self.update_cell(sym, name, cell, update_width=True)  # a wider P&L
        subtitle = f"{len(rows)} open" if rows else "none open"
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle
        self.set_class(not rows, "-empty")

    def watch_symbol(self, symbol: str) -> None:
        with self.prevent(DataTable.RowHighlighted):
            self._follow(symbol)

    def _follow(self, symbol: str) -> None:
        """The cursor sits on the selected symbol's row, or is hidden when it has none: one
        selection for header, chart, table and keys (a cursor left on another row would
        say `x` closes that one)."""
        held = bool(symbol) and symbol in {k.value for k in self.rows}
        self.show_cursor = held
        if held:
            self.move_cursor(row=self.get_row_index(symbol))

    def action_cursor_down(self) -> None:
        if self._pick_first():
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self._pick_first():
            super().action_cursor_up()

    def _pick_first(self) -> bool:
        """An arrow on a table whose cursor is hidden (the selected symbol has no position)
        selects the first row instead of moving an invisible cursor; True: move as usual."""
        if self.show_cursor or not self.row_count:
            return True
        self.show_cursor = True
        self.move_cursor(row=0)
        self.post_message(self.Selected(str(self.coordinate_to_cell_key((0, 0)).row_key.value)))
        return False

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.has_focus and event.row_key.value:
            self.post_message(self.Selected(str(event.row_key.value)))

    def _cells(self, p: PositionFigures) -> list[Text]:
        good, bad = colour(self.app, "success", "#22c55e"), colour(self.app, "error", "#ef4444")
        warn = colour(self.app, "warning", "#ea7a0c")
        upnl = p.unrealized_pnl
        dist = p.liquidation_distance_pct
        dist_style = ("bold " + bad if dist is not None and dist < 2 else
                      warn if dist is not None and dist < 5 else "")
        side = p.side

        def r(text: str, style: str = "") -> Text:
            return Text(f" {text}", style=style, justify="right")

        return [Text(f" {p.symbol}", style="bold"),
                Text(f" {side}", style=good if side is Side.LONG else bad),
                r(qty(p.quantity)), r(price(p.entry_price)), r(price(p.mark_price)),
                r(price(p.liquidation_price)), r(short(p.margin)),
                r(money(upnl, signed=True), good if upnl > 0 else bad if upnl < 0 else ""),
                r(pct(dist) if dist is not None else "—", dist_style)]

"""Trade history, newest first: opens, adds, closes and liquidations with their P&L, fee
and source (auto, manual, event, guard, liquidation). Trades that come together are one
rebuild (after the messages already waiting), not one each."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

from autotrade_tui.tui.format import money, price, qty, stamp
from autotrade_tui.tui.theme import colour
from autotrade_tui.tui.views import TradeView
from autotrade_tui.tui.widgets.table import FreshTable

KEEP = 500
COLUMNS = ("Time", "Symbol", "Type", "Side", "Amount", "Price", "P&L", "Fee", "By")


class TradeHistory(FreshTable):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", cell_padding=1)
        self.trades: list[TradeView] = []
        self._due = False  # a rebuild is queued (call_later)

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)
        self.border_title = "Trades"

    def load(self, trades: Iterable[TradeView]) -> None:
        """History, newest first."""
        self.trades = (self.trades + list(trades))[:KEEP]
        self._rebuild_soon()

    def add(self, trade: TradeView) -> None:
        self.trades.insert(0, trade)
        del self.trades[KEEP:]
        self._rebuild_soon()

    def _rebuild_soon(self) -> None:
        if not self._due:
            self._due = True
            self.call_later(self._rebuild)

    def _rebuild(self) -> None:
        self._due = False
        row = self.cursor_row
        self.clear()
        self.add_rows(self._cells(t) for t in self.trades)
        if 0 < row < self.row_count:
            self.move_cursor(row=row, animate=False)
        self.border_title = f"Trades ({len(self.trades)})"

    def _cells(self, t: TradeView) -> list[Text]:
        good, bad = colour(self.app, "success", "#22c55e"), colour(self.app, "error", "#ef4444")
        closing = t.order_type in ("CLOSE", "LIQUIDATION")
        net = t.pnl - t.fee
        return [Text(stamp(t.ts)), Text(t.symbol),
                Text(t.order_type, style="bold " + bad if t.order_type == "LIQUIDATION" else ""),
                Text(t.side, style=good if t.side == "LONG" else bad),
                Text(qty(t.amount), justify="right"), Text(price(t.price), justify="right"),
                Text(money(net, signed=True) if closing else "", justify="right",
                     style=good if net > 0 else bad),
                Text(f"{t.fee:,.2f}", justify="right"),
                Text(t.source, style="bold" if t.source == "manual" else "dim")]

"""The Models tab (SPEC §16): each model's shadow ledger beside the real account (the
ensemble): equity and return, trades, win rate, drawdown, direction accuracy, errors, cost,
P&L per dollar of model cost, and the shadow's equity curve drawn in the row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from autotrade_tui.tui.format import money, pct, short
from autotrade_tui.tui.theme import colour

# What matters first comes first (80 columns show Model .. Max DD; the rest scrolls).
COLUMNS = ("Model", "Return", "Curve", "Equity", "Max DD", "Acc 1", "Acc 1h", "Trades", "Win",
           "Err", "Cost", "P&L/$")
BLOCKS = "▁▂▃▄▅▆▇█"
CURVE_WIDTH = 12


def spark(points: Sequence[float], width: int = CURVE_WIDTH) -> str:
    """The last `width` points as block characters, lowest to highest."""
    tail = list(points)[-width:]
    if len(tail) < 2:
        return ""
    lo, hi = min(tail), max(tail)
    if hi - lo <= 1e-9 * max(abs(hi), 1.0):
        return BLOCKS[3] * len(tail)
    return "".join(BLOCKS[round((v - lo) / (hi - lo) * (len(BLOCKS) - 1))] for v in tail)


class ModelScorecard(DataTable[Text]):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", cell_padding=1)
        self.rows_shown: list[dict[str, Any]] = []

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)
        self.border_title = "Models: each one's own answers, traded alone"

    def show(self, rows: Sequence[dict[str, Any]], curves: dict[str, list[float]]) -> None:
        if list(rows) == self.rows_shown and not curves:
            return
        self.rows_shown = list(rows)
        row = self.cursor_row
        self.clear()
        self.add_rows(self._cells(r, curves.get(r["model"], [])) for r in rows)
        if 0 < row < self.row_count:
            self.move_cursor(row=row, animate=False)

    def _cells(self, r: dict[str, Any], curve: list[float]) -> list[Text]:
        good, bad = colour(self.app, "success", "#22c55e"), colour(self.app, "error", "#ef4444")
        ret = r["return_pct"]
        tone = good if ret > 0 else bad if ret < 0 else ""
        per = r.get("pnl_per_dollar")
        name = r["model"].rpartition("/")[2][:22]  # offline/trend-follower → trend-follower
        return [Text(name, style="bold" if r["model"] == "ensemble" else ""),
                Text(pct(ret, signed=True), justify="right", style=tone),
                Text(spark(curve), style=tone),
                Text(short(r["equity"]), justify="right"),
                Text(pct(r["max_drawdown"]), justify="right"),
                Text(pct(r.get("accuracy_1")), justify="right"),
                Text(pct(r.get("accuracy_1h")), justify="right"),
                Text(str(r["trades"]), justify="right"),
                Text(pct(r.get("win_rate")), justify="right"),
                Text(str(r["errors"]), justify="right", style=bad if r["errors"] else ""),
                Text("—" if not r["cost"] else f"${r['cost']:.4f}", justify="right"),
                Text("—" if per is None else money(per, signed=True), justify="right")]

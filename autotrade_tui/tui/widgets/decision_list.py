"""The decisions, newest first: both models' votes, the result, whether it was executed and
who asked (auto, manual, event). Highlighting a row shows it in the detail pane."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable

from autotrade_tui.tui.format import stamp
from autotrade_tui.tui.theme import colour
from autotrade_tui.tui.views import DecisionView

KEEP = 300
COLUMNS = ("Time", "Symbol", "Model 1", "Model 2", "Vote", "Conf", "Exec", "By")


def key_of(d: DecisionView) -> str:
    return str(d.id) if d.id is not None else f"{d.ts}-{d.symbol}"


class DecisionList(DataTable[Text]):
    @dataclass
    class Chosen(Message):
        """The highlighted decision changed (None: there are none)."""

        decision: DecisionView | None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", cell_padding=1)
        self.decisions: list[DecisionView] = []

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)
        self.border_title = "Decisions"

    def load(self, decisions: Iterable[DecisionView]) -> None:
        """History, newest first."""
        known = {key_of(d) for d in self.decisions}
        self.decisions += [d for d in decisions if key_of(d) not in known]
        self._rebuild()

    def add(self, decision: DecisionView) -> None:
        self.decisions.append(decision)
        self._rebuild()

    def _rebuild(self) -> None:
        # Newest first; one cycle's decisions (same time) in symbol order, however they
        # arrived (they are decided concurrently).
        self.decisions.sort(key=lambda d: (-d.ts, d.symbol))
        del self.decisions[KEEP:]
        keep = None
        if self.row_count and self.cursor_row > 0:  # at the top, follow the newest
            keep = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        with self.prevent(DataTable.RowHighlighted):
            self.clear()
            for d in self.decisions:
                self.add_row(*self._cells(d), key=key_of(d))
            if keep is not None and keep in {k.value for k in self.rows}:
                self.move_cursor(row=self.get_row_index(keep), animate=False)
        self.border_title = f"Decisions ({len(self.decisions)})"
        self._announce()

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._announce()

    def _announce(self) -> None:
        row = self.cursor_row if self.row_count else -1
        self.post_message(self.Chosen(self.decisions[row] if 0 <= row < len(self.decisions)
                                      else None))

    def _cells(self, d: DecisionView) -> list[Text]:
        tones = {"BUY": colour(self.app, "success", "#22c55e"),
                 "SELL": colour(self.app, "error", "#ef4444"), "HOLD": ""}

        def vote(decision: str | None) -> Text:
            return Text(decision or "ERR", style=tones.get(decision or "", "bold red"))

        m1, m2 = d.models
        return [Text(stamp(d.ts)[6:]), Text(d.symbol), vote(m1.decision), vote(m2.decision),
                Text(d.final, style="bold " + tones.get(d.final, "")),
                Text(f"{d.confidence:.2f}", justify="right"),
                Text("yes" if d.executed else "no",
                     style="bold " + tones["BUY"] if d.executed else "dim"),
                Text(d.source, style="dim" if d.source == "auto" else "bold")]

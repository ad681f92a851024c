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
from autotrade_tui.tui.widgets.table import FreshTable

KEEP = 300
COLUMNS = ("Time", "Symbol", "Model 1", "Model 2", "Vote", "Conf", "Exec", "By")
NAME_WIDTH = 14  # a model's column header: its short name, cut


def short_name(name: str) -> str:
    """`deepseek/deepseek-chat-v3.1` → `deepseek-chat-…`: the part after the provider, cut."""
    tail = name.rsplit("/", 1)[-1] or name
    return tail if len(tail) <= NAME_WIDTH else tail[: NAME_WIDTH - 1] + "…"


def shown_confidence(d: DecisionView) -> float | None:
    """The confidence of the result shown: a BUY/SELL's score; for a HOLD, the HOLD votes'
    (both: their average), never the score of the BUY or SELL that missed; None when no
    model said HOLD (the HOLD came from the rules, not from a confidence)."""
    if d.final != "HOLD":
        return d.confidence
    holds = [m.confidence for m in d.models if m.decision == "HOLD"]
    return sum(holds) / len(holds) if holds else None


def key_of(d: DecisionView) -> str:
    return str(d.id) if d.id is not None else f"{d.ts}-{d.symbol}"


class DecisionList(FreshTable):
    @dataclass
    class Chosen(Message):
        """The highlighted decision changed (None: there are none)."""

        decision: DecisionView | None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", cell_padding=1)
        self.decisions: list[DecisionView] = []
        self._stale = False  # decisions came while hidden: the rows wait for on_show

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
        self.border_title = f"Decisions ({len(self.decisions)})"
        if not self.is_on_screen:  # a hidden tab: rows are built when it shows (on_show)
            self._stale = True  # (rebuilding 300 rows a cycle cost the engine its pace)
            return
        self._stale = False
        keep = None
        if self.row_count and self.cursor_row > 0:  # at the top, follow the newest
            keep = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        with self.prevent(DataTable.RowHighlighted):
            self.clear()
            for d in self.decisions:
                self.add_row(*self._cells(d), key=key_of(d))
            if keep is not None and keep in {k.value for k in self.rows}:
                self.move_cursor(row=self.get_row_index(keep), animate=False)
        if self.decisions:
            self._name_models(self.decisions[0])
        self._announce()

    def on_show(self) -> None:
        if self._stale:
            self._rebuild()

    def _name_models(self, d: DecisionView) -> None:
        """Headers say which model voted (the newest decision's names), not "Model 1"."""
        for key, model in zip(("Model 1", "Model 2"), d.models, strict=True):
            column = self.columns.get(key)  # type: ignore[call-overload]
            label = short_name(model.name)
            if column is not None and column.label.plain != label:
                column.label = Text(label)
                column.content_width = max(column.content_width, len(label))
                self._require_update_dimensions = True
                self.refresh()

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
                Text(f"{conf:.2f}" if (conf := shown_confidence(d)) is not None else "—",
                     justify="right"),
                Text("yes" if d.executed else "no",
                     style="bold " + tones["BUY"] if d.executed else "dim"),
                Text(d.source, style="dim" if d.source == "auto" else "bold")]

"""The confirmation every manual order goes through: it says exactly what will happen;
`y` or Enter confirms, `n` or Esc cancels."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from autotrade_tui.core.text import clean, one_line
from autotrade_tui.tui.actions import bindings


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = bindings("dialog")  # y Enter / n Esc

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text, self.text = one_line(title), clean(text)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.text, id="question", markup=False)
            yield Static(Content.assemble(("y", "bold reverse $primary"), (" / ", ""),
                                          ("Enter", "bold reverse $primary"), " confirm     ",
                                          ("n", "bold reverse $foreground 60%"), (" / ", ""),
                                          ("Esc", "bold reverse $foreground 60%"), " cancel"),
                         id="answers")

    def on_mount(self) -> None:
        self.query_one("#dialog").border_title = self.title_text

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

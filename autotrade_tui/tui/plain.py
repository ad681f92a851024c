"""Foreign text never reaches the terminal raw (core.text): every toast and the exit message
of the cockpit are plain, cleaned text (a notice may quote an exchange, a server or a model)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import App

from autotrade_tui.core.text import clean, one_line

if TYPE_CHECKING:
    from rich.console import RenderableType
    from textual.notifications import SeverityLevel

NOTICE_LIMIT = 1_000  # a toast is a few lines, not a dump


class PlainText(App[None]):
    """The app's toasts and exit message, cleaned (a mixin of the app)."""

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every toast (screens' and panes' `notify` come here too) as plain, cleaned text.
        `markup` is ignored: never markup."""
        super().notify(clean(message, NOTICE_LIMIT), title=one_line(title), severity=severity,
                       timeout=timeout, markup=False)

    def exit(self, result: None = None, return_code: int = 0,
             message: RenderableType | None = None) -> None:
        """A text `message` (printed once the terminal is back; it may quote an error from
        outside) is printed as plain, cleaned text, never as markup."""
        if isinstance(message, str):
            message = Text(clean(message, NOTICE_LIMIT))
        super().exit(result, return_code, message)

"""The market event feed, newest first, coloured by severity (CRITICAL red, HIGH orange,
MEDIUM dim), with each event's suggested action. Events that come together are drawn once
(after the messages already waiting), and a hidden feed draws when it shows (SPEC §11: the
cockpit never starves the engine)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from autotrade_tui.tui.format import stamp
from autotrade_tui.tui.views import EventView

KEEP = 300
SEVERITY_STYLE = {"CRITICAL": "bold $error", "HIGH": "bold $warning", "MEDIUM": "$text-muted"}


def hanging(e: EventView, detail: bool, width: int) -> Content:
    """`event_line` wrapped to `width` with a hanging indent: continuation lines start under
    the text, not under the time (the time column stays clear to scan)."""
    line = event_line(e, detail)
    indent = len(stamp(e.ts)[6:]) + 1
    if width <= indent + 10 or line.cell_length <= width:
        return line
    head, body = line[:indent], line[indent:]
    rows = body.wrap(width - indent)
    return Content("\n").join([head + rows[0], *(Content(" " * indent) + r for r in rows[1:])])


def event_line(e: EventView, detail: bool = True) -> Content:
    dim = e.severity == "MEDIUM"
    body = "$text-muted" if dim else ""
    text = e.description  # descriptions name their symbol first: shown once, in its column
    text = text[len(e.symbol):].lstrip() if text.startswith(e.symbol) else text
    parts: list[str | tuple[str, str]] = [
        (stamp(e.ts)[6:], "$text-muted"), " ", (f"{e.severity:<8}", SEVERITY_STYLE.get(
            e.severity, "")), " ", (e.symbol, "bold" if not dim else body), " ",
        (e.event_type, body)]
    if e.count > 1 and e.since is not None:  # a lasting condition, updated in place
        parts += [" ", (f"×{e.count} since {stamp(e.since)[6:11]}", "$text-muted")]
    parts += ["  ", (text, body)]
    if detail and e.suggested_action:
        parts += ["  → ", (e.suggested_action, "$text-muted italic")]
    return Content.assemble(*parts)


class EventFeed(VerticalScroll):
    """Holds the newest `KEEP` events; `detail=False` leaves out the suggested actions."""

    can_focus = True

    def __init__(self, *, detail: bool = True, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.detail = detail
        self.events: list[EventView] = []
        self._due = False  # a redraw is queued (call_later) or waits for on_show

    def compose(self) -> ComposeResult:
        yield Static("no market events yet", classes="lines")

    def load(self, events: Iterable[EventView]) -> None:
        """History, newest first (what the database held at start)."""
        self.events += list(events)
        self._keep()
        self._show_soon()

    def add(self, event: EventView) -> None:
        """A new line, or the update of the line a lasting condition was raised on (same
        time, symbol and type: SPEC §9, news once)."""
        same = next((i for i, e in enumerate(self.events) if (e.ts, e.symbol, e.event_type)
                     == (event.ts, event.symbol, event.event_type)), None)
        if same is None:
            self.events.append(event)
        else:
            self.events[same] = event
        self._keep()
        self._show_soon()

    def _keep(self) -> None:
        self.events.sort(key=lambda e: (-e.ts, e.symbol, e.event_type))  # newest first, stable
        del self.events[KEEP:]

    def _show_soon(self) -> None:
        """One redraw for the events that came together (300 wrapped lines rebuilt per event
        cost the engine its pace at speed); none while hidden."""
        if not self._due:
            self._due = True
            self.call_later(self._show_if_seen)

    def _show_if_seen(self) -> None:
        if self._due and self.is_on_screen:  # (drawn meanwhile: on_show, on_resize)
            self._show()  # else it stays due: on_show draws

    def on_show(self) -> None:
        if self._due:
            self._show()

    def _show(self) -> None:
        self._due = False
        lines = self.query_one(".lines", Static)
        self.border_title = f"Events ({len(self.events)})" if self.events else "Events"
        if self.events:
            width = self.scrollable_content_region.width
            lines.update(Content("\n").join(hanging(e, self.detail, width)
                                             for e in self.events))

    def on_resize(self) -> None:
        if self.events:
            self._show()  # the hanging indent follows the width

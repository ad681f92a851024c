"""A pane that shows a one-line placeholder until it has something to plot, then a plotext
plot; textual-plotext (and plotext) are imported only then, off the event loop. Data that
moves marks the pane dirty: it is redrawn at most every `REFRESH_S` seconds, and only while it
is on screen (a hidden tab's chart is drawn when it shows: plotting thousands of points every
2 s for nobody cost the engine CPU, and the cockpit's first screen the plot of a year)."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from textual.app import ComposeResult
from textual.containers import Container
from textual.content import Content
from textual.widgets import Static

from autotrade_tui.core.text import one_line

REFRESH_S = 2.0


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """`#eab308` → (234, 179, 8), the form plotext takes."""
    h = hex_colour.lstrip("#")[:6]
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


class PlotPane(Container):
    """Base of the chart panes: `await self.plot()` gives the (lazily mounted) PlotextPlot;
    `redraw()` draws the pane again (a worker that clears `_dirty`)."""

    PLACEHOLDER = "waiting for data…"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._plot: Any = None
        self._dirty = False
        self.add_class("-placeholder")

    def compose(self) -> ComposeResult:
        yield Static(self.PLACEHOLDER, classes="placeholder")

    def on_mount(self) -> None:
        self.set_interval(REFRESH_S, self._refresh_if_dirty, name=f"{self.id} refresh")

    def _refresh_if_dirty(self) -> None:
        if self._dirty and self.is_on_screen:
            self.redraw()

    def on_show(self) -> None:
        if self._dirty:
            self.redraw()

    def redraw(self) -> object:
        raise NotImplementedError

    def say(self, text: str) -> None:
        """Show `text` instead of the plot (no data, an error: plain text, one clean line)."""
        self.query_one(".placeholder", Static).update(Content(one_line(text)))
        self.set_class(True, "-placeholder")

    async def plot(self) -> Any:
        if self._plot is None:
            module = await asyncio.to_thread(importlib.import_module, "textual_plotext")
            self._plot = module.PlotextPlot(classes="plot")
            await self.mount(self._plot)
        self.set_class(False, "-placeholder")
        return self._plot

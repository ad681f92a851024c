"""Candlesticks of the selected symbol and timeframe, with the open position's entry and
liquidation prices as horizontal lines; candles come from the feed in a worker, refreshed
at most every couple of seconds while prices move."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual import work
from textual.reactive import reactive

from autotrade_tui.core.account import AccountView
from autotrade_tui.tui.format import nice_ticks, price, tick_label, time_labels
from autotrade_tui.tui.theme import colour
from autotrade_tui.tui.widgets.plot_pane import PlotPane, rgb

Fetch = Callable[[str, str, int], Awaitable[list[Any]]]
MARGIN = 0.25  # a line further than this share of the candles' range is only named
NARROW = 100  # a chart narrower than this draws fewer, wider candles (80x24: bodies 2 wide)
FRAME = 2  # plotext's frame: one column left (the y axis) and one right


class CandleChart(PlotPane):
    PLACEHOLDER = "chart: waiting for market data…"

    symbol: reactive[str] = reactive("")
    timeframe: reactive[str] = reactive("5m")
    account: reactive[AccountView | None] = reactive(None, always_update=True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.fetch: Fetch | None = None
        self.title = ""
        self._lines: tuple[float | None, float | None] = (None, None)

    def attach(self, fetch: Fetch) -> None:
        """Where candles come from (the runtime's feed); draws at once."""
        self.fetch = fetch
        self.redraw()

    def prices_moved(self) -> None:
        self._dirty = True

    def watch_symbol(self) -> None:
        self.redraw()

    def watch_timeframe(self) -> None:
        self.redraw()

    def watch_account(self, acc: AccountView | None) -> None:
        lines = self._position_lines(acc)
        if lines != self._lines:
            self._lines = lines
            self.redraw()

    def _position_lines(self, acc: AccountView | None) -> tuple[float | None, float | None]:
        pos = acc.position(self.symbol) if acc else None
        return (pos.entry_price, pos.liquidation_price) if pos else (None, None)

    def on_resize(self) -> None:
        self.redraw()

    def _cells(self) -> int:
        """Columns a candle takes, its gap included: its body is one less."""
        return 3 if (self.size.width or self.app.size.width) < NARROW else 2

    def _candle_count(self) -> int:
        width = self.size.width or self.app.size.width
        return max(10, min(120, (width - 10) // self._cells()))

    @work(exclusive=True, group="chart", exit_on_error=False, description="candles")
    async def redraw(self) -> None:
        if self.fetch is None or not self.symbol or not self.is_mounted:
            return
        self._dirty = False
        symbol, tf = self.symbol, self.timeframe
        self.title = f"{symbol} {tf}"
        try:
            candles = await self.fetch(symbol, tf, self._candle_count())
        except Exception as exc:  # an adapter error: say it in the pane, keep the app
            self.say(f"{symbol} {tf}: no candles ({exc})")
            return
        if not candles:
            self.say(f"{symbol} {tf}: no candles yet")
            return
        self._draw(await self.plot(), candles, symbol, tf)

    def _draw(self, widget: Any, candles: list[Any], symbol: str, tf: str) -> None:
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        # One x unit = one column of plotext's canvas (its width less the frame and the
        # price labels), so every body is as wide as the next and none touches the frame.
        width = widget.size.width or self.size.width or self.app.size.width
        rows = (widget.size.height or self.size.height) - 4  # less title, frame and times
        count = max(3, min(7, rows // 2 + 2))  # a price label every other row or so
        cells = self._cells()
        for _ in range(2):  # the labels' width decides how many candles fit, and they the labels
            lo, hi = min(c.low for c in candles), max(c.high for c in candles)
            # round prices with separators, like every other number on screen (SPEC §11)
            values = nice_ticks(lo, hi, count)
            labels = [tick_label(v, values) for v in values]
            canvas = width - FRAME - max((len(label) for label in labels), default=0)
            candles = candles[-max(1, (canvas - 1) // cells):]
        plt.yticks(values, labels)
        left = max(1, canvas - cells * len(candles))  # a free column at either edge
        wicks = self._draw_candles(plt, candles, left, cells)
        plt.xlim(0, max(canvas - 1, 1))
        notes = self._draw_lines(plt, lo, hi)
        plt.title(f"{symbol} {tf} · {price(candles[-1].close)}{notes}")
        step = max(1, len(candles) // 4)
        ticks = list(range(0, len(candles), step))
        span = candles[-1].ts - candles[0].ts
        plt.xticks([wicks[i] for i in ticks], time_labels([candles[i].ts for i in ticks], span))
        widget.refresh()

    def _draw_candles(self, plt: Any, candles: list[Any], left: int, cells: int) -> list[int]:
        """Each candle from column `left` on, `cells` columns apart: a wick from low to high
        and a body `cells - 1` columns wide from open to close (up: green, down: red). The
        wicks' columns."""
        up = rgb(colour(self.app, "success", "#22c55e"))
        down = rgb(colour(self.app, "error", "#ef4444"))
        body = max(1, cells - 1)
        wicks: list[int] = []
        for i, c in enumerate(candles):
            x = left + i * cells
            tone = up if c.close > c.open else down
            wick = x + (body - 1) // 2
            wicks.append(wick)
            plt.plot([wick, wick], [c.low, c.high], marker="│", color=tone)
            low, high = min(c.open, c.close), max(c.open, c.close)
            for col in range(x, x + body):
                plt.plot([col, col], [low, high], marker="sd", color=tone)
        return wicks

    def _draw_lines(self, plt: Any, lo: float, hi: float) -> str:
        """Entry and liquidation lines; a line far off the candles is named in the title
        instead, so the candles keep their height."""
        span = max(hi - lo, hi * 1e-6) * MARGIN
        notes = ""
        gold, red = colour(self.app, "primary", "#eab308"), colour(self.app, "error", "#ef4444")
        for name, value, tone in (("entry", self._lines[0], gold), ("liq", self._lines[1], red)):
            if value is None:
                continue
            if lo - span <= value <= hi + span:
                plt.hline(value, rgb(tone))
                notes += f" · {name} {price(value)}"
            else:
                notes += f" · {name} {price(value)} (off chart)"
        return notes

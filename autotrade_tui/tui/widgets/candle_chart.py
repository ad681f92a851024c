"""Candlesticks of the selected symbol and timeframe, with the open position's entry and
liquidation prices as horizontal lines; candles come from the feed in a worker, refreshed
at most every couple of seconds while prices move."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual import work
from textual.reactive import reactive

from autotrade_tui.tui.format import nice_ticks, price, tick_label, time_labels
from autotrade_tui.tui.theme import colour
from autotrade_tui.tui.widgets.plot_pane import PlotPane, rgb

Fetch = Callable[[str, str, int], Awaitable[list[Any]]]
MARGIN = 0.25  # a line further than this share of the candles' range is only named


class CandleChart(PlotPane):
    PLACEHOLDER = "chart: waiting for market data…"

    symbol: reactive[str] = reactive("")
    timeframe: reactive[str] = reactive("5m")
    account: reactive[dict[str, Any] | None] = reactive(None, always_update=True)

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

    def watch_account(self, acc: dict[str, Any] | None) -> None:
        lines = self._position_lines(acc)
        if lines != self._lines:
            self._lines = lines
            self.redraw()

    def _position_lines(self, acc: dict[str, Any] | None) -> tuple[float | None, float | None]:
        for p in (acc or {}).get("positions", []):
            if p["symbol"] == self.symbol:
                return p["entry_price"], p["liquidation_price"]
        return None, None

    def on_resize(self) -> None:
        self.redraw()

    def _candle_count(self) -> int:
        width = self.size.width or self.app.size.width
        return max(20, min(120, (width - 10) // 2))

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
        xs = list(range(len(candles)))
        data = {"Open": [c.open for c in candles], "Close": [c.close for c in candles],
                "High": [c.high for c in candles], "Low": [c.low for c in candles]}
        up, down = colour(self.app, "success", "#22c55e"), colour(self.app, "error", "#ef4444")
        plt.candlestick(xs, data, colors=[rgb(up), rgb(down)])
        lo, hi = min(data["Low"]), max(data["High"])
        notes = self._draw_lines(plt, lo, hi)
        last = candles[-1].close
        plt.title(f"{symbol} {tf} · {price(last)}{notes}")
        step = max(1, len(candles) // 4)
        ticks = xs[::step]
        span = candles[-1].ts - candles[0].ts
        plt.xticks(ticks, time_labels([candles[i].ts for i in ticks], span))
        # round prices with separators, like every other number on screen (SPEC §11)
        values = nice_ticks(lo, hi, 6)
        plt.yticks(values, [tick_label(v, values) for v in values])
        widget.refresh()

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

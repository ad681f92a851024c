"""The equity curve: the account snapshots from the database, then live points as the
account is marked (one point per minute of runtime clock; the newest is replaced meanwhile)."""

from __future__ import annotations

from textual import work

from autotrade_tui.tui.format import money, nice_ticks, pct, tick_label, time_labels
from autotrade_tui.tui.theme import colour
from autotrade_tui.tui.widgets.plot_pane import PlotPane, rgb

LIVE_STEP_S = 60.0
MAX_POINTS = 3000


class EquityChart(PlotPane):
    PLACEHOLDER = "equity curve: no account snapshots yet"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.points: list[tuple[float, float]] = []
        self._tail_live = False
        self._fixed_ts = float("-inf")

    def load(self, points: list[tuple[float, float]]) -> None:
        """History (oldest first); live points already shown stay after it."""
        live = [p for p in self.points if not points or p[0] > points[-1][0]]
        self.points = (list(points) + live)[-MAX_POINTS:]
        if points:
            self._fixed_ts = max(self._fixed_ts, points[-1][0])
        self._dirty = True
        if self.is_on_screen:  # else when its tab shows (PlotPane.on_show)
            self.redraw()

    def add(self, ts: float, equity: float) -> None:
        """A live point: it replaces the previous live one until a minute has passed."""
        if self.points and self._tail_live:
            self.points[-1] = (ts, equity)
        else:
            self.points.append((ts, equity))
            del self.points[:-MAX_POINTS]
            self._tail_live = True
        if ts - self._fixed_ts >= LIVE_STEP_S:
            self._fixed_ts, self._tail_live = ts, False
        self._dirty = True

    @work(exclusive=True, group="equity", exit_on_error=False, description="equity curve")
    async def redraw(self) -> None:
        self._dirty = False
        if len(self.points) < 2:
            self.say(self.PLACEHOLDER if not self.points else
                     f"equity {money(self.points[-1][1])}: the curve starts with the next point")
            return
        widget = await self.plot()
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        xs = list(range(len(self.points)))
        ys = [p[1] for p in self.points]
        plt.plot(xs, ys, color=rgb(colour(self.app, "primary", "#eab308")), marker="braille")
        first, last = ys[0], ys[-1]
        change = (last / first - 1.0) * 100.0 if first else 0.0
        plt.title(f"equity {money(last)} ({pct(change, signed=True)} over the curve)")
        step = max(1, len(xs) // 4)
        span = self.points[-1][0] - self.points[0][0]
        plt.xticks(xs[::step], time_labels([self.points[i][0] for i in xs[::step]], span))
        values = nice_ticks(min(ys), max(ys), 6)
        plt.yticks(values, [tick_label(v, values) for v in values])
        widget.refresh()

"""Performance measures shared by report, TUI and backtest."""

from __future__ import annotations

from collections.abc import Iterable


def max_drawdown_pct(equity: Iterable[float]) -> float:
    """Largest peak-to-trough fall of an equity series, in percent of the peak (0 if none)."""
    peak, worst = 0.0, 0.0
    for eq in equity:
        peak, worst = deepen(peak, worst, eq)
    return worst


def deepen(peak: float, worst: float, equity: float) -> tuple[float, float]:
    """One step of `max_drawdown_pct` for a running series: the new (peak, deepest fall %)."""
    if equity > peak:
        return equity, worst
    if peak > 0:
        dd = (peak - equity) / peak * 100.0
        if dd > worst:
            return peak, dd
    return peak, worst

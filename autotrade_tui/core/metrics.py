"""Performance measures shared by report, TUI and backtest."""

from __future__ import annotations

from collections.abc import Iterable


def max_drawdown_pct(equity: Iterable[float]) -> float:
    """Largest peak-to-trough fall of an equity series, in percent of the peak (0 if none)."""
    peak, worst = 0.0, 0.0
    for eq in equity:
        peak = max(peak, eq)
        if peak > 0:
            worst = max(worst, (peak - eq) / peak * 100.0)
    return worst

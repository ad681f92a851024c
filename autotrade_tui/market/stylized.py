"""The stylized facts of a price series that the realistic simulated market is calibrated to
(SPEC §5.2), measured the same way on real candles and on generated ones (the sim's test,
`benchmarks/sim_stats.py`)."""

from __future__ import annotations

import numpy as np

BARS_PER_DAY_5M = 288
EPISODE_GAP = 12  # bars: ≥ 5 % windows closer than an hour are one episode


def stylized_facts(close: np.ndarray, high: np.ndarray, low: np.ndarray,
                   bars_per_day: int = BARS_PER_DAY_5M) -> dict[str, float]:
    """Of 5-minute bars: daily log-return σ (%), excess kurtosis of the bar returns, the
    autocorrelation of absolute returns at 1 bar / 1 hour / 1 day (clustering), the lag-1
    autocorrelation of returns (a built-in retrace would show here), and the episodes a
    month (30 days) of a ≥ 5 % high/low range within 15 minutes."""
    r = np.diff(np.log(close))
    daily = np.diff(np.log(close[::bars_per_day]))
    z = (r - r.mean()) / r.std()
    a = np.abs(r)

    def ac(x: np.ndarray, lag: int) -> float:
        return float(np.corrcoef(x[:-lag], x[lag:])[0, 1])

    hh = np.maximum(np.maximum(high[2:], high[1:-1]), high[:-2])
    ll = np.minimum(np.minimum(low[2:], low[1:-1]), low[:-2])
    hits = np.flatnonzero(hh / ll - 1 >= 0.05)
    episodes = int(np.count_nonzero(np.diff(hits) > EPISODE_GAP)) + (1 if len(hits) else 0)
    days = len(close) / bars_per_day
    hour = bars_per_day // 24
    return {"daily_vol_pct": float(daily.std() * 100), "kurtosis": float(np.mean(z**4) - 3),
            "abs_ac_1": ac(a, 1), "abs_ac_1h": ac(a, hour), "abs_ac_1d": ac(a, bars_per_day),
            "ac_1": ac(r, 1), "moves_5pct_15m_per_month": episodes / days * 30}

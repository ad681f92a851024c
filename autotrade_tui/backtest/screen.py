"""Where the window's event rules may fire, screened once over a whole series (a backtest).

The monitor's window (core.events.CandleWindow) is exact and costs ~15 µs a bar to read; over
a year of candles most bars raise nothing. This screen computes, with numpy over the series,
the same measures the window gives at each bar's close (flash moves over the monitor's
windows, the volume ratio, short/long ATR) and marks the bars where one comes within a hair
(1e-6 relative) of its lowest threshold. Only those bars are read from the window; at the
others the rules reading it cannot fire, so the detector gets the price alone (a position's
liquidation risk). The screen only chooses where to look: every event comes from the window and
the detector, as live. Bars within a day after a hole are always looked at (the window then
holds an empty bar for the hole, which the sums here leave out). A backtest passes the window's
own volume ratio and ATR ratio at every bar (`core.window_series`, exact) and only the flash
moves are measured here; the sums here serve bars too irregular for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autotrade_tui.core.window_series import wilder_atr

MARGIN = 1e-6  # far above the sums' rounding (~1e-13), far below any threshold's meaning
DAY = 86_400.0


def screen(ts: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
           volume: np.ndarray, bar: float, first: int, monitor: Any,
           readings: tuple[np.ndarray, np.ndarray] | None = None) -> list[bool]:
    """Per bar: may a window rule fire at its close? `first`: the bar the monitor's window
    first saw as newest (its history starts `monitor.history_bars` before). `readings`: the
    window's own volume ratio and short/long ATR after each bar from there (NaN: none), as
    `core.window_series.WindowSeries` gives them, exact: screened instead of the sums here."""
    n = len(ts)
    flag = np.zeros(n, dtype=bool)
    p0 = max(0, first + 1 - monitor.history_bars)
    sl = slice(p0, n)
    t, h, lo, c, v = ts[sl], high[sl], low[sl], close[sl], volume[sl]
    win = next(iter(monitor.windows.values()), None)
    minimum = win.min_baseline_bars if win is not None else 60
    period = win.atr_period if win is not None else 14
    cap = max(1, int(DAY // bar))
    th = monitor.detector.thresholds
    out = _flash(t, c, monitor.flash_windows, th.flash_move_percent)
    if readings is None:
        out |= _volume(t, v, cap, minimum, th.volume_spike_ratio, th.volume_dry_ratio)
        out |= _volatility(t, h, lo, c, cap, minimum, period, th.volatility_spike_ratio)
    else:  # (NaN compares false: no reading, nothing to fire)
        ratio, atr = readings
        out |= ((ratio >= th.volume_spike_ratio * (1 - MARGIN))
                | (ratio <= th.volume_dry_ratio * (1 + MARGIN)))
        out |= atr >= th.volatility_spike_ratio * (1 - MARGIN)
    out |= _after_holes(t, bar, first - p0)
    flag[sl] = out
    return flag.tolist()


def _flash(t: np.ndarray, c: np.ndarray, windows: tuple[int, ...], pct: float) -> np.ndarray:
    out = np.zeros(len(t), dtype=bool)
    for minutes in windows:
        i = np.searchsorted(t, t - minutes * 60.0, side="right") - 1
        ok = i >= 0
        then = c[np.maximum(i, 0)]
        out |= ok & (np.abs(c / then - 1.0) * 100.0 >= pct * (1 - MARGIN))
    return out


def _volume(t: np.ndarray, v: np.ndarray, cap: int, minimum: int, spike: float,
            dry: float) -> np.ndarray:
    """Volume of the bar / mean of the day's bars before it (the window's baseline)."""
    k = np.arange(len(t))
    fv = np.maximum(np.searchsorted(t, t - DAY, side="left"), k - cap)
    count = k - fv
    sums = np.concatenate(([0.0], np.cumsum(v)))
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = (sums[k] - sums[fv]) / count
        ratio = v / avg
    ok = (count >= minimum) & (avg > 0)
    return ok & ((ratio >= spike * (1 - MARGIN)) | (ratio <= dry * (1 + MARGIN)))


def _volatility(t: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, cap: int,
                minimum: int, period: int, ratio_min: float) -> np.ndarray:
    """Wilder ATR(period) / the day's mean true range, as the window computes them."""
    prev = np.concatenate(([np.nan], c[:-1]))
    tr = np.fmax(h - lo, np.fmax(np.abs(h - prev), np.abs(lo - prev)))  # fmax: NaN-free first
    atr = np.asarray(wilder_atr(tr.tolist(), period))
    k = np.arange(len(t))
    ft = np.maximum(np.searchsorted(t, t - DAY, side="right"), k + 1 - cap)
    count = k + 1 - ft
    sums = np.concatenate(([0.0], np.cumsum(tr)))
    with np.errstate(divide="ignore", invalid="ignore"):
        long = (sums[k + 1] - sums[ft]) / count
        ratio = atr / long
    ok = (count >= minimum) & (k + 1 >= period) & (long > 0)
    return ok & (ratio >= ratio_min * (1 - MARGIN))


def _after_holes(t: np.ndarray, bar: float, first: int) -> np.ndarray:
    """Bars within a day (and two bars) after a hole the window saw being made."""
    out = np.zeros(len(t), dtype=bool)
    steps = np.diff(t)
    holes = np.flatnonzero(steps != bar)
    holes = holes[holes >= first]
    for i in holes.tolist():
        out[i + 1:np.searchsorted(t, t[i] + DAY + 3 * bar, side="right")] = True
    return out


__all__ = ["screen"]

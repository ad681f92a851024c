"""Number and time formatting shared by the panes (plain functions, no Textual)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

MINUS = "−"


def price(value: float | None) -> str:
    """A price with as many decimals as its size needs: 67,210.52 · 152.310 · 0.51234."""
    if value is None or not math.isfinite(value):
        return "—"
    a = abs(value)
    digits = 2 if a >= 1000 else 3 if a >= 10 else 4 if a >= 1 else 5
    return f"{value:,.{digits}f}"


def money(value: float | None, signed: bool = False) -> str:
    """Two decimals with thousands separators; `signed` adds + and a real minus sign."""
    if value is None or not math.isfinite(value):
        return "—"
    if signed:
        text = f"{abs(value):,.2f}"
        return (MINUS if value < 0 else "+") + text
    return f"{value:,.2f}"


def short(value: float, signed: bool = False) -> str:
    """Compact money for tight spaces: 950.20 · 1.23k · 12.3k · 123k · 1.25M."""
    a = abs(value)
    text = (f"{a / 1e6:.2f}M" if a >= 1e6 else f"{a / 1e3:.0f}k" if a >= 1e5
            else f"{a / 1e3:.1f}k" if a >= 1e4 else f"{a / 1e3:.2f}k" if a >= 1e3
            else f"{a:.2f}")
    if value < 0:
        return MINUS + text
    return ("+" if signed else "") + text


def pct(value: float | None, signed: bool = False, compact: bool = False) -> str:
    """12.5 % · signed: +0.42 % / −1.30 % · compact: no space before the sign %."""
    if value is None or not math.isfinite(value):
        return "—"
    unit = "%" if compact else " %"
    if signed:
        return (MINUS if value < 0 else "+") + f"{abs(value):.2f}{unit}"
    return f"{value:.1f}{unit}"


def qty(value: float) -> str:
    """A base-currency quantity with 4–6 significant digits."""
    return f"{value:.6g}" if abs(value) < 1000 else f"{value:,.2f}"


def clock(ts: float, seconds: bool = True) -> str:
    """Clock time (UTC) of an epoch-seconds timestamp."""
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S" if seconds else "%H:%M")


def stamp(ts: float) -> str:
    """Date and time (UTC) for lists: 06-15 14:05:20."""
    return datetime.fromtimestamp(ts, UTC).strftime("%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    """4:05 · 1h02m · 2d03h (never negative)."""
    s = max(0, int(seconds))
    if s < 3600:
        return f"{s // 60}:{s % 60:02d}"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round values (steps of 1, 2, 2.5 or 5 × 10^k) inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def tick_label(value: float, ticks: list[float]) -> str:
    """A tick as the axis needs it: thousands separators, as many decimals as the step
    between ticks has, the typographic minus (84,600 · 84,650 · 0.0525 · −1,200)."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    digits = next(d for d in range(12) if abs(round(step, d) - step) <= step * 1e-6)
    text = f"{abs(value):,.{digits}f}"
    return (MINUS + text) if value < 0 and text.strip("0.,") else text


def time_labels(stamps: list[float], span: float) -> list[str]:
    """Labels of a time axis: dates when it is longer than a day (06-14 15:00, or 06-14 for
    daily bars), clock times within a day."""
    if span >= 7 * 86400:
        return [stamp(ts)[:5] for ts in stamps]
    if span > 86400:
        return [stamp(ts)[:11] for ts in stamps]
    return [stamp(ts)[6:11] for ts in stamps]

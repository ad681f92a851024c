"""A CandleWindow's readings over a whole series at once (a backtest, SPEC §9).

A backtest knows its bars in advance and reads its monitor's window at a few of them only
(where backtest/screen.py finds that a rule may fire), yet feeding the window cost ~1 µs at
every bar. `WindowSeries` computes, with numpy over the series, what the window fed bar by bar
holds after each bar is sealed: the true ranges, Wilder's ATR and the two running sums with
their evictions and resyncs, by the same float operations in the same order as
`CandleWindow._seal_run`, so every reading is bit-identical (tests/test_window_series.py
compares it with a window fed bar by bar). The sums stay exact because `np.cumsum` adds in
order (unlike `np.sum`, pairwise) and a resync is Python's `sum` over the same slice, as the
window does it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence

import numpy as np

from autotrade_tui.core.events import CandleWindow, SymbolSnapshot, bar_label

Column = Sequence[float] | np.ndarray  # a series: a list, or the backtest's arrays


class WindowSeries:
    """The readings of a window (the parameters of `window`, an empty CandleWindow) fed the
    bars `ts`, `high`, `low`, `close`, `volume` in order, each sealed once the next is there
    (a hole's empty bar included, as fed live). `snapshot(e, ...)` reads it fed bars 0…e and
    then the next bar opened empty at e's close, its live bar (as `EventMonitor.add_bars`
    leaves it).

    `ts` must rise by at least a bar each step (`fits` says whether it does): the window's
    compactions keep its last 34 bars, so lookbacks of `windows` (at most 30 bars, checked)
    never reach a bar it dropped, and these readings need not know which it dropped.
    """

    def __init__(self, window: CandleWindow, windows: Sequence[int], ts: Column,
                 high: Column, low: Column, close: Column, volume: Column) -> None:
        bar = window.bar_seconds
        if windows and max(windows) * 60.0 > 30 * bar:
            raise ValueError("flash windows longer than 30 bars: use a CandleWindow")
        if not fits(ts, bar):
            raise ValueError("bars must rise by at least a bar each step")
        self.bar_seconds, self.windows = bar, tuple(windows)
        self.atr_period, self.min_baseline_bars = window.atr_period, window.min_baseline_bars
        self.label = bar_label(bar)
        t, h, lo, c = (np.asarray(x, dtype=np.float64) for x in (ts, high, low, close))
        v = np.asarray(volume, dtype=np.float64)
        n = len(t)
        prev = np.concatenate((c[:1], c[:-1]))
        tr = np.maximum(np.maximum(h - lo, np.abs(h - prev)), np.abs(lo - prev))
        if n:
            tr[0] = h[0] - lo[0]  # the first bar has no previous close
        k = np.arange(n)
        cap, cutoff = window.cap, t - window.baseline_seconds
        # first bar of the volume baseline and of the long-ATR window after each seal
        fv = np.minimum(k, np.maximum(np.searchsorted(t, cutoff, side="left"), k - cap))
        ft = np.minimum(k + 1, np.maximum(np.searchsorted(t, cutoff, side="right"),
                                          k + 1 - cap))
        every, minimum = window.resync_every, window.min_baseline_bars
        tr_l = tr.tolist()
        sum_v = _running(np.concatenate(([0.0], v[:-1])), k > 0, fv, v, every,
                         lambda s: sum(v[int(fv[s]):s].tolist()))
        sum_tr = _running(tr, np.ones(n, dtype=bool), ft, tr, every,
                          lambda s: sum(tr_l[int(ft[s]):s + 1]))
        # the readings after each seal (NaN: None), as the window's methods compute them
        with np.errstate(divide="ignore", invalid="ignore"):
            count = k - fv  # sealed bars before the reference bar, in the baseline
            avg = np.where(count >= minimum, np.maximum(sum_v, 0.0) / count, np.nan)
            count = k + 1 - ft
            long = np.where(count >= minimum, np.maximum(sum_tr, 0.0) / count, np.nan)
            short = np.where(k + 1 >= window.atr_period,
                             np.asarray(wilder_atr(tr_l, window.atr_period)), np.nan)
            ratio = np.where(avg > 0, v / avg, np.nan)
            #: volume ratio and short/long ATR after each bar, NaN where the window has none
            #: (what backtest/screen.py screens)
            self.volume_ratio = ratio
            self.atr_ratio = np.where(long > 0, short / long, np.nan)
        self._readings = np.column_stack((v, avg, ratio, short, long))
        self._ts: list[float] = t.tolist()
        self._close: list[float] = c.tolist()

    def snapshot(self, e: int, symbol: str, now: float, price: float) -> SymbolSnapshot:
        """`events.snapshot` of the window fed bars 0…e and its live bar (see the class)."""
        ago: dict[int, float] = {}
        bar = self.bar_seconds
        live = self._ts[e] + bar
        for minutes in self.windows:
            p = self._price_ago(e, live, minutes, now)
            if p is not None and p > 0:
                ago[minutes] = p
        if not now - live < 3 * bar:  # `CandleWindow.is_fresh`
            return SymbolSnapshot(symbol, now, price, ago)
        ref, avg, ratio, short, long = self._readings[e].tolist()
        return SymbolSnapshot(symbol, now, price, ago, volume_ratio=_some(ratio),
                              atr_short=_some(short), atr_long=_some(long), bar_volume=ref,
                              average_volume=_some(avg), bar=self.label)

    def _price_ago(self, e: int, live: float, minutes: int, now: float) -> float | None:
        """`CandleWindow.price_ago`: bars 0…e, then the live bar (at e's close)."""
        target = now - minutes * 60.0
        bar = self.bar_seconds
        if target - bar >= live:
            at, close = live, self._close[e]
        else:
            i = bisect_right(self._ts, target - bar, 0, e + 1) - 1
            if i < 0:
                return None
            at, close = self._ts[i], self._close[i]
        if target - (at + bar) >= 2 * bar:
            return None
        return close


def _some(x: float) -> float | None:
    return None if x != x else x  # NaN: none


def fits(ts: Column, bar: float) -> bool:
    """Whether `ts` rises by at least `bar` each step (what `WindowSeries` needs)."""
    return bool(np.all(np.diff(np.asarray(ts, dtype=np.float64)) >= bar))


def _running(added: np.ndarray, adds: np.ndarray, kept: np.ndarray, source: np.ndarray,
             every: int, resync: Callable[[int], float]) -> np.ndarray:
    """A running sum after each seal s: it adds `added[s]` (where `adds[s]`), then takes out
    `source[kept[s-1]:kept[s]]` in order; at every `every`-th seal it is `resync(s)` instead.
    The terms, in the window's order, are summed by `np.cumsum` (in order) from each resync."""
    n = len(added)
    out = np.empty(n)
    if not n:
        return out
    removed = np.diff(kept, prepend=0)
    counts = adds.astype(np.int64) + removed
    end = np.cumsum(counts)  # after seal s its terms end at end[s]
    start = end - counts
    terms = np.empty(int(end[-1]))
    taken = np.ones(len(terms), dtype=bool)
    at = start[adds]
    terms[at] = added[adds]
    taken[at] = False
    terms[taken] = -source[:int(kept[-1])]
    value, lo = 0.0, 0  # the sum before seal lo
    for hi in [*range(every - 1, n - 1, every), n - 1]:
        base = int(start[lo])
        run = np.cumsum(np.concatenate(([value], terms[base:int(end[hi])])))
        out[lo:hi + 1] = run[end[lo:hi + 1] - base]
        if (hi + 1) % every == 0:
            out[hi] = resync(hi)
        value, lo = float(out[hi]), hi + 1
    return out


def wilder_atr(tr: list[float], period: int) -> list[float]:
    """The window's ATR after each seal: the running mean for the first `period` bars,
    then Wilder's step (`CandleWindow._seal_run`, the same operations)."""
    atr: list[float] = []
    add = atr.append
    prev = 0.0
    for k, x in enumerate(tr[:period], 1):
        prev = x if k == 1 else prev + (x - prev) / k
        add(prev)
    for x in tr[period:]:  # (a plain loop: twice as fast as accumulate with a lambda)
        prev = prev + (x - prev) / period
        add(prev)
    return atr


__all__ = ["WindowSeries", "fits", "wilder_atr"]

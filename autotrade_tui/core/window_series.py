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
from itertools import accumulate

import numpy as np

from autotrade_tui.core.events import CandleWindow, SymbolSnapshot, bar_label


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

    def __init__(self, window: CandleWindow, windows: Sequence[int], ts: Sequence[float],
                 high: Sequence[float], low: Sequence[float], close: Sequence[float],
                 volume: Sequence[float]) -> None:
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
        every = window.resync_every
        vol_l, tr_l = v.tolist(), tr.tolist()
        prev_v = np.concatenate(([0.0], v[:-1]))
        self._sum_v: list[float] = _running(prev_v, k > 0, fv, v, every,
                               lambda s: sum(vol_l[int(fv[s]):s])).tolist()
        self._sum_tr: list[float] = _running(tr, np.ones(n, dtype=bool), ft, tr, every,
                                lambda s: sum(tr_l[int(ft[s]):s + 1])).tolist()
        self._fv: list[int] = fv.tolist()
        self._ft: list[int] = ft.tolist()
        self._atr = _wilder(tr_l, window.atr_period)
        self._ts: list[float] = t.tolist()
        self._close: list[float] = c.tolist()
        self._vol: list[float] = vol_l

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
        ref = self._vol[e]
        count = e - self._fv[e]  # sealed bars before the reference bar in the baseline
        avg = (None if count < self.min_baseline_bars
               else max(self._sum_v[e], 0.0) / count)
        ratio = None if avg is None or avg <= 0 else ref / avg
        count = e + 1 - self._ft[e]
        long = None if count < self.min_baseline_bars else max(self._sum_tr[e], 0.0) / count
        short = None if e + 1 < self.atr_period else self._atr[e]
        return SymbolSnapshot(symbol, now, price, ago, volume_ratio=ratio, atr_short=short,
                              atr_long=long, bar_volume=ref, average_volume=avg,
                              bar=self.label)

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


def fits(ts: Sequence[float] | np.ndarray, bar: float) -> bool:
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


def _wilder(tr: list[float], period: int) -> list[float]:
    """The window's ATR after each seal: the running mean for the first `period` bars,
    then Wilder's step (`CandleWindow._seal_run`, the same operations)."""
    atr: list[float] = []
    prev = 0.0
    for k, x in enumerate(tr[:period], 1):
        prev = x if k == 1 else prev + (x - prev) / k
        atr.append(prev)
    if len(tr) > period:
        atr += list(accumulate(tr[period:], lambda p, x: p + (x - p) / period,
                               initial=prev))[1:]
    return atr


__all__ = ["WindowSeries", "fits"]

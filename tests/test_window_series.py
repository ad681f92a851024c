"""`WindowSeries` (a backtest's window readings, computed over the whole series at once) reads
what a `CandleWindow` fed the same bars one by one reads: after any bar, with the next bar
opened empty at its close, at that bar's close or later (a hole), the same snapshot to the bit:
lookbacks, volume ratio and its terms, both ATRs; across holes, evictions by time and by count,
compactions and resyncs of the running sums."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotrade_tui.core.events import CandleWindow, snapshot
from autotrade_tui.core.models import Candle
from autotrade_tui.core.window_series import WindowSeries, fits

WINDOWS = (1, 5, 15)
LATE = st.sampled_from([1.0, 30.0, 60.0, 120.0, 150.0, 180.0, 600.0, 900.0])  # seconds


def window(resync: int) -> CandleWindow:
    # small baselines so evictions, compactions and resyncs come within a few hundred bars
    return CandleWindow(bar_seconds=60, baseline_seconds=1_800, atr_period=3,
                        min_baseline_bars=5, resync_every=resync)


bars = st.lists(st.tuples(st.sampled_from([1.0, 1.0, 1.0, 1.0, 2.0, 2.5, 4.0, 40.0]),
                          st.floats(0.97, 1.03), st.floats(0.0, 0.02), st.floats(0.0, 0.02),
                          st.one_of(st.just(0.0), st.floats(0.001, 1e6))),
                min_size=1, max_size=250)


@settings(max_examples=150, deadline=None)
@given(bars=bars, resync=st.sampled_from([1, 7, 37, 2048]), data=st.data())
def test_the_series_reads_what_the_window_fed_bar_by_bar_reads(
        bars: list[tuple[float, float, float, float, float]], resync: int,
        data: st.DataObject) -> None:
    cols: list[list[float]] = [[] for _ in range(5)]
    t, price = 0.0, 100.0
    for step, move, up, down, volume in bars:
        t += 60.0 * step
        price *= move
        for col, value in zip(cols, (t, price * (1 + up), price * (1 - down), price, volume),
                              strict=True):
            col.append(value)
    series = WindowSeries(window(resync), WINDOWS, *cols)
    fed = window(resync)
    for e, (ts, high, low, close, volume) in enumerate(zip(*cols, strict=True)):
        assert fed.update(Candle(ts, close, high, low, close, volume))
        live = copy.deepcopy(fed)  # then the next bar opened empty at its close
        assert live.update(Candle(ts + 60.0, close, close, close, close, 0.0))
        for late in (0.0, data.draw(LATE)):
            now = ts + 60.0 + late
            want = snapshot(live, "X", now, 1.5, WINDOWS)
            got = series.snapshot(e, "X", now, 1.5)
            assert got == want, (e, now)
            assert repr(got) == repr(want)  # also 0.0 vs -0.0, and Python floats


def test_the_sums_are_the_windows_running_sums_not_fresh_ones() -> None:
    # volumes whose fresh sum differs from the running one in the last bits
    vols = [0.1, 1e6, 0.3, 1e-3, 7.7, 3e9, 0.17] * 40
    cols = [[60.0 * (k + 1) for k in range(len(vols))], [1.0] * len(vols),
            [1.0] * len(vols), [1.0] * len(vols), vols]
    series = WindowSeries(window(2048), WINDOWS, *cols)
    fed = window(2048)
    drifted = 0  # readings where the running sum is not the fresh sum of its bars
    for e, (ts, volume) in enumerate(zip(cols[0], vols, strict=True)):
        fed.update(Candle(ts, 1.0, 1.0, 1.0, 1.0, volume))
        live = copy.deepcopy(fed)
        live.update(Candle(ts + 60.0, 1.0, 1.0, 1.0, 1.0, 0.0))
        got = series.snapshot(e, "X", ts + 60.0, 1.0).average_volume
        assert got == snapshot(live, "X", ts + 60.0, 1.0, WINDOWS).average_volume
        drifted += live._sum_v != sum(live._vol[live._fv:len(live) - 2])
    assert drifted > 10  # the case the test is about


def test_only_bars_a_bar_apart_or_more_and_short_lookbacks() -> None:
    assert fits([0.0, 60.0, 180.0], 60) and not fits([0.0, 60.0, 90.0], 60)
    with pytest.raises(ValueError):
        WindowSeries(window(37), WINDOWS, [0.0, 30.0], [1.0] * 2, [1.0] * 2, [1.0] * 2, [1.0] * 2)
    with pytest.raises(ValueError):
        WindowSeries(window(37), (31,), [0.0], [1.0], [1.0], [1.0], [1.0])

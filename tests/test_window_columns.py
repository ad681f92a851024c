"""`CandleWindow.extend_columns` (a backtest's bars, appended and sealed in one loop) leaves the
window exactly as `update` bar by bar does: the same bars, sums, ATRs, compactions and
resyncs, whatever comes (the live bar again, old bars, holes, bad values)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from autotrade_tui.core.events import CandleWindow
from autotrade_tui.core.models import Candle

STATE = ("_ts", "_open", "_high", "_low", "_close", "_vol", "_tr", "_atr", "_dropped", "_fv",
         "_sum_v", "_ft", "_sum_tr", "_since_resync")


def window() -> CandleWindow:
    # small baselines so compactions and resyncs come within a few hundred bars
    return CandleWindow(bar_seconds=60, baseline_seconds=1_800, atr_period=3,
                        min_baseline_bars=5, resync_every=37)


def batches(draw: st.DrawFn) -> list[list[Candle]]:
    out, t, price = [], 0.0, 100.0
    for _ in range(draw(st.integers(1, 12))):
        batch = []
        if out and draw(st.booleans()):
            t -= 60.0  # starts with the live bar again (grown), or further back
            if draw(st.booleans()):
                t -= 60.0 * draw(st.integers(1, 3))
        for _ in range(draw(st.integers(0, 90))):
            t += 60.0 * draw(st.sampled_from([1, 1, 1, 2, 5]))  # holes now and then
            price *= draw(st.floats(0.98, 1.02))
            volume = draw(st.sampled_from([1.0, 2.5, 0.0, 7.0]))
            batch.append(Candle(t, price, price * 1.01, price * 0.99, price, volume))
        if batch and draw(st.integers(0, 4)) == 0:  # a bad bar somewhere: bar by bar
            k = draw(st.integers(0, len(batch) - 1))
            c = batch[k]
            batch[k] = Candle(c.ts, c.open, c.high, c.low, c.close,
                              draw(st.sampled_from([-1.0, math.nan, math.inf])))
        out.append(batch)
    return out


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_columns_feed_the_window_as_bar_by_bar_does(data: st.DataObject) -> None:
    one, bulk = window(), window()
    for batch in batches(data.draw):
        used = sum(one.update(c) for c in batch)
        cols = [[getattr(c, f) for c in batch]
                for f in ("ts", "open", "high", "low", "close", "volume")]
        assert bulk.extend_columns(*cols) == used
        for name in STATE:
            assert getattr(bulk, name) == getattr(one, name), name
        assert bulk.candles() == one.candles() and bulk.last == one.last


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_closed_bars_feed_the_window_as_columns_then_the_next_bar_do(
        data: st.DataObject) -> None:
    """`extend_closed` (a backtest's checked bars, the next bar opened in the same run) leaves
    the window as `extend_columns` and then `EventMonitor._open_next`'s empty bar do."""
    two_steps, one_step = window(), window()
    t, price = 0.0, 100.0
    for _ in range(data.draw(st.integers(1, 12))):
        cols: list[list[float]] = [[] for _ in range(6)]
        for _ in range(data.draw(st.integers(1, 40))):
            # one bar on: the live bar (opened empty), grown; further: a hole (it is sealed)
            t += 60.0 * data.draw(st.sampled_from([1, 1, 1, 2, 4]))
            price *= data.draw(st.floats(0.98, 1.02))
            bar = (t, price, price * 1.01, price * 0.99, price,
                   data.draw(st.sampled_from([1.0, 2.5, 0.0, 7.0])))
            for col, value in zip(cols, bar, strict=True):
                col.append(value)
        two_steps.extend_columns(*cols)
        two_steps.update(Candle(t + 60.0, price, price, price, price, 0.0))
        one_step.extend_closed(*cols)
        for name in STATE:
            assert getattr(one_step, name) == getattr(two_steps, name), name

"""`CandleWindow.extend_closed` (a backtest's closed bars, appended and sealed in one run, then
the next bar opened empty at the last close) leaves the window exactly as `update` bar by bar
and then that empty bar do: the same bars, sums, ATRs, compactions and resyncs, holes
included (the live bar then sealed empty, as live)."""

from __future__ import annotations

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


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_closed_bars_feed_the_window_as_bar_by_bar_then_the_next_bar_do(
        data: st.DataObject) -> None:
    one_by_one, one_step = window(), window()
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
        for candle in map(Candle, *cols):
            assert one_by_one.update(candle)
        assert one_by_one.update(Candle(t + 60.0, price, price, price, price, 0.0))
        one_step.extend_closed(*cols)
        for name in STATE:
            assert getattr(one_step, name) == getattr(one_by_one, name), name
        assert one_step.candles() == one_by_one.candles() and one_step.last == one_by_one.last

"""The shadows' calm bars (core.scorecard: `Shadow._calm_band`, `Scorecard.mark`'s fast path):
a backtest's mark that skips the engine on a bar that can move nothing but the mark price
leaves every shadow exactly as the whole mark does."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotrade_tui.core.engine import EngineConfig
from autotrade_tui.core.models import Action, Position
from autotrade_tui.core.scorecard import Bar, Calm, CalmAll, Scorecard, Shadow

SYMS = ["BTC/USDT", "ETH/USDT"]
CONFIGS = [
    EngineConfig(stop_loss_percent=60, take_profit_percent=80, max_drawdown_percent=15,
                 drawdown_action="flatten", max_entries_per_position=2,
                 stack_only_in_profit=True, max_exposure_percent=200,
                 reentry_cooldown_minutes=30, position_size_percent=5),
    EngineConfig(max_drawdown_percent=2, drawdown_action="pause", position_size_percent=20),
    EngineConfig(leverage=3.0, position_size_percent=50),  # no guards: only the peaks count
]


class WholeShadow(Shadow):
    """A shadow that never finds a bar calm: every mark is the whole one."""

    def _calm_band(self, pos: Position) -> Calm:
        band = super()._calm_band(pos)  # no bar quiet, no close calm: `mark_bars` each time
        return (*band[:3], math.inf, -math.inf, math.inf, -math.inf)

    def _calm_bars(self, prices: Mapping[str, float], bars: Mapping[str, Bar]) -> bool:
        return False  # several positions: the whole mark too


class WholeCard(Scorecard):
    def __init__(self, config: EngineConfig, threshold: float) -> None:
        super().__init__(config, ["a", "b"], threshold, 300.0)
        self.shadows = {n: WholeShadow(config, threshold) for n in self.shadows}

    def _calm_shadows(self) -> CalmAll | None:
        return None


def state(card: Scorecard) -> list[object]:
    """Everything a shadow keeps and is read from (its engine's `last_equity` is read only
    right after a whole mark, which measures it)."""
    return [card.to_dict(), card.holding, card.next_due,
            *((s._was_holding, s.engine.closed_at) for s in card.shadows.values())]


def kept_up(card: Scorecard) -> None:
    """What the runner reads of the scorecard each candle (when an answer is due, whether a
    shadow holds, or is to be marked once more) is what its shadows say, however it was
    kept up to date."""
    shadows = card.shadows.values()
    assert card.next_due == min((s._next_due for s in shadows), default=math.inf)
    assert card.holding is any(bool(s.engine.positions) or s._was_holding for s in shadows)


answers = st.sampled_from(list(Action))
steps = st.lists(st.tuples(st.sampled_from(SYMS), answers, answers,
                           st.sampled_from([0.5, 0.6, 0.9]),
                           st.floats(0.97, 1.03), st.floats(0.0, 0.02), st.booleans()),
                 min_size=1, max_size=60)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, config=st.sampled_from(CONFIGS), one=st.booleans())
def test_a_calm_bar_leaves_every_shadow_as_the_whole_mark_does(
        steps: list, config: EngineConfig, one: bool) -> None:
    fast, whole = Scorecard(config, ["a", "b"], 0.55, 300.0), WholeCard(config, 0.55)
    prices = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0}
    for i, (sym, a, b, conf, move, wick, answer) in enumerate(steps):
        ts = 300.0 * i
        sym = SYMS[0] if one else sym  # one symbol: the shadows' one-position case
        old = prices[sym]
        new = prices[sym] = old * move
        bars = {sym: (old, max(old, new) * (1 + wick), min(old, new) * (1 - wick), new)}
        for card in (fast, whole):
            card.mark(dict(prices), ts, bars)
            if answer:
                card.on_answers(sym, new, ts, [(a, conf), (b, conf)])
        assert state(fast) == state(whole)
        kept_up(fast)


def test_a_bar_that_reaches_the_stop_is_not_calm() -> None:
    cfg = CONFIGS[0]
    card = Scorecard(cfg, ["a"], 0.55, 300.0)
    card.on_answers("BTC/USDT", 100.0, 0.0, [(Action.BUY, 0.9)])
    card.mark({"BTC/USDT": 100.0}, 300.0, {"BTC/USDT": (100.0, 100.2, 99.9, 100.0)})
    shadow = card.shadows["a"]
    stop, _ = shadow.engine.guard_prices(shadow.engine.positions["BTC/USDT"])
    assert stop is not None
    card.mark({"BTC/USDT": 100.0}, 600.0, {"BTC/USDT": (100.0, 100.1, stop, 100.0)})
    assert not shadow.engine.positions and shadow.engine.ledger.total_trades == 1


both = st.lists(st.tuples(st.sampled_from(SYMS), answers, answers, st.floats(0.99, 1.01),
                          st.floats(0.99, 1.01), st.floats(0.0, 0.004), st.booleans()),
                min_size=1, max_size=80)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=both, config=st.sampled_from(CONFIGS))
def test_bars_of_every_symbol_leave_several_positions_as_the_whole_mark_does(
        steps: list, config: EngineConfig) -> None:
    """A shadow trading both symbols (every candle gives a bar of each, as a backtest's):
    its calm bars (`Shadow._calm_bars`) leave it as the whole mark does."""
    fast, whole = Scorecard(config, ["a", "b"], 0.55, 300.0), WholeCard(config, 0.55)
    prices = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0}
    for i, (sym, a, b, move_btc, move_eth, wick, answer) in enumerate(steps):
        ts = 300.0 * i
        bars = {}
        for s, move in zip(SYMS, (move_btc, move_eth), strict=True):
            old = prices[s]
            new = prices[s] = old * move
            bars[s] = (old, max(old, new) * (1 + wick), min(old, new) * (1 - wick), new)
        for card in (fast, whole):
            card.mark(dict(prices), ts, bars)
            if answer:
                card.on_answers(sym, prices[sym], ts, [(a, 0.9), (b, 0.9)])
        assert state(fast) == state(whole)
        kept_up(fast)


def test_several_positions_have_calm_bars() -> None:
    """The case above happens: two positions, a quiet bar of each, only the marks move."""
    card = Scorecard(CONFIGS[0], ["a"], 0.55, 300.0)
    card.on_answers("BTC/USDT", 60_000.0, 0.0, [(Action.BUY, 0.9)])
    card.on_answers("ETH/USDT", 3_000.0, 0.0, [(Action.BUY, 0.9)])
    shadow = card.shadows["a"]
    assert len(shadow.engine.positions) == 2
    bars = {"BTC/USDT": (60_000.0, 60_010.0, 59_990.0, 60_000.0),
            "ETH/USDT": (3_000.0, 3_000.5, 2_999.5, 3_000.0)}
    prices = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0}
    # the first mark after the trades, a little lower: the deepest drawdown so far (fees)
    card.mark({"BTC/USDT": 59_990.0, "ETH/USDT": 2_999.5}, 300.0, bars)
    assert shadow._calm_bars({"BTC/USDT": 59_995.0, "ETH/USDT": 2_999.8}, bars)
    assert shadow.engine.marks["BTC/USDT"] == 59_995.0
    assert not shadow._calm_bars({"BTC/USDT": 59_980.0, "ETH/USDT": 2_999.0}, bars)  # deeper
    # a bar reaching the stop is not calm; nor a price that would set a new equity peak
    stop, _ = shadow.engine.guard_prices(shadow.engine.positions["ETH/USDT"])
    assert stop is not None
    low_bar = {**bars, "ETH/USDT": (3_000.0, 3_000.5, stop, 3_000.0)}
    assert not shadow._calm_bars(prices, low_bar)
    assert not shadow._calm_bars({"BTC/USDT": 61_000.0, "ETH/USDT": 3_100.0}, bars)
    assert not shadow._calm_bars(prices, {"BTC/USDT": bars["BTC/USDT"]})  # a bar missing
    # the scorecard's own calm path (`_calm_shadows`: a band per symbol, its closes inside
    # the shadow's box, `Shadow._calm_box`): a calm pair of bars marks only; the bar
    # reaching ETH's stop closes it
    card.mark({"BTC/USDT": 59_995.0, "ETH/USDT": 2_999.8}, 600.0, bars)
    assert card._calm_all is not None and card._calm_all[1] == []  # no equity to check
    assert len(shadow.engine.positions) == 2 and shadow.engine.ledger.total_trades == 0
    card.mark(prices, 900.0, low_bar)
    assert list(shadow.engine.positions) == ["BTC/USDT"]
    assert shadow.engine.ledger.total_trades == 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=both, config=st.sampled_from(CONFIGS), one=st.booleans())
def test_replayed_after_the_candles_as_marked_candle_by_candle(
        steps: list, config: EngineConfig, one: bool) -> None:
    """`Scorecard.replay` (a backtest's shadows after its candle loop: calm runs in a loop
    over the bars) leaves the shadows as a mark each candle a shadow holds does, then the
    candle's answers (the runner's order; no bar at the first candle)."""
    syms = SYMS[:1] if one else SYMS
    prices = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0}
    columns: dict[str, tuple[list[float], list[float], list[float], list[float], int]] = {
        s: ([], [], [], [], 0) for s in syms}
    times, answered = [], []
    for i, (_, a, b, move_btc, move_eth, wick, answer) in enumerate(steps):
        times.append(300.0 * i)
        for s, move in zip(SYMS, (move_btc, move_eth), strict=True):
            if s in columns:
                old = prices[s]
                new = prices[s] = old * move
                for col, v in zip(columns[s][:4], (old, max(old, new) * (1 + wick),
                                                   min(old, new) * (1 - wick), new),
                                  strict=True):
                    col.append(v)
        answered.append([(a, 0.9), (b, 0.9)] if answer else None)
    marked, replayed = (Scorecard(config, ["a", "b"], 0.55, 300.0) for _ in range(2))
    for card in (marked, replayed):
        assert card.judge_later()
    replayed.record()
    for i, t in enumerate(times):
        if i and marked.holding:
            marked.mark({s: c[3][i] for s, c in columns.items()}, t,
                        {s: (c[0][i], c[1][i], c[2][i], c[3][i]) for s, c in columns.items()})
        if answered[i]:
            sym = syms[i % len(syms)]
            for card in (marked, replayed):
                card.on_answers(sym, columns[sym][3][i], t, answered[i])
    replayed.replay(times, columns)
    assert state(replayed) == state(marked)


@pytest.mark.parametrize("bands", [1, 2])
def test_replayed_bars_at_the_band_edges_as_marked(bands: int) -> None:
    """`Scorecard.replay`'s loop over the bars calls a bar calm exactly where `mark` does: a
    close at the band's top or floor (calm) or beyond (a new peak, a deeper drawdown); a
    low or high at the quiet range's edge (a level reached) or a step inside. With two bands
    (shadow "b" holds ETH, whose bars stay calm), the loop over several bands."""
    cfg = CONFIGS[0]
    btc, eth = "BTC/USDT", "ETH/USDT"

    def eth_bar(i: int) -> tuple[float, float, float, float]:
        """ETH: bought at 3,000, down to 2,990 at candle 1, then calm at 2,995."""
        c = 3_000.0 if i == 0 else 2_990.0 if i == 1 else 2_995.0
        return (c, c, c, c)

    def run(card: Scorecard, bars: list[tuple[float, float, float, float]],
            replay: bool) -> Scorecard:
        assert card.judge_later()
        if replay:
            card.record()
        for i, b in enumerate(bars):
            if i and card.holding and not replay:
                given = {btc: b, eth: eth_bar(i)} if bands == 2 else {btc: b}
                card.mark({s: v[3] for s, v in given.items()}, 300.0 * i, given)
            if i == 0:
                card.on_answers(btc, b[3], 0.0, [(Action.BUY, 0.9), (Action.HOLD, 0.9)])
                if bands == 2:
                    card.on_answers(eth, 3_000.0, 0.0, [(Action.HOLD, 0.9), (Action.BUY, 0.9)])
        if replay:
            cols: dict[str, Any] = {btc: (*([b[n] for b in bars] for n in range(4)), 0)}
            if bands == 2:
                cols[eth] = (*([eth_bar(i)[n] for i in range(len(bars))] for n in range(4)), 0)
            card.replay([300.0 * i for i in range(len(bars))], cols)
        return card

    start = [(60_000.0, 60_000.0, 60_000.0, 60_000.0), (60_000.0, 60_100.0, 59_500.0, 59_600.0)]
    probe = run(Scorecard(cfg, ["a", "b"], 0.55, 300.0), start, replay=False)
    assert probe._calm_all is not None and len(probe._calm_all[0]) == bands
    _, _, low, high, lo, hi = next(b for b in probe._calm_all[0] if b[1] == btc)
    up, down = math.inf, -math.inf
    mid = (lo + hi) / 2
    edges = [(mid, mid, mid, hi), (mid, mid, mid, math.nextafter(hi, up)),
             (mid, mid, mid, hi * (1 + 1e-5)),  # past the band's margin: a new peak
             (mid, mid, mid, lo), (mid, mid, mid, math.nextafter(lo, down)),
             (mid, mid, mid, lo * (1 - 1e-5)),  # a deeper drawdown
             (mid, mid, math.nextafter(low, up), mid), (mid, mid, low, mid),
             (mid, math.nextafter(high, down), mid, mid), (mid, high, mid, mid)]
    for o, h, lw, c in edges:
        bar = (o, max(o, h, c), min(o, lw, c), c)
        bars = [*start, bar, (c, c, c, c)]
        marked = run(Scorecard(cfg, ["a", "b"], 0.55, 300.0), bars, replay=False)
        replayed = run(Scorecard(cfg, ["a", "b"], 0.55, 300.0), bars, replay=True)
        assert state(replayed) == state(marked), bar

"""The shadows' calm bars (core.scorecard, issue 16), by example at the band's edges: a backtest's
bar that reaches no level of a shadow's one position and whose close moves neither peak nor
the deepest drawdown, nor trips the guard, costs a mark price (no shadow or engine mark, the
band computed once); a bar whose low is at the stop, whose high is at the take-profit, whose
close makes a new peak or a deeper drawdown, or that comes without its close, is marked whole,
in line (`Scorecard.mark`) as by the shadow itself (`Shadow.mark`). Answers that change no
ledger keep the bands; a trade or a restore drops them. (tests/test_scorecard_calm.py checks
the same against the whole mark on random paths.)"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from autotrade_tui.core.engine import EngineConfig
from autotrade_tui.core.models import Action, ModelVote
from autotrade_tui.core.scorecard import Scorecard, Shadow

BTC = "BTC/USDT"
# 10 % entries at 10x, no fee: a long at 100 holds 1,000 on 10,000 of margin; its stop
# (50 % of margin) sits at 95, its take-profit at 105, its liquidation near 90.45
GUARDED = EngineConfig(initial_capital=100_000.0, leverage=10.0, commission_rate=0.0,
                       maintenance_margin_rate=0.005, position_size_percent=10.0,
                       stop_loss_percent=50.0, take_profit_percent=50.0)
# half the capital at 2x (1,000 at 100 on 50,000) under a 10 % drawdown guard
LIMITED = EngineConfig(initial_capital=100_000.0, leverage=2.0, commission_rate=0.0,
                       maintenance_margin_rate=0.005, position_size_percent=50.0,
                       max_drawdown_percent=10.0)


def held(cfg: EngineConfig = GUARDED, side: Action = Action.BUY, price: float = 100.0,
         worst: float = 97.0) -> Scorecard:
    """Shadow "a" holds one position opened at `price`, marked whole once at `worst` (its
    deepest drawdown so far); shadow "b" stays flat (HOLD) and is never marked."""
    card = Scorecard(cfg, ["a", "b"], 0.55, 300.0)
    card.on_answers(BTC, price, 0.0, [(side, 0.9), (Action.HOLD, 0.9)])
    card.mark({BTC: worst}, 300.0, {BTC: (price, max(price, worst), min(price, worst), worst)})
    return card


def spy(card: Scorecard) -> Counter[str]:
    """Counts the shadows' marks, their engines' marks and the bands computed from now on."""
    calls: Counter[str] = Counter()

    def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kw: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kw)
        return call

    for shadow in card.shadows.values():
        for obj, name, key in ((shadow, "mark", "shadow.mark"), (shadow, "_calm_band", "band"),
                               (shadow.engine, "mark", "engine.mark"),
                               (shadow.engine, "mark_bars", "engine.mark_bars")):
            setattr(obj, name, counted(key, getattr(obj, name)))
    return calls


def mark(card: Scorecard, direct: bool, prices: dict[str, float], ts: float,
         bars: dict[str, tuple[float, float, float, float]]) -> Shadow:
    """Marks shadow "a" in line (`Scorecard.mark`) or by itself (`Shadow.mark`)."""
    a = card.shadows["a"]
    if direct:
        a.mark(prices, ts, bars)
    else:
        card.mark(prices, ts, bars)
    return a


def figures(shadow: Shadow) -> tuple[Any, ...]:
    lg, t = shadow.engine.ledger, shadow.tally
    return (lg.capital, lg.peak_equity, lg.halted_reason, lg.total_trades, t.peak, t.max_dd,
            {s: len(p.entries) for s, p in shadow.engine.positions.items()})


def bar(prev: float, close: float) -> tuple[float, float, float, float]:
    """A bar from `prev` to `close` with a wick of 0.01 % each way."""
    return (prev, max(prev, close) * 1.0001, min(prev, close) * 0.9999, close)


# (config, side, entry, worst so far, closes inside the band: near its floor, inside, near
# its top); the band is (worst, entry) for a long, (entry, worst) for a short
CALM = {
    "long": (GUARDED, Action.BUY, 100.0, 97.0, [97.01, 98.5, 99.99]),
    "short": (GUARDED, Action.SELL, 100.0, 103.0, [102.99, 101.5, 100.01]),
    # 9.95 % down under a 10 % guard: the band's floor is the tally's, just above the guard's
    "guarded drawdown": (LIMITED, Action.BUY, 100.0, 90.05, [90.07, 95.0, 99.99]),
    # 11 % down: the guard has paused it (the position stays); the tally's floor is the band's
    "halted": (LIMITED, Action.BUY, 100.0, 89.0, [89.01, 95.0, 99.99]),
    "below 1 USDT": (GUARDED, Action.BUY, 0.5, 0.485, [0.4851, 0.49, 0.4999]),
    "less than one unit": (GUARDED, Action.BUY, 200_000.0, 194_000.0,
                           [194_010.0, 197_000.0, 199_990.0]),
}


@pytest.mark.parametrize("case", list(CALM))
def test_a_calm_bar_costs_a_mark_price(case: str) -> None:
    cfg, side, entry, worst, closes = CALM[case]
    card = held(cfg, side, entry, worst)
    a = card.shadows["a"]
    before = figures(a)
    calls = spy(card)
    prev, ts = worst, 600.0
    for close in closes:
        card.mark({BTC: close}, ts, {BTC: bar(prev, close)})  # in line
        card.settle_marks()  # (a calm mark's price is written as the mark when read)
        assert a.engine.marks[BTC] == close
        a.mark({BTC: close}, ts + 1.0, {BTC: bar(close, close)})  # by the shadow itself
        assert a.engine.marks[BTC] == close
        prev, ts = close, ts + 300.0
    assert calls == Counter({"shadow.mark": len(closes)})  # only the direct calls
    assert figures(a) == before
    assert bool(a.engine.ledger.halted_reason) is (case == "halted")


def test_a_bar_reaching_a_level_or_a_new_extreme_is_marked_whole() -> None:
    # (bar, what the whole mark does) for the long of `held()`: stop 95, take-profit 105,
    # peak equity 100,000 (price 100), deepest drawdown 3 % (price 97)
    cases: list[tuple[tuple[float, float, float, float], Callable[[Shadow], bool]]] = [
        ((97.0, 99.0, 95.0, 98.0),  # the low at the stop, the close inside the band
         lambda s: not s.engine.positions and s.engine.ledger.realized_pnl == -5_000.0),
        ((99.0, 105.0, 98.0, 99.0),  # the high at the take-profit
         lambda s: not s.engine.positions and s.engine.ledger.realized_pnl == 5_000.0),
        ((99.0, 100.6, 98.9, 100.5),  # a new peak
         lambda s: s.tally.peak == s.engine.ledger.peak_equity == 100_500.0),
        ((97.5, 97.6, 96.4, 96.5),  # a deeper drawdown
         lambda s: s.tally.max_dd == pytest.approx(3.5)),
    ]
    for b, done in cases:
        for direct in (False, True):
            assert done(mark(held(), direct, {BTC: b[3]}, 600.0, {BTC: b})), (b, direct)


def test_a_bar_without_its_close_is_checked_on_its_range() -> None:
    for direct in (False, True):
        a = mark(held(), direct, {}, 600.0, {BTC: (97.0, 99.0, 95.0, 98.0)})  # to the stop
        assert not a.engine.positions and a.engine.ledger.realized_pnl == -5_000.0
        # a quiet range without its close: not calm either (no price to mark it at)
        a = mark(held(), direct, {}, 600.0, {BTC: (97.0, 99.0, 96.0, 98.0)})
        assert BTC in a.engine.positions and a.engine.marks[BTC] == 97.0


def test_answers_that_change_no_ledger_keep_the_bands() -> None:
    card = held()
    calls = spy(card)
    card.on_answers(BTC, 98.0, 600.0, [(Action.HOLD, 0.9), (Action.HOLD, 0.9)])
    card.on_answers(BTC, 98.0, 600.0, [(Action.BUY, 0.5), (Action.SELL, 0.5)])  # gated
    card.on_votes(BTC, 98.0, 600.0, [ModelVote("a", None, error="timeout"),
                                     ModelVote("b", None, error="timeout")])
    assert card.shadows["a"].tally.errors == 1
    card.mark({BTC: 98.5}, 900.0, {BTC: bar(98.0, 98.5)})
    card.settle_marks()
    assert calls == Counter() and card.shadows["a"].engine.marks[BTC] == 98.5


def test_a_trade_drops_the_bands() -> None:
    card = held()
    a = card.shadows["a"]
    # a second entry at 98: the same bar that was calm for one entry is now a new peak
    card.on_votes(BTC, 98.0, 600.0, [ModelVote("a", Action.BUY, 0.9),
                                     ModelVote("b", Action.HOLD, 0.9)])
    assert len(a.engine.positions[BTC].entries) == 2
    equity = a.engine.equity({BTC: 99.5})
    assert equity > 100_000.0
    card.mark({BTC: 99.5}, 900.0, {BTC: (98.0, 99.6, 97.9, 99.5)})
    assert a.tally.peak == a.engine.ledger.peak_equity == equity


def test_a_restored_scorecard_marks_bars_as_the_original() -> None:
    card = held()
    saved = json.loads(json.dumps(card.to_dict()))
    again = Scorecard(GUARDED, ["a", "b"], 0.55, 300.0)
    again.restore(saved)
    again.mark({BTC: 98.5}, 600.0, {BTC: bar(97.0, 98.5)})  # calm: the restored one too
    again.settle_marks()
    assert again.shadows["a"].engine.marks[BTC] == 98.5
    again.mark({BTC: 98.0}, 900.0, {BTC: (98.5, 99.0, 95.0, 98.0)})  # reaches the stop
    assert not again.shadows["a"].engine.positions
    # a restore over a scorecard that had its bands: the bands go with the old shadows
    card.restore(saved)
    card.mark({BTC: 98.5}, 600.0, {BTC: bar(97.0, 98.5)})
    card.settle_marks()
    assert card.shadows["a"].engine.marks[BTC] == 98.5


def test_a_peak_out_of_reach_leaves_every_positive_price_calm_above_the_floor() -> None:
    """A short whose equity cannot reach its peak even at a price of 0 (it lost more on a
    long than the short's whole notional): the band reaches down to any positive price
    (it was empty, and each of its bars marked whole), and such bars leave the shadow as the
    whole mark does."""
    cfg = EngineConfig(initial_capital=100_000.0, leverage=1.0, commission_rate=0.0,
                       maintenance_margin_rate=0.005, position_size_percent=10.0)
    cards = [Scorecard(cfg, ["a", "b"], 0.55, 300.0) for _ in range(2)]
    for card in cards:  # a long at 100 marked at 5: 9,500 lost, then a short at 5
        card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.9), (Action.HOLD, 0.9)])
        card.mark({BTC: 5.0}, 300.0, {BTC: (100.0, 100.0, 5.0, 5.0)})
        card.on_answers(BTC, 5.0, 300.0, [(Action.SELL, 0.9), (Action.HOLD, 0.9)])
        card.mark({BTC: 5.0}, 600.0, {BTC: (5.0, 5.0, 5.0, 5.0)})
    card, whole = cards
    a = card.shadows["a"]
    pos = a.engine.positions[BTC]
    assert pos.side.value == "SHORT" and a.tally.peak == 100_000.0
    _, notional, margin = pos.totals()
    assert a.engine.ledger.capital + margin + notional < a.tally.peak  # its best: price 0
    assert card._calm_one is not None and 0.0 < card._calm_one[4] < 1e-300
    w = whole.shadows["a"]  # marked whole: no bar quiet (as tests/test_scorecard_calm.py)
    w._calm_band = lambda pos: (pos, len(pos.entries), w.engine.ledger.capital,  # type: ignore
                                math.inf, -math.inf, math.inf, -math.inf)
    w._calm = None
    calls = spy(card)
    prev, ts = 5.0, 900.0
    for close in (4.0, 0.5, 0.01, 4.99):  # all inside: calm, no band computed again
        b = bar(prev, close)
        card.mark({BTC: close}, ts, {BTC: b})
        w.mark({BTC: close}, ts, {BTC: b})
        assert figures(card.shadows["a"]) == figures(whole.shadows["a"])
        card.settle_marks()
        assert a.engine.marks[BTC] == close
        prev, ts = close, ts + 300.0
    assert calls == Counter()

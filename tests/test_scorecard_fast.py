"""The shadows' shortcuts (core.scorecard, issue 16) against what they stand for: a lone
answer's gate without its text (`_gated` against `decision.gate`), the engine's commonest
refusals without their text (`_refused` against `TradingEngine.execute`), and the closes of
several positions inside their ranges (`Shadow._calm_box`) against the equity the engine
computes at those closes, and judging that skips answers of which nothing is due against
the loop that looked at each."""

from __future__ import annotations

import copy
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotrade_tui.core.decision import gate
from autotrade_tui.core.engine import EngineConfig, TradingEngine
from autotrade_tui.core.models import Action, TradeSource, VoteResult
from autotrade_tui.core.scorecard import Pending, Scorecard, Shadow, _gated, _refused

SYMS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
CONFIGS = [
    EngineConfig(max_entries_per_position=2, reentry_cooldown_minutes=30, max_positions=2,
                 stack_only_in_profit=True, position_size_percent=5),
    EngineConfig(max_entries_per_position=0, reentry_cooldown_minutes=0, leverage=3.0),
    EngineConfig(stop_loss_percent=60, take_profit_percent=80, max_drawdown_percent=15,
                 drawdown_action="flatten", max_exposure_percent=200, leverage=10.0,
                 position_size_percent=20),
]


@given(confidence=st.floats(0.0, 1.0), threshold=st.sampled_from([0.5, 0.55, 0.6]),
       near=st.booleans(), stale=st.booleans(), halted=st.sampled_from(["", "max drawdown"]))
def test_the_lone_gate_refuses_what_decision_gate_refuses(
        confidence: float, threshold: float, near: bool, stale: bool, halted: str) -> None:
    if near:  # at the threshold, where EPS decides
        confidence = threshold - 1e-9 * confidence
    eng = TradingEngine(EngineConfig())
    eng.ledger.halted_reason = halted
    for action in (Action.BUY, Action.SELL):
        why = gate(eng, VoteResult(action, confidence, "alone", threshold), stale=stale)
        assert _gated(eng, confidence, threshold, stale) is bool(why)


def _state(eng: TradingEngine) -> object:
    return (copy.deepcopy(eng.ledger), copy.deepcopy(eng.positions), dict(eng.closed_at),
            dict(eng.marks))


orders = st.lists(st.tuples(st.sampled_from(SYMS), st.sampled_from([Action.BUY, Action.SELL]),
                            st.floats(0.9, 1.1), st.integers(0, 40)), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=orders, config=st.sampled_from(CONFIGS))
def test_a_refusal_the_shadow_foresees_is_one_the_engine_makes(
        steps: list, config: EngineConfig) -> None:
    """Whenever `_refused` says so, `execute` trades nothing and changes nothing (that it
    says so for the refusals it is meant for: `test_the_refusals_foreseen`)."""
    eng = TradingEngine(config)
    prices = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0, "SOL/USDT": 150.0}
    ts = 0.0
    for sym, action, move, minutes in steps:
        ts += 60.0 * minutes
        prices[sym] *= move
        if _refused(eng, action, sym, prices[sym], ts):
            before = _state(eng)
            out = eng.execute(action, sym, prices[sym], ts, TradeSource.AUTO, "alone")
            assert not out.trades and out.rejected and _state(eng) == before
        else:
            eng.execute(action, sym, prices[sym], ts, TradeSource.AUTO, "alone")


def test_the_refusals_foreseen() -> None:
    eng = TradingEngine(CONFIGS[0])
    eng.execute(Action.BUY, "BTC/USDT", 100.0, 0.0)
    eng.execute(Action.BUY, "BTC/USDT", 101.0, 60.0)  # in profit: a second entry
    assert len(eng.positions["BTC/USDT"].entries) == 2
    assert _refused(eng, Action.BUY, "BTC/USDT", 101.0, 120.0)  # full
    assert not _refused(eng, Action.SELL, "BTC/USDT", 101.0, 120.0)  # closes it: a trade
    eng.execute(Action.SELL, "BTC/USDT", 101.0, 180.0)  # closed; the short waits
    assert not eng.positions
    assert _refused(eng, Action.SELL, "BTC/USDT", 101.0, 180.0 + 29 * 60.0)  # in its cooldown
    assert not _refused(eng, Action.SELL, "BTC/USDT", 101.0, 180.0 + 30 * 60.0)
    # stacking only in profit: another entry on a position at a loss after fees is refused
    eng.execute(Action.BUY, "ETH/USDT", 100.0, 0.0)
    assert _refused(eng, Action.BUY, "ETH/USDT", 100.0, 60.0)  # the entry fee: a loss
    # around the price where it breaks even after fees, foreseen exactly when refused
    prices = [100.0 + k / 1000.0 for k in range(0, 400)]
    foreseen = [_refused(eng, Action.BUY, "ETH/USDT", p, 60.0) for p in prices]
    refused = [not eng.sandbox().execute(Action.BUY, "ETH/USDT", p, 60.0).trades
               for p in prices]
    # foreseen only when the engine refuses (where it refuses for another reason, it is
    # asked), and foreseen for the stacking refusals here
    assert all(r for f, r in zip(foreseen, refused, strict=True) if f)
    assert foreseen == refused and True in refused and False in refused


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=st.sampled_from(CONFIGS[1:]), sides=st.lists(st.booleans(), min_size=2,
                                                            max_size=3),
       moves=st.lists(st.floats(0.95, 1.05), min_size=3, max_size=3),
       corners=st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0),
                                  st.floats(0.0, 1.0)), min_size=1, max_size=20))
def test_closes_inside_the_box_leave_the_equity_calm(
        config: EngineConfig, sides: list[bool], moves: list[float],
        corners: list[tuple[float, float, float]]) -> None:
    """Any closes inside a shadow's box (its edges included) give an equity that
    `_calm_equity` finds calm, computed as the engine computes it."""
    shadow = Shadow(config, 0.55)
    prices = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0, "SOL/USDT": 150.0}
    for sym, long in zip(SYMS, sides, strict=False):
        shadow.act(Action.BUY if long else Action.SELL, 0.9, sym, prices[sym], 0.0, 300.0)
    # a whole mark somewhere below the open (the fees: a drawdown), then one between
    shadow.mark({s: p * m for (s, p), m in zip(prices.items(), moves, strict=True)}, 300.0)
    shadow.mark({s: p * (1 + (m - 1) / 2) for (s, p), m in
                 zip(prices.items(), moves, strict=True)}, 600.0)
    box = shadow._calm_box()
    assert box is not None  # (found in every example: the marks stay inside the bounds)
    held = list(shadow.engine.positions)
    for corner in [(0.0,) * 3, (1.0,) * 3, *corners]:
        closes = {s: lo + (hi - lo) * c for s, (lo, hi), c in zip(held, box, corner,
                                                                    strict=False)}
        assert shadow._calm_equity(shadow.engine.equity(closes)), closes


def test_several_positions_with_room_are_calm_without_their_equity() -> None:
    """Two longs below their peak and above their deepest drawdown: a box each, so the
    scorecard's calm path checks bands only (no shadow left for the equity check)."""
    card = Scorecard(CONFIGS[1], ["a"], 0.55, 300.0)
    shadow = card.shadows["a"]
    for sym, price in (("BTC/USDT", 60_000.0), ("ETH/USDT", 3_000.0)):
        card.on_answers(sym, price, 0.0, [(Action.BUY, 0.9)])
    bars = {"BTC/USDT": (60_000.0, 60_010.0, 57_000.0, 57_000.0),
            "ETH/USDT": (3_000.0, 3_000.5, 2_850.0, 2_850.0)}
    card.mark({"BTC/USDT": 57_000.0, "ETH/USDT": 2_850.0}, 300.0, bars)  # the deepest
    calm = {"BTC/USDT": (58_500.0, 58_600.0, 58_400.0, 58_500.0),
            "ETH/USDT": (2_925.0, 2_926.0, 2_924.0, 2_925.0)}
    card.mark({"BTC/USDT": 58_500.0, "ETH/USDT": 2_925.0}, 600.0, calm)
    assert card._calm_all is not None and card._calm_all[1] == []
    assert shadow._calm_box() is not None
    figures = (shadow.tally.peak, shadow.tally.max_dd, shadow.engine.ledger.peak_equity)
    card.mark({"BTC/USDT": 58_400.0, "ETH/USDT": 2_930.0}, 900.0, calm)
    assert shadow.engine.marks != {"BTC/USDT": 58_400.0, "ETH/USDT": 2_930.0}  # not yet
    card.settle_marks()  # written when read
    assert shadow.engine.marks == {"BTC/USDT": 58_400.0, "ETH/USDT": 2_930.0}
    assert (shadow.tally.peak, shadow.tally.max_dd, shadow.engine.ledger.peak_equity) == figures


def _judged_as_before(pending: list[Pending], prices: dict[str, float], ts: float
                      ) -> tuple[list[tuple[object, ...]], list[int], float]:
    """The judging loop as it was written first (every answer looked at, its price first):
    the ground truth of `Shadow._judge`'s shortcut for answers of which nothing is due."""
    tally, keep = [0, 0, 0, 0], []
    for p in pending:
        price = prices.get(p.symbol)
        if price is None:
            keep.append(p)
            continue
        moved = price > p.price if p.up else price < p.price
        if not p.done1 and ts >= p.due1:
            p.done1 = True
            tally[0] += 1
            tally[1] += moved
        if ts >= p.due_h:
            tally[2] += 1
            tally[3] += moved
        else:
            keep.append(p)
    due = min(((p.due_h if p.done1 else p.due1) for p in keep), default=math.inf)
    return [(p.symbol, p.price, p.up, p.due1, p.due_h, p.done1) for p in keep], tally, due


pendings = st.lists(st.builds(Pending, st.sampled_from(SYMS[:2]), st.sampled_from([99.0, 100.0]),
                              st.booleans(), st.sampled_from([0.0, 300.0, 600.0, 4000.0]),
                              st.sampled_from([0.0, 300.0, 3600.0, 3900.0]), st.booleans()),
                    max_size=8)


@given(pending=pendings, price=st.sampled_from([None, 99.0, 100.0, 101.0]),
       ts=st.sampled_from([0.0, 299.0, 300.0, 600.0, 3600.0, 4000.0]))
def test_judging_skips_only_answers_of_which_nothing_is_due(
        pending: list[Pending], price: float | None, ts: float) -> None:
    prices = {} if price is None else {"BTC/USDT": price}
    shadow = Shadow(EngineConfig(), 0.55)
    shadow.tally.pending = [copy.copy(p) for p in pending]
    shadow._judge(prices, ts)
    t = shadow.tally
    kept = [(p.symbol, p.price, p.up, p.due1, p.due_h, p.done1) for p in t.pending]
    want = _judged_as_before([copy.copy(p) for p in pending], prices, ts)
    assert (kept, [t.judged1, t.right1, t.judged_h, t.right_h], shadow._next_due) == want


def test_a_box_is_found_again_after_a_trade_inside_it() -> None:
    """A box is kept while its shadow is as it was found for (and its marks inside); an entry
    added at a price inside it moves the capital and the quantity, so closes inside the old
    box may now be a deeper drawdown: the box is found again, and the shadow ends as the
    whole mark leaves it (`WholeCard`: every mark whole)."""
    from tests.test_scorecard_calm import WholeCard, state

    cfg = EngineConfig(max_entries_per_position=0, reentry_cooldown_minutes=0, leverage=3.0,
                       stack_only_in_profit=False, position_size_percent=20)
    fast, whole = Scorecard(cfg, ["a", "b"], 0.55, 300.0), WholeCard(cfg, 0.55)
    btc, eth = "BTC/USDT", "ETH/USDT"

    def bars(p: dict[str, float]) -> dict[str, tuple[float, float, float, float]]:
        return {s: (v, v * 1.00001, v * 0.99999, v) for s, v in p.items()}

    both = [(Action.BUY, 0.9), (Action.HOLD, 0.9)]
    for card in (fast, whole):
        card.on_answers(btc, 60_000.0, 0.0, both)
        card.on_answers(eth, 3_000.0, 0.0, both)
        card.mark({btc: 57_000.0, eth: 2_850.0}, 300.0, bars({btc: 57_000.0, eth: 2_850.0}))
        card.mark({btc: 58_500.0, eth: 2_925.0}, 600.0, bars({btc: 58_500.0, eth: 2_925.0}))
    a = fast.shadows["a"]
    assert a._box is not None
    deepest = a.tally.max_dd
    (btc_lo, _), (eth_lo, _) = a._box[1]
    edge = {btc: btc_lo * 1.000001, eth: eth_lo * 1.000001}  # inside the old box
    for card in (fast, whole):
        card.on_answers(btc, 58_500.0, 600.0, both)  # a second BTC entry
        card.mark(dict(edge), 900.0, bars(edge))
    assert len(a.engine.positions[btc].entries) == 2
    assert state(fast) == state(whole)
    assert a.tally.max_dd > deepest  # (the old box would have called that bar calm)

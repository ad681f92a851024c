"""core.step: the rules of one tick shared by the live runtime and the backtest, each pinned by a
plain example at its boundary (staleness, the bar's range or the tick, the shadows' mark, the
events kept and those that are urgent, a decision's context, the votes settled)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from autotrade_tui.core.decision import VotePolicy, build_context
from autotrade_tui.core.engine import EngineConfig, TradingEngine
from autotrade_tui.core.models import (
    Action,
    EventType,
    MarketEvent,
    ModelVote,
    OrderType,
    Severity,
    Side,
    TradeSource,
)
from autotrade_tui.core.step import (
    EVENTS_KEPT,
    RECENT_EVENTS,
    TickRules,
    context,
    is_stale,
    mark,
    mark_shadows,
    remember,
    settle_votes,
    urgent,
)

BTC, ETH = "BTC/USDT", "ETH/USDT"


def settings(**over: Any) -> SimpleNamespace:
    """Exactly the settings `TickRules` names it reads, nothing more."""
    base: dict[str, Any] = dict(
        trading_interval_minutes=5, stale_after_seconds=30, event_triggered_decisions=1,
        ai_voting_strategy="weighted", confidence_threshold=0.65, single_model_threshold=0.7,
        model_primary_weight=0.6, model_secondary_weight=0.4)
    base.update(over)
    assert set(base) == set(TickRules.SETTINGS)
    return SimpleNamespace(**base)


def test_tick_rules_from_settings() -> None:
    rules = TickRules.from_settings(settings())
    assert rules.interval_s == 300.0 and type(rules.interval_s) is float
    assert rules.stale_after == 30.0 and type(rules.stale_after) is float
    assert rules.event_decisions is True
    assert rules.policy == VotePolicy("weighted", 0.65, 0.7, (0.6, 0.4))
    off = TickRules.from_settings(settings(event_triggered_decisions=0))
    assert off.event_decisions is False


def test_over_bars_adds_one_bar_to_the_staleness_limit() -> None:
    rules = TickRules.from_settings(settings())
    assert rules.over_bars(300.0) == TickRules(300.0, 330.0, True, rules.policy)
    assert rules.over_bars(1.0).stale_after == 31.0  # any positive bar, a short one too
    assert rules.over_bars(0.0) is rules  # a live feed: unchanged
    assert rules.over_bars(-5.0) is rules


def test_is_stale_only_past_the_limit() -> None:
    assert not is_stale(100.0, 129.0, 30.0)
    assert not is_stale(100.0, 130.0, 30.0)  # exactly the limit: still fresh
    assert is_stale(100.0, 130.5, 30.0)
    assert not is_stale(100.0, 100.0, 0.0)
    assert is_stale(100.0, 100.001, 0.0)


def guarded() -> TradingEngine:
    """A long at 100, 10x, stop-loss at 10 % of margin: the stop sits at 99."""
    eng = TradingEngine(EngineConfig(leverage=10.0, commission_rate=0.0,
                                     maintenance_margin_rate=0.005, position_size_percent=10.0,
                                     stop_loss_percent=10.0))
    eng.open(BTC, Side.LONG, 100.0, 0.0)
    stop, _ = eng.guard_prices(eng.positions[BTC])
    assert stop == pytest.approx(99.0)
    return eng


def test_mark_checks_a_bar_on_its_range_and_a_tick_at_its_price() -> None:
    # the bar's low went through the stop although it closed above it: stopped at 99
    eng = guarded()
    trades = mark(eng, {BTC: 99.5}, 60.0, {BTC: (100.0, 100.2, 98.5, 99.5)})
    assert [(t.order_type, t.source, t.ts) for t in trades] == [
        (OrderType.CLOSE, TradeSource.GUARD, 60.0)]
    assert trades[0].price == pytest.approx(99.0) and BTC not in eng.positions
    # the same close as a tick (no bars, or none of them given) is above the stop
    for bars in (None, {}):
        eng = guarded()
        assert mark(eng, {BTC: 99.5}, 60.0, bars) == []
        assert BTC in eng.positions and eng.marks[BTC] == 99.5
    # a tick through the stop closes at the tick, at now
    eng = guarded()
    trades = mark(eng, {BTC: 98.9}, 75.0)
    assert [(t.source, t.price, t.ts) for t in trades] == [(TradeSource.GUARD, 98.9, 75.0)]


class Card:
    """The two things a tick asks of the scorecard, recorded."""

    def __init__(self, holding: bool = False, next_due: float = 1_000.0) -> None:
        self.holding, self.next_due = holding, next_due
        self.marks: list[tuple[Any, ...]] = []
        self.votes: list[tuple[Any, ...]] = []

    def mark(self, *args: Any) -> None:
        self.marks.append(args)

    def on_votes(self, *args: Any, **kw: Any) -> None:
        self.votes.append((*args, kw))


def test_the_shadows_are_marked_when_holding_or_when_an_answer_is_due() -> None:
    prices, bars = {BTC: 101.0}, {BTC: (100.0, 102.0, 99.0, 101.0)}
    idle = Card(holding=False, next_due=1_000.0)
    assert mark_shadows(idle, prices, 999.0, bars) is False and idle.marks == []
    due = Card(holding=False, next_due=1_000.0)
    assert mark_shadows(due, prices, 1_000.0, bars) is True  # due exactly now
    assert due.marks == [(prices, 1_000.0, bars)]
    holding = Card(holding=True, next_due=1_000.0)
    assert mark_shadows(holding, prices, 10.0) is True
    assert holding.marks == [(prices, 10.0, None)]


def event(symbol: str, k: int, severity: Severity = Severity.MEDIUM) -> MarketEvent:
    return MarketEvent(float(k), symbol, EventType.VOLUME_SPIKE, severity, f"{symbol} #{k}", "")


def test_remember_keeps_the_newest_first_up_to_the_bound() -> None:
    found = [event(BTC, k) for k in (30, 29)]
    recent = [event(ETH, k) for k in range(28, -20, -1)]  # 48 older ones
    kept = remember(found, recent)
    assert len(kept) == EVENTS_KEPT == 50
    assert kept[:2] == found and kept[2:] == recent[:48]
    assert remember([], recent[:3]) == recent[:3]


def test_urgent_names_the_symbols_of_critical_events_once_in_order() -> None:
    found = [event(ETH, 1, Severity.CRITICAL), event("SOL/USDT", 2, Severity.HIGH),
             event(BTC, 3, Severity.CRITICAL), event(ETH, 4, Severity.CRITICAL),
             event("XRP/USDT", 5, Severity.MEDIUM)]
    assert urgent(found) == [BTC, ETH]
    assert urgent(found[1:2]) == []


def test_context_gives_the_symbol_its_own_latest_events_and_the_callers_figures() -> None:
    eng = TradingEngine(EngineConfig(leverage=10.0))
    eng.open(BTC, Side.LONG, 100.0, 0.0)
    eng.open(ETH, Side.SHORT, 50.0, 0.0)
    recent = [event(BTC if k % 3 else ETH, k) for k in range(40, 0, -1)]  # newest first
    prices = {BTC: 104.0, ETH: 45.0}
    ind, sig = {"rsi_14": 55.0}, {"trend": "up"}
    sup, res, closes, fund = [98.0], [110.0], [101.0, 103.0, 104.0], {"fear_greed": 40}
    ctx = context(BTC, 500.0, 104.0, eng, prices, ind, sig, sup, res, recent, closes, fund)
    own = [e for e in recent if e.symbol == BTC]
    assert [e["description"] for e in ctx.recent_events] == [
        e.description for e in own[:RECENT_EVENTS]]
    assert len(ctx.recent_events) == RECENT_EVENTS == 10
    assert (ctx.symbol, ctx.ts, ctx.price) == (BTC, 500.0, 104.0)
    assert (ctx.indicators, ctx.signals, ctx.support, ctx.resistance) == (ind, sig, sup, res)
    assert ctx.recent_closes == closes and ctx.fundamentals == fund
    assert ctx.position is not None and ctx.position["mark_price"] == 104.0
    assert ctx.account["equity"] == eng.equity(prices)  # ETH's move counted too
    assert ctx == build_context(BTC, 500.0, 104.0, eng, prices, ind, sig, sup, res,
                                events=own[:RECENT_EVENTS], fundamentals=fund,
                                recent_closes=closes)
    bare = context(BTC, 500.0, 104.0, eng, prices, ind, sig, sup, res, [], [])
    assert bare.fundamentals is None and bare.recent_events == [] and bare.recent_closes == []


def votes(a: Action, b: Action, conf: float = 0.8) -> tuple[ModelVote, ModelVote]:
    return ModelVote("trend", a, conf), ModelVote("mean", b, conf)


def test_settle_votes_decides_on_both_answers_and_tells_the_shadows() -> None:
    eng, card = TradingEngine(EngineConfig(commission_rate=0.0)), Card()
    both = votes(Action.BUY, Action.BUY)
    out = settle_votes(eng, card, BTC, 100.0, 60.0, both, VotePolicy(), stale=False)
    assert out.executed and out.note.startswith("executed: OPEN LONG")
    [t] = out.execution.trades
    assert (t.symbol, t.side, t.price, t.ts, t.source) == (
        BTC, Side.LONG, 100.0, 60.0, TradeSource.AUTO)
    assert card.votes == [(BTC, 100.0, 60.0, both, {"stale": False})]
    # the second answer counts: a BUY against a SELL is no majority
    split = votes(Action.BUY, Action.SELL)
    out = settle_votes(eng, card, BTC, 100.0, 120.0, split, VotePolicy(), stale=False)
    assert out.result.decision is Action.HOLD and not out.executed
    # the policy is the caller's: a threshold above both confidences holds
    out = settle_votes(eng, card, ETH, 50.0, 120.0, votes(Action.SELL, Action.SELL),
                       VotePolicy(threshold=0.9), stale=False)
    assert out.result.decision is Action.HOLD and not out.executed
    assert out.note == "HOLD: both SELL, avg 0.80 < 0.90 → HOLD"


def test_settle_votes_stale_paused_and_source() -> None:
    eng, card = TradingEngine(EngineConfig(commission_rate=0.0)), Card()
    sell = votes(Action.SELL, Action.SELL)
    out = settle_votes(eng, card, BTC, 100.0, 60.0, sell, VotePolicy(), stale=True)
    assert out.note == "not executed: price is stale" and not eng.positions
    assert card.votes == [(BTC, 100.0, 60.0, sell, {"stale": True})]  # judged stale too
    out = settle_votes(eng, card, BTC, 100.0, 60.0, sell, VotePolicy(), stale=False,
                       paused=True)
    assert out.note == "not executed: automatic trading is paused" and not eng.positions
    out = settle_votes(eng, card, BTC, 100.0, 60.0, sell, VotePolicy(), stale=False,
                       source=TradeSource.EVENT)
    assert [(t.side, t.source) for t in out.execution.trades] == [
        (Side.SHORT, TradeSource.EVENT)]

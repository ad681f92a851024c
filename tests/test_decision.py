"""core.decision (SPEC §7.4–7.5): the gates in their order and at their threshold, the notes
that say what became of a decision, and the position/account views every prompt and pane reads.

Every engine here names each guard it relies on (off unless the test is about it)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from autotrade_tui.core.decision import (
    Outcome,
    VotePolicy,
    account_view,
    build_context,
    decide,
    gate,
    position_dict,
    position_view,
    settle,
)
from autotrade_tui.core.engine import EngineConfig, Execution, TradingEngine
from autotrade_tui.core.models import (
    Action,
    EventType,
    MarketEvent,
    ModelVote,
    OrderType,
    Severity,
    Side,
    TradeSource,
    VoteResult,
)

B, S, H = Action.BUY, Action.SELL, Action.HOLD
BTC = "BTC/USDT"


def config(**over: float) -> EngineConfig:
    """100k, 10 % entries, 20x, fee 0.1 %, mmr 0.5 %, no stop/take-profit/drawdown guard."""
    base: dict[str, float] = dict(
        initial_capital=100_000.0, leverage=20.0, commission_rate=0.001,
        maintenance_margin_rate=0.005, position_size_percent=10.0, max_positions=100,
        stop_loss_percent=0.0, take_profit_percent=0.0, max_drawdown_percent=0.0)
    base.update(over)
    return EngineConfig(**base)  # type: ignore[arg-type]


def engine(**over: float) -> TradingEngine:
    return TradingEngine(config(**over))


def result(decision: Action, confidence: float = 0.8, threshold: float = 0.6,
           reason: str = "why") -> VoteResult:
    return VoteResult(decision, confidence, reason, threshold)


def mv(decision: Action | None, confidence: float = 0.0, error: str | None = None) -> ModelVote:
    return ModelVote(model="m", decision=decision, confidence=confidence, error=error)


# --- gate: which gate speaks, in which order


def test_gate_passes_a_confident_trade_on_a_running_engine() -> None:
    assert gate(engine(), result(B)) == ""
    assert gate(engine(), result(S)) == ""


def test_gate_hold_comes_first_and_quotes_the_vote() -> None:
    eng = engine()
    eng.ledger.halted_reason = "max drawdown 12.0 % ≥ 12 %: automatic trading paused"
    r = result(H, 0.1, reason="both HOLD, avg 0.10 < 0.60 → HOLD")
    assert gate(eng, r, stale=True, paused=True) == "HOLD: both HOLD, avg 0.10 < 0.60 → HOLD"


def test_gate_confidence_threshold_tolerance_on_both_sides() -> None:
    eng = engine()
    assert gate(eng, result(B, 0.6, 0.6)) == ""
    assert gate(eng, result(B, 0.6 - 1e-9, 0.6)) == ""  # within EPS: float noise, not a miss
    assert gate(eng, result(B, 0.6 - 2e-9, 0.6)) == "confidence 0.60 below 0.60"
    assert gate(eng, result(S, 0.55, 0.6)) == "confidence 0.55 below 0.60"


def test_gate_low_confidence_speaks_before_stale_paused_and_halted() -> None:
    eng = engine()
    eng.ledger.halted_reason = "halted"
    assert gate(eng, result(B, 0.3), stale=True, paused=True) == "confidence 0.30 below 0.60"


def test_gate_order_stale_then_paused_then_halted() -> None:
    eng = engine()
    eng.ledger.halted_reason = "max drawdown 5.2 % ≥ 5 %: automatic trading paused"
    assert gate(eng, result(B), stale=True, paused=True) == "not executed: price is stale"
    assert gate(eng, result(B), paused=True) == "not executed: automatic trading is paused"
    assert gate(eng, result(B)) == (
        "not executed: max drawdown 5.2 % ≥ 5 %: automatic trading paused")
    assert gate(engine(), result(B), stale=True) == "not executed: price is stale"
    assert gate(engine(), result(B), paused=True) == "not executed: automatic trading is paused"


# --- settle: the gates, then the engine, and a note saying what was done


def test_settle_blocked_does_nothing_and_says_why() -> None:
    eng = engine()
    out = settle(eng, BTC, 50_000.0, 1.0, result(B), paused=True)
    assert out.note == "not executed: automatic trading is paused"
    assert out.execution.trades == [] and not out.executed
    assert eng.positions == {} and eng.ledger.capital == 100_000.0
    assert settle(eng, BTC, 50_000.0, 1.0, result(B), stale=True).note == (
        "not executed: price is stale")


def test_settle_executes_and_lists_the_fills() -> None:
    eng = engine()
    r = result(B, reason="both BUY, avg 0.80 ≥ 0.60")
    out = settle(eng, BTC, 50_000.0, 7.0, r)
    assert out.executed and out.result is r
    assert out.note == "executed: OPEN LONG 4 @ 50,000.00"
    (t,) = out.execution.trades
    assert (t.order_type, t.side, t.amount, t.ts) == (OrderType.OPEN, Side.LONG, 4.0, 7.0)
    assert (t.source, t.reason) == (TradeSource.AUTO, "both BUY, avg 0.80 ≥ 0.60")
    out = settle(eng, BTC, 49_000.0, 8.0, result(S), source=TradeSource.EVENT)
    assert out.note.startswith("executed: CLOSE LONG 4 @ 49,000.00, OPEN SHORT ")
    assert [t.source for t in out.execution.trades] == [TradeSource.EVENT] * 2


def test_settle_refusal_before_any_fill() -> None:
    eng = engine(max_positions=1)
    eng.open("ETH/USDT", Side.LONG, 2_000.0, 1.0)
    r = result(B)
    out = settle(eng, BTC, 50_000.0, 2.0, r)
    assert out.note == "not executed: max positions reached (1)" and out.result is r
    assert not out.executed and out.execution.trades == []
    assert list(eng.positions) == ["ETH/USDT"]


def test_settle_refusal_after_the_close_names_what_was_done() -> None:
    # The SHORT closes, then the LONG is refused: 100 % entries leave no room for the fee.
    opened = engine()
    opened.open(BTC, Side.SHORT, 50_000.0, 1.0)
    eng = TradingEngine(config(position_size_percent=100.0), opened.state)
    r = result(B)
    out = settle(eng, BTC, 49_000.0, 2.0, r)
    assert out.result is r
    assert out.note.startswith("not executed: insufficient capital: ")
    assert out.note.endswith(" (after CLOSE SHORT)")
    assert not out.executed
    assert [t.order_type for t in out.execution.trades] == [OrderType.CLOSE]
    assert eng.positions == {}


def test_outcome_executed_follows_the_execution() -> None:
    r = result(B)
    assert not Outcome(r, Execution([]), "x").executed
    eng = engine()
    t = eng.open(BTC, Side.LONG, 50_000.0, 1.0)
    assert Outcome(r, Execution([t]), "x").executed
    assert not Outcome(r, Execution([t], "refused"), "x").executed


# --- decide = vote + settle, with the policy's numbers


def test_decide_votes_with_the_policy_then_executes() -> None:
    eng = engine()
    out = decide(eng, BTC, 50_000.0, 1.0, (mv(B, 0.8), mv(B, 0.7)), VotePolicy())
    assert out.result == VoteResult(B, pytest.approx(0.75), "both BUY, avg 0.75 ≥ 0.60", 0.6)
    assert out.executed and BTC in eng.positions
    (t,) = out.execution.trades
    assert (t.ts, t.price, t.reason) == (1.0, 50_000.0, "both BUY, avg 0.75 ≥ 0.60")


def test_decide_threshold_of_the_policy_holds() -> None:
    eng = engine()
    out = decide(eng, BTC, 50_000.0, 1.0, (mv(B, 0.8), mv(B, 0.7)),
                 VotePolicy(threshold=0.8))
    assert out.result.decision is H and out.result.threshold == 0.8
    assert out.note == "HOLD: both BUY, avg 0.75 < 0.80 → HOLD"
    assert eng.positions == {}


def test_decide_single_threshold_weights_and_strategy_of_the_policy() -> None:
    eng = engine()
    single = decide(eng, BTC, 50_000.0, 1.0, (mv(B, 0.6), mv(None, error="timeout")),
                    VotePolicy(single_threshold=0.65))
    assert single.result.decision is H and single.result.threshold == 0.65
    weighted = decide(eng, BTC, 50_000.0, 1.0, (mv(B, 0.9), mv(S, 0.9)),
                      VotePolicy(strategy="weighted", weights=(0.2, 0.8)))
    assert weighted.result.decision is S
    assert weighted.result.reason.startswith("weighted 0.2/0.8: SELL 0.72, BUY 0.18")
    unanimous = decide(engine(), BTC, 50_000.0, 1.0, (mv(B, 0.9), mv(S, 0.2)),
                       VotePolicy(strategy="unanimous"))
    assert unanimous.result.decision is H and "unanimous needs agreement" in unanimous.note


def test_decide_passes_stale_paused_and_source_through() -> None:
    votes = (mv(S, 0.9), mv(S, 0.9))
    assert decide(engine(), BTC, 50_000.0, 1.0, votes, VotePolicy(), stale=True).note == (
        "not executed: price is stale")
    assert decide(engine(), BTC, 50_000.0, 1.0, votes, VotePolicy(), paused=True).note == (
        "not executed: automatic trading is paused")
    out = decide(engine(), BTC, 50_000.0, 1.0, votes, VotePolicy(), source=TradeSource.MANUAL)
    assert [t.source for t in out.execution.trades] == [TradeSource.MANUAL]


def test_vote_policy_from_settings() -> None:
    settings = SimpleNamespace(ai_voting_strategy="weighted", confidence_threshold=0.7,
                               single_model_threshold=0.65, model_primary_weight=0.3,
                               model_secondary_weight=0.7)
    assert VotePolicy.from_settings(settings) == VotePolicy("weighted", 0.7, 0.65, (0.3, 0.7))
    assert VotePolicy() == VotePolicy("majority", 0.6, 0.55, (0.5, 0.5))


# --- the views the prompts and panes read


def test_position_dict_long_figures() -> None:
    eng = engine()
    eng.open(BTC, Side.LONG, 50_000.0, 3.0)
    eng.open(BTC, Side.LONG, 50_000.0, 4.0)
    pos = eng.positions[BTC]
    liq = pos.liquidation_price(0.005)
    d = position_dict(pos, 51_000.0, 0.005)
    assert d == {
        "symbol": BTC, "side": "LONG", "quantity": pytest.approx(4.0 + 3.592),
        "entry_price": pytest.approx(50_000.0), "mark_price": 51_000.0,
        "margin": pytest.approx(18_980.0), "leverage": pytest.approx(20.0),
        "liquidation_price": liq,
        "liquidation_distance_pct": pytest.approx((51_000.0 - liq) / 51_000.0 * 100.0),
        "unrealized_pnl": pytest.approx(7.592 * 1_000.0), "entries": 2, "opened_at": 3.0,
    }
    assert position_view(eng, BTC, 51_000.0) == d
    assert position_view(eng, "ETH/USDT", 2_000.0) is None


def test_position_dict_short_distance_and_a_zero_mark() -> None:
    eng = engine()
    eng.open(BTC, Side.SHORT, 50_000.0, 1.0)
    pos = eng.positions[BTC]
    liq = pos.liquidation_price(0.005)
    d = position_dict(pos, 49_000.0, 0.005)
    assert d["side"] == "SHORT" and d["unrealized_pnl"] == pytest.approx(4_000.0)
    assert d["liquidation_distance_pct"] == pytest.approx((liq - 49_000.0) / 49_000.0 * 100.0)
    assert position_dict(pos, 0.0, 0.005)["liquidation_distance_pct"] is None
    assert position_dict(pos, 49_000.0, 0.01)["liquidation_price"] == pos.liquidation_price(0.01)


def test_position_view_uses_the_engines_maintenance_rate() -> None:
    eng = engine(maintenance_margin_rate=0.02)
    eng.open(BTC, Side.LONG, 50_000.0, 1.0)
    view = position_view(eng, BTC, 50_000.0)
    assert view is not None
    assert view["liquidation_price"] == pytest.approx(47_500.0 / 0.98)


def test_account_view_flat_then_after_a_win_and_a_loss() -> None:
    eng = engine()
    assert account_view(eng, {}) == {
        "equity": 100_000.0, "free_capital": 100_000.0, "open_positions": 0,
        "realized_pnl": 0.0, "win_rate_pct": 0.0, "closed_trades": 0}
    eng.open(BTC, Side.LONG, 50_000.0, 1.0)
    eng.close(BTC, 51_000.0, 2.0)  # +4,000
    eng.open(BTC, Side.LONG, 50_000.0, 3.0)
    eng.close(BTC, 49_900.0, 4.0)  # a loss
    eng.open("ETH/USDT", Side.SHORT, 2_000.0, 5.0)
    view = account_view(eng, {"ETH/USDT": 1_900.0})
    assert view["open_positions"] == 1 and view["closed_trades"] == 2
    assert view["win_rate_pct"] == 50.0
    assert view["realized_pnl"] == pytest.approx(eng.ledger.realized_pnl)
    assert view["free_capital"] == eng.ledger.capital
    assert view["equity"] == pytest.approx(eng.equity({"ETH/USDT": 1_900.0}))
    assert view["equity"] > eng.equity({})  # the SHORT's gain at 1,900 is counted


def test_build_context_carries_every_part() -> None:
    eng = engine()
    eng.open(BTC, Side.LONG, 50_000.0, 1.0)
    event = MarketEvent(5.0, BTC, EventType.FLASH_CRASH, Severity.HIGH, "BTC fell", "act", {})
    ctx = build_context(BTC, 6.0, 49_000.0, eng, {BTC: 49_000.0}, {"rsi": 41.0},
                        {"trend": "down"}, [48_000.0], [52_000.0], [event],
                        {"fear_greed": 20}, [49_500.0, 49_000.0])
    assert (ctx.symbol, ctx.ts, ctx.price) == (BTC, 6.0, 49_000.0)
    assert ctx.indicators == {"rsi": 41.0} and ctx.signals == {"trend": "down"}
    assert (ctx.support, ctx.resistance) == ([48_000.0], [52_000.0])
    assert ctx.position == position_view(eng, BTC, 49_000.0)
    assert ctx.account == account_view(eng, {BTC: 49_000.0})
    assert ctx.recent_events == [{"ts": 5.0, "type": "FLASH_CRASH", "severity": "HIGH",
                                  "description": "BTC fell"}]
    assert ctx.fundamentals == {"fear_greed": 20}
    assert ctx.recent_closes == [49_500.0, 49_000.0]


def test_build_context_defaults_without_a_position() -> None:
    ctx = build_context("ETH/USDT", 1.0, 2_000.0, engine(), {}, {}, {}, [], [])
    assert ctx.position is None and ctx.recent_events == [] and ctx.fundamentals is None
    assert ctx.recent_closes == [] and ctx.account["equity"] == 100_000.0


def test_settle_says_when_a_rule_sized_the_entry_down() -> None:
    # The exposure rule (off unless set): 100 % of equity at 20x leaves room for a margin of
    # ~5,000 instead of the 10 % = 10,000 asked, so the fill is smaller and the note says why.
    eng = TradingEngine(EngineConfig(
        initial_capital=100_000.0, leverage=20.0, commission_rate=0.001,
        maintenance_margin_rate=0.005, position_size_percent=10.0, max_positions=100,
        stop_loss_percent=0.0, take_profit_percent=0.0, max_drawdown_percent=0.0,
        max_exposure_percent=100.0))
    out = settle(eng, BTC, 50_000.0, 1.0, result(B))
    (t,) = out.execution.trades
    assert t.amount < 4.0  # 10 % at 20x would have been 4 BTC
    assert t.reason == "why; sized down to fit max exposure 100 %"
    assert out.note == (f"executed: OPEN LONG {t.amount:.6g} @ 50,000.00 "
                        "(sized down to fit max exposure 100 %)")
    assert out.executed

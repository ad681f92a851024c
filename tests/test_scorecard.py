"""The scorecard's shadow ledgers (SPEC §16): copies of the pure engine, one per model."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotrade_tui.core.decision import VotePolicy, decide
from autotrade_tui.core.engine import EngineConfig, TradingEngine
from autotrade_tui.core.models import Action, ModelVote, Side
from autotrade_tui.core.scorecard import Scorecard

CFG = EngineConfig(stop_loss_percent=60, take_profit_percent=80, max_drawdown_percent=15,
                   drawdown_action="flatten", max_entries_per_position=2,
                   stack_only_in_profit=True, max_exposure_percent=200,
                   reentry_cooldown_minutes=30, position_size_percent=5)
SYMS = ["BTC/USDT", "ETH/USDT"]


def vote(name: str, action: Action | None, conf: float = 0.8) -> ModelVote:
    if action is None:
        return ModelVote(name, None, error="timeout", prompt_tokens=10, cost=0.01)
    return ModelVote(name, action, conf, "r", prompt_tokens=100, completion_tokens=20,
                     cost=0.002)


answers = st.one_of(st.none(), st.sampled_from(list(Action)))
steps = st.lists(st.tuples(st.sampled_from(SYMS), answers, answers,
                           st.sampled_from([0.4, 0.55, 0.7, 0.9]),
                           st.floats(0.9, 1.1)), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps)
def test_every_shadow_keeps_the_ledger_invariant_and_restores_exactly(steps: list) -> None:
    card = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    prices = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0}
    for i, (sym, a, b, conf, move) in enumerate(steps):
        ts = 300.0 * i
        prices[sym] *= move
        card.mark(prices, ts)
        card.on_votes(sym, prices[sym], ts, [vote("a", a, conf), vote("b", b, conf)])
        for shadow in card.shadows.values():
            assert shadow.engine.invariant_error() <= 1e-9 * CFG.initial_capital
    again = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    again.restore(json.loads(json.dumps(card.to_dict())))  # through JSON, as persisted
    assert again.to_dict() == card.to_dict()
    assert again.rows(prices) == card.rows(prices)


def test_a_model_that_always_holds_ends_at_its_initial_capital() -> None:
    card = Scorecard(CFG, ["holder", "trader"], 0.55, 300.0)
    prices = {"BTC/USDT": 100.0}
    for i in range(50):
        prices["BTC/USDT"] = 100.0 + (i % 7)
        card.mark(prices, 300.0 * i)
        card.on_votes("BTC/USDT", prices["BTC/USDT"], 300.0 * i,
                      [vote("holder", Action.HOLD), vote("trader", Action.BUY)])
    holder, trader = card.rows(prices)
    assert holder["equity"] == CFG.initial_capital and holder["trades"] == 0
    assert holder["return_pct"] == 0.0 and holder["accuracy_1"] is None
    assert trader["equity"] != CFG.initial_capital


@settings(max_examples=150, deadline=None)
@given(steps=steps)
def test_with_identical_models_each_shadow_is_the_ensemble(steps: list) -> None:
    """Two identical answers make the vote that answer (at the same threshold), so the real
    account and each shadow hold the same ledger."""
    card = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    real = TradingEngine(CFG)
    policy = VotePolicy("majority", 0.55, 0.55)
    prices = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0}
    for i, (sym, a, _b, conf, move) in enumerate(steps):
        ts = 300.0 * i
        prices[sym] *= move
        real.mark(prices, ts)
        card.mark(prices, ts)
        pair = (vote("a", a, conf), vote("b", a, conf))
        decide(real, sym, prices[sym], ts, pair, policy)
        card.on_votes(sym, prices[sym], ts, list(pair))
    for shadow in card.shadows.values():
        assert shadow.engine.ledger == real.ledger
        assert shadow.engine.positions == real.positions


def test_direction_accuracy_after_one_interval_and_after_an_hour() -> None:
    card = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    card.on_votes("BTC/USDT", 100.0, 0.0, [vote("a", Action.BUY), vote("b", Action.SELL)])
    card.mark({"BTC/USDT": 101.0}, 299.0)  # not yet due
    a, b = card.rows({"BTC/USDT": 101.0})
    assert a["accuracy_1"] is None and a["pending"] == 1
    card.mark({"BTC/USDT": 101.0}, 300.0)  # one interval: up, the BUY was right
    a, b = card.rows({"BTC/USDT": 101.0})
    assert (a["accuracy_1"], b["accuracy_1"]) == (100.0, 0.0)
    assert a["accuracy_1h"] is None and a["judged_1"] == 1
    card.mark({"BTC/USDT": 99.0}, 3600.0)  # an hour: down, the SELL was right
    a, b = card.rows({"BTC/USDT": 99.0})
    assert (a["accuracy_1h"], b["accuracy_1h"]) == (0.0, 100.0) and a["pending"] == 0


def test_errors_tokens_cost_and_pnl_per_dollar() -> None:
    card = Scorecard(CFG, ["api", "offline"], 0.55, 300.0)
    card.on_votes("BTC/USDT", 100.0, 0.0, [vote("api", None), ModelVote("offline", Action.HOLD,
                                                                        0.4, "calm")])
    card.on_votes("BTC/USDT", 100.0, 300.0, [vote("api", Action.BUY), ModelVote(
        "offline", Action.HOLD, 0.4, "calm")])
    card.mark({"BTC/USDT": 110.0}, 600.0)
    api, offline = card.rows({"BTC/USDT": 110.0})
    assert api["errors"] == 1 and api["tokens"] == 10 + 120
    assert api["cost"] == pytest.approx(0.012)
    assert api["pnl_per_dollar"] == pytest.approx((api["equity"] - 100_000) / 0.012)
    assert offline["cost"] == 0.0 and offline["pnl_per_dollar"] is None  # shown as "—"


def test_the_ensemble_row_is_the_real_account() -> None:
    card = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    real = TradingEngine(CFG)
    real.open("BTC/USDT", Side.LONG, 100.0, 0.0)
    rows = card.rows({"BTC/USDT": 105.0}, real, [100_000.0, 99_000.0, 101_000.0])
    ens = rows[-1]
    assert ens["model"] == "ensemble" and ens["equity"] == real.equity({"BTC/USDT": 105.0})
    assert ens["max_drawdown"] == pytest.approx(1.0)

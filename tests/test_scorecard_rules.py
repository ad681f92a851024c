"""The scorecard's rules (SPEC §16, core/scorecard.py), one figure at a time: each row's
percentages and counts, when an answer is judged and what counts as right, the shadow's
drawdown, the gates a lone answer passes, which symbols are held, the equity curves, and a
restart (issue 24: mutation testing of the new core modules). Plain examples, no I/O."""

from __future__ import annotations

import json

import pytest

from autotrade_tui.core.engine import EngineConfig, TradingEngine
from autotrade_tui.core.models import Action, ModelVote, Side
from autotrade_tui.core.scorecard import CURVE_POINTS, HOUR, Scorecard, Shadow

CFG = EngineConfig()  # 20×, 10 % of capital per entry, 0.1 % fees, no guards
BTC, ETH = "BTC/USDT", "ETH/USDT"


def vote(action: Action | None, conf: float = 0.8, cost: float = 0.002) -> ModelVote:
    if action is None:
        return ModelVote("m", None, error="timeout", prompt_tokens=7, cost=cost)
    return ModelVote("m", action, conf, "r", prompt_tokens=100, completion_tokens=20,
                     cost=cost)


def reference(*steps: tuple[Action, float, float]) -> TradingEngine:
    """The engine a shadow copies, fed the same orders: (action, price, ts)."""
    eng = TradingEngine(CFG)
    for action, price, ts in steps:
        eng.execute(action, BTC, price, ts)
    return eng


# ---- the rows --------------------------------------------------------------------------------
def test_return_win_rate_fees_and_liquidations_in_a_row() -> None:
    card = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.8), (Action.HOLD, 0.9)])
    a, b = card.rows({BTC: 100.0})
    assert a["trades"] == 0 and a["win_rate"] is None  # no close yet: no win rate
    card.on_answers(BTC, 102.0, 300.0, [(Action.SELL, 0.8), (Action.HOLD, 0.9)])  # closes
    card.on_answers(BTC, 103.0, 600.0, [(Action.BUY, 0.8), (Action.HOLD, 0.9)])  # the short
    a, b = card.rows({BTC: 103.0})
    real = reference((Action.BUY, 100.0, 0.0), (Action.SELL, 102.0, 300.0),
                     (Action.BUY, 103.0, 600.0))
    equity = real.equity({BTC: 103.0})
    assert a["equity"] == equity
    assert a["return_pct"] == pytest.approx((equity - 100_000.0) / 1_000.0)
    assert 0.5 < a["return_pct"] < 1.5  # +2 % then −1 % at 20× on a tenth of the capital
    assert (a["trades"], a["win_rate"]) == (2, 50.0)  # the long won, the short lost
    assert a["fees"] == real.ledger.total_fees > 0 and a["liquidations"] == 0
    assert (b["equity"], b["return_pct"], b["trades"], b["fees"]) == (100_000.0, 0.0, 0, 0.0)


def test_a_liquidation_is_counted_in_the_row() -> None:
    card = Scorecard(CFG, ["a"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.8)])
    card.mark({BTC: 90.0}, 60.0)  # −10 % at 20×: beyond the liquidation price
    [a] = card.rows({BTC: 90.0})
    assert a["liquidations"] == 1 and a["trades"] == 1 and a["win_rate"] == 0.0


def test_accuracy_is_the_share_of_right_answers() -> None:
    card = Scorecard(CFG, ["a"], 0.55, 300.0)
    for i, (action, price) in enumerate([(Action.SELL, 100.0), (Action.BUY, 100.0),
                                         (Action.BUY, 100.0)]):
        card.on_answers(BTC, price, 10.0 * i, [(action, 0.8)])
    card.mark({BTC: 101.0}, 320.0)  # all three due: up, so the two BUYs were right
    [a] = card.rows({BTC: 101.0})
    assert a["accuracy_1"] == pytest.approx(200.0 / 3.0)
    assert (a["judged_1"], a["judged_1h"], a["pending"]) == (3, 0, 3)
    assert a["accuracy_1h"] is None
    card.mark({BTC: 99.0}, 20.0 + HOUR)  # an hour: down, the SELL was right
    [a] = card.rows({BTC: 99.0})
    assert a["accuracy_1h"] == pytest.approx(100.0 / 3.0)
    assert a["accuracy_1"] == pytest.approx(200.0 / 3.0)  # judged once only
    assert (a["judged_1"], a["judged_1h"], a["pending"]) == (3, 3, 0)


def test_the_shadows_drawdown_is_measured_from_its_peak() -> None:
    card = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.8), (Action.HOLD, 0.8)])
    seen = []
    for ts, price in [(60.0, 102.0), (120.0, 101.0), (180.0, 103.0), (240.0, 100.5)]:
        card.mark({BTC: price}, ts)
        seen.append(card.shadows["a"].engine.equity({BTC: price}))
    peak = max(seen)
    assert card.shadows["a"].tally.peak == peak == seen[2]
    worst = (peak - seen[3]) / peak * 100.0
    a, b = card.rows({BTC: 100.5})
    assert a["max_drawdown"] == pytest.approx(worst) and worst > 0.5
    assert b["max_drawdown"] == 0.0 and card.shadows["b"].tally.peak == 100_000.0
    # A smaller dip later does not lower the deepest one.
    card.mark({BTC: 102.5}, 300.0)
    assert card.rows({BTC: 102.5})[0]["max_drawdown"] == pytest.approx(worst)


def test_errors_tokens_and_cost_and_the_pnl_per_dollar() -> None:
    card = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    card.on_votes(BTC, 100.0, 0.0, [vote(None, cost=0.01), vote(Action.BUY, cost=0.004)])
    card.on_votes(BTC, 100.0, 300.0, [vote(Action.BUY, cost=0.002), vote(None, cost=0.0)])
    card.on_votes(BTC, 100.0, 301.0, [vote(None, cost=0.0), vote(Action.HOLD, cost=0.0)])
    a, b = card.rows({BTC: 105.0})
    assert [r["model"] for r in card.rows({})] == ["a", "b"]
    assert (a["errors"], a["tokens"], a["cost"]) == (2, 7 + 120 + 7, pytest.approx(0.012))
    assert (b["errors"], b["tokens"], b["cost"]) == (1, 120 + 7 + 120, pytest.approx(0.004))
    assert b["pnl_per_dollar"] == pytest.approx((b["equity"] - 100_000.0) / 0.004)
    assert b["pnl_per_dollar"] > 0
    # The error was not an answer: the failing model's shadow did not trade on it.
    assert a["judged_1"] == 0 and card.shadows["a"].tally.pending[0].due1 == 600.0


def test_the_ensemble_row_sums_the_models_costs_and_takes_the_real_curve() -> None:
    card = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    card.on_votes(BTC, 100.0, 0.0, [vote(Action.HOLD, cost=0.01), vote(None, cost=0.03)])
    real = TradingEngine(CFG)
    real.open(BTC, Side.LONG, 100.0, 0.0)
    ens = card.rows({BTC: 101.0}, real, [100_000.0, 95_000.0, 99_000.0])[-1]
    assert (ens["tokens"], ens["cost"]) == (120 + 7, pytest.approx(0.04))
    assert ens["errors"] == 0 and ens["max_drawdown"] == pytest.approx(5.0)
    assert ens["equity"] == real.equity({BTC: 101.0})
    assert ens["pnl_per_dollar"] == pytest.approx((ens["equity"] - 100_000.0) / 0.04)
    # No curve yet: no drawdown.
    assert card.rows({BTC: 101.0}, real)[-1]["max_drawdown"] == 0.0


# ---- what a lone answer does -----------------------------------------------------------------
def test_a_lone_answer_is_gated_at_the_single_threshold() -> None:
    card = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.55), (Action.BUY, 0.54)])
    assert BTC in card.shadows["a"].engine.positions
    assert not card.shadows["b"].engine.positions
    # Below the threshold it is still an answer: judged for direction.
    assert len(card.shadows["b"].tally.pending) == 1


def test_a_stale_price_executes_nothing_but_the_answer_is_judged() -> None:
    card = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.9), (Action.SELL, 0.9)], stale=True)
    card.on_votes(ETH, 10.0, 0.0, [vote(Action.BUY), vote(Action.SELL)], stale=True)
    for s in card.shadows.values():
        assert not s.engine.positions and len(s.tally.pending) == 2
    assert not card.holding
    card.on_answers(BTC, 100.0, 60.0, [(Action.BUY, 0.9), (Action.SELL, 0.9)])
    assert card.shadows["a"].engine.positions[BTC].side is Side.LONG
    assert card.shadows["b"].engine.positions[BTC].side is Side.SHORT
    assert card.holding


def test_fewer_answers_than_models_feed_the_first_models() -> None:
    card = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.9)])
    card.on_votes(ETH, 10.0, 0.0, [vote(Action.SELL)])
    assert set(card.shadows["a"].engine.positions) == {BTC, ETH}
    assert not card.shadows["b"].engine.positions and not card.shadows["b"].tally.pending


def test_a_hold_or_a_price_of_zero_is_not_judged() -> None:
    shadow = Shadow(CFG, 0.55)
    shadow.act(Action.HOLD, 0.9, BTC, 100.0, 0.0, 300.0)
    shadow.act(Action.BUY, 0.9, BTC, 0.0, 0.0, 300.0)
    assert shadow.tally.pending == [] and not shadow.engine.positions


def test_an_answer_is_due_one_interval_and_one_hour_later() -> None:
    shadow = Shadow(CFG, 0.55)
    shadow.act(Action.SELL, 0.9, BTC, 100.0, 1000.0, 300.0)
    [p] = shadow.tally.pending
    assert (p.symbol, p.price, p.up, p.due1, p.due_h, p.done1) == \
        (BTC, 100.0, False, 1300.0, 1000.0 + HOUR, False)
    shadow.act(Action.BUY, 0.9, ETH, 10.0, 1100.0, 300.0)
    assert shadow.tally.pending[1].up is True
    card = Scorecard(CFG, ["a"], 0.55, 300.0)
    assert card.next_due == float("inf")
    card.on_answers(BTC, 100.0, 1000.0, [(Action.SELL, 0.9)])
    assert card.next_due == 1300.0
    card.mark({BTC: 99.0}, 1300.0)
    assert card.next_due == 1000.0 + HOUR


# ---- judging ---------------------------------------------------------------------------------
def test_an_unchanged_price_is_a_wrong_answer_either_way() -> None:
    card = Scorecard(CFG, ["up", "down"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.9), (Action.SELL, 0.9)])
    card.mark({BTC: 100.0}, 300.0)
    up, down = card.rows({BTC: 100.0})
    assert (up["accuracy_1"], down["accuracy_1"]) == (0.0, 0.0)
    assert up["judged_1"] == down["judged_1"] == 1


def test_a_sell_is_right_when_the_price_fell() -> None:
    card = Scorecard(CFG, ["up", "down"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.9), (Action.SELL, 0.9)])
    card.mark({BTC: 99.99}, 300.0)
    up, down = card.rows({BTC: 99.99})
    assert (up["accuracy_1"], down["accuracy_1"]) == (0.0, 100.0)


def test_an_answer_waits_for_its_symbols_price_and_its_time() -> None:
    card = Scorecard(CFG, ["a"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.9)])
    card.on_answers(ETH, 10.0, 100.0, [(Action.BUY, 0.9)])
    card.mark({ETH: 11.0}, 299.0)  # nothing due yet
    assert card.rows({})[0]["judged_1"] == 0
    card.mark({ETH: 11.0}, 400.0)  # both due; only ETH has a price
    a = card.rows({})[0]
    assert (a["judged_1"], a["accuracy_1"], a["pending"]) == (1, 100.0, 2)
    card.mark({BTC: 101.0, ETH: 9.0}, 450.0)  # BTC judged at its first price after the time
    a = card.rows({})[0]
    assert (a["judged_1"], a["accuracy_1"], a["pending"]) == (2, 100.0, 2)
    card.mark({BTC: 99.0, ETH: 9.0}, 100.0 + HOUR - 1.0)  # BTC's hour, not yet ETH's
    a = card.rows({})[0]
    assert (a["judged_1h"], a["accuracy_1h"], a["pending"]) == (1, 0.0, 1)
    card.mark({BTC: 99.0, ETH: 12.0}, 100.0 + HOUR)
    a = card.rows({})[0]
    assert (a["judged_1h"], a["accuracy_1h"], a["pending"], a["judged_1"]) == (2, 50.0, 0, 2)


def test_a_restored_pending_answer_is_judged_on_time() -> None:
    card = Scorecard(CFG, ["a"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.9)])
    card.mark({BTC: 101.0}, 300.0)  # judged once; its hour is next
    again = Scorecard(CFG, ["a"], 0.55, 300.0)
    again.restore(json.loads(json.dumps(card.to_dict())))
    assert again.next_due == HOUR
    again.mark({BTC: 102.0}, HOUR - 1.0)
    assert again.rows({})[0]["judged_1h"] == 0
    again.mark({BTC: 102.0}, HOUR)
    a = again.rows({})[0]
    assert (a["judged_1"], a["judged_1h"], a["accuracy_1h"], a["pending"]) == (1, 1, 100.0, 0)


# ---- what is held, and the curves -------------------------------------------------------------
@pytest.mark.parametrize("names", [["a", "b"], ["a", "b", "c"], ["a"]])
def test_held_is_every_symbol_some_shadow_holds(names: list[str]) -> None:
    card = Scorecard(CFG, names, 0.55, 300.0)
    assert BTC not in card.held() and not card.holding
    first = [(Action.BUY, 0.9)] + [(Action.HOLD, 0.9)] * (len(names) - 1)
    card.on_answers(BTC, 100.0, 0.0, first)
    assert BTC in card.held() and ETH not in card.held() and card.holding
    if len(names) == 1:
        return
    last = [(Action.HOLD, 0.9)] * (len(names) - 1) + [(Action.SELL, 0.9)]
    card.on_answers(ETH, 10.0, 0.0, last)
    assert BTC in card.held() and ETH in card.held()
    card.on_answers(BTC, 100.0, 1.0, [(Action.SELL, 0.9)])  # the first closes (and shorts)
    card.shadows["a"].engine.close(BTC, 100.0, 2.0)
    assert BTC not in card.held() and ETH in card.held()
    card.on_answers(BTC, 100.0, 3.0, [(Action.HOLD, 0.9)] * (len(names) - 1)
                    + [(Action.BUY, 0.9)])
    assert BTC in card.held() and ETH in card.held()


def test_the_equity_curves_follow_the_shadows_and_keep_their_last_points() -> None:
    card = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.9), (Action.HOLD, 0.9)])
    card.sample({ETH: 10.0})  # BTC at its last known price, the fill
    card.sample({BTC: 110.0})
    a = card.shadows["a"].engine
    assert card.curves["a"] == [a.equity({BTC: 100.0}), a.equity({BTC: 110.0})]
    assert card.curves["b"] == [100_000.0, 100_000.0]
    for i in range(CURVE_POINTS + 5):
        card.sample({BTC: 100.0 + i / 100.0})
    assert len(card.curves["a"]) == CURVE_POINTS
    assert card.curves["a"][-1] == a.equity({BTC: 100.0 + (CURVE_POINTS + 4) / 100.0})
    assert card.curves["a"][0] == a.equity({BTC: 100.0 + 5 / 100.0})
    data = json.loads(json.dumps(card.to_dict()))
    assert data["a"]["curve"] == card.curves["a"]
    again = Scorecard(CFG, ["a", "b"], 0.55, 300.0)
    again.restore(data)
    assert again.curves == card.curves


# ---- a restart -------------------------------------------------------------------------------
def test_a_restored_scorecard_trades_on_with_its_config_and_threshold() -> None:
    cfg = EngineConfig(position_size_percent=5.0, leverage=10.0)
    card = Scorecard(cfg, ["a", "b", "new"], 0.6, 300.0)
    old = Scorecard(cfg, ["a", "b", "gone"], 0.6, 300.0)
    old.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.9), (Action.SELL, 0.9), (Action.BUY, 0.9)])
    old.mark({BTC: 101.0}, 300.0)
    data = json.loads(json.dumps(old.to_dict()))
    del data["b"]["curve"]  # written before curves were kept
    card.restore(data)
    assert set(card.shadows) == {"a", "b", "new"} and card.curves["b"] == []
    assert card.shadows["new"].engine.ledger.total_trades == 0
    assert card.to_dict()["a"] == old.to_dict()["a"]
    assert card.holding and BTC in card.held()
    # The restored shadows keep the threshold (0.59 is below it) and the config's sizing.
    card.on_answers(ETH, 10.0, 400.0, [(Action.BUY, 0.59), (Action.BUY, 0.6)])
    old.on_answers(ETH, 10.0, 400.0, [(Action.BUY, 0.59), (Action.BUY, 0.6)])
    assert ETH not in card.shadows["a"].engine.positions
    assert card.shadows["b"].engine.positions[ETH] == old.shadows["b"].engine.positions[ETH]
    assert card.shadows["b"].engine.positions[ETH].entries[0].leverage == 10.0
    assert card.rows({ETH: 10.5})[:2] == old.rows({ETH: 10.5})[:2]


def test_a_restored_answer_not_yet_judged_is_due_after_one_interval() -> None:
    card = Scorecard(CFG, ["a"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.9)])
    again = Scorecard(CFG, ["a"], 0.55, 300.0)
    again.restore(json.loads(json.dumps(card.to_dict())))
    assert again.next_due == 300.0
    again.mark({BTC: 101.0}, 300.0)
    assert again.rows({})[0]["judged_1"] == 1 and again.next_due == HOUR


def test_a_shadow_checks_whole_bars_as_a_backtest_gives_them() -> None:
    card = Scorecard(CFG, ["a"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.9)])
    # The bar's low went beyond the liquidation price; its close did not.
    card.mark({BTC: 99.0}, 300.0, {BTC: (100.0, 100.5, 90.0, 99.0)})
    [a] = card.rows({BTC: 99.0})
    assert a["liquidations"] == 1 and not card.holding
    assert card.shadows["a"].engine.closed_at == {BTC: 300.0}


def test_a_lone_shadow_trades_when_called_without_a_stale_flag() -> None:
    shadow = Shadow(CFG, 0.55)
    shadow.act(Action.BUY, 0.9, BTC, 0.5, 0.0, 300.0)  # a sub-1 USDT asset
    assert BTC in shadow.engine.positions
    assert [p.price for p in shadow.tally.pending] == [0.5]
    shadow.answer(vote(Action.SELL), ETH, 0.25, 0.0, 300.0)
    assert shadow.engine.positions[ETH].side is Side.SHORT
    assert [p.price for p in shadow.tally.pending] == [0.5, 0.25]


def test_a_shadow_that_went_flat_follows_its_equity_once_more() -> None:
    cfg = EngineConfig(reentry_cooldown_minutes=30.0)  # the close's reverse entry waits
    for restored in (False, True):
        card = Scorecard(cfg, ["a"], 0.55, 300.0)
        card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.9)])
        card.mark({BTC: 100.0}, 60.0)  # marked while holding
        if restored:
            again = Scorecard(cfg, ["a"], 0.55, 300.0)
            again.restore(json.loads(json.dumps(card.to_dict())))
            card = again
        card.on_answers(BTC, 105.0, 120.0, [(Action.SELL, 0.9)])  # closes at a profit
        shadow = card.shadows["a"]
        assert not shadow.engine.positions
        assert shadow.tally.peak == 100_000.0
        card.mark({BTC: 105.0}, 180.0)  # flat now: the profit reaches the peak
        assert shadow.tally.peak == shadow.engine.ledger.capital > 100_000.0
        dd = card.rows({})[0]["max_drawdown"]
        assert dd == pytest.approx(0.2)  # the entry's fee, marked while holding
        card.mark({BTC: 90.0}, 240.0)  # flat: nothing moves
        assert card.rows({BTC: 90.0})[0]["max_drawdown"] == dd
        assert shadow.tally.peak == shadow.engine.ledger.capital


def test_a_scorecard_without_models_is_empty() -> None:
    card = Scorecard(CFG, [], 0.55, 300.0)
    card.mark({BTC: 100.0}, 0.0)
    card.on_answers(BTC, 100.0, 0.0, [])
    assert card.next_due == float("inf") and not card.holding
    assert card.rows({BTC: 100.0}) == [] and card.to_dict() == {}


def test_a_flat_shadows_answer_is_judged_at_its_due_time() -> None:
    card = Scorecard(CFG, ["a"], 0.55, 300.0)
    card.on_answers(BTC, 100.0, 0.0, [(Action.BUY, 0.3)])  # below the threshold: no trade
    assert not card.holding and card.next_due == 300.0
    card.mark({BTC: 101.0}, 300.0)
    a = card.rows({})[0]
    assert (a["judged_1"], a["accuracy_1"], a["trades"]) == (1, 100.0, 0)
    assert card.next_due == HOUR

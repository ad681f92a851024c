"""The engine's rules at their boundaries (SPEC §8), one plain example per side of each: the
stop-loss and take-profit alone and together, the drawdown guard (below, at and after profits
given back, re-armed by `resume`), prices at zero, below zero and below 1 USDT, the EPS
tolerances, dust entries, win/loss counting and the refusals.

Every engine here names each guard it relies on (`cfg` sets them all): the product's defaults
are the configuration's business, not these rules'. The figures are chosen to be exact in
binary floating point (1x leverage, no fee) wherever a boundary is tested.
"""

from __future__ import annotations

import math

import pytest

from autotrade_tui import config
from autotrade_tui.core.engine import (
    MIN_MARGIN,
    EngineConfig,
    Rejected,
    TradingEngine,
    copy_state,
)
from autotrade_tui.core.models import Action, Entry, OrderType, Side, TradeSource

X, Y = "X/USDT", "Y/USDT"


def cfg(*, initial_capital: float = 10_000.0, leverage: float = 10.0,
        commission_rate: float = 0.0, maintenance_margin_rate: float = 0.005,
        position_size_percent: float = 10.0, max_positions: int = 10,
        stop_loss_percent: float = 0.0, take_profit_percent: float = 0.0,
        max_drawdown_percent: float = 0.0) -> EngineConfig:
    """Every field the rules below read, explicit (none left to EngineConfig's defaults)."""
    return EngineConfig(
        initial_capital=initial_capital, leverage=leverage, commission_rate=commission_rate,
        maintenance_margin_rate=maintenance_margin_rate,
        position_size_percent=position_size_percent, max_positions=max_positions,
        stop_loss_percent=stop_loss_percent, take_profit_percent=take_profit_percent,
        max_drawdown_percent=max_drawdown_percent)


def guarded(sl: float = 0.0, tp: float = 0.0) -> TradingEngine:
    """10k, 10 % entries at 10x, no fee: a LONG of 100 X at 100 has margin 1,000, so its ROE is
    10 × (price − 100) % exactly: −50 % at 95, +100 % at 110. Liquidation ≈ 90.45."""
    eng = TradingEngine(cfg(stop_loss_percent=sl, take_profit_percent=tp))
    eng.open(X, Side.LONG, 100.0, 1.0)
    return eng


# --- stop-loss and take-profit


def test_stop_loss_alone_fires_at_its_level_and_not_before() -> None:
    eng = guarded(sl=50.0)
    assert eng.mark({X: 95.1}, 2.0) == []  # −49 %
    assert eng.mark({X: 200.0}, 3.0) == []  # +1,000 %: no take-profit configured
    (t,) = eng.mark({X: 95.0}, 4.0)  # −50 %
    assert (t.order_type, t.source, t.price, t.ts) == (OrderType.CLOSE, TradeSource.GUARD,
                                                       95.0, 4.0)
    assert t.reason == "stop-loss -50.0 % of margin"
    assert t.pnl == -500.0
    assert eng.positions == {}
    assert eng.ledger.capital == 9_500.0


def test_take_profit_alone_fires_at_its_level_and_not_before() -> None:
    eng = guarded(tp=100.0)
    assert eng.mark({X: 109.9}, 2.0) == []  # +99 %
    assert eng.mark({X: 91.0}, 3.0) == []  # −90 %, not liquidated yet: no stop configured
    (t,) = eng.mark({X: 110.0}, 4.0)  # +100 %
    assert (t.order_type, t.source, t.reason) == (OrderType.CLOSE, TradeSource.GUARD,
                                                  "take-profit 100.0 % of margin")
    assert t.pnl == 1_000.0 and eng.ledger.capital == 11_000.0


def test_stop_loss_and_take_profit_together() -> None:
    eng = guarded(sl=50.0, tp=100.0)
    assert eng.mark({X: 95.1}, 2.0) == [] and eng.mark({X: 109.9}, 3.0) == []
    (t,) = eng.mark({X: 110.0}, 4.0)
    assert t.reason == "take-profit 100.0 % of margin"
    eng.open(X, Side.LONG, 100.0, 5.0)
    (t,) = eng.mark({X: 94.0}, 6.0)  # beyond the stop: closes at the mark
    assert (t.reason, t.price) == ("stop-loss -60.0 % of margin", 94.0)


def test_guards_on_a_short_mirror_the_long() -> None:
    eng = TradingEngine(cfg(stop_loss_percent=50.0, take_profit_percent=100.0))
    eng.open(X, Side.SHORT, 100.0, 1.0)
    assert eng.mark({X: 104.9}, 2.0) == [] and eng.mark({X: 90.1}, 3.0) == []
    (t,) = eng.mark({X: 105.0}, 4.0)
    assert (t.side, t.reason) == (Side.SHORT, "stop-loss -50.0 % of margin")
    eng.open(X, Side.SHORT, 100.0, 5.0)
    (t,) = eng.mark({X: 90.0}, 6.0)
    assert t.reason == "take-profit 100.0 % of margin"


def test_guard_tolerance_is_eps_of_a_percent_on_both_sides() -> None:
    eng = guarded(sl=50.0, tp=100.0)
    assert eng.mark({X: 95.0 + 2e-10}, 2.0) == []  # ROE −50 + 2e-9: short of the stop
    (t,) = eng.mark({X: 95.0 + 5e-11}, 3.0)  # ROE −50 + 5e-10: within EPS, fires
    assert t.reason == "stop-loss -50.0 % of margin"
    eng.open(X, Side.LONG, 100.0, 4.0)
    assert eng.mark({X: 110.0 - 2e-10}, 5.0) == []
    (t,) = eng.mark({X: 110.0 - 5e-11}, 6.0)
    assert t.reason == "take-profit 100.0 % of margin"


def test_liquidation_comes_before_the_stop_loss() -> None:
    eng = guarded(sl=50.0)
    liq = eng.liquidation_price(X)
    assert liq == pytest.approx(90.0 / 0.995)
    (t,) = eng.mark({X: 90.0}, 2.0)
    assert (t.order_type, t.source, t.price) == (OrderType.LIQUIDATION, TradeSource.LIQUIDATION,
                                                 liq)
    assert t.reason == f"liquidated at {liq:,.2f}"


def test_guards_off_never_close() -> None:
    eng = guarded()
    assert eng.mark({X: 90.5}, 2.0) == [] and eng.mark({X: 1_000.0}, 3.0) == []
    assert X in eng.positions


def test_mark_skips_symbols_without_a_usable_price_and_marks_the_others() -> None:
    eng = TradingEngine(cfg(stop_loss_percent=50.0))
    eng.open(X, Side.LONG, 100.0, 1.0)
    eng.open(Y, Side.LONG, 100.0, 1.0)
    for bad in (0.0, -95.0, math.nan):  # a zero or negative tick liquidates nothing
        assert eng.mark({X: bad, Y: 100.0}, 2.0) == []
    assert eng.mark({Y: 100.0}, 3.0) == []  # no price for X at all
    assert set(eng.positions) == {X, Y}
    (t,) = eng.mark({X: 0.0, Y: 95.0}, 4.0)  # X (marked first) skipped, Y still marked
    assert (t.symbol, t.reason) == (Y, "stop-loss -50.0 % of margin")
    assert list(eng.positions) == [X]


def test_one_mark_liquidates_one_position_and_stops_out_the_next() -> None:
    eng = TradingEngine(cfg(stop_loss_percent=50.0))
    eng.open(X, Side.LONG, 100.0, 1.0)
    eng.open(Y, Side.LONG, 100.0, 1.0)
    liq, stop = eng.mark({X: 80.0, Y: 95.0}, 2.0)
    assert (liq.symbol, liq.order_type, liq.ts) == (X, OrderType.LIQUIDATION, 2.0)
    assert (stop.symbol, stop.order_type, stop.ts) == (Y, OrderType.CLOSE, 2.0)
    assert eng.positions == {}


def test_sub_one_usdt_assets_are_marked_liquidated_and_guarded() -> None:
    eng = TradingEngine(cfg(stop_loss_percent=50.0, take_profit_percent=100.0))
    eng.open(X, Side.LONG, 0.5, 1.0)  # 20,000 X
    eng.open(Y, Side.SHORT, 0.04, 1.0)
    assert eng.positions[X].quantity == pytest.approx(20_000.0)
    (t,) = eng.mark({X: 0.475, Y: 0.04}, 2.0)  # X −5 %: −50 % of margin
    assert (t.symbol, t.reason) == (X, "stop-loss -50.0 % of margin")
    (t,) = eng.mark({Y: 0.036}, 3.0)  # Y −10 % for a short: +100 %
    assert (t.symbol, t.reason) == (Y, "take-profit 100.0 % of margin")
    eng.open(X, Side.LONG, 0.5, 4.0)
    (t,) = eng.mark({X: 0.44}, 5.0)  # past 0.5 · 0.9 / 0.995 ≈ 0.4523
    assert t.order_type is OrderType.LIQUIDATION
    assert t.price == pytest.approx(0.45 / 0.995)


# --- the drawdown guard
# 1,000 at 1x, all in: a LONG of 10 X at 100, so equity is 10 × price and the drawdown from a
# peak of 1,000 is (100 − price) % exactly.


def all_in(limit: float) -> TradingEngine:
    eng = TradingEngine(cfg(initial_capital=1_000.0, leverage=1.0, position_size_percent=100.0,
                            max_drawdown_percent=limit))
    eng.open(X, Side.LONG, 100.0, 1.0)
    return eng


def test_drawdown_just_below_the_limit_does_not_trip_and_at_it_does() -> None:
    eng = all_in(5.0)
    assert eng.mark({X: 95.1}, 2.0) == []
    assert eng.ledger.halted_reason == ""
    assert eng.mark({X: 95.0 + 2e-9}, 3.0) == []  # 5 − 2e-9 %: beyond the EPS tolerance
    assert eng.ledger.halted_reason == ""
    eng.mark({X: 95.0 + 5e-10}, 4.0)  # 5 − 5e-10 %: within it
    assert eng.ledger.halted_reason == "max drawdown 5.0 % ≥ 5 %: automatic trading paused"
    assert X in eng.positions  # pausing closes nothing


def test_drawdown_at_exactly_the_limit_trips_and_the_first_reason_stays() -> None:
    eng = all_in(5.0)
    eng.mark({X: 95.0}, 2.0)
    assert eng.ledger.halted_reason == "max drawdown 5.0 % ≥ 5 %: automatic trading paused"
    eng.mark({X: 80.0}, 3.0)  # deeper: the switch is already off, its reason unchanged
    assert eng.ledger.halted_reason == "max drawdown 5.0 % ≥ 5 %: automatic trading paused"


def test_drawdown_counts_from_the_running_peak_after_profits_given_back() -> None:
    eng = all_in(5.0)
    eng.mark({X: 120.0}, 2.0)
    assert eng.ledger.peak_equity == 1_200.0
    eng.mark({X: 114.1}, 3.0)  # 4.9 % below the 1,200 peak (still 14 % above the start)
    assert eng.ledger.halted_reason == "" and eng.ledger.peak_equity == 1_200.0
    eng.mark({X: 114.0}, 4.0)  # 60 of 1,200: 5 %
    assert eng.ledger.halted_reason == "max drawdown 5.0 % ≥ 5 %: automatic trading paused"


def test_drawdown_limit_and_figure_in_the_reason() -> None:
    eng = all_in(12.5)
    eng.mark({X: 88.0}, 2.0)
    assert eng.ledger.halted_reason == ""
    eng.mark({X: 87.0}, 3.0)
    assert eng.ledger.halted_reason == "max drawdown 13.0 % ≥ 12.5 %: automatic trading paused"


def test_drawdown_guard_off_never_trips() -> None:
    eng = all_in(0.0)
    eng.mark({X: 10.0}, 2.0)
    assert eng.ledger.halted_reason == ""


def test_resume_rearms_the_guard_from_the_equity_of_the_next_mark() -> None:
    eng = all_in(5.0)
    eng.mark({X: 95.0}, 2.0)
    assert eng.ledger.halted_reason
    eng.resume()
    assert (eng.ledger.halted_reason, eng.ledger.peak_equity) == ("", 0.0)
    eng.mark({X: 95.0}, 3.0)  # the peak restarts at 950: no trip at the same price
    assert (eng.ledger.halted_reason, eng.ledger.peak_equity) == ("", 950.0)
    eng.mark({X: 90.3}, 4.0)  # 47 of 950: 4.9 %
    assert eng.ledger.halted_reason == ""
    eng.mark({X: 90.25}, 5.0)  # 47.5 of 950: 5 % again
    assert eng.ledger.halted_reason == "max drawdown 5.0 % ≥ 5 %: automatic trading paused"


def test_drawdown_while_flat_is_measured_on_capital() -> None:
    # Closed with no mark in between, so the peak is still the starting 1,000.
    above = all_in(5.0)
    above.close(X, 95.1, 2.0)  # capital 951: 4.9 % down
    assert above.mark({}, 3.0) == [] and above.ledger.halted_reason == ""
    at = all_in(5.0)
    at.close(X, 95.0, 2.0)  # capital 950: 5 % down
    assert at.mark({}, 3.0) == []
    assert at.ledger.halted_reason == "max drawdown 5.0 % ≥ 5 %: automatic trading paused"


def test_flat_mark_raises_the_peak() -> None:
    eng = all_in(5.0)
    eng.close(X, 120.0, 2.0)
    eng.mark({}, 3.0)
    assert eng.ledger.peak_equity == 1_200.0
    eng.open(X, Side.LONG, 100.0, 4.0)  # 1,200 all in: 12 X
    eng.mark({X: 95.0}, 5.0)  # equity 1,140: 5 % below the 1,200 peak
    assert eng.ledger.halted_reason.startswith("max drawdown 5.0 %")


# --- prices at and below zero, and below 1 USDT, in orders


@pytest.mark.parametrize("price", [0.0, -1.0, -0.0, math.nan, math.inf])
def test_orders_at_an_invalid_price_are_refused_and_change_nothing(price: float) -> None:
    eng = TradingEngine(cfg())
    with pytest.raises(Rejected) as exc:
        eng.open(X, Side.LONG, price, 1.0)
    assert str(exc.value) == f"invalid price {price!r}"
    eng.open(Y, Side.SHORT, 100.0, 1.0)
    before = copy_state(eng.state)
    with pytest.raises(Rejected) as exc:
        eng.close(Y, price, 2.0)
    assert str(exc.value) == f"invalid price {price!r}"
    ex = eng.execute(Action.BUY, X, price, 3.0)
    assert (ex.trades, ex.rejected) == ([], f"invalid price {price!r}")
    assert eng.ledger == before.ledger and eng.positions == before.positions


def test_sub_one_usdt_orders_fill() -> None:
    eng = TradingEngine(cfg())
    t = eng.open(X, Side.LONG, 0.0001234, 1.0)
    assert t.amount == pytest.approx(10_000.0 / 0.0001234)
    assert eng.open(X, Side.LONG, 0.5, 2.0).order_type is OrderType.ADD
    c = eng.close(X, 0.9, 3.0)
    assert c.order_type is OrderType.CLOSE and c.price == 0.9
    assert eng.invariant_error() < 1e-6


# --- capital: EPS, dust and the insufficient-capital refusal


def test_an_entry_may_overdraw_free_capital_by_eps_and_no_more() -> None:
    # All in at 1x: margin is the whole 1,000 and the fee the only excess.
    ok = TradingEngine(cfg(initial_capital=1_000.0, leverage=1.0, position_size_percent=100.0,
                           commission_rate=5e-13))  # fee 5e-10 ≤ EPS
    assert ok.open(X, Side.LONG, 100.0, 1.0).fee == pytest.approx(5e-10)
    refused = TradingEngine(cfg(initial_capital=1_000.0, leverage=1.0,
                                position_size_percent=100.0, commission_rate=2e-12))
    with pytest.raises(Rejected, match=r"^insufficient capital: 1,000\.00 USDT free"):
        refused.open(X, Side.LONG, 100.0, 1.0)  # fee 2e-9 > EPS


def test_an_entry_overdrawing_by_exactly_eps_fits() -> None:
    # fee = 1,000 · 1e-12 = 1e-9 exactly: margin + fee is capital + EPS to the last bit
    eng = TradingEngine(cfg(initial_capital=1_000.0, leverage=1.0, position_size_percent=100.0,
                            commission_rate=1e-12))
    assert eng.open(X, Side.LONG, 100.0, 1.0).fee == 1e-9


def test_all_in_without_a_fee_fits_exactly() -> None:
    eng = TradingEngine(cfg(initial_capital=1_000.0, leverage=1.0, position_size_percent=100.0))
    t = eng.open(X, Side.LONG, 100.0, 1.0)
    assert (t.margin, t.amount, t.fee) == (1_000.0, 10.0, 0.0)
    assert eng.ledger.capital == 0.0


def test_dust_entries_below_min_margin_are_refused() -> None:
    assert MIN_MARGIN == 1.0
    at = TradingEngine(cfg(initial_capital=10.0))  # 10 % of 10: margin exactly 1 USDT
    assert at.open(X, Side.LONG, 100.0, 1.0).margin == 1.0
    dust = TradingEngine(cfg(initial_capital=9.99))  # margin 0.999
    with pytest.raises(Rejected) as exc:
        dust.open(X, Side.LONG, 100.0, 1.0)
    assert str(exc.value) == ("insufficient capital: 9.99 USDT free, entry needs 1.00 "
                              "(margin 1.00 + fee 0.00)")
    assert dust.positions == {} and dust.ledger.capital == 9.99


def drained() -> TradingEngine:
    """100 % entries at 20x with a 0.1 % fee: the fee never fits, every entry is refused."""
    return TradingEngine(cfg(initial_capital=100_000.0, leverage=20.0, commission_rate=0.001,
                             position_size_percent=100.0))


REFUSAL = ("insufficient capital: 100,000.00 USDT free, entry needs 102,000.00 "
           "(margin 100,000.00 + fee 2,000.00)")


def test_repeated_refusals_say_the_same_and_never_record_a_trade() -> None:
    eng = drained()
    for ts in (1.0, 2.0, 3.0):
        ex = eng.execute(Action.BUY, X, 50_000.0, ts)
        assert (ex.trades, ex.rejected, ex.executed) == ([], REFUSAL, False)
    for ts in (4.0, 5.0):
        with pytest.raises(Rejected) as exc:
            eng.open(Y, Side.SHORT, 2_000.0, ts)
        assert str(exc.value) == REFUSAL
    assert eng.positions == {} and eng.ledger.capital == 100_000.0
    assert eng.ledger.total_fees == 0.0 and eng.invariant_error() == 0.0


def test_a_refusal_after_capital_moved_states_the_new_figures() -> None:
    opener = TradingEngine(cfg(initial_capital=100_000.0, leverage=20.0, commission_rate=0.001,
                               position_size_percent=10.0))
    opener.open(Y, Side.LONG, 2_000.0, 1.0)
    eng = TradingEngine(drained().config, opener.state)
    first = eng.execute(Action.SELL, X, 50_000.0, 2.0).rejected
    assert first == ("insufficient capital: 89,800.00 USDT free, entry needs 91,596.00 "
                     "(margin 89,800.00 + fee 1,796.00)")
    assert eng.execute(Action.SELL, X, 50_000.0, 3.0).rejected == first
    eng.close(Y, 2_000.0, 4.0)  # 10,000 margin back, less a 200 fee
    assert eng.execute(Action.SELL, X, 50_000.0, 5.0).rejected == (
        "insufficient capital: 99,600.00 USDT free, entry needs 101,592.00 "
        "(margin 99,600.00 + fee 1,992.00)")


def test_a_refusal_after_a_fill_elsewhere_is_worded_afresh() -> None:
    # Same capital, different entry figures (another engine config): never the cached text.
    eng = drained()
    assert eng.execute(Action.BUY, X, 1.0, 1.0).rejected == REFUSAL
    other = TradingEngine(cfg(initial_capital=100_000.0, leverage=10.0, commission_rate=0.002,
                              position_size_percent=100.0), eng.state)
    assert other.execute(Action.BUY, X, 1.0, 2.0).rejected == (
        "insufficient capital: 100,000.00 USDT free, entry needs 102,000.00 "
        "(margin 100,000.00 + fee 2,000.00)")
    pct = TradingEngine(cfg(initial_capital=100_000.0, leverage=20.0, commission_rate=0.001,
                            position_size_percent=99.0), eng.state)
    assert pct.execute(Action.BUY, X, 1.0, 3.0).rejected == (
        "insufficient capital: 100,000.00 USDT free, entry needs 100,980.00 "
        "(margin 99,000.00 + fee 1,980.00)")


def test_an_empty_account_is_refused_with_its_own_figures() -> None:
    eng = TradingEngine(cfg(initial_capital=1_000.0, leverage=1.0, position_size_percent=100.0))
    eng.open(X, Side.LONG, 100.0, 1.0)  # capital now 0
    for ts in (2.0, 3.0):
        assert eng.execute(Action.BUY, Y, 100.0, ts).rejected == (
            "insufficient capital: 0.00 USDT free, entry needs 0.00 (margin 0.00 + fee 0.00)")


# --- execute: the close, then the entry


def test_execute_after_a_refused_close_keeps_the_position_then_flips() -> None:
    eng = TradingEngine(cfg(commission_rate=0.001))
    eng.open(X, Side.SHORT, 100.0, 1.0)
    before = copy_state(eng.state)
    ex = eng.execute(Action.BUY, X, 0.0, 2.0)  # the close is refused: nothing else happens
    assert (ex.trades, ex.rejected, ex.executed) == ([], "invalid price 0.0", False)
    assert eng.ledger == before.ledger and eng.positions == before.positions
    ex = eng.execute(Action.BUY, X, 99.0, 3.0)
    assert ex.executed and ex.rejected == ""
    assert [(t.ts, t.reason) for t in ex.trades] == [(3.0, ""), (3.0, "")]
    assert [(t.order_type, t.side) for t in ex.trades] == [(OrderType.CLOSE, Side.SHORT),
                                                           (OrderType.OPEN, Side.LONG)]
    assert eng.positions[X].side is Side.LONG


def test_execute_refused_entry_after_a_close_keeps_the_close() -> None:
    opener = TradingEngine(cfg(commission_rate=0.001))
    opener.open(X, Side.LONG, 100.0, 1.0)
    eng = TradingEngine(cfg(commission_rate=0.001, position_size_percent=100.0), opener.state)
    ex = eng.execute(Action.SELL, X, 101.0, 2.0, TradeSource.EVENT, "crash")
    (close,) = ex.trades
    assert (close.order_type, close.side, close.source, close.reason) == (
        OrderType.CLOSE, Side.LONG, TradeSource.EVENT, "crash")
    assert ex.rejected.startswith("insufficient capital: ") and not ex.executed
    assert eng.positions == {}


def test_execute_stacks_on_the_same_side_and_hold_does_nothing() -> None:
    eng = TradingEngine(cfg())
    assert eng.execute(Action.HOLD, X, 100.0, 1.0).trades == []
    assert eng.positions == {} and eng.ledger.capital == 10_000.0
    (t,) = eng.execute(Action.SELL, X, 100.0, 2.0, TradeSource.MANUAL, "why").trades
    assert (t.order_type, t.side, t.source, t.reason) == (OrderType.OPEN, Side.SHORT,
                                                          TradeSource.MANUAL, "why")
    (t,) = eng.execute(Action.SELL, X, 101.0, 3.0).trades
    assert (t.order_type, t.side, t.margin) == (OrderType.ADD, Side.SHORT, 900.0)
    assert len(eng.positions[X].entries) == 2 and eng.positions[X].opened_at == 2.0


# --- win rate and the P&L fields


def test_no_closed_trade_is_a_zero_win_rate() -> None:
    eng = TradingEngine(cfg())
    assert eng.ledger.win_rate == 0.0
    eng.open(X, Side.LONG, 100.0, 1.0)
    assert (eng.ledger.win_rate, eng.ledger.total_trades) == (0.0, 0)


def test_a_break_even_close_counts_as_a_loss() -> None:
    eng = TradingEngine(cfg())  # no fee
    eng.open(X, Side.LONG, 100.0, 1.0)
    t = eng.close(X, 100.0, 2.0)
    assert (t.pnl, t.fee) == (0.0, 0.0)
    lg = eng.ledger
    assert (lg.total_trades, lg.winning_trades, lg.losing_trades) == (1, 0, 1)
    assert lg.win_rate == 0.0


def test_a_win_of_cents_after_fees_is_a_win() -> None:
    eng = TradingEngine(cfg(commission_rate=0.001))
    eng.open(X, Side.LONG, 100.0, 1.0)  # 100 X
    t = eng.close(X, 100.105, 2.0)  # pnl 10.50, exit fee 10.0105: 0.49 left
    assert 0.0 < t.pnl - t.fee < 1.0
    assert (eng.ledger.winning_trades, eng.ledger.losing_trades) == (1, 0)


def test_a_win_after_fees_counts_and_the_rate_is_wins_over_closes() -> None:
    eng = TradingEngine(cfg(commission_rate=0.001))
    eng.open(X, Side.LONG, 100.0, 1.0)
    eng.close(X, 100.2, 2.0)  # pnl 20 > exit fee 10.02
    eng.open(X, Side.SHORT, 100.0, 3.0)
    eng.close(X, 100.0, 4.0)  # pnl 0, fee 10: a loss
    eng.open(X, Side.LONG, 100.0, 5.0)
    eng.close(X, 101.0, 6.0)
    eng.open(X, Side.LONG, 100.0, 7.0)
    eng.close(X, 99.0, 8.0)
    lg = eng.ledger
    assert (lg.total_trades, lg.winning_trades, lg.losing_trades) == (4, 2, 2)
    assert lg.win_rate == 0.5


def test_trade_rows_carry_their_figures() -> None:
    eng = TradingEngine(cfg(commission_rate=0.001))
    o = eng.open(X, Side.LONG, 100.0, 1.0, TradeSource.MANUAL, "go")
    assert (o.ts, o.symbol, o.order_type, o.side, o.amount, o.price) == (
        1.0, X, OrderType.OPEN, Side.LONG, 100.0, 100.0)
    assert (o.pnl, o.fee, o.margin, o.leverage, o.source, o.reason) == (
        0.0, 10.0, 1_000.0, 10.0, TradeSource.MANUAL, "go")
    assert eng.positions[X].entries == [Entry(100.0, 100.0, 1_000.0, 10.0, 10.0, 1.0)]
    a = eng.open(X, Side.LONG, 80.0, 2.0)
    assert eng.positions[X].entries[1] == Entry(80.0, 112.375, 899.0, 10.0,
                                                pytest.approx(8.99), 2.0)
    assert (a.order_type, a.pnl, a.margin, a.amount) == (OrderType.ADD, 0.0, 899.0, 112.375)
    assert (a.source, a.reason) == (TradeSource.AUTO, "")
    c = eng.close(X, 90.0, 3.0, TradeSource.MANUAL, "done")
    # q = 212.375, cost = 10,000 + 8,990 = 18,990; pnl = 212.375 · 90 − 18,990 = 123.75
    assert (c.order_type, c.side, c.amount, c.price) == (OrderType.CLOSE, Side.LONG, 212.375,
                                                         90.0)
    assert c.pnl == pytest.approx(123.75)
    assert c.fee == pytest.approx(212.375 * 90.0 * 0.001)
    assert (c.margin, c.leverage) == (pytest.approx(1_899.0), pytest.approx(18_990 / 1_899))
    assert (c.source, c.reason) == (TradeSource.MANUAL, "done")
    lg = eng.ledger
    assert lg.realized_pnl == pytest.approx(123.75)
    assert lg.total_fees == pytest.approx(10.0 + 8.99 + c.fee)
    assert lg.capital == pytest.approx(10_000.0 + 123.75 - lg.total_fees)
    assert eng.invariant_error() < 1e-9


def test_a_liquidation_loses_the_margin_charges_no_fee_and_counts_a_loss() -> None:
    eng = TradingEngine(cfg(commission_rate=0.001))
    eng.open(X, Side.SHORT, 100.0, 1.0)
    liq = eng.liquidation_price(X)
    assert liq == pytest.approx(110.0 / 1.005)
    assert eng.mark({X: liq - 0.01}, 2.0) == []
    (t,) = eng.mark({X: 200.0}, 3.0)
    assert (t.order_type, t.side, t.price, t.pnl, t.fee, t.margin, t.amount) == (
        OrderType.LIQUIDATION, Side.SHORT, liq, -1_000.0, 0.0, 1_000.0, 100.0)
    lg = eng.ledger
    assert (lg.liquidations, lg.total_trades, lg.losing_trades, lg.winning_trades) == (1, 1, 1, 0)
    assert lg.realized_pnl == -1_000.0 and lg.total_fees == 10.0
    assert lg.capital == 8_990.0 and eng.invariant_error() == 0.0


# --- refusals of open and close


def test_max_positions_refuses_a_new_symbol_but_not_a_stack() -> None:
    eng = TradingEngine(cfg(max_positions=2))
    eng.open(X, Side.LONG, 100.0, 1.0)
    eng.open(Y, Side.SHORT, 100.0, 1.0)
    with pytest.raises(Rejected) as exc:
        eng.open("Z/USDT", Side.LONG, 100.0, 2.0)
    assert str(exc.value) == "max positions reached (2)"
    assert eng.open(X, Side.LONG, 100.0, 3.0).order_type is OrderType.ADD
    eng.close(Y, 100.0, 4.0)
    assert eng.open("Z/USDT", Side.LONG, 100.0, 5.0).order_type is OrderType.OPEN


def test_the_opposite_side_and_a_missing_position_are_refused() -> None:
    eng = TradingEngine(cfg())
    eng.open(X, Side.LONG, 100.0, 1.0)
    with pytest.raises(Rejected) as exc:
        eng.open(X, Side.SHORT, 100.0, 2.0)
    assert str(exc.value) == "a LONG position on X/USDT is open; close it first"
    with pytest.raises(Rejected) as exc:
        eng.close(Y, 100.0, 2.0)
    assert str(exc.value) == "no open position on Y/USDT"


# --- reading: equity, margins, P&L, copies


def test_equity_values_unpriced_positions_at_their_entry() -> None:
    eng = TradingEngine(cfg(commission_rate=0.001))
    assert eng.equity({}) == 10_000.0
    eng.open(X, Side.LONG, 100.0, 1.0)  # margin 1,000, fee 10
    eng.open(Y, Side.SHORT, 50.0, 1.0)  # margin 899 (10 % of 8,990): 179.8 Y
    margin = eng.open_margin()
    assert margin == pytest.approx(1_000.0 + 899.0)
    assert eng.equity({}) == pytest.approx(eng.ledger.capital + margin)
    assert eng.equity({X: 110.0}) == pytest.approx(eng.ledger.capital + margin + 1_000.0)
    assert eng.equity({X: 110.0, Y: 45.0}) == pytest.approx(
        eng.ledger.capital + margin + 1_000.0 + 179.8 * 5.0)
    assert eng.unrealized_pnl({X: 110.0}) == pytest.approx(1_000.0)
    assert eng.unrealized_pnl({X: 110.0, Y: 55.0}) == pytest.approx(1_000.0 - 179.8 * 5.0)
    assert eng.invariant_error() < 1e-9


def test_invariant_error_measures_a_broken_ledger() -> None:
    eng = TradingEngine(cfg())
    eng.open(X, Side.LONG, 100.0, 1.0)
    assert eng.invariant_error() == 0.0
    eng.ledger.capital -= 3.0
    assert eng.invariant_error() == 3.0
    eng.ledger.realized_pnl -= 5.0
    assert eng.invariant_error() == 2.0


def test_sandbox_and_copies_are_independent() -> None:
    eng = TradingEngine(cfg())
    eng.open(X, Side.LONG, 100.0, 1.0)
    box = eng.sandbox()
    assert box.config == eng.config
    box.open(X, Side.LONG, 100.0, 2.0)
    box.close(X, 120.0, 3.0)
    assert len(eng.positions[X].entries) == 1 and eng.ledger.total_trades == 0
    assert eng.ledger.capital == 9_000.0
    snap = copy_state(eng.state)
    assert snap.ledger == eng.ledger and snap.positions == eng.positions
    assert snap.ledger is not eng.ledger
    assert snap.positions[X].entries[0] is not eng.positions[X].entries[0]


def test_a_new_engine_starts_at_its_capital_and_peak() -> None:
    eng = TradingEngine(cfg(initial_capital=2_500.0))
    lg = eng.ledger
    assert (lg.initial_capital, lg.capital, lg.peak_equity, lg.halted_reason) == (
        2_500.0, 2_500.0, 2_500.0, "")
    assert eng.state.ledger is lg and eng.state.positions is eng.positions


def test_config_from_settings_reads_every_rule() -> None:
    s = config.defaults(stop_loss_percent=7.0, take_profit_percent=9.0,
                        max_drawdown_percent=11.0, leverage=5.0, max_positions=3)
    c = EngineConfig.from_settings(s)
    assert (c.stop_loss_percent, c.take_profit_percent, c.max_drawdown_percent) == (
        7.0, 9.0, 11.0)
    assert (c.leverage, c.max_positions) == (5.0, 3)


def test_close_all_closes_the_priced_positions_as_manual_by_default() -> None:
    eng = TradingEngine(cfg())
    eng.open(X, Side.LONG, 100.0, 1.0)
    eng.open(Y, Side.SHORT, 50.0, 1.0)
    eng.open("Z/USDT", Side.LONG, 10.0, 1.0)
    trades = eng.close_all({X: 110.0, Y: 45.0}, 2.0)
    assert [(t.symbol, t.order_type, t.price, t.ts, t.source, t.reason) for t in trades] == [
        (X, OrderType.CLOSE, 110.0, 2.0, TradeSource.MANUAL, ""),
        (Y, OrderType.CLOSE, 45.0, 2.0, TradeSource.MANUAL, "")]
    assert list(eng.positions) == ["Z/USDT"]  # no price: left open
    (t,) = eng.close_all({"Z/USDT": 9.9}, 3.0, TradeSource.GUARD, "flatten")
    assert (t.source, t.reason, t.pnl) == (TradeSource.GUARD, "flatten", pytest.approx(-81.0))
    assert eng.positions == {} and eng.close_all({X: 1.0}, 4.0) == []


def test_close_and_execute_default_to_no_reason_and_a_close_past_liquidation_is_stamped() -> None:
    eng = TradingEngine(cfg())
    eng.open(X, Side.LONG, 100.0, 1.0)
    assert eng.close(X, 101.0, 2.0).reason == ""
    (t,) = eng.execute(Action.SELL, X, 100.0, 3.0).trades
    assert t.reason == ""
    eng.open(Y, Side.LONG, 100.0, 4.0)
    liq = eng.close(Y, 50.0, 5.0)
    assert (liq.order_type, liq.ts) == (OrderType.LIQUIDATION, 5.0)


# --- the risk rules' fills (SPEC §8.1): bar exits at their exact levels, what each fill
# carries, the drawdown flatten, exposure, stacking at break-even. `guarded` LONG: stop 95,
# take-profit 110, liquidation ≈ 90.45; the mirrored SHORT: stop 105, take 90, liq ≈ 109.45.


def guarded_short() -> TradingEngine:
    eng = TradingEngine(cfg(stop_loss_percent=50.0, take_profit_percent=100.0))
    eng.open(X, Side.SHORT, 100.0, 1.0)
    return eng


def test_guard_prices_of_a_long_a_short_and_a_sub_one_asset() -> None:
    eng = guarded(sl=50.0, tp=100.0)
    assert eng.guard_prices(eng.positions[X]) == (95.0, 110.0)
    short = guarded_short()
    assert short.guard_prices(short.positions[X]) == (105.0, 90.0)
    cheap = TradingEngine(cfg(stop_loss_percent=50.0, take_profit_percent=100.0))
    cheap.open(X, Side.LONG, 0.5, 1.0)
    assert cheap.guard_prices(cheap.positions[X]) == (0.475, pytest.approx(0.55))


def test_a_long_stop_at_or_below_zero_is_no_stop() -> None:
    eng = TradingEngine(cfg(leverage=1.0, stop_loss_percent=100.0, take_profit_percent=100.0))
    eng.open(X, Side.LONG, 100.0, 1.0)
    stop, take = eng.guard_prices(eng.positions[X])
    assert stop is None and take == 200.0


@pytest.mark.parametrize(("side", "bar", "price", "reason"), [
    (Side.LONG, (95.0, 96.0, 95.0, 95.5), 95.0, "stop-loss -50.0 % of margin"),  # open = stop
    (Side.LONG, (100.0, 101.0, 95.0, 100.0), 95.0, "stop-loss -50.0 % of margin"),  # low = stop
    (Side.LONG, (100.0, 110.0, 99.0, 100.0), 110.0, "take-profit 100.0 % of margin"),
    (Side.LONG, (110.0, 111.0, 109.0, 110.0), 110.0, "take-profit 100.0 % of margin"),
    (Side.SHORT, (105.0, 105.0, 104.0, 104.5), 105.0, "stop-loss -50.0 % of margin"),
    (Side.SHORT, (100.0, 105.0, 99.0, 100.0), 105.0, "stop-loss -50.0 % of margin"),
    (Side.SHORT, (100.0, 101.0, 90.0, 100.0), 90.0, "take-profit 100.0 % of margin"),
    (Side.SHORT, (90.0, 91.0, 89.0, 90.0), 90.0, "take-profit 100.0 % of margin"),
])
def test_a_bar_touching_a_level_exactly_fills_there(side: Side, bar: tuple[float, ...],
                                                   price: float, reason: str) -> None:
    eng = guarded(sl=50.0, tp=100.0) if side is Side.LONG else guarded_short()
    (t,) = eng.mark_bars({X: bar[3]}, {X: bar}, 7.0)  # type: ignore[dict-item]
    assert (t.order_type, t.side, t.price, t.ts) == (OrderType.CLOSE, side, price, 7.0)
    assert (t.source, t.reason) == (TradeSource.GUARD, reason)


@pytest.mark.parametrize(("bar", "price", "reason"), [
    ((94.0, 96.0, 93.0, 95.0), 94.0, "stop-loss -60.0 % of margin"),  # gapped past the stop
    ((112.0, 113.0, 111.0, 112.0), 112.0, "take-profit 120.0 % of margin"),  # past the take
])
def test_a_bar_opening_beyond_a_level_fills_at_the_open(bar: tuple[float, ...], price: float,
                                                        reason: str) -> None:
    eng = guarded(sl=50.0, tp=100.0)
    (t,) = eng.mark_bars({X: bar[3]}, {X: bar}, 7.0)  # type: ignore[dict-item]
    assert (t.price, t.ts, t.source, t.reason) == (price, 7.0, TradeSource.GUARD, reason)


def test_bar_liquidations_at_the_open_and_inside_the_bar_are_stamped() -> None:
    gap = guarded(sl=50.0)
    (t,) = gap.mark_bars({X: 85.0}, {X: (85.0, 86.0, 84.0, 85.0)}, 7.0)
    assert (t.order_type, t.ts, t.leverage) == (OrderType.LIQUIDATION, 7.0, 10.0)
    inside = guarded()  # no stop: the low reaches the liquidation price
    (t,) = inside.mark_bars({X: 95.0}, {X: (99.0, 100.0, 90.0, 95.0)}, 8.0)
    assert (t.order_type, t.ts) == (OrderType.LIQUIDATION, 8.0)
    assert t.price == pytest.approx(90.0 / 0.995)


def test_a_small_take_profit_reads_as_a_take_profit() -> None:
    eng = TradingEngine(cfg(take_profit_percent=0.5))  # +0.05 in price
    eng.open(X, Side.LONG, 100.0, 1.0)
    (t,) = eng.mark_bars({X: 100.0}, {X: (100.0, 100.1, 99.9, 100.0)}, 2.0)
    assert t.reason == "take-profit 0.5 % of margin"


def test_mark_bars_skips_a_symbol_without_a_usable_bar_and_goes_on() -> None:
    eng = TradingEngine(cfg(stop_loss_percent=50.0))
    eng.open(X, Side.LONG, 100.0, 1.0)
    eng.open(Y, Side.LONG, 100.0, 1.0)
    eng.open("Z/USDT", Side.LONG, 100.0, 1.0)
    trades = eng.mark_bars({X: 100.0, Y: 100.0, "Z/USDT": 100.0},
                           {Y: (100.0, 100.0, 0.0, 100.0),  # low 0: not a usable bar
                            "Z/USDT": (100.0, 100.0, 94.0, 100.0)}, 3.0)
    assert [(t.symbol, t.price, t.ts) for t in trades] == [("Z/USDT", 95.0, 3.0)]
    assert set(eng.positions) == {X, Y}


def test_mark_bars_on_an_asset_below_one_usdt() -> None:
    eng = TradingEngine(cfg(stop_loss_percent=50.0))
    eng.open(X, Side.LONG, 0.5, 1.0)
    (t,) = eng.mark_bars({X: 0.49}, {X: (0.5, 0.5, 0.47, 0.49)}, 2.0)
    assert (t.price, t.reason) == (0.475, "stop-loss -50.0 % of margin")


def test_mark_bars_then_marks_the_closes_with_the_same_time() -> None:
    eng = TradingEngine(cfg(stop_loss_percent=50.0))
    eng.open(X, Side.LONG, 100.0, 1.0)
    (t,) = eng.mark_bars({X: 94.0}, {}, 5.0)  # no bar: the close price is marked
    assert (t.price, t.ts) == (94.0, 5.0)


def test_open_notional_and_exposure() -> None:
    eng = TradingEngine(cfg())
    assert eng.exposure_percent({}) == 0.0
    eng.open(X, Side.LONG, 100.0, 1.0)  # 100 X, notional 10,000
    assert eng.open_notional({}) == 10_000.0  # unpriced: at its entry
    assert eng.open_notional({X: 110.0}) == 11_000.0
    assert eng.exposure_percent({X: 110.0}) == pytest.approx(11_000.0 / 11_000.0 * 100.0)


def test_exposure_of_an_account_at_or_below_zero_equity_is_infinite() -> None:
    eng = TradingEngine(cfg(initial_capital=1_000.0, leverage=20.0, position_size_percent=100.0))
    eng.open(X, Side.LONG, 100.0, 1.0)  # 200 X, margin 1,000, capital 0
    assert eng.equity({X: 95.0}) == 0.0
    assert eng.exposure_percent({X: 95.0}) == math.inf
    assert eng.exposure_percent({X: 90.0}) == math.inf
    assert eng.equity({X: 95.0025}) == pytest.approx(0.5)
    assert eng.exposure_percent({X: 95.0025}) == pytest.approx(200 * 95.0025 / 0.5 * 100.0)


def test_a_refusal_whose_sized_entry_changed_is_worded_afresh() -> None:
    # Exposure sizing makes the entry depend on the marks, not only on free capital: the same
    # 8,980 free, two different entries, two different refusals.
    opener = TradingEngine(cfg(leverage=20.0, commission_rate=0.001))
    opener.open(X, Side.LONG, 100.0, 1.0)
    eng = TradingEngine(EngineConfig(
        initial_capital=10_000.0, leverage=20.0, commission_rate=0.001,
        maintenance_margin_rate=0.005, position_size_percent=100.0, max_positions=10,
        stop_loss_percent=0.0, take_profit_percent=0.0, max_drawdown_percent=0.0,
        max_exposure_percent=1_990.0), opener.state)
    eng.mark({X: 100.5}, 2.0)
    first = eng.execute(Action.BUY, Y, 10.0, 2.0).rejected
    eng.mark({X: 101.0}, 3.0)
    second = eng.execute(Action.BUY, Y, 10.0, 3.0).rejected
    assert first.startswith("insufficient capital: 8,980.00 USDT free, entry needs ")
    assert second.startswith("insufficient capital: 8,980.00 USDT free, entry needs ")
    assert first != second
    assert eng.execute(Action.BUY, Y, 10.0, 4.0).rejected == second


def test_stacking_only_in_profit_refuses_break_even_and_takes_cents() -> None:
    eng = TradingEngine(EngineConfig(
        initial_capital=10_000.0, leverage=10.0, commission_rate=0.0,
        maintenance_margin_rate=0.005, position_size_percent=10.0, max_positions=10,
        stop_loss_percent=0.0, take_profit_percent=0.0, max_drawdown_percent=0.0,
        stack_only_in_profit=True))
    eng.open(X, Side.LONG, 100.0, 1.0)  # 100 X, no fees
    ex = eng.execute(Action.BUY, X, 100.0, 2.0)  # net 0: not in profit
    assert ex.trades == [] and ex.rejected.startswith("no averaging down: ")
    (t,) = eng.execute(Action.BUY, X, 100.005, 3.0).trades  # net +0.50
    assert t.order_type is OrderType.ADD


def test_two_liquidations_count_two() -> None:
    eng = TradingEngine(cfg())
    eng.open(X, Side.LONG, 100.0, 1.0)
    eng.open(Y, Side.SHORT, 100.0, 1.0)
    eng.mark({X: 80.0, Y: 120.0}, 2.0)
    assert (eng.ledger.liquidations, eng.ledger.losing_trades) == (2, 2)


def test_the_drawdown_guard_of_a_one_usdt_account() -> None:
    eng = TradingEngine(cfg(initial_capital=1.0, leverage=1.0, position_size_percent=100.0,
                            max_drawdown_percent=10.0))
    eng.open(X, Side.LONG, 100.0, 1.0)
    eng.mark({X: 50.0}, 2.0)
    assert eng.ledger.halted_reason.startswith("max drawdown 50.0 % ≥ 10 %")


def test_a_wiped_out_account_resumed_does_not_divide_by_zero() -> None:
    eng = TradingEngine(cfg(initial_capital=1_000.0, leverage=2.0, position_size_percent=100.0,
                            max_drawdown_percent=10.0))
    eng.open(X, Side.LONG, 100.0, 1.0)
    eng.mark({X: 40.0}, 2.0)  # liquidated: nothing left
    assert eng.positions == {} and eng.equity({}) == 0.0
    eng.resume()
    assert eng.mark({}, 3.0) == []
    assert (eng.ledger.halted_reason, eng.ledger.peak_equity) == ("", 0.0)


def flatten_engine() -> TradingEngine:
    """Two LONGs restored from a saved state (no price seen yet), drawdown 5 % → flatten."""
    opener = TradingEngine(cfg(initial_capital=1_000.0, leverage=1.0, position_size_percent=50.0))
    opener.open(X, Side.LONG, 100.0, 1.0)
    opener.open(Y, Side.LONG, 100.0, 1.0)
    return TradingEngine(EngineConfig(
        initial_capital=1_000.0, leverage=1.0, commission_rate=0.0,
        maintenance_margin_rate=0.005, position_size_percent=50.0, max_positions=10,
        stop_loss_percent=0.0, take_profit_percent=0.0, max_drawdown_percent=5.0,
        drawdown_action="flatten"), copy_state(opener.state))


def test_flatten_closes_what_has_a_price_then_the_rest_at_its_first_price() -> None:
    eng = flatten_engine()
    (t,) = eng.mark({X: 80.0}, 2.0)  # equity 900 (Y unpriced: at entry), peak 1,000: −10 %
    assert (t.symbol, t.price, t.ts, t.source, t.reason) == (
        X, 80.0, 2.0, TradeSource.GUARD, "drawdown guard: flatten")
    assert eng.ledger.halted_reason.startswith("max drawdown ")
    assert list(eng.positions) == [Y]  # no price yet: it waits
    (t,) = eng.mark({Y: 99.0}, 3.0)
    assert (t.symbol, t.price, t.ts, t.reason) == (Y, 99.0, 3.0, "drawdown guard: flatten")
    assert eng.positions == {}


def test_copies_keep_the_close_times_the_cooldown_reads() -> None:
    eng = TradingEngine(cfg())
    eng.open(X, Side.LONG, 100.0, 1.0)
    eng.close(X, 100.0, 2.0)
    snap = copy_state(eng.state)
    assert snap.closed_at == {X: 2.0} and snap.closed_at is not eng.closed_at


def exposed(limit: float, **over: float) -> EngineConfig:
    """`cfg` (10k, 10 % at 10x, no fee) with the exposure limit on."""
    base: dict[str, float] = dict(
        initial_capital=10_000.0, leverage=10.0, commission_rate=0.0,
        maintenance_margin_rate=0.005, position_size_percent=10.0, max_positions=10,
        stop_loss_percent=0.0, take_profit_percent=0.0, max_drawdown_percent=0.0,
        max_exposure_percent=limit)
    base.update(over)
    return EngineConfig(**base)  # type: ignore[arg-type]


def test_exposure_of_a_stack_is_measured_at_the_orders_price() -> None:
    # 100 X at 100, then a BUY at 120: equity 12,000, open notional 12,000, so 150 % leaves
    # 6,000 of notional: margin 600 (not the 900 asked; at the fill's 100 it would be 500).
    eng = TradingEngine(exposed(150.0))
    eng.open(X, Side.LONG, 100.0, 1.0)
    ex = eng.execute(Action.BUY, X, 120.0, 2.0)
    (t,) = ex.trades
    assert (t.order_type, t.margin) == (OrderType.ADD, 600.0)
    assert ex.note == t.reason == "sized down to fit max exposure 150 %"  # no "; " lead-in


def test_an_entry_exactly_at_the_exposure_limit_is_not_sized() -> None:
    ex = TradingEngine(exposed(100.0)).execute(Action.BUY, X, 100.0, 1.0)
    assert (ex.trades[0].margin, ex.note) == (1_000.0, "")


def test_exposure_room_for_exactly_min_margin_and_for_less() -> None:
    ex = TradingEngine(exposed(0.1)).execute(Action.BUY, X, 100.0, 1.0)  # room: 10 notional
    assert (ex.trades[0].margin, ex.note) == (1.0, "sized down to fit max exposure 0.1 %")
    ex = TradingEngine(exposed(0.05)).execute(Action.BUY, X, 100.0, 1.0)  # room: 5 notional
    assert (ex.trades, ex.rejected) == (
        [], "max exposure reached: 0 % of equity open, limit 0.05 %")


@pytest.mark.parametrize(("price", "shown"), [(95.0, "inf"), (90.0, "inf"),
                                              (95.0025, "3800100")])
def test_exposure_refusal_at_zero_or_tiny_equity(price: float, shown: str) -> None:
    # All in at 20x, then a BUY at a price where the equity is 0, below 0, or 0.5.
    opener = TradingEngine(cfg(initial_capital=1_000.0, leverage=20.0,
                               position_size_percent=100.0))
    opener.open(X, Side.LONG, 100.0, 1.0)
    eng = TradingEngine(exposed(150.0, initial_capital=1_000.0, leverage=20.0,
                                position_size_percent=100.0), opener.state)
    assert eng.execute(Action.BUY, X, price, 2.0).rejected == (
        f"max exposure reached: {shown} % of equity open, limit 150 %")


# --- whole bars at their levels exactly, the quiet range, the kept levels (issue 24, second
# pass: `mark_bars` and `quiet_range` came after the first)


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
def test_a_bar_reaching_the_liquidation_price_exactly_liquidates(side: Side) -> None:
    eng = TradingEngine(cfg())  # no guards
    eng.open(X, side, 100.0, 1.0)
    liq = eng.liquidation_price(X)
    bar = (99.0, 100.0, liq, 99.5) if side is Side.LONG else (101.0, liq, 100.0, 100.5)
    (t,) = eng.mark_bars({X: bar[3]}, {X: bar}, 60.0)
    assert (t.order_type, t.ts) == (OrderType.LIQUIDATION, 60.0)


def test_a_bar_opening_at_the_liquidation_price_liquidates_before_the_stop() -> None:
    eng = guarded(sl=50.0)  # stop 95, liquidation ≈ 90.45 below it
    liq = eng.liquidation_price(X)
    (t,) = eng.mark_bars({X: liq + 0.5}, {X: (liq, liq + 1.0, liq - 1.0, liq + 0.5)}, 60.0)
    assert t.order_type is OrderType.LIQUIDATION


def test_quiet_range_is_the_price_range_that_reaches_no_level() -> None:
    eng = guarded(sl=50.0, tp=50.0)  # stop 95, take-profit 105
    assert eng.quiet_range(eng.positions[X]) == (95.0, 105.0)
    eng.open(Y, Side.SHORT, 100.0, 1.0)  # stop 105, take-profit 95, liquidation ≈ 109.45
    assert eng.quiet_range(eng.positions[Y]) == (95.0, 105.0)
    bare = TradingEngine(cfg())  # no guards: only the liquidation bounds it, on one side
    bare.open(X, Side.LONG, 100.0, 1.0)
    bare.open(Y, Side.SHORT, 100.0, 1.0)
    assert bare.quiet_range(bare.positions[X]) == (bare.liquidation_price(X), math.inf)
    assert bare.quiet_range(bare.positions[Y]) == (-math.inf, bare.liquidation_price(Y))


def test_the_levels_follow_an_added_entry_and_a_reopened_position() -> None:
    eng = guarded(sl=50.0, tp=50.0)
    assert eng.quiet_range(eng.positions[X]) == (95.0, 105.0)
    eng.close(X, 100.0, 2.0)
    eng.open(X, Side.LONG, 200.0, 3.0)  # a new position, one entry again
    assert eng.quiet_range(eng.positions[X]) == (190.0, 210.0)
    eng.open(X, Side.LONG, 100.0, 4.0)  # a second entry moves every level
    pos = eng.positions[X]
    stop, take = eng.guard_prices(pos)
    assert stop is not None and take is not None
    assert eng.quiet_range(pos) == (max(stop, eng.liquidation_price(X)), take) != (190.0, 210.0)


def test_a_bar_of_one_symbol_leaves_the_others_ticks_checked() -> None:
    eng = guarded(sl=50.0)
    eng.open(Y, Side.LONG, 100.0, 1.0)
    # X's bar reaches nothing; Y has only a price, through its stop at 95
    trades = eng.mark_bars({X: 100.5, Y: 94.0}, {X: (100.0, 101.0, 99.5, 100.5)}, 60.0)
    assert [(t.symbol, t.source, t.price) for t in trades] == [(Y, TradeSource.GUARD, 94.0)]
    assert X in eng.positions and eng.marks[X] == 100.5


def test_a_drawdown_flatten_after_a_bar_is_stamped_with_its_time() -> None:
    eng = TradingEngine(EngineConfig(
        initial_capital=10_000.0, leverage=10.0, commission_rate=0.0,
        maintenance_margin_rate=0.005, position_size_percent=10.0, max_positions=10,
        max_drawdown_percent=5.0, drawdown_action="flatten"))
    eng.open(X, Side.LONG, 100.0, 1.0)
    # no level reached; the close, 94.8, leaves equity 9,480: 5.2 % below the peak
    (t,) = eng.mark_bars({X: 94.8}, {X: (99.0, 99.5, 94.5, 94.8)}, 60.0)
    assert (t.order_type, t.price, t.ts) == (OrderType.CLOSE, 94.8, 60.0)
    assert eng.ledger.halted_reason

"""The risk rules of SPEC §8.1 in the engine, each at its boundary, both sides (the ledger
invariant under all of them at once is tests/test_engine.py's hypothesis test)."""

from __future__ import annotations

import pytest

from autotrade_tui.core.decision import settle
from autotrade_tui.core.engine import EngineConfig, Rejected, TradingEngine
from autotrade_tui.core.models import Action, OrderType, Side, TradeSource, VoteResult

BTC = "BTC/USDT"
AUTO, MANUAL, EVENT = TradeSource.AUTO, TradeSource.MANUAL, TradeSource.EVENT


def engine(**kw: object) -> TradingEngine:
    return TradingEngine(EngineConfig(**kw))  # type: ignore[arg-type]


# --- bounded stacking ------------------------------------------------------------------------

def test_max_entries_counts_the_first_entry() -> None:
    eng = engine(max_entries_per_position=2)
    eng.open(BTC, Side.LONG, 100.0, 1)
    assert eng.open(BTC, Side.LONG, 100.0, 2).order_type is OrderType.ADD
    with pytest.raises(Rejected, match=r"max entries per position reached \(2\) on BTC/USDT"):
        eng.open(BTC, Side.LONG, 100.0, 3, MANUAL)  # a hard limit: manual orders too
    assert len(eng.positions[BTC].entries) == 2


def test_one_entry_means_no_stacking_and_zero_means_any() -> None:
    one = engine(max_entries_per_position=1)
    one.open(BTC, Side.LONG, 100.0, 1)
    assert one.execute(Action.BUY, BTC, 100.0, 2).rejected.startswith("max entries")
    anyn = engine(max_entries_per_position=0, position_size_percent=1)
    for k in range(5):
        anyn.open(BTC, Side.LONG, 100.0, k)
    assert len(anyn.positions[BTC].entries) == 5


def test_no_averaging_down_for_automatic_orders() -> None:
    eng = engine(stack_only_in_profit=True)  # 10 %, 20x, fee 0.1 %
    eng.open(BTC, Side.LONG, 100.0, 1)  # fee 200 on a 200,000 notional
    # up 0.1 %: +200 unrealized, minus 200 entry fee and 200.2 exit fee: a loss after fees
    ex = eng.execute(Action.BUY, BTC, 100.1, 2, AUTO)
    assert ex.rejected == ("no averaging down: the LONG BTC/USDT is at -200.20 after fees "
                           "(stacking only in profit)")
    assert eng.execute(Action.BUY, BTC, 99.0, 3, EVENT).rejected.startswith("no averaging")
    # up 0.3 %: +600, minus 400.6 of fees: in profit, the stack goes through
    assert eng.execute(Action.BUY, BTC, 100.3, 4, AUTO).executed
    # the user may still average down by hand
    assert eng.open(BTC, Side.LONG, 90.0, 5, MANUAL).order_type is OrderType.ADD


def test_net_pnl_is_after_entry_and_exit_fees() -> None:
    eng = engine()
    eng.open(BTC, Side.SHORT, 100.0, 1)  # q = 2,000, entry fee 200
    pos = eng.positions[BTC]
    assert eng.net_pnl(pos, 99.0) == pytest.approx(2000.0 - 200.0 - 2000 * 99.0 * 0.001)


# --- bounded exposure -----------------------------------------------------------------------

def test_an_entry_past_the_exposure_limit_is_sized_down_and_says_so() -> None:
    eng = engine(position_size_percent=10, leverage=20, max_exposure_percent=300,
                 commission_rate=0.0)
    eng.open(BTC, Side.LONG, 100.0, 1)  # 200 % of equity
    ex = eng.execute(Action.BUY, "ETH/USDT", 50.0, 2, AUTO, "vote")
    assert ex.executed and ex.note == "sized down to fit max exposure 300 %"
    (trade,) = ex.trades
    assert trade.reason == "vote; sized down to fit max exposure 300 %"
    assert trade.margin * 20 == pytest.approx(100_000.0)  # the 100 % that was left
    assert eng.exposure_percent(eng.marks) == pytest.approx(300.0)
    out = settle(eng.sandbox(), "SOL/USDT", 10.0, 3, VoteResult(Action.BUY, 0.8, "x", 0.6))
    assert out.note == "not executed: max exposure reached: 300 % of equity open, limit 300 %"


def test_exposure_counts_the_entry_fee_and_stays_within_the_limit() -> None:
    eng = engine(position_size_percent=50, leverage=1, max_exposure_percent=50)
    eng.open(BTC, Side.LONG, 100.0, 1)
    assert eng.exposure_percent({BTC: 100.0}) <= 50.0 + 1e-9


def test_exposure_below_the_limit_changes_nothing() -> None:
    eng = engine(position_size_percent=10, leverage=20, max_exposure_percent=250)
    ex = eng.execute(Action.SELL, BTC, 100.0, 1)
    assert ex.executed and ex.note == "" and ex.trades[0].margin == pytest.approx(10_000.0)
    assert engine().exposure_percent({}) == 0.0


# --- re-entry cooldown ----------------------------------------------------------------------

def test_automatic_entries_wait_out_the_cooldown_after_a_close() -> None:
    eng = engine(reentry_cooldown_minutes=60)
    eng.open(BTC, Side.LONG, 100.0, 0)
    eng.close(BTC, 100.0, 600)
    ex = eng.execute(Action.BUY, BTC, 100.0, 600 + 59 * 60, AUTO)
    assert ex.rejected == ("re-entry cooldown: BTC/USDT closed 59 min ago (automatic entries "
                           "wait 60 min)")
    assert eng.execute(Action.BUY, BTC, 100.0, 600 + 3600, AUTO).executed  # at 60 min: free
    assert eng.closed_at == {BTC: 600}


def test_the_cooldown_binds_event_orders_not_manual_ones_nor_other_symbols() -> None:
    eng = engine(reentry_cooldown_minutes=60)
    eng.open(BTC, Side.SHORT, 100.0, 0)
    eng.close(BTC, 100.0, 10)
    assert eng.execute(Action.SELL, BTC, 100.0, 20, EVENT).rejected.startswith("re-entry")
    assert eng.execute(Action.BUY, "ETH/USDT", 10.0, 20, AUTO).executed
    assert eng.open(BTC, Side.LONG, 100.0, 30, MANUAL).order_type is OrderType.OPEN


def test_a_reversal_closes_then_waits_and_a_liquidation_starts_the_cooldown_too() -> None:
    eng = engine(reentry_cooldown_minutes=30)
    eng.open(BTC, Side.LONG, 100.0, 0)
    ex = eng.execute(Action.SELL, BTC, 101.0, 100, AUTO)
    assert [t.order_type for t in ex.trades] == [OrderType.CLOSE]
    assert ex.rejected.startswith("re-entry cooldown") and not ex.executed
    assert BTC not in eng.positions
    liq = engine(reentry_cooldown_minutes=30)
    liq.open(BTC, Side.LONG, 100.0, 0)
    (trade,) = liq.mark({BTC: 90.0}, 50)
    assert trade.order_type is OrderType.LIQUIDATION and liq.closed_at[BTC] == 50


# --- drawdown guard -------------------------------------------------------------------------

def test_flatten_closes_every_position_then_pauses() -> None:
    eng = engine(max_drawdown_percent=5, drawdown_action="flatten", position_size_percent=20)
    eng.open(BTC, Side.LONG, 100.0, 0)
    eng.open("ETH/USDT", Side.SHORT, 10.0, 0)
    assert eng.mark({BTC: 99.0, "ETH/USDT": 10.0}, 1) == []  # −4 %: below the limit
    trades = eng.mark({BTC: 98.6}, 2)  # ETH has no new price: its last one is used
    assert {t.symbol for t in trades} == {BTC, "ETH/USDT"} and not eng.positions
    assert all(t.source is TradeSource.GUARD and t.reason == "drawdown guard: flatten"
               for t in trades)
    assert eng.ledger.halted_reason.startswith("max drawdown")
    assert "positions closed, automatic trading paused" in eng.ledger.halted_reason
    assert eng.invariant_error() < 1e-6


def test_pause_keeps_the_positions() -> None:
    eng = engine(max_drawdown_percent=5, drawdown_action="pause", position_size_percent=20)
    eng.open(BTC, Side.LONG, 100.0, 0)
    assert eng.mark({BTC: 98.6}, 1) == []
    assert BTC in eng.positions
    assert eng.ledger.halted_reason.endswith("≥ 5 %: automatic trading paused")


# --- stops and liquidations on a bar's range (backtests) -------------------------------------

def long_at_100(**kw: object) -> TradingEngine:
    eng = engine(stop_loss_percent=40, take_profit_percent=60, commission_rate=0.0, **kw)
    eng.open(BTC, Side.LONG, 100.0, 0)  # 20x: a 40 % stop is 2 % away, TP 3 %, liq ~4.5 %
    return eng


def test_guard_prices_are_percent_of_margin_from_the_entry() -> None:
    eng = long_at_100()
    assert eng.guard_prices(eng.positions[BTC]) == pytest.approx((98.0, 103.0))
    short = engine(stop_loss_percent=40, take_profit_percent=60)
    short.open(BTC, Side.SHORT, 100.0, 0)
    assert short.guard_prices(short.positions[BTC]) == pytest.approx((102.0, 97.0))
    assert engine().guard_prices(short.positions[BTC]) == (None, None)


@pytest.mark.parametrize(("bar", "order", "price"), [
    ((99.5, 100.5, 97.5, 99.0), OrderType.CLOSE, 98.0),  # the stop inside the bar: its price
    ((97.0, 97.5, 96.0, 97.2), OrderType.CLOSE, 97.0),  # opens below the stop: the open
    ((95.0, 96.0, 94.0, 95.5), OrderType.LIQUIDATION, None),  # opens past liquidation
    ((99.0, 104.0, 97.0, 100.0), OrderType.CLOSE, 98.0),  # stop and TP inside: stop first
    ((101.0, 103.5, 100.5, 102.0), OrderType.CLOSE, 103.0),  # the take-profit at its price
    ((104.0, 105.0, 103.5, 104.5), OrderType.CLOSE, 104.0),  # opens above the TP: the open
])
def test_a_long_exits_where_the_bar_reaches_first(bar: tuple, order: OrderType,
                                                  price: float | None) -> None:
    eng = long_at_100()
    liq = eng.liquidation_price(BTC)
    (trade,) = eng.mark_bars({BTC: bar[3]}, {BTC: bar}, 5)
    assert trade.order_type is order
    assert trade.price == pytest.approx(price if price is not None else liq)
    assert eng.invariant_error() < 1e-6


def test_a_short_mirrors_and_a_quiet_bar_exits_nothing() -> None:
    eng = engine(stop_loss_percent=40, take_profit_percent=60, commission_rate=0.0)
    eng.open(BTC, Side.SHORT, 100.0, 0)
    assert eng.mark_bars({BTC: 100.5}, {BTC: (100.0, 101.5, 98.0, 100.5)}, 1) == []
    (trade,) = eng.mark_bars({BTC: 101.0}, {BTC: (100.5, 102.5, 96.0, 101.0)}, 2)
    assert (trade.price, trade.source) == (pytest.approx(102.0), TradeSource.GUARD)
    assert trade.reason == "stop-loss -40.0 % of margin"


def test_without_a_stop_the_bar_low_liquidates() -> None:
    eng = engine(commission_rate=0.0)
    eng.open(BTC, Side.LONG, 100.0, 0)
    (trade,) = eng.mark_bars({BTC: 99.0}, {BTC: (99.5, 100.0, 95.0, 99.0)}, 1)
    assert trade.order_type is OrderType.LIQUIDATION and eng.ledger.liquidations == 1

"""The engine against hand-computed figures (SPEC §8) and the ledger invariant under hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotrade_tui.core.engine import EngineConfig, Rejected, TradingEngine, copy_state
from autotrade_tui.core.models import Action, OrderType, Side, TradeSource

CFG = EngineConfig()  # 100k, 10 %, 20x, fee 0.1 %, mmr 0.5 %


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=1e-9)


def test_open_long_margin_quantity_fee_capital() -> None:
    eng = TradingEngine(CFG)
    t = eng.open("BTC/USDT", Side.LONG, 50_000.0, 1.0)
    # M = 10 % of 100,000 = 10,000; N = 200,000; q = 4; fee = 200
    assert (t.margin, t.amount, t.fee, t.order_type) == (10_000.0, 4.0, 200.0, OrderType.OPEN)
    assert eng.ledger.capital == approx(89_800.0)
    # long liq = (E − M/q)/(1 − m) = (50,000 − 2,500)/0.995
    assert eng.liquidation_price("BTC/USDT") == approx(47_500 / 0.995)
    assert eng.equity({"BTC/USDT": 51_000.0}) == approx(89_800 + 10_000 + 4 * 1_000)


def test_stack_long_then_close_with_profit() -> None:
    eng = TradingEngine(CFG)
    eng.open("BTC/USDT", Side.LONG, 50_000.0, 1.0)
    t2 = eng.open("BTC/USDT", Side.LONG, 40_000.0, 2.0)
    # second margin = 10 % of 89,800 = 8,980; N = 179,600; q = 4.49; fee = 179.6
    assert t2.order_type is OrderType.ADD
    assert (t2.margin, t2.amount, t2.fee) == (approx(8_980), approx(4.49), approx(179.6))
    pos = eng.positions["BTC/USDT"]
    assert pos.quantity == approx(8.49)
    assert pos.entry_price == approx(379_600 / 8.49)
    assert pos.margin == approx(18_980)
    assert eng.liquidation_price("BTC/USDT") == approx((379_600 / 8.49 - 18_980 / 8.49) / 0.995)
    close = eng.close("BTC/USDT", 45_000.0, 3.0)
    # pnl = 8.49·45,000 − 379,600 = 2,450; fee = 382.05
    assert close.pnl == approx(2_450)
    assert close.fee == approx(382.05)
    assert eng.ledger.capital == approx(80_640.4 + 18_980 + 2_450 - 382.05)
    assert eng.ledger.total_fees == approx(200 + 179.6 + 382.05)
    assert (eng.ledger.total_trades, eng.ledger.winning_trades) == (1, 1)
    assert eng.invariant_error() < 1e-6


def test_short_open_close_and_liquidation_price() -> None:
    eng = TradingEngine(CFG)
    eng.open("ETH/USDT", Side.SHORT, 2_000.0, 1.0)
    assert eng.liquidation_price("ETH/USDT") == approx(2_100 / 1.005)
    assert eng.equity({"ETH/USDT": 1_900.0}) == approx(89_800 + 10_000 + 100 * 100)
    t = eng.close("ETH/USDT", 1_900.0, 2.0)
    assert (t.pnl, t.fee) == (approx(10_000), approx(190))
    assert eng.ledger.capital == approx(89_800 + 10_000 + 10_000 - 190)
    assert eng.ledger.win_rate == 1.0


def test_short_stacking_averages_entry() -> None:
    eng = TradingEngine(CFG)
    eng.open("ETH/USDT", Side.SHORT, 2_000.0, 1.0)
    eng.open("ETH/USDT", Side.SHORT, 2_200.0, 2.0)
    pos = eng.positions["ETH/USDT"]
    q2 = 8_980 * 20 / 2_200
    assert pos.entry_price == approx((100 * 2_000 + q2 * 2_200) / (100 + q2))
    e, q, m = pos.entry_price, pos.quantity, pos.margin
    assert eng.liquidation_price("ETH/USDT") == approx((e + m / q) / 1.005)


def test_liquidation_loses_margin_and_counts_as_loss() -> None:
    eng = TradingEngine(CFG)
    eng.open("ETH/USDT", Side.SHORT, 2_000.0, 1.0)
    liq = eng.liquidation_price("ETH/USDT")
    assert eng.mark({"ETH/USDT": liq - 1.0}, 2.0) == []
    (t,) = eng.mark({"ETH/USDT": 2_100.0}, 3.0)
    assert t.order_type is OrderType.LIQUIDATION and t.source is TradeSource.LIQUIDATION
    assert (t.price, t.pnl, t.fee) == (approx(liq), -10_000.0, 0.0)
    assert eng.ledger.capital == approx(89_800)
    assert (eng.ledger.liquidations, eng.ledger.losing_trades, eng.ledger.win_rate) == (1, 1, 0.0)
    assert eng.positions == {}
    assert eng.invariant_error() < 1e-6


def test_long_liquidation_exactly_at_liq_price() -> None:
    eng = TradingEngine(CFG)
    eng.open("BTC/USDT", Side.LONG, 50_000.0, 1.0)
    liq = eng.liquidation_price("BTC/USDT")
    (t,) = eng.mark({"BTC/USDT": liq}, 2.0)
    assert t.order_type is OrderType.LIQUIDATION


def test_close_past_liquidation_is_a_liquidation() -> None:
    eng = TradingEngine(CFG)
    eng.open("BTC/USDT", Side.LONG, 50_000.0, 1.0)
    assert eng.close("BTC/USDT", 40_000.0, 2.0).order_type is OrderType.LIQUIDATION


def test_losing_close_after_fees_counts_as_loss() -> None:
    eng = TradingEngine(CFG)
    eng.open("BTC/USDT", Side.LONG, 50_000.0, 1.0)
    t = eng.close("BTC/USDT", 50_010.0, 2.0)  # pnl 40 < close fee 200.04
    assert t.pnl > 0 and eng.ledger.losing_trades == 1 and eng.ledger.winning_trades == 0


def test_rejections_have_reasons() -> None:
    eng = TradingEngine(EngineConfig(max_positions=1))
    eng.open("BTC/USDT", Side.LONG, 50_000.0, 1.0)
    with pytest.raises(Rejected, match="max positions"):
        eng.open("ETH/USDT", Side.LONG, 2_000.0, 1.0)
    eng.open("BTC/USDT", Side.LONG, 51_000.0, 2.0)  # stacking is not a new position
    with pytest.raises(Rejected, match="insufficient capital"):
        TradingEngine(EngineConfig(position_size_percent=100)).open("X/USDT", Side.LONG, 1.0, 1)
    with pytest.raises(Rejected, match="close it first"):
        eng.open("BTC/USDT", Side.SHORT, 50_000.0, 3.0)
    with pytest.raises(Rejected, match="no open position"):
        eng.close("SOL/USDT", 100.0, 3.0)
    with pytest.raises(Rejected, match="invalid price"):
        eng.open("SOL/USDT", Side.LONG, 0.0, 3.0)


def test_execute_flips_and_stacks() -> None:
    eng = TradingEngine(CFG)
    assert eng.execute(Action.HOLD, "BTC/USDT", 50_000.0, 1).trades == []
    ex = eng.execute(Action.SELL, "BTC/USDT", 50_000.0, 1)
    assert [t.order_type for t in ex.trades] == [OrderType.OPEN] and ex.executed
    ex = eng.execute(Action.SELL, "BTC/USDT", 50_100.0, 2)
    assert [t.order_type for t in ex.trades] == [OrderType.ADD]
    ex = eng.execute(Action.BUY, "BTC/USDT", 49_000.0, 3)
    assert [(t.order_type, t.side) for t in ex.trades] == [
        (OrderType.CLOSE, Side.SHORT), (OrderType.OPEN, Side.LONG)]
    assert eng.positions["BTC/USDT"].side is Side.LONG


def test_execute_reports_rejection_after_close() -> None:
    eng = TradingEngine(EngineConfig(max_positions=1))
    eng.open("ETH/USDT", Side.LONG, 2_000.0, 1)
    ex = eng.execute(Action.BUY, "BTC/USDT", 50_000.0, 2)
    assert ex.trades == [] and "max positions" in ex.rejected and not ex.executed


def test_stop_loss_take_profit_and_drawdown_guard() -> None:
    eng = TradingEngine(EngineConfig(stop_loss_percent=50, take_profit_percent=100,
                                     max_drawdown_percent=5))
    eng.open("BTC/USDT", Side.LONG, 50_000.0, 1)
    assert eng.mark({"BTC/USDT": 48_800.0}, 2) == []  # −48 % of margin
    (t,) = eng.mark({"BTC/USDT": 48_750.0}, 3)  # −50 % of margin
    assert t.source is TradeSource.GUARD and "stop-loss" in t.reason
    assert "max drawdown" in eng.ledger.halted_reason  # lost ~5.2 % of 100k
    eng.resume()
    assert eng.ledger.halted_reason == ""
    eng.open("ETH/USDT", Side.SHORT, 2_000.0, 4)
    (t,) = eng.mark({"ETH/USDT": 1_900.0}, 5)  # +100 % of margin
    assert "take-profit" in t.reason


def test_copy_state_is_deep() -> None:
    eng = TradingEngine(CFG)
    eng.open("BTC/USDT", Side.LONG, 50_000.0, 1)
    snap = copy_state(eng.state)
    eng.open("BTC/USDT", Side.LONG, 50_000.0, 2)
    assert len(snap.positions["BTC/USDT"].entries) == 1
    assert snap.ledger.capital != eng.ledger.capital


SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.sampled_from(SYMBOLS), st.sampled_from(list(Side))),
        st.tuples(st.just("act"), st.sampled_from(SYMBOLS), st.sampled_from(list(Action))),
        st.tuples(st.just("close"), st.sampled_from(SYMBOLS), st.none()),
        st.tuples(st.just("move"), st.sampled_from(SYMBOLS), st.floats(0.7, 1.4)),
        st.tuples(st.just("mark"), st.none(), st.none()),
        # a whole bar (backtests): its open, high, low as factors of the price, then close
        st.tuples(st.just("bar"), st.sampled_from(SYMBOLS),
                  st.tuples(st.floats(0.9, 1.1), st.floats(1.0, 1.15), st.floats(0.85, 1.0),
                            st.floats(0.9, 1.1))),
    ),
    min_size=1,
    max_size=60,
)
configs = st.builds(
    EngineConfig,
    leverage=st.sampled_from([1.0, 3.0, 20.0, 100.0]),
    commission_rate=st.sampled_from([0.0, 0.001, 0.004]),
    position_size_percent=st.floats(1, 100),
    max_positions=st.integers(1, 3),
    stop_loss_percent=st.sampled_from([0.0, 30.0]),
    take_profit_percent=st.sampled_from([0.0, 80.0]),
    max_drawdown_percent=st.sampled_from([0.0, 10.0]),
    drawdown_action=st.sampled_from(["pause", "flatten"]),
    max_entries_per_position=st.sampled_from([0, 1, 2]),
    stack_only_in_profit=st.booleans(),
    max_exposure_percent=st.sampled_from([0.0, 50.0, 300.0]),
    reentry_cooldown_minutes=st.sampled_from([0.0, 0.05]),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs, steps=ops)
def test_ledger_invariant_holds_after_every_step(cfg: EngineConfig, steps: list) -> None:
    eng = TradingEngine(cfg)
    prices = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0, "SOL/USDT": 150.0}
    was_halted = False
    for i, (op, sym, arg) in enumerate(steps):
        try:
            if op == "open":
                eng.open(sym, arg, prices[sym], i)
            elif op == "act":
                eng.execute(arg, sym, prices[sym], i)
            elif op == "close":
                eng.close(sym, prices[sym], i)
            elif op == "move":
                prices[sym] *= arg
            elif op == "bar":
                o, h, lo, c = (prices[sym] * f for f in arg)
                prices[sym] = c
                eng.mark_bars(prices, {sym: (o, max(o, h, c), min(o, lo, c), c)}, i)
            else:
                eng.mark(prices, i)
        except Rejected:
            pass
        if op in ("open", "act") and cfg.max_exposure_percent and eng.positions:
            # what an entry is sized against: the engine's last prices (the order's own)
            assert eng.exposure_percent(eng.marks) <= cfg.max_exposure_percent * (1 + 1e-9) \
                or not any(e.ts == i for p in eng.positions.values() for e in p.entries)
        lg = eng.ledger
        scale = lg.initial_capital
        assert eng.invariant_error() <= 1e-9 * scale
        assert lg.capital >= -1e-9 * scale
        assert lg.winning_trades + lg.losing_trades == lg.total_trades
        assert len(eng.positions) <= cfg.max_positions
        for pos in eng.positions.values():
            assert pos.quantity > 0 and pos.margin > 0
            assert not cfg.max_entries_per_position \
                or len(pos.entries) <= cfg.max_entries_per_position
        if lg.halted_reason and not was_halted and cfg.drawdown_action == "flatten":
            assert not eng.positions  # the trip flattened (every symbol has a price here)
        was_halted = bool(lg.halted_reason)


def test_sandbox_previews_without_touching_the_engine() -> None:
    eng = TradingEngine(CFG)
    eng.open("BTC/USDT", Side.SHORT, 50_000.0, 1.0)
    before = copy_state(eng.state)
    box = eng.sandbox()
    ex = box.execute(Action.BUY, "BTC/USDT", 49_000.0, 2.0)
    assert [t.order_type for t in ex.trades] == [OrderType.CLOSE, OrderType.OPEN]
    assert box.positions["BTC/USDT"].side is Side.LONG
    assert eng.ledger == before.ledger and eng.positions == before.positions

"""core.preview: what a manual order would do before it is confirmed, by the engine's own rules
on a copy: the fills (manual, unstamped), a refusal, whether it stacks, the liquidation price it
leaves, the position a close closes; and what cannot be previewed, in words."""

from __future__ import annotations

import pytest

from autotrade_tui.core.engine import EngineConfig, TradingEngine
from autotrade_tui.core.models import OrderType, Side, TradeSource
from autotrade_tui.core.preview import KINDS, NothingToDo, OrderPreview, preview

BTC, ETH = "BTC/USDT", "ETH/USDT"


def engine(**over: float) -> TradingEngine:
    base: dict[str, float] = dict(initial_capital=100_000.0, leverage=10.0, commission_rate=0.001,
                                  maintenance_margin_rate=0.005, position_size_percent=10.0)
    base.update(over)
    return TradingEngine(EngineConfig(**base))  # type: ignore[arg-type]


def fills(p: OrderPreview) -> list[tuple[OrderType, Side, float, float, TradeSource]]:
    return [(t.order_type, t.side, t.price, t.ts, t.source) for t in p.trades]


@pytest.mark.parametrize(("kind", "side"), [("long", Side.LONG), ("short", Side.SHORT)])
def test_an_open_is_the_engines_fill_on_a_copy(kind: str, side: Side) -> None:
    eng = engine()
    before = repr(eng.state)
    p = preview(eng, kind, BTC, {BTC: 50_000, ETH: 2_000.0})
    assert (p.kind, p.symbol, p.mark, p.rejected, p.added) == (kind, BTC, 50_000.0, "", False)
    assert fills(p) == [(OrderType.OPEN, side, 50_000.0, 0.0, TradeSource.MANUAL)]
    assert p.trades[0].margin == 10_000.0 and p.trades[0].leverage == 10.0
    box = engine()
    box.open(BTC, side, 50_000.0, 0.0, TradeSource.MANUAL)
    assert p.liquidation == box.liquidation_price(BTC)
    assert (p.size_percent, p.leverage) == (10.0, 10.0)
    assert (p.position, p.closing) == (None, ())
    assert repr(eng.state) == before and not eng.positions  # the real engine never moved


def test_an_open_on_a_held_position_adds_to_it() -> None:
    eng = engine()
    eng.open(BTC, Side.LONG, 50_000.0, 0.0)
    p = preview(eng, "long", BTC, {BTC: 48_000.0})
    assert p.added and p.rejected == ""
    assert fills(p) == [(OrderType.ADD, Side.LONG, 48_000.0, 0.0, TradeSource.MANUAL)]
    box = eng.sandbox()
    box.open(BTC, Side.LONG, 48_000.0, 0.0, TradeSource.MANUAL)
    assert p.liquidation == box.liquidation_price(BTC) != eng.liquidation_price(BTC)
    assert len(eng.positions[BTC].entries) == 1


def test_an_open_against_a_held_position_closes_it_first() -> None:
    eng = engine()
    eng.open(BTC, Side.SHORT, 50_000.0, 0.0)
    p = preview(eng, "long", BTC, {BTC: 49_000.0})
    assert not p.added  # a flip opens a new position, it adds to none
    assert fills(p) == [(OrderType.CLOSE, Side.SHORT, 49_000.0, 0.0, TradeSource.MANUAL),
                        (OrderType.OPEN, Side.LONG, 49_000.0, 0.0, TradeSource.MANUAL)]
    assert p.liquidation is not None and p.liquidation < 49_000.0  # the new long's
    assert eng.positions[BTC].side is Side.SHORT


def test_a_manual_open_is_not_held_by_the_automatic_rules() -> None:
    # a re-entry cooldown and "stack only in profit" bind the decision cycle, not the user
    eng = engine(reentry_cooldown_minutes=60.0, stack_only_in_profit=True)
    eng.open(ETH, Side.LONG, 2_000.0, 0.0)
    eng.open(BTC, Side.LONG, 50_000.0, 0.0)
    eng.close(BTC, 50_000.0, 0.0)
    again = preview(eng, "long", BTC, {BTC: 50_000.0})
    assert again.rejected == "" and fills(again)[0][0] is OrderType.OPEN
    down = preview(eng, "long", ETH, {ETH: 1_900.0})
    assert down.rejected == "" and down.added


def test_a_refused_open_says_why_and_leaves_no_liquidation() -> None:
    eng = engine(max_positions=1)
    eng.open(ETH, Side.LONG, 2_000.0, 0.0)
    p = preview(eng, "short", BTC, {BTC: 50_000.0})
    assert p.rejected == "max positions reached (1)"
    assert (p.trades, p.liquidation, p.added) == ((), None, False)
    # refused after the close it would make: the close is shown, no liquidation
    eng = engine(initial_capital=2.5, commission_rate=0.0, position_size_percent=50.0)
    eng.open(BTC, Side.SHORT, 100.0, 0.0)  # margin 1.25; at 105 the close leaves 1.875
    p = preview(eng, "long", BTC, {BTC: 105.0})
    assert p.rejected.startswith("insufficient capital: 1.88 USDT free")
    assert fills(p) == [(OrderType.CLOSE, Side.SHORT, 105.0, 0.0, TradeSource.MANUAL)]
    assert (p.liquidation, p.added) == (None, False)


def test_a_close_shows_its_fill_and_the_position_it_closes() -> None:
    eng = engine()
    eng.open(BTC, Side.LONG, 50_000.0, 0.0)
    eng.open(ETH, Side.SHORT, 2_000.0, 0.0)
    before = repr(eng.state)
    p = preview(eng, "close", BTC, {BTC: 51_000, ETH: 2_100.0})
    assert (p.kind, p.symbol, p.mark, p.position) == ("close", BTC, 51_000.0, eng.positions[BTC])
    assert fills(p) == [(OrderType.CLOSE, Side.LONG, 51_000.0, 0.0, TradeSource.MANUAL)]
    assert p.trades[0].pnl == pytest.approx(2_000.0)  # 2 BTC, 1,000 up
    assert repr(eng.state) == before
    past = preview(eng, "close", ETH, {ETH: 2_300.0})  # beyond the short's liquidation
    assert [t.order_type for t in past.trades] == [OrderType.LIQUIDATION]


def test_close_all_closes_every_position_at_its_mark() -> None:
    eng = engine()
    eng.open(ETH, Side.SHORT, 2_000.0, 0.0)
    eng.open(BTC, Side.LONG, 50_000.0, 0.0)
    before = repr(eng.state)
    p = preview(eng, "close_all", "ignored", {BTC: 51_000.0, ETH: 1_900.0})
    assert (p.kind, p.symbol, p.mark) == ("close_all", "", 0.0)
    assert p.closing == ((BTC, "LONG"), (ETH, "SHORT"))  # by symbol
    assert sorted(fills(p)) == sorted([
        (OrderType.CLOSE, Side.SHORT, 1_900.0, 0.0, TradeSource.MANUAL),
        (OrderType.CLOSE, Side.LONG, 51_000.0, 0.0, TradeSource.MANUAL)])
    assert repr(eng.state) == before


def test_what_cannot_be_previewed_says_why() -> None:
    eng = engine()
    with pytest.raises(NothingToDo, match=r"^no price for BTC/USDT yet$"):
        preview(eng, "long", BTC, {ETH: 2_000.0})
    with pytest.raises(NothingToDo, match=r"^no open position on BTC/USDT$"):
        preview(eng, "close", BTC, {BTC: 50_000.0})
    with pytest.raises(NothingToDo, match=r"^no open positions$"):
        preview(eng, "close_all", "", {BTC: 50_000.0})
    eng.open(BTC, Side.LONG, 50_000.0, 0.0)
    eng.open(ETH, Side.LONG, 2_000.0, 0.0)
    with pytest.raises(NothingToDo, match=r"^no price for BTC/USDT yet$"):
        preview(eng, "close", BTC, {ETH: 2_000.0})
    with pytest.raises(NothingToDo, match=r"^no price for ETH/USDT yet$"):
        preview(eng, "close_all", "", {BTC: 50_000.0})
    with pytest.raises(NothingToDo) as err:
        preview(eng, "buy", BTC, {BTC: 50_000.0})
    assert str(err.value) == "unknown order kind 'buy' (one of long, short, close, close_all)"
    assert KINDS == ("long", "short", "close", "close_all")

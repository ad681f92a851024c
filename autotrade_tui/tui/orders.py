"""Manual orders from the keyboard: the sentence a confirmation shows, and the runtime call.

The figures are the engine's own rules applied to the current price (SPEC §8), so the dialog
says what will happen; the runtime executes at the price it holds when the user confirms.
"""

from __future__ import annotations

from typing import Any

from autotrade_tui.core.models import Action, OrderType, Side, TradeSource
from autotrade_tui.tui.format import money, price, qty

KINDS = ("long", "short", "close", "close_all")


class NothingToDo(Exception):
    """The order cannot make sense now (no price, no position); `str()` says why."""


def describe(kind: str, symbol: str, runtime: Any) -> str:
    """What confirming `kind` on `symbol` will do, in one or two sentences."""
    if kind in ("long", "short"):
        return _describe_open(Side.LONG if kind == "long" else Side.SHORT, symbol, runtime)
    if kind == "close":
        return _describe_close(symbol, runtime)
    if kind == "close_all":
        return _describe_close_all(runtime)
    raise ValueError(f"unknown order kind {kind!r}")


async def send(kind: str, symbol: str, runtime: Any) -> str:
    """Execute through the runtime (recorded as manual); raises core.engine.Rejected."""
    if kind == "long":
        return await runtime.manual_open(symbol, Side.LONG)
    if kind == "short":
        return await runtime.manual_open(symbol, Side.SHORT)
    if kind == "close":
        return await runtime.manual_close(symbol)
    if kind == "close_all":
        return await runtime.manual_close_all()
    raise ValueError(f"unknown order kind {kind!r}")


def _mark(symbol: str, runtime: Any) -> float:
    ticker = runtime.tickers.get(symbol)
    if ticker is None:
        raise NothingToDo(f"no price for {symbol} yet")
    return float(ticker.last)


def _describe_open(side: Side, symbol: str, runtime: Any) -> str:
    engine = runtime.engine
    cfg = engine.config
    mark = _mark(symbol, runtime)
    box = engine.sandbox()  # the engine's own rules on a copy: what confirming would do
    ex = box.execute(Action.BUY if side is Side.LONG else Action.SELL, symbol, mark, 0.0,
                     TradeSource.MANUAL)
    closes = [t for t in ex.trades if t.order_type is OrderType.CLOSE]
    lead = ""
    if closes:
        c = closes[0]
        lead = (f"Close {c.side} {symbol} (P&L ~{money(c.pnl - c.fee, signed=True)} after fee)"
                ", then ")
    had = symbol in engine.positions and not closes
    verb = "add to" if had else "open"
    verb = verb if lead else verb.capitalize()
    head = (f"{lead}{verb} {side} {symbol} at ~{price(mark)} with "
            f"{cfg.position_size_percent:g} % of free capital")
    if ex.rejected:
        return f"{head}?\nThe engine would refuse it now: {ex.rejected}."
    t = ex.trades[-1]
    liq = box.liquidation_price(symbol)
    return (f"{head} (margin ~{t.margin:,.0f}, {cfg.leverage:g}x)?\n"
            f"Notional ~{t.margin * t.leverage:,.0f} USDT, quantity ~{qty(t.amount)}, fee "
            f"~{t.fee:,.2f}; liquidation ~{price(liq)}.")


def _describe_close(symbol: str, runtime: Any) -> str:
    pos = runtime.engine.positions.get(symbol)
    if pos is None:
        raise NothingToDo(f"no open position on {symbol}")
    mark = _mark(symbol, runtime)
    t = runtime.engine.sandbox().close(symbol, mark, 0.0, TradeSource.MANUAL)
    if t.order_type is OrderType.LIQUIDATION:
        return (f"Close {pos.side} {symbol} at ~{price(mark)}?\nIt is past its liquidation "
                f"price: it closes as a liquidation at {price(t.price)}, margin "
                f"{pos.margin:,.2f} lost.")
    return (f"Close {pos.side} {symbol} ({qty(pos.quantity)} entered at "
            f"{price(pos.entry_price)}) at ~{price(mark)}?\n"
            f"P&L ~{money(t.pnl - t.fee, signed=True)} USDT after a fee of ~{t.fee:,.2f}; "
            f"margin {pos.margin:,.2f} returns to free capital.")


def _describe_close_all(runtime: Any) -> str:
    positions = dict(runtime.engine.positions)
    if not positions:
        raise NothingToDo("no open positions")
    marks = {sym: _mark(sym, runtime) for sym in positions}
    trades = runtime.engine.sandbox().close_all(marks, 0.0, TradeSource.MANUAL)
    total = sum(t.pnl - t.fee for t in trades)
    names = ", ".join(f"{p.side} {s}" for s, p in sorted(positions.items()))
    n = len(positions)
    return (f"Close all {n} position{'s' if n > 1 else ''} ({names}) at market?\n"
            f"P&L ~{money(total, signed=True)} USDT after fees.")

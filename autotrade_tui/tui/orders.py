"""Manual orders from the keyboard: the sentence a confirmation shows, and the runtime call.

The figures are the engine's own rules applied to the current price (SPEC §8), so the dialog
says what will happen; the runtime executes at the price it holds when the user confirms.
"""

from __future__ import annotations

from typing import Any

from autotrade_tui.core.models import Entry, Position, Side
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


def _close_result(pos: Position, mark: float, fee_rate: float) -> tuple[float, float]:
    """(P&L after the closing fee, the fee) of closing `pos` at `mark`."""
    fee = pos.quantity * mark * fee_rate
    return pos.unrealized_pnl(mark) - fee, fee


def _describe_open(side: Side, symbol: str, runtime: Any) -> str:
    engine = runtime.engine
    cfg = engine.config
    mark = _mark(symbol, runtime)
    free = engine.ledger.capital
    pos = engine.positions.get(symbol)
    lead = ""
    if pos is not None and pos.side is not side:
        net, _fee = _close_result(pos, mark, cfg.commission_rate)
        free += pos.margin + net
        lead = f"Close {pos.side} {symbol} (P&L ~{money(net, signed=True)} after fee), then "
        pos = None
    margin = free * cfg.position_size_percent / 100.0
    notional = margin * cfg.leverage
    fee = notional * cfg.commission_rate
    verb = "add to" if pos is not None else "open"
    verb = verb if lead else verb.capitalize()
    entries = [*(pos.entries if pos else []),
               Entry(mark, notional / mark, margin, cfg.leverage, fee, 0.0)]
    liq = Position(symbol, side, entries).liquidation_price(cfg.maintenance_margin_rate)
    return (f"{lead}{verb} {side} {symbol} at ~{price(mark)} with "
            f"{cfg.position_size_percent:g} % of free capital (margin ~{margin:,.0f}, "
            f"{cfg.leverage:g}x)?\n"
            f"Notional ~{notional:,.0f} USDT, quantity ~{qty(notional / mark)}, fee "
            f"~{fee:,.2f}; liquidation ~{price(liq)}.")


def _describe_close(symbol: str, runtime: Any) -> str:
    pos = runtime.engine.positions.get(symbol)
    if pos is None:
        raise NothingToDo(f"no open position on {symbol}")
    mark = _mark(symbol, runtime)
    net, fee = _close_result(pos, mark, runtime.engine.config.commission_rate)
    return (f"Close {pos.side} {symbol} ({qty(pos.quantity)} entered at "
            f"{price(pos.entry_price)}) at ~{price(mark)}?\n"
            f"P&L ~{money(net, signed=True)} USDT after a fee of ~{fee:,.2f}; margin "
            f"{pos.margin:,.2f} returns to free capital.")


def _describe_close_all(runtime: Any) -> str:
    positions = dict(runtime.engine.positions)
    if not positions:
        raise NothingToDo("no open positions")
    rate = runtime.engine.config.commission_rate
    total = 0.0
    for sym, pos in positions.items():
        total += _close_result(pos, _mark(sym, runtime), rate)[0]
    names = ", ".join(f"{p.side} {s}" for s, p in sorted(positions.items()))
    n = len(positions)
    return (f"Close all {n} position{'s' if n > 1 else ''} ({names}) at market?\n"
            f"P&L ~{money(total, signed=True)} USDT after fees.")

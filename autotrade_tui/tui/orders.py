"""Manual orders from the keyboard: the sentence a confirmation shows.

The figures are the engine's own rules applied to the current price (core.preview, SPEC §8),
so the dialog says what will happen; the engine executes at the price it holds when the user
confirms. The preview comes from the runtime the cockpit talks to, in process or attached.
"""

from __future__ import annotations

from autotrade_tui.core.models import OrderType
from autotrade_tui.core.preview import KINDS, NothingToDo, OrderPreview
from autotrade_tui.tui.format import money, price, qty

__all__ = ["KINDS", "NothingToDo", "describe"]


def describe(p: OrderPreview) -> str:
    """What confirming the previewed order will do, in one or two sentences."""
    if p.kind in ("long", "short"):
        return _describe_open(p)
    if p.kind == "close":
        return _describe_close(p)
    if p.kind == "close_all":
        return _describe_close_all(p)
    raise ValueError(f"unknown order kind {p.kind!r}")


def _describe_open(p: OrderPreview) -> str:
    side = "LONG" if p.kind == "long" else "SHORT"
    closes = [t for t in p.trades if t.order_type is OrderType.CLOSE]
    lead = ""
    if closes:
        c = closes[0]
        lead = (f"Close {c.side} {p.symbol} (P&L ~{money(c.pnl - c.fee, signed=True)} after "
                "fee), then ")
    verb = "add to" if p.added else "open"
    verb = verb if lead else verb.capitalize()
    head = (f"{lead}{verb} {side} {p.symbol} at ~{price(p.mark)} with "
            f"{p.size_percent:g} % of free capital")
    if p.rejected or not p.trades:
        return f"{head}?\nThe engine would refuse it now: {p.rejected or 'no fill'}."
    t = p.trades[-1]
    return (f"{head} (margin ~{t.margin:,.0f}, {p.leverage:g}x)?\n"
            f"Notional ~{t.margin * t.leverage:,.0f} USDT, quantity ~{qty(t.amount)}, fee "
            f"~{t.fee:,.2f}; liquidation ~{price(p.liquidation)}.")


def _describe_close(p: OrderPreview) -> str:
    pos, t = p.position, p.trades[0]
    assert pos is not None
    if t.order_type is OrderType.LIQUIDATION:
        return (f"Close {pos.side} {p.symbol} at ~{price(p.mark)}?\nIt is past its liquidation "
                f"price: it closes as a liquidation at {price(t.price)}, margin "
                f"{pos.margin:,.2f} lost.")
    return (f"Close {pos.side} {p.symbol} ({qty(pos.quantity)} entered at "
            f"{price(pos.entry_price)}) at ~{price(p.mark)}?\n"
            f"P&L ~{money(t.pnl - t.fee, signed=True)} USDT after a fee of ~{t.fee:,.2f}; "
            f"margin {pos.margin:,.2f} returns to free capital.")


def _describe_close_all(p: OrderPreview) -> str:
    total = sum(t.pnl - t.fee for t in p.trades)
    names = ", ".join(f"{side} {s}" for s, side in p.closing)
    n = len(p.closing)
    return (f"Close all {n} position{'s' if n > 1 else ''} ({names}) at market?\n"
            f"P&L ~{money(total, signed=True)} USDT after fees.")

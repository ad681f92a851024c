"""Small read-only questions the risk rules ask of the trades table (SPEC §8.1): how many
stop-outs the account has had, and when each symbol was last closed (the re-entry cooldown
survives a restart)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import select

from autotrade_tui.store.tables import TradeRow

CLOSES = ("CLOSE", "LIQUIDATION")


def stop_outs(store: Any) -> int:
    """Positions closed by their stop-loss (the guard's closes whose reason says so)."""
    q = (select(func.count()).select_from(TradeRow)
         .where(TradeRow.source == "guard")  # type: ignore[arg-type]
         .where(TradeRow.reason.like("stop-loss%")))  # type: ignore[union-attr]
    return int(store._read(lambda s: s.exec(q).one()))


def last_closes(store: Any) -> dict[str, float]:
    """symbol → the time (epoch seconds) of its newest close or liquidation."""
    q = (select(TradeRow.symbol, func.max(TradeRow.ts))
         .where(TradeRow.order_type.in_(CLOSES))  # type: ignore[attr-defined]
         .group_by(TradeRow.symbol))
    return {sym: float(ts) for sym, ts in store._read(lambda s: list(s.exec(q).all()))}

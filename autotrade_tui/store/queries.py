"""Small read-only questions the runtime asks of the database: how many stop-outs the account
has had and when each symbol was last closed (SPEC §8.1: the re-entry cooldown survives a
restart), and the time of the newest record (§5.2: a restarted sim never goes back in time)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import select

from autotrade_tui.store.tables import (
    AccountStateRow,
    DecisionRow,
    EventRow,
    SnapshotRow,
    TradeRow,
)

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


def newest_ts(store: Any) -> float | None:
    """The time (epoch seconds) of the newest trade, decision, event, snapshot or account
    write; None on an empty database."""
    queries = [select(func.max(col)) for col in (
        TradeRow.ts, DecisionRow.ts, EventRow.ts, SnapshotRow.ts, AccountStateRow.updated_ts)]
    found = store._read(lambda s: [s.exec(q).one() for q in queries])
    times = [float(t) for t in found if t]
    return max(times) if times else None

"""The API's paged reads of the engine's database (trades, decisions, events, the equity curve,
the report's metrics). Blocking: the server runs each in a thread (asyncio.to_thread), never
on the engine's loop. Items are wire's shapes plus the row's `id` and `timestamp`, newest
first (the equity curve oldest first); a page ends before `before_id` (exclusive): the next
page of a list is `before_id=<id of its last item>`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import defer
from sqlmodel import select

from autotrade_tui.api import wire
from autotrade_tui.runtime.history import decision_from_row, event_from_row, trade_from_row
from autotrade_tui.store.queries import stop_outs
from autotrade_tui.store.tables import DecisionRow, EventRow, SnapshotRow, TradeRow


def _page(store: Any, table: Any, limit: int, before_id: int | None = None,
          *options: Any, **where: Any) -> list[Any]:
    q = select(table).options(*options).order_by(table.id.desc()).limit(limit)
    if before_id is not None:
        q = q.where(table.id < before_id)
    for column, value in where.items():
        if value is not None:
            q = q.where(getattr(table, column) == value)
    return store._read(lambda s: list(s.exec(q)))  # type: ignore[no-any-return]


def _stamped(row: Any, item: dict[str, Any]) -> dict[str, Any]:
    return {"id": row.id, "timestamp": wire.timestamp(row.ts), **item}


def trade_item(row: Any) -> dict[str, Any]:
    return {**_stamped(row, wire.encode_trade(trade_from_row(row))),
            "decision_id": row.decision_id}


def decision_item(row: Any, *, input_data: bool = False) -> dict[str, Any]:
    """A decision row: wire's decision, the row's usage totals; its input on request."""
    item = {**_stamped(row, wire.encode_decision(decision_from_row(row))),
            "tokens": row.tokens, "cost": row.cost, "latency_s": row.latency_s}
    if input_data:
        item["input_data"] = row.input_data
    return item


def event_item(row: Any) -> dict[str, Any]:
    return _stamped(row, wire.encode_event(event_from_row(row)))


def trades(store: Any, limit: int, before_id: int | None) -> list[dict[str, Any]]:
    return [trade_item(r) for r in _page(store, TradeRow, limit, before_id)]


def decisions(store: Any, limit: int, before_id: int | None,
              symbol: str | None) -> list[dict[str, Any]]:
    # input_data (kilobytes a row, compressed) is not even read for a list
    rows = _page(store, DecisionRow, limit, before_id, defer(DecisionRow.input_data),
                 symbol=symbol)
    return [decision_item(r) for r in rows]


def decision(store: Any, decision_id: int) -> dict[str, Any] | None:
    row = store._read(lambda s: s.get(DecisionRow, decision_id))
    return None if row is None else decision_item(row, input_data=True)


def events(store: Any, limit: int) -> list[dict[str, Any]]:
    return [event_item(r) for r in _page(store, EventRow, limit)]


def equity_curve(store: Any, since: float | None, limit: int) -> list[dict[str, float]]:
    """The newest `limit` points (since `since`, epoch seconds), oldest first."""
    q = select(SnapshotRow.ts, SnapshotRow.total_equity).order_by(
        SnapshotRow.id.desc()).limit(limit)  # type: ignore[union-attr]
    if since is not None:
        q = q.where(SnapshotRow.ts >= since)  # type: ignore[arg-type]
    rows = store._read(lambda s: list(s.exec(q).all()))
    return [{"ts": ts, "equity": eq} for ts, eq in reversed(rows)]


def performance(store: Any, account: dict[str, Any], paused: bool) -> dict[str, Any]:
    """`report --json`'s metrics (same keys, same figures) at the engine's marks now."""
    equity, initial = account["equity"], account["initial_capital"]
    tokens, cost = store.usage_totals()
    keys = ("equity", "initial_capital", "realized_pnl", "unrealized_pnl", "pnl_after_fees",
            "total_fees", "total_trades", "winning_trades", "losing_trades", "win_rate",
            "liquidations", "drawdown_pct", "exposure_pct", "scorecard")
    return {**{k: account[k] for k in keys if k in account},
            "return_pct": (equity / initial - 1.0) * 100.0 if initial else 0.0,
            "max_drawdown": store.max_drawdown_pct(initial, equity),
            "stop_outs": stop_outs(store), "paused": paused,
            "model_tokens": tokens, "model_cost": cost}

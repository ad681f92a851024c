"""The database's records as the domain's objects (`Store.recent_*`): the runtime, the cockpit
and the API read these, never table rows. A stored name this version does not know (a newer
engine wrote it) reads as a default instead of failing the whole read."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from autotrade_tui.core.decision import DecisionRecorded
from autotrade_tui.core.models import (
    Action,
    EventType,
    MarketEvent,
    ModelVote,
    OrderType,
    Severity,
    Side,
    Trade,
    TradeSource,
    VoteResult,
)

E = TypeVar("E", bound=StrEnum)


def _enum(kind: type[E], value: Any, default: E) -> E:
    """A stored name as its enum; a name this version does not know shows as `default`."""
    try:
        return kind(value)
    except ValueError:
        return default


def _vote(name: str, fallback: str, decision: str | None, confidence: float, reasoning: str,
          error: str | None) -> ModelVote:
    action = None if decision is None else _enum(Action, decision, Action.HOLD)
    return ModelVote(name or fallback, action, confidence, reasoning or "", error=error)


def decision_from_row(r: Any) -> DecisionRecorded:
    """An `ai_decisions` row (its trades are not joined: the trades list shows them)."""
    votes = (_vote(r.model_1_name, "model 1", r.model_1_decision, r.model_1_confidence,
                   r.model_1_reasoning, r.model_1_error),
             _vote(r.model_2_name, "model 2", r.model_2_decision, r.model_2_confidence,
                   r.model_2_reasoning, r.model_2_error))
    result = VoteResult(_enum(Action, r.final_decision, Action.HOLD), r.final_confidence,
                        r.vote_reason or "", 0.0)
    return DecisionRecorded(r.id, r.ts, r.symbol, r.price, votes, result, bool(r.executed),
                            r.execution_note or "", r.source)


def trade_from_row(r: Any) -> Trade:
    return Trade(r.ts, r.symbol, _enum(OrderType, r.order_type, OrderType.CLOSE),
                 _enum(Side, r.side, Side.LONG), r.amount, r.price, r.pnl, r.fee, r.margin,
                 r.leverage, _enum(TradeSource, r.source, TradeSource.AUTO), r.reason or "")


def event_from_row(r: Any) -> MarketEvent:
    return MarketEvent(r.ts, r.symbol, _enum(EventType, r.event_type, EventType.FLASH_CRASH),
                       _enum(Severity, r.severity, Severity.MEDIUM), r.description,
                       r.suggested_action, dict(r.metrics or {}))

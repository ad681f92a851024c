"""What the list panes show, built alike from database rows (history) and live updates.

Every text a pane shows passes through here and is made safe here once (`safe`, core.text):
a row written before the sanitiser existed, or a text that came round it, still shows no
control sequence and no megabyte of reasoning. Panes render these as plain text, never as
markup."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, TypeVar

from autotrade_tui.core.text import REASONING_LIMIT, clean, one_line

NOTE_LIMIT = 1_000  # a vote reason or note quotes up to both models' errors
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class ModelView:
    name: str
    decision: str | None  # BUY | SELL | HOLD; None when the model errored
    confidence: float
    reasoning: str
    error: str | None


@dataclass(frozen=True, slots=True)
class DecisionView:
    id: int | None
    ts: float
    symbol: str
    price: float
    models: tuple[ModelView, ModelView]
    final: str
    confidence: float
    vote_reason: str
    executed: bool
    note: str  # why it was / was not executed
    source: str


@dataclass(frozen=True, slots=True)
class TradeView:
    ts: float
    symbol: str
    order_type: str
    side: str
    amount: float
    price: float
    pnl: float
    fee: float
    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class EventView:
    ts: float
    symbol: str
    event_type: str
    severity: str  # MEDIUM | HIGH | CRITICAL
    description: str
    suggested_action: str
    count: int = 1  # sightings of a lasting condition since it was first raised
    since: float | None = None  # when that condition began (None: a one-off)


def safe(view: V) -> V:
    """`view` with every text on one safe line, the reasoning cleaned but kept on its lines
    (and cut to REASONING_LIMIT); the models of a decision too."""
    changes: dict[str, Any] = {}
    for f in fields(view):  # type: ignore[arg-type]
        value = getattr(view, f.name)
        if f.name == "reasoning":
            changes[f.name] = clean(value or "", REASONING_LIMIT)
        elif isinstance(value, str):
            changes[f.name] = one_line(value, NOTE_LIMIT)
        elif isinstance(value, tuple) and all(is_dataclass(v) for v in value):
            changes[f.name] = tuple(safe(v) for v in value)
    return replace(view, **changes)  # type: ignore[type-var]


def decision_from_update(u: Any) -> DecisionView:
    """From a runtime `DecisionRecorded`."""
    models = tuple(ModelView(v.model, v.decision.value if v.decision else None, v.confidence,
                             v.reasoning, v.error) for v in u.votes)
    r = u.result
    return safe(DecisionView(u.id, u.ts, u.symbol, u.price, (models[0], models[1]),
                             r.decision.value, r.confidence, r.reason, u.executed, u.note,
                             u.source))


def trade_from_update(t: Any) -> TradeView:
    """From a core `Trade` (a runtime `TradeExecuted`)."""
    return safe(TradeView(t.ts, t.symbol, t.order_type.value, t.side.value, t.amount, t.price,
                          t.pnl, t.fee, t.source.value, t.reason))


def event_from_update(e: Any) -> EventView:
    """From a core `MarketEvent` (a runtime `EventRaised`)."""
    return safe(EventView(e.ts, e.symbol, e.event_type.value, e.severity.value, e.description,
                          e.suggested_action))


def event_from_ongoing(o: Any) -> EventView:
    """From a runtime `EventOngoing`: the raised line (its time), the latest figures."""
    e = o.event
    return safe(EventView(o.raised_ts, e.symbol, e.event_type.value, e.severity.value,
                          e.description, e.suggested_action, o.count, o.since))


@dataclass(frozen=True, slots=True)
class History:
    """What the database already holds when the cockpit opens (newest first)."""

    decisions: list[DecisionView]
    trades: list[TradeView]
    events: list[EventView]
    equity: list[tuple[float, float]]  # (ts, equity), oldest first


def history_view(h: Any) -> History:
    """What a runtime's `history()` returned (runtime.interface.History), as the panes show
    it."""
    return History([decision_from_update(d) for d in h.decisions],
                   [trade_from_update(t) for t in h.trades],
                   [event_from_update(e) for e in h.events], list(h.equity))

"""A replay's outcome as rows of the backtest database, the reasoning texts written here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autotrade_tui.backtest.runner import Outcome
from autotrade_tui.core.decision import VotePolicy
from autotrade_tui.core.voting import vote

if TYPE_CHECKING:
    from autotrade_tui.config import Settings


def kept(out: Outcome) -> list[int]:
    """The decisions saved as rows: those that traded (HOLDs and refusals are counted)."""
    return [k for k, d in enumerate(out.decided) if d.trades]


def refusals(out: Outcome) -> dict[str, int]:
    """Why the other non-HOLD decisions did not trade, counted: {"insufficient capital": n}."""
    found: dict[str, int] = {}
    for d in out.decided:
        if not d.trades:
            why = d.note.removeprefix("not executed: ").split(":")[0].split(" (")[0]
            found[why] = found.get(why, 0) + 1
    return found


def decision_rows(out: Outcome, settings: Settings, keep: list[int]) -> list[dict[str, Any]]:
    """The kept decisions with both votes, their reasoning and the vote's reason."""
    policy = VotePolicy.from_settings(settings)
    rows = []
    for k in keep:
        d = out.decided[k]
        v1, v2 = out.votes_of(d)
        reason = d.result.reason or vote(v1, v2, policy.strategy, policy.threshold,
                                         policy.single_threshold, policy.weights).reason
        rows.append({
            "seq": k, "ts": d.ts, "symbol": d.symbol, "price": d.price,
            "source": d.source.value, "model_1_name": v1.model, "model_2_name": v2.model,
            "model_1_decision": v1.decision.value if v1.ok and v1.decision else None,
            "model_2_decision": v2.decision.value if v2.ok and v2.decision else None,
            "model_1_confidence": v1.confidence, "model_2_confidence": v2.confidence,
            "model_1_reasoning": v1.reasoning or v1.error or "",
            "model_2_reasoning": v2.reasoning or v2.error or "",
            "final_decision": d.result.decision.value, "final_confidence": d.result.confidence,
            "vote_reason": reason, "executed": d.executed, "note": d.note,
        })
    return rows


def trade_rows(out: Outcome, decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every fill; a decision's fills carry its vote reason (as the runtime's do)."""
    reasons = {row["seq"]: row["vote_reason"] for row in decisions}
    rows = []
    for t, k in out.trades:
        rows.append({
            "ts": t.ts, "symbol": t.symbol, "order_type": t.order_type.value,
            "side": t.side.value, "amount": t.amount, "price": t.price, "pnl": t.pnl,
            "fee": t.fee, "margin": t.margin, "leverage": t.leverage,
            "source": t.source.value, "decision_seq": k,
            "reason": t.reason or (reasons.get(k, "") if k is not None else ""),
        })
    return rows


def event_rows(out: Outcome) -> list[dict[str, Any]]:
    from autotrade_tui.store.store import _jsonable

    return [{"ts": e.ts, "symbol": e.symbol, "event_type": e.event_type.value,
             "severity": e.severity.value, "description": e.description,
             "suggested_action": e.suggested_action, "metrics": _jsonable(e.metrics)}
            for e in out.events]

"""One decision, from votes to execution (SPEC §7.4–7.5), as pure functions the live runtime
and the backtest share: build the context, vote, gate, execute through the engine
(`decide` = `vote` + `settle`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autotrade_tui.core.account import AccountView, PositionFigures
from autotrade_tui.core.engine import Execution, TradingEngine
from autotrade_tui.core.models import (
    Action,
    DecisionContext,
    MarketEvent,
    ModelVote,
    Position,
    Trade,
    TradeSource,
    VoteResult,
)
from autotrade_tui.core.voting import EPS, vote

if TYPE_CHECKING:
    from autotrade_tui.config import Settings


@dataclass(frozen=True, slots=True)
class VotePolicy:
    strategy: str = "majority"
    threshold: float = 0.60
    single_threshold: float = 0.55
    weights: tuple[float, float] = (0.5, 0.5)

    @classmethod
    def from_settings(cls, settings: Settings) -> VotePolicy:
        return cls(settings.ai_voting_strategy, settings.confidence_threshold,
                   settings.single_model_threshold,
                   (settings.model_primary_weight, settings.model_secondary_weight))


@dataclass(frozen=True, slots=True)
class DecisionRecorded:
    """One decision as recorded (`ai_decisions`): published when made, read back from the
    database (its `trades` are then not joined: the trades list shows them); `id` is None
    when it was not stored."""

    id: int | None
    ts: float
    symbol: str
    price: float
    votes: tuple[ModelVote, ModelVote]
    result: VoteResult
    executed: bool
    note: str
    source: str
    trades: list[Trade] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one decision: the vote, the fills, and a sentence saying why."""

    result: VoteResult
    execution: Execution
    note: str

    @property
    def executed(self) -> bool:
        return self.execution.executed


def position_dict(pos: Position, mark: float, mmr: float) -> dict[str, Any]:
    """A position's figures at `mark` (JSON-ready): for prompts, reports and every pane."""
    return PositionFigures.of(pos, mark, mmr).to_dict()


def position_view(engine: TradingEngine, symbol: str, price: float) -> dict[str, Any] | None:
    pos = engine.positions.get(symbol)
    if pos is None:
        return None
    return position_dict(pos, price, engine.config.maintenance_margin_rate)


def account_view(engine: TradingEngine, prices: Mapping[str, float]) -> dict[str, Any]:
    """The account as the prompt says it (core.account.AccountView.prompt_dict)."""
    return AccountView.of(engine, prices).prompt_dict()


def build_context(symbol: str, ts: float, price: float, engine: TradingEngine,
                  prices: Mapping[str, float], indicators: dict[str, float],
                  signals: dict[str, str], support: list[float], resistance: list[float],
                  events: Sequence[MarketEvent] = (), fundamentals: dict[str, Any] | None = None,
                  recent_closes: list[float] | None = None) -> DecisionContext:
    return DecisionContext(
        symbol=symbol, ts=ts, price=price, indicators=indicators, signals=signals,
        support=support, resistance=resistance, position=position_view(engine, symbol, price),
        account=account_view(engine, prices),
        recent_events=[{"ts": e.ts, "type": e.event_type.value, "severity": e.severity.value,
                        "description": e.description} for e in events],
        fundamentals=fundamentals, recent_closes=recent_closes or [],
    )


def decide(engine: TradingEngine, symbol: str, price: float, ts: float,
           votes: tuple[ModelVote, ModelVote], policy: VotePolicy, *, stale: bool = False,
           paused: bool = False, source: TradeSource = TradeSource.AUTO) -> Outcome:
    """Vote, then execute unless a gate says no; the note says which gate, or what was done."""
    result = vote(votes[0], votes[1], policy.strategy, policy.threshold,
                  policy.single_threshold, policy.weights)
    return settle(engine, symbol, price, ts, result, stale=stale, paused=paused, source=source)


def gate(engine: TradingEngine, result: VoteResult, *, stale: bool = False,
         paused: bool = False) -> str:
    """Why a vote's result must not be executed ("" when it may be)."""
    if result.decision is Action.HOLD:
        return f"HOLD: {result.reason}"
    if result.confidence + EPS < result.threshold:
        return f"confidence {result.confidence:.2f} below {result.threshold:.2f}"
    if stale:
        return "not executed: price is stale"
    if paused:
        return "not executed: automatic trading is paused"
    if engine.ledger.halted_reason:
        return f"not executed: {engine.ledger.halted_reason}"
    return ""


def settle(engine: TradingEngine, symbol: str, price: float, ts: float, result: VoteResult, *,
           stale: bool = False, paused: bool = False,
           source: TradeSource = TradeSource.AUTO) -> Outcome:
    """The second half of `decide`: the gates and the execution of a vote's result (a backtest
    that voted with `voting.tally` comes in here for the results that are not HOLD)."""
    blocked = gate(engine, result, stale=stale, paused=paused)
    if blocked:
        return Outcome(result, Execution([]), blocked)
    ex = engine.execute(result.decision, symbol, price, ts, source, result.reason)
    if ex.rejected:
        if not ex.trades:  # the usual refusal: nothing was done before it
            return Outcome(result, ex, "not executed: " + ex.rejected)
        done = "; ".join(f"{t.order_type.value} {t.side.value}" for t in ex.trades)
        return Outcome(result, ex, f"not executed: {ex.rejected} (after {done})")
    what = ", ".join(f"{t.order_type.value} {t.side.value} {t.amount:.6g} @ {t.price:,.2f}"
                     for t in ex.trades)
    return Outcome(result, ex, f"executed: {what}" + (f" ({ex.note})" if ex.note else ""))

"""The rules of one tick, written once for its two schedulers: the live runtime
(`runtime.ticks`, on the Clock) and the backtest (`backtest.runner`, candle by candle, with
`backtest.fast` as its offline shortcut). Pure: no I/O, no asyncio.

A monitor tick: prices (stale ones left out), `mark` (liquidations, guards, the drawdown
switch; the scorecard's shadows when they need it), the event detectors, `remember` what was
raised, `urgent` symbols decided at once. A decision: `context` on the windows below, both
models, `settle_votes` (vote, gates, engine, shadows), symbol after symbol in symbol order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from autotrade_tui.core.decision import Outcome, VotePolicy, build_context, decide
from autotrade_tui.core.engine import TradingEngine
from autotrade_tui.core.models import (
    DecisionContext,
    MarketEvent,
    ModelVote,
    Severity,
    Trade,
    TradeSource,
)

DECISION_CANDLES = 200  # a decision's candles live; its support/resistance window
RECENT_CLOSES = 20  # closes in a decision prompt
RECENT_EVENTS = 10  # a symbol's events in its decision prompt
EVENTS_KEPT = 50  # recent events (all symbols) held for the prompts, newest first

Bars = Mapping[str, tuple[float, float, float, float]]  # symbol → (open, high, low, close)


@dataclass(frozen=True, slots=True)
class TickRules:
    """The settings a tick reads besides the engine's own (`EngineConfig`)."""

    SETTINGS: ClassVar[tuple[str, ...]] = (
        "trading_interval_minutes", "stale_after_seconds", "event_triggered_decisions",
        "ai_voting_strategy", "confidence_threshold", "single_model_threshold",
        "model_primary_weight", "model_secondary_weight")

    interval_s: float  # between decision cycles
    stale_after: float  # seconds a price may age before it is not traded on
    event_decisions: bool  # a CRITICAL event triggers a decision for its symbol at once
    policy: VotePolicy

    @classmethod
    def from_settings(cls, settings: Any) -> TickRules:
        return cls(float(settings.trading_interval_minutes) * 60.0,
                   float(settings.stale_after_seconds), bool(settings.event_triggered_decisions),
                   VotePolicy.from_settings(settings))

    def over_bars(self, bar_s: float) -> TickRules:
        """The rules for a feed whose price is a bar's close (a replay played live): it ages
        a whole bar between closes by design, so it is stale only `stale_after` past the
        close of the bar that should have followed (the file ended, or a hole)."""
        return replace(self, stale_after=self.stale_after + bar_s) if bar_s > 0 else self


def is_stale(ticker_ts: float, now: float, limit: float) -> bool:
    """A price whose ticker is more than `limit` seconds old: never traded on (SPEC §7.5).
    A replay's ticker is stamped min(now, its bar's end): passing the bar's end is the same
    test, as `limit` ≥ 0."""
    return now - ticker_ts > limit


def mark(engine: TradingEngine, prices: Mapping[str, float], now: float,
         bars: Bars | None = None) -> list[Trade]:
    """Liquidations, guards and the drawdown switch at the fresh `prices`; a backtest gives
    each bar's range since the last mark (`bars`) for the stops on high/low (SPEC §8.1)."""
    return engine.mark_bars(prices, bars, now) if bars else engine.mark(prices, now)


def mark_shadows(card: Any, prices: Mapping[str, float], now: float,
                 bars: Bars | None = None) -> bool:
    """The mark of the scorecard's shadows (`core.scorecard.Scorecard`) when they need it:
    one of them holds a position (or has just gone flat by an answer: marked once more), or
    an answer is due to be judged; whether they did."""
    if not (card.holding or now >= card.next_due):
        return False
    card.mark(prices, now, bars)
    return True


def remember(found: list[MarketEvent], recent: list[MarketEvent]) -> list[MarketEvent]:
    """The events held for the prompts after `found` were raised (newest first)."""
    return (found + recent)[:EVENTS_KEPT]


def urgent(found: Sequence[MarketEvent]) -> list[str]:
    """The symbols a raised event wants decided at once (CRITICAL), in symbol order."""
    return sorted({e.symbol for e in found if e.severity is Severity.CRITICAL})


def context(symbol: str, now: float, price: float, engine: TradingEngine,
            prices: Mapping[str, float], indicators: dict[str, float], signals: dict[str, str],
            support: list[float], resistance: list[float], recent: Sequence[MarketEvent],
            closes: list[float], fundamentals: dict[str, Any] | None = None
            ) -> DecisionContext:
    """A decision's context: the symbol's last RECENT_EVENTS events of `recent`, and `closes`
    (the caller's last RECENT_CLOSES)."""
    return build_context(symbol, now, price, engine, prices, indicators, signals, support,
                         resistance, events=[e for e in recent if e.symbol == symbol]
                         [:RECENT_EVENTS], fundamentals=fundamentals, recent_closes=closes)


def settle_votes(engine: TradingEngine, card: Any, symbol: str, price: float, now: float,
                 votes: Sequence[ModelVote], policy: VotePolicy, *, stale: bool,
                 paused: bool = False, source: TradeSource = TradeSource.AUTO) -> Outcome:
    """One symbol's two answers at the price and freshness of now: vote, gates, engine
    (`core.decision.decide`); each answer also goes to its model's shadow (SPEC §16)."""
    outcome = decide(engine, symbol, price, now, (votes[0], votes[1]), policy, stale=stale,
                     paused=paused, source=source)
    card.on_votes(symbol, price, now, votes, stale=stale)
    return outcome

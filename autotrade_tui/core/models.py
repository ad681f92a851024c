"""Domain value types shared by every layer: sides, actions, positions, trades, votes, events.

Times are epoch seconds (float) from the injected Clock; prices and amounts are floats in the
quote currency (USDT). Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Side(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"


class Action(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"

    @classmethod
    def parse(cls, text: str) -> Action:
        """`'buy'`, `' Buy '` → BUY; raises ValueError on anything else."""
        return cls(str(text).strip().upper())


class OrderType(StrEnum):
    """What a trade row did to a position (`trades.order_type`)."""

    OPEN = "OPEN"
    ADD = "ADD"  # stacking onto an existing position
    CLOSE = "CLOSE"
    LIQUIDATION = "LIQUIDATION"


class TradeSource(StrEnum):
    AUTO = "auto"  # the decision cycle
    MANUAL = "manual"  # the user, from the TUI
    EVENT = "event"  # an out-of-cycle decision triggered by a CRITICAL event
    GUARD = "guard"  # stop-loss / take-profit
    LIQUIDATION = "liquidation"


class Severity(StrEnum):
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


SEVERITY_RANK = {Severity.MEDIUM: 0, Severity.HIGH: 1, Severity.CRITICAL: 2}  # higher: worse


class EventType(StrEnum):
    FLASH_CRASH = "FLASH_CRASH"
    FLASH_RALLY = "FLASH_RALLY"
    VOLUME_SPIKE = "VOLUME_SPIKE"
    VOLUME_DRY = "VOLUME_DRY"
    VOLATILITY_SPIKE = "VOLATILITY_SPIKE"
    LIQUIDATION_RISK = "LIQUIDATION_RISK"


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar; `ts` is the bar's open time in epoch seconds."""

    ts: float
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Ticker:
    """Latest price of a symbol; `ts` is when the exchange (or sim) produced it."""

    symbol: str
    last: float
    ts: float
    bid: float | None = None
    ask: float | None = None
    volume_24h: float | None = None


@dataclass(slots=True)
class Entry:
    """One fill that built a position (the first open or a stack)."""

    price: float
    quantity: float
    margin: float
    leverage: float
    fee: float
    ts: float


def pnl_at(side: Side, quantity: float, notional: float, price: float) -> float:
    """Unrealized P&L of `quantity` bought for `notional` in all, at `price` (SPEC §8):
    long q·(P − E), short q·(E − P), E = notional / q. The one place this formula lives."""
    e = notional / quantity if quantity else 0.0
    return quantity * (price - e) if side is Side.LONG else quantity * (e - price)


@dataclass(slots=True)
class Position:
    """Net position on one symbol: one side, one or more entries (isolated margin).

    Entries are append-only (the engine stacks, the store restores, in order): the sums the
    properties read are kept as entries are appended, so a mark or an equity is O(1) however
    deep the stack. Changing an entry in place needs a new Position.
    """

    symbol: str
    side: Side
    entries: list[Entry] = field(default_factory=list)
    opened_at: float = 0.0
    # (entries list, entries summed, its last entry, Σ quantity, Σ price·quantity, Σ margin)
    _sums: tuple[Any, ...] = field(default=(None, 0, None, 0, 0, 0), init=False, repr=False,
                                   compare=False)

    def totals(self) -> tuple[float, float, float]:
        """(Σ quantity, Σ price·quantity, Σ margin) over the entries, added left to right from
        0 exactly as `sum` adds them."""
        entries = self.entries
        ref, n, last, q, notional, margin = self._sums
        size = len(entries)
        if ref is entries and n == size and (n == 0 or entries[-1] is last):
            return q, notional, margin
        if ref is not entries or n > size or (n and entries[n - 1] is not last):
            n, q, notional, margin = 0, 0, 0, 0  # not an append: from scratch
        for k in range(n, size):
            e = entries[k]
            q += e.quantity
            notional += e.price * e.quantity
            margin += e.margin
        self._sums = (entries, size, entries[-1] if size else None, q, notional, margin)
        return q, notional, margin

    @property
    def quantity(self) -> float:
        return self.totals()[0]

    @property
    def margin(self) -> float:
        return self.totals()[2]

    @property
    def entry_price(self) -> float:
        """Quantity-weighted average entry price."""
        q, notional, _ = self.totals()
        return notional / q if q else 0.0

    @property
    def leverage(self) -> float:
        """Effective leverage: entry notional over margin."""
        _, notional, m = self.totals()
        return notional / m if m else 0.0

    def unrealized_pnl(self, price: float) -> float:
        q, notional, _ = self.totals()
        return pnl_at(self.side, q, notional, price)

    def liquidation_price(self, maintenance_margin_rate: float) -> float:
        """SPEC §8: long (E − M/q)/(1 − m); short (E + M/q)/(1 + m)."""
        q, notional, margin = self.totals()
        e, m = (notional / q if q else 0.0), maintenance_margin_rate
        if self.side is Side.LONG:
            return max((e - margin / q) / (1 - m), 0.0)
        return (e + margin / q) / (1 + m)


@dataclass(frozen=True, slots=True)
class Trade:
    """A fill recorded in `trades`: what happened, at what price, with which P&L and fee."""

    ts: float
    symbol: str
    order_type: OrderType
    side: Side
    amount: float  # quantity in base currency
    price: float
    pnl: float  # realized on CLOSE/LIQUIDATION, 0 on OPEN/ADD
    fee: float
    margin: float
    leverage: float
    source: TradeSource = TradeSource.AUTO
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ModelVote:
    """One model's answer, or its error (then decision is None and `error` says why).

    `raw` is the answer's text exactly as the model sent it (an API model's message content,
    an unparseable one too), for audit: never shown, stored bounded with the decision
    (`runtime.ticks`). None when no text came back (an offline rule, an HTTP error, a
    timeout). Not part of a vote's equality and not sent on the API stream."""

    model: str
    decision: Action | None
    confidence: float = 0.0
    reasoning: str = ""
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    error: str | None = None
    raw: str | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None and self.decision is not None


@dataclass(frozen=True, slots=True)
class VoteResult:
    """The outcome of voting (SPEC §7.4): final action, its confidence and the why."""

    decision: Action
    confidence: float
    reason: str
    threshold: float


@dataclass(frozen=True, slots=True)
class MarketEvent:
    """An anomaly found by the event monitor (SPEC §9)."""

    ts: float
    symbol: str
    event_type: EventType
    severity: Severity
    description: str
    suggested_action: str
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """Everything a DecisionModel sees for one symbol at one moment (SPEC §7.1).

    `indicators` maps indicator names (see core.indicators) to their latest values;
    `signals` maps signal names (trend, momentum, volatility, ...) to words;
    `position` and `account` are plain dicts (JSON-ready) so they go into prompts and
    `ai_decisions.input_data` unchanged; `fundamentals` is None when unavailable.
    """

    symbol: str
    ts: float
    price: float
    indicators: dict[str, float] = field(default_factory=dict)
    signals: dict[str, str] = field(default_factory=dict)
    support: list[float] = field(default_factory=list)
    resistance: list[float] = field(default_factory=list)
    position: dict[str, Any] | None = None
    account: dict[str, Any] = field(default_factory=dict)
    recent_events: list[dict[str, Any]] = field(default_factory=list)
    fundamentals: dict[str, Any] | None = None
    recent_closes: list[float] = field(default_factory=list)

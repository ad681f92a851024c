"""Textual messages: the runtime's updates on their way through the app, and user intents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from autotrade_tui.core.account import AccountView


@dataclass
class PricesTick(Message):
    """New prices; a flood coalesces: only the newest waiting one is handled."""

    tickers: dict[str, Any]
    stale: frozenset[str]
    ts: float

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PricesTick)


@dataclass
class AccountChanged(Message):
    account: AccountView

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, AccountChanged)


@dataclass
class StatusUpdated(Message):
    status: Any  # runtime.updates.Status

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusUpdated)


@dataclass
class DecisionMade(Message):
    decision: Any  # runtime.updates.DecisionRecorded


@dataclass
class TradeMade(Message):
    trade: Any  # core.models.Trade


@dataclass
class EventSeen(Message):
    event: Any  # core.models.MarketEvent


@dataclass
class EventStillThere(Message):
    ongoing: Any  # runtime.updates.EventOngoing: update the raised line in place


@dataclass
class NoticePosted(Message):
    level: str  # info | warning | error
    text: str


@dataclass
class ManualOrder(Message):
    """The user asks for a manual action: long | short | close | close_all."""

    kind: str
    symbol: str


@dataclass
class TogglePause(Message):
    """The user asks to pause or resume automatic trading."""


@dataclass
class DecideNow(Message):
    symbol: str


def from_update(update: Any) -> Message | None:
    """The Textual message for one runtime update (None for kinds the cockpit ignores)."""
    from autotrade_tui.runtime import updates as u

    if isinstance(update, u.PricesUpdated):
        return PricesTick(update.tickers, update.stale, update.ts)
    if isinstance(update, u.AccountUpdated):
        return AccountChanged(update.account)
    if isinstance(update, u.StatusChanged):
        return StatusUpdated(update.status)
    if isinstance(update, u.DecisionRecorded):
        return DecisionMade(update)
    if isinstance(update, u.TradeExecuted):
        return TradeMade(update.trade)
    if isinstance(update, u.EventRaised):
        return EventSeen(update.event)
    if isinstance(update, u.EventOngoing):
        return EventStillThere(update)
    if isinstance(update, u.Notice):
        return NoticePosted(update.level, update.text)
    return None

"""Typed updates the runtime publishes to its subscribers (TUI, headless log, tests)."""

from __future__ import annotations

from dataclasses import dataclass

from autotrade_tui.core.account import AccountView
from autotrade_tui.core.decision import DecisionRecorded as DecisionRecorded  # an update too
from autotrade_tui.core.models import MarketEvent, Ticker, Trade


@dataclass(frozen=True, slots=True)
class Status:
    """What the header shows."""

    mode: str  # LIVE DATA | SIM | REPLAY
    note: str
    models: tuple[str, str]
    offline_models: bool
    paused: bool
    halted_reason: str
    next_decision_at: float | None
    now: float
    last_data_ts: float | None
    stale: frozenset[str] = frozenset()
    speed: float = 1.0
    risk: str = ""  # the risk rules' state, e.g. "exposure 45 %/200 % · DD 2.1 %/15 %"
    link: str = ""  # how this front end reaches the engine: "" in process, else "ATTACHED
    #                 <where>" or "DISCONNECTED <where> …" (set by the attach client, §13)


@dataclass(frozen=True, slots=True)
class PricesUpdated:
    tickers: dict[str, Ticker]
    stale: frozenset[str]
    ts: float


@dataclass(frozen=True, slots=True)
class AccountUpdated:
    account: AccountView  # with the scorecard; `.to_dict()`: report --json's keys


@dataclass(frozen=True, slots=True)
class TradeExecuted:
    trade: Trade


@dataclass(frozen=True, slots=True)
class EventRaised:
    event: MarketEvent


@dataclass(frozen=True, slots=True)
class EventOngoing:
    """A condition raised earlier is still there (SPEC §9: news once): its line is updated
    in place with the latest sighting, how many there were and since when; not persisted."""

    event: MarketEvent  # the latest sighting, at the severity it was raised with
    raised_ts: float
    since: float
    count: int


@dataclass(frozen=True, slots=True)
class StatusChanged:
    status: Status


@dataclass(frozen=True, slots=True)
class Notice:
    level: str  # info | warning | error
    text: str


Update = (PricesUpdated | AccountUpdated | DecisionRecorded | TradeExecuted | EventRaised
          | EventOngoing | StatusChanged | Notice)

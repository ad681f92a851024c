"""A lasting condition is news once (SPEC §9): while an event persists at the same (or a lower)
severity for the same position, it is raised once and then only counted, until it escalates
or `repeat_seconds` have passed since it was last raised. Pure: no clock, no I/O."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from autotrade_tui.core.models import SEVERITY_RANK as RANK
from autotrade_tui.core.models import EventType, MarketEvent, Severity

Key = tuple[str, EventType, str]


@dataclass
class Ongoing:
    """A condition raised at `raised_ts`, seen `count` times since `since` (latest: `event`;
    last seen at `seen`, later than `event` only for sightings counted unworded: `absorb`)."""

    event: MarketEvent
    since: float
    raised_ts: float
    count: int = 1
    seen: float = -math.inf

    def __post_init__(self) -> None:
        self.seen = max(self.seen, self.event.ts)


def key_of(event: MarketEvent) -> Key:
    """The condition an event belongs to: its symbol and type, and for LIQUIDATION_RISK the
    position (side and entry): a new position's risk is new news."""
    m = event.metrics or {}
    if "side" in m:
        return position_key(event.symbol, event.event_type, m["side"], m.get("entry_price", 0.0))
    return (event.symbol, event.event_type, "")


def position_key(symbol: str, kind: EventType, side: str, entry_price: float) -> Key:
    """The condition of a position's event (see `key_of`)."""
    return (symbol, kind, f"{side}@{entry_price:.10g}")


class LastingConditions:
    """Sifts detected events into those to raise (persist, show as a new line, log) and those
    that only update an ongoing condition in place. `gone_after(type)`: seconds without a
    sighting after which a condition is over (its detector's cooldown and a margin), so its
    next occurrence is news again."""

    def __init__(self, repeat_seconds: float, gone_after: Callable[[EventType], float]) -> None:
        self.repeat_seconds = repeat_seconds
        self.gone_after = gone_after
        self.ongoing: dict[Key, Ongoing] = {}

    def sift(self, events: Iterable[MarketEvent]) -> tuple[list[MarketEvent], list[Ongoing]]:
        raised: list[MarketEvent] = []
        updated: list[Ongoing] = []
        for e in events:
            key = key_of(e)
            if self.absorb(key, e.severity, e.ts):  # counted; shown in place
                now = self.ongoing[key]
                now.event = _keep_severity(e, now.event.severity)
                updated.append(now)
                continue
            self._raise(key, self._current(key, e.ts), e)
            raised.append(e)
        return raised, updated

    def raise_refused(self, key: Key, event: MarketEvent) -> None:
        """`sift([event])` for an event of `key` that `absorb` refused: it is raised (the
        caller knows; its key is not worked out again)."""
        self._raise(key, self._current(key, event.ts), event)

    def _raise(self, key: Key, now: Ongoing | None, e: MarketEvent) -> None:
        since = now.since if now is not None else e.ts
        count = now.count + 1 if now is not None else 1
        self.ongoing[key] = Ongoing(e, since, e.ts, count)

    def absorb(self, key: Key, severity: Severity, ts: float) -> bool:
        """A sighting of an ongoing condition (seen within `gone_after`), no worse than it
        was raised and raised less than `repeat_seconds` ago: not news, counted (`sift`'s
        rule; a backtest asks it without building the event: it sees a lasting liquidation
        risk every candle). False: news, build it and sift it. The ongoing line keeps its
        last worded event: nothing shows a backtest's."""
        now = self.ongoing.get(key)
        if (now is None or ts - now.seen > self.gone_after(key[1])
                or RANK[severity] > RANK[now.event.severity]
                or not ts - now.raised_ts < self.repeat_seconds):
            return False
        now.count += 1
        now.seen = ts
        return True

    def _current(self, key: Key, ts: float) -> Ongoing | None:
        """The ongoing condition of `key`, unless it went away before `ts` (then a sighting
        is a new occurrence)."""
        now = self.ongoing.get(key)
        if now is not None and ts - now.seen > self.gone_after(key[1]):
            return None
        return now

    def remember(self, event: MarketEvent) -> None:
        """An event raised before a restart (restored from the database) is ongoing news."""
        key = key_of(event)
        if key not in self.ongoing or self.ongoing[key].raised_ts < event.ts:
            self.ongoing[key] = Ongoing(event, event.ts, event.ts)


def _keep_severity(e: MarketEvent, raised: Severity) -> MarketEvent:
    """The latest sighting, at the severity it was raised with: a condition that eased keeps
    the line it was raised on (it re-raises when it is worse again, not when it wobbles)."""
    if e.severity is raised:
        return e
    return MarketEvent(e.ts, e.symbol, e.event_type, raised, e.description, e.suggested_action,
                       e.metrics)

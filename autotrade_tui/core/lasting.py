"""A lasting condition is news once (SPEC §9): while an event persists at the same (or a lower)
severity for the same position, it is raised once and then only counted, until it escalates
or `repeat_seconds` have passed since it was last raised. Pure: no clock, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from autotrade_tui.core.models import SEVERITY_RANK as RANK
from autotrade_tui.core.models import EventType, MarketEvent, Severity

Key = tuple[str, EventType, str]


@dataclass
class Ongoing:
    """A condition raised at `raised_ts`, seen `count` times since `since` (latest: `event`)."""

    event: MarketEvent
    since: float
    raised_ts: float
    count: int = 1


def key_of(event: MarketEvent) -> Key:
    """The condition an event belongs to: its symbol and type, and for LIQUIDATION_RISK the
    position (side and entry): a new position's risk is new news."""
    m = event.metrics or {}
    who = f"{m.get('side', '')}@{m.get('entry_price', 0.0):.10g}" if "side" in m else ""
    return (event.symbol, event.event_type, who)


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
            now = self.ongoing.get(key)
            if now is not None and e.ts - now.event.ts > self.gone_after(e.event_type):
                now = None  # it went away in between: this is a new occurrence
            if (now is not None and RANK[e.severity] <= RANK[now.event.severity]
                    and e.ts - now.raised_ts < self.repeat_seconds):
                # Same condition, no worse, raised recently: counted, shown in place.
                now.count += 1
                now.event = _keep_severity(e, now.event.severity)
                updated.append(now)
                continue
            since = now.since if now is not None else e.ts
            count = now.count + 1 if now is not None else 1
            self.ongoing[key] = Ongoing(e, since, e.ts, count)
            raised.append(e)
        return raised, updated

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

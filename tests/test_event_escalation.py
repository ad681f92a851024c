"""An escalation is news at once (SPEC §9): inside a detector's cooldown a condition raised at
MEDIUM that grows to HIGH or CRITICAL is raised at once (and starts a new cooldown); the same or
a lower severity stays held back until the cooldown has passed (core.events.EventDetector),
and the lasting-condition sifter raises it too (core.lasting)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from autotrade_tui.core.events import EventDetector, EventThresholds, SymbolSnapshot
from autotrade_tui.core.lasting import LastingConditions
from autotrade_tui.core.models import (
    SEVERITY_RANK,
    Entry,
    EventType,
    MarketEvent,
    Position,
    Severity,
    Side,
)

T0 = 1_700_000_040.0
MMR = 0.005
M, H, C = Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
LIQ, CRASH = EventType.LIQUIDATION_RISK, EventType.FLASH_CRASH


def long_20x() -> Position:
    return Position("BTC/USDT", Side.LONG, [Entry(100.0, 1.0, 5.0, 20.0, 0.0, T0)], T0)


def at_distance(pos: Position, pct: float) -> float:
    return pos.liquidation_price(MMR) / (1 - pct / 100)


def liquidation_risk(d: EventDetector, ts: float, distance_pct: float) -> list[Severity]:
    pos = long_20x()
    snap = SymbolSnapshot("BTC/USDT", ts, at_distance(pos, distance_pct))
    return [e.severity for e in d.detect(snap, [pos], MMR) if e.event_type is LIQ]


def crash(d: EventDetector, ts: float, drop_pct: float) -> list[Severity]:
    snap = SymbolSnapshot("BTC/USDT", ts, 100.0 - drop_pct, {5: 100.0})
    return [e.severity for e in d.detect(snap, [], MMR) if e.event_type is CRASH]


def test_a_liquidation_risk_that_grows_inside_its_cooldown_is_raised_at_once() -> None:
    d = EventDetector()  # LIQUIDATION_RISK cooldown: 120 s
    assert liquidation_risk(d, T0, 8.0) == [M]
    assert liquidation_risk(d, T0 + 5, 8.0) == []  # the same: held back
    assert liquidation_risk(d, T0 + 10, 4.0) == [H]  # grown: at once
    assert liquidation_risk(d, T0 + 15, 8.0) == []  # eased: held back
    assert liquidation_risk(d, T0 + 20, 4.0) == []  # HIGH again, inside HIGH's cooldown
    assert liquidation_risk(d, T0 + 25, 1.0) == [C]  # grown again: at once
    assert liquidation_risk(d, T0 + 30, 0.5) == []  # nothing is worse than CRITICAL
    assert liquidation_risk(d, T0 + 25 + 119, 4.0) == []
    assert liquidation_risk(d, T0 + 25 + 120, 4.0) == [H]  # the cooldown has passed


def test_a_crash_that_deepens_inside_its_cooldown_is_raised_at_once() -> None:
    d = EventDetector()  # FLASH_CRASH cooldown: 300 s
    assert crash(d, T0, 2.5) == [M]
    assert crash(d, T0 + 60, 2.8) == []
    assert crash(d, T0 + 120, 6.0) == [C]
    assert crash(d, T0 + 180, 4.0) == []


def test_a_restored_event_holds_back_its_severity_not_a_worse_one() -> None:
    d = EventDetector()
    d.remember(MarketEvent(T0, "BTC/USDT", LIQ, H, "", ""))
    assert d.cooling_down("BTC/USDT", LIQ, T0 + 60)
    assert d.cooling_down("BTC/USDT", LIQ, T0 + 60, H)
    assert not d.cooling_down("BTC/USDT", LIQ, T0 + 60, C)
    assert liquidation_risk(d, T0 + 60, 4.0) == []
    assert liquidation_risk(d, T0 + 61, 1.0) == [C]


def test_the_escalation_reaches_the_feed_as_a_raised_event() -> None:
    """Detector and sifter together, as the monitor runs them: MEDIUM raised, HIGH 10 s later
    raised (not only counted), an eased sighting neither raised nor held by the sifter."""
    d = EventDetector()
    lasting = LastingConditions(1800.0, lambda k: d.thresholds.cooldown_seconds(k) + 60.0)
    pos = long_20x()
    raised: list[Severity] = []
    for ts, pct in ((T0, 8.0), (T0 + 5, 8.0), (T0 + 10, 4.0), (T0 + 15, 4.0)):
        events = d.detect(SymbolSnapshot("BTC/USDT", ts, at_distance(pos, pct)), [pos], MMR)
        raised += [e.severity for e in lasting.sift(events)[0]]
    assert raised == [M, H]


BANDS = st.sampled_from([None, 2.5, 4.0, 6.0])  # no crash, MEDIUM, HIGH, CRITICAL


@given(steps=st.lists(st.tuples(st.floats(1.0, 400.0), BANDS), min_size=1, max_size=30),
       cooldown=st.floats(10.0, 600.0))
def test_inside_the_cooldown_only_a_worse_event_is_raised(
        steps: list[tuple[float, float | None]], cooldown: float) -> None:
    """Against a model of the rule: raised iff it is an event and (nothing raised before, or
    the cooldown has passed since the last raised one, or it is worse than that one)."""
    d = EventDetector(EventThresholds(flash_cooldown_seconds=cooldown))
    ts, last = T0, None
    for dt, drop in steps:
        ts += dt
        got = crash(d, ts, drop) if drop is not None else []
        if drop is None:
            assert got == []
            continue
        severity = M if drop < 3 else H if drop <= 5 else C
        want = (last is None or ts - last[0] >= cooldown
                or SEVERITY_RANK[severity] > SEVERITY_RANK[last[1]])
        assert got == ([severity] if want else [])
        if want:
            last = (ts, severity)

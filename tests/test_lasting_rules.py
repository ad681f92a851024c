"""The rules of a lasting condition (SPEC §9, core/lasting.py), one boundary at a time: what
an ongoing line shows when the condition eased, the gap after which it is over (per event
type), several sightings in one batch, the key of a position, and the conditions remembered
across a restart (issue 24: mutation testing of the new core modules)."""

from __future__ import annotations

from autotrade_tui.core.lasting import LastingConditions, key_of
from autotrade_tui.core.models import EventType, MarketEvent, Severity

LIQ = EventType.LIQUIDATION_RISK
VOL = EventType.VOLATILITY_SPIKE
M, H, C = Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL


def risk(ts: float, severity: Severity, entry: float | None = 100.0, side: str = "LONG",
         text: str = "BTC/USDT LONG is 4 % from liquidation",
         action: str = "x closes it", symbol: str = "BTC/USDT") -> MarketEvent:
    metrics: dict = {"side": side, "distance_pct": 4.0}
    if entry is not None:
        metrics["entry_price"] = entry
    return MarketEvent(ts, symbol, LIQ, severity, text, action, metrics)


def spike(ts: float, severity: Severity = H, symbol: str = "BTC/USDT") -> MarketEvent:
    return MarketEvent(ts, symbol, VOL, severity, f"{symbol} ATR ×3", "widen the stop",
                       {"ratio": 3.0})


def gone(kind: EventType) -> float:
    """Per type, as the monitor's detectors' cooldowns differ."""
    return 180.0 if kind is LIQ else 600.0


def test_an_eased_condition_shows_the_latest_sighting_at_the_raised_severity() -> None:
    lasting = LastingConditions(1800.0, gone)
    first = risk(0.0, H)
    assert lasting.sift([first]) == ([first], [])
    later = risk(60.0, M, text="BTC/USDT LONG is 9 % from liquidation", action="watch it",
                 symbol="BTC/USDT")
    later.metrics["distance_pct"] = 9.0
    raised, updated = lasting.sift([later])
    assert raised == []
    [now] = updated
    shown = now.event
    # The line keeps the severity it was raised with, and everything else is the latest.
    assert shown.severity is H
    assert (shown.ts, shown.symbol, shown.event_type) == (60.0, "BTC/USDT", LIQ)
    assert shown.description == "BTC/USDT LONG is 9 % from liquidation"
    assert shown.suggested_action == "watch it"
    assert shown.metrics == {"side": "LONG", "distance_pct": 9.0, "entry_price": 100.0}
    assert (now.count, now.since, now.raised_ts) == (2, 0.0, 0.0)
    # The same severity again: the sighting itself is shown.
    same = risk(120.0, H, text="BTC/USDT LONG is 5 % from liquidation")
    [now] = lasting.sift([same])[1]
    assert now.event is same
    assert now.count == 3


def test_a_gap_of_exactly_the_gone_time_is_still_the_same_condition() -> None:
    lasting = LastingConditions(1800.0, gone)
    assert lasting.sift([risk(0.0, H)])[0]
    # 180 s after the last sighting: still ongoing (counted) ...
    raised, updated = lasting.sift([risk(180.0, H)])
    assert (raised, [o.count for o in updated]) == ([], [2])
    # ... 180.5 s after the last sighting it had gone away: news again, counted afresh.
    again = risk(360.5, H)
    assert lasting.sift([again]) == ([again], [])
    assert lasting.ongoing[key_of(again)].since == 360.5
    assert lasting.ongoing[key_of(again)].count == 1


def test_the_gone_time_is_the_event_types_own() -> None:
    lasting = LastingConditions(1800.0, gone)
    assert lasting.sift([spike(0.0), risk(0.0, H)])[0]
    # 400 s later a volatility spike (gone after 600 s) is ongoing, a liquidation risk (gone
    # after 180 s) is news again.
    later_spike, later_risk = spike(400.0), risk(400.0, H)
    raised, updated = lasting.sift([later_spike, later_risk])
    assert raised == [later_risk]
    assert [o.event for o in updated] == [later_spike]


def test_every_sighting_of_a_batch_is_sifted() -> None:
    lasting = LastingConditions(1800.0, gone)
    first = [spike(0.0), spike(0.0, symbol="ETH/USDT"), risk(0.0, H)]
    assert lasting.sift(first) == (first, [])
    # The first of the next batch is only counted; those after it are still looked at.
    new = risk(30.0, C)
    eth = spike(30.0, symbol="ETH/USDT")
    raised, updated = lasting.sift([spike(30.0), eth, new])
    assert raised == [new]
    assert [o.event.symbol for o in updated] == ["BTC/USDT", "ETH/USDT"]
    assert lasting.ongoing[key_of(eth)].count == 2


def test_the_key_of_a_position_is_its_side_and_entry() -> None:
    assert key_of(risk(0.0, H)) == ("BTC/USDT", LIQ, "LONG@100")
    assert key_of(risk(0.0, H, side="SHORT", entry=0.000123456789)) == \
        ("BTC/USDT", LIQ, "SHORT@0.000123456789")
    assert key_of(spike(0.0)) == ("BTC/USDT", VOL, "")
    # A sighting without an entry price (an old row) is keyed, not an error, and is a
    # position of its own.
    no_entry = risk(0.0, H, entry=None)
    assert key_of(no_entry) == ("BTC/USDT", LIQ, "LONG@0")
    lasting = LastingConditions(1800.0, gone)
    assert lasting.sift([no_entry, risk(1.0, H, entry=1.0)])[0] == \
        [no_entry, risk(1.0, H, entry=1.0)]
    assert lasting.sift([risk(2.0, H, entry=None)])[0] == []


def test_a_remembered_event_is_ongoing_news() -> None:
    lasting = LastingConditions(1800.0, gone)
    old = risk(1000.0, H)
    lasting.remember(old)
    assert lasting.ongoing[key_of(old)].event is old
    assert (lasting.ongoing[key_of(old)].since, lasting.ongoing[key_of(old)].raised_ts) == \
        (1000.0, 1000.0)
    # Seen again after the restart: counted in place, not raised a second time.
    raised, updated = lasting.sift([risk(1100.0, H)])
    assert raised == []
    [now] = updated
    assert (now.count, now.since, now.raised_ts) == (2, 1000.0, 1000.0)
    # It escalates: raised, ongoing since it was first remembered.
    worse = risk(1200.0, C)
    assert lasting.sift([worse])[0] == [worse]
    assert lasting.ongoing[key_of(worse)].since == 1000.0
    assert lasting.ongoing[key_of(worse)].count == 3


def test_remembering_keeps_the_newer_raise() -> None:
    lasting = LastingConditions(1800.0, gone)
    assert lasting.sift([risk(1000.0, H)])[0]
    assert not lasting.sift([risk(1150.0, H)])[0]
    # The same raise restored again (equal time) or an older one: the ongoing line stays.
    lasting.remember(risk(1000.0, H))
    lasting.remember(risk(900.0, C))
    now = lasting.ongoing[key_of(risk(0.0, H))]
    assert (now.count, now.since, now.raised_ts, now.event.ts) == (2, 1000.0, 1000.0, 1150.0)
    # A newer one replaces it.
    newer = risk(1300.0, H)
    lasting.remember(newer)
    now = lasting.ongoing[key_of(newer)]
    assert (now.event, now.count, now.since, now.raised_ts) == (newer, 1, 1300.0, 1300.0)

"""`EventDetector.detect_price` (the backtest's price-only check) is `detect` on a bare snapshot:
the same event, text and metrics, and the same cooldowns after it, also while a position grows
(its kept liquidation facts follow its entries). `EventMonitor.price_news` is that check sifted
as a lasting condition (SPEC §9), its lasting sightings counted without building their event."""

from __future__ import annotations

import contextlib
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.core.engine import EngineConfig, Rejected, TradingEngine
from autotrade_tui.core.events import EventDetector, EventThresholds, SymbolSnapshot
from autotrade_tui.core.models import Severity, Side
from autotrade_tui.market.replay import ReplayFeed
from autotrade_tui.runtime.monitor import EventMonitor
from tests.test_coarse_events import crashed

BTC = "BTC/USDT"
steps = st.lists(st.tuples(st.floats(0.9, 1.1), st.sampled_from([30.0, 60.0, 130.0, 300.0]),
                           st.booleans()), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(steps=steps, side=st.sampled_from(list(Side)), leverage=st.sampled_from([1.0, 5.0, 20.0]),
       mmr=st.sampled_from([0.0, 0.005, 0.05]))
def test_the_price_alone_raises_what_a_bare_snapshot_raises(
        steps: list, side: Side, leverage: float, mmr: float) -> None:
    engine = TradingEngine(EngineConfig(leverage=leverage, maintenance_margin_rate=mmr,
                                        max_entries_per_position=5, position_size_percent=5))
    engine.open(BTC, side, 100.0, 0.0)
    whole, lean = EventDetector(), EventDetector()
    ts, price = 0.0, 100.0
    for move, step, stack in steps:
        ts += step
        price *= move
        if stack and BTC in engine.positions:
            with contextlib.suppress(Rejected):  # a new entry: a new liquidation price
                engine.open(BTC, side, price, ts)
        pos = engine.positions.get(BTC)
        found = whole.detect(SymbolSnapshot(BTC, ts, price), [pos] if pos else [], mmr)
        one = lean.detect_price(BTC, ts, price, pos, mmr)
        assert ([] if one is None else [one]) == found
        assert lean._last == whole._last


@settings(max_examples=150, deadline=None)
@given(steps=steps, side=st.sampled_from(list(Side)), leverage=st.sampled_from([5.0, 20.0]),
       bar=st.sampled_from([60, 300]))
def test_price_news_is_the_price_check_sifted(steps: list, side: Side, leverage: float,
                                              bar: int) -> None:
    mmr = 0.005
    engine = TradingEngine(EngineConfig(leverage=leverage, maintenance_margin_rate=mmr,
                                        max_entries_per_position=5, position_size_percent=5))
    engine.open(BTC, side, 100.0, 0.0)

    def monitor() -> EventMonitor:
        feed = ReplayFeed(crashed(step=bar), VirtualClock(0), [BTC])
        return EventMonitor(feed, [BTC], EventThresholds(event_repeat_seconds=600.0), mmr)

    whole, lean = monitor(), monitor()
    ts, price, seen = 0.0, 100.0, 0
    for move, step, stack in steps * 3:  # long enough to repeat and to go away
        ts += step
        price *= move
        if stack and BTC in engine.positions:
            with contextlib.suppress(Rejected):
                engine.open(BTC, side, price, ts)
        pos = engine.positions.get(BTC)
        found = whole.detector.detect_price(BTC, ts, price, pos, mmr)
        seen += found is not None
        raised, _ = whole.lasting.sift([] if found is None else [found])
        news = lean.price_news(BTC, ts, price, pos)
        assert ([] if news is None else [news]) == raised
        assert lean.detector._last == whole.detector._last
        assert lean.counts.get("LIQUIDATION_RISK", 0) == seen
        assert {k: (o.count, o.seen, o.raised_ts, o.since) for k, o in lean.lasting.ongoing.items()
                } == {k: (o.count, o.seen, o.raised_ts, o.since)
                      for k, o in whole.lasting.ongoing.items()}


@settings(max_examples=300, deadline=None)
@given(side=st.sampled_from(list(Side)), leverage=st.sampled_from([5.0, 20.0, 50.0]),
       edge=st.sampled_from([0.0, 2.0, 5.0, 10.0, 3.7]), ulps=st.integers(-3, 3),
       nudge=st.sampled_from([0.0, 0.0, 1e-10, -1e-10, 4e-7, -4e-7, 2e-6, -2e-6]))
def test_the_liquidation_rule_rounds_its_distance_as_the_spec_says(
        side: Side, leverage: float, edge: float, ulps: int, nudge: float) -> None:
    """Distances are rounded to 9 decimals before any comparison (and worded so), also where
    the rule skips the rounding (away from every band's edge): prices at and around each
    edge, a few float steps or a hair off, give the severity and the words of the rounded
    distance."""
    mmr = 0.005
    engine = TradingEngine(EngineConfig(leverage=leverage, maintenance_margin_rate=mmr))
    engine.open(BTC, side, 100.0, 0.0)
    pos = engine.positions[BTC]
    liq = pos.liquidation_price(mmr)
    d = (edge + nudge) / 100.0  # the price at that distance from liquidation
    price = liq / (1.0 - d) if side is Side.LONG else liq / (1.0 + d)
    for _ in range(abs(ulps)):
        price = math.nextafter(price, math.inf if ulps > 0 else -math.inf)
    gap = price - liq if side is Side.LONG else liq - price
    want = max(round(gap / price * 100.0, 9), 0.0)
    t = EventThresholds()
    severity = (Severity.CRITICAL if want < t.liquidation_critical_percent else Severity.HIGH
                if want <= t.liquidation_high_percent else Severity.MEDIUM
                if want <= t.liquidation_risk_percent else None)
    event = EventDetector(t).detect_price(BTC, 1.0, price, pos, mmr)
    assert (event and event.severity) == severity
    if event is not None:
        assert event.metrics["distance_pct"] == round(want, 4)
        assert (f"is {want:.2f} % from" in event.description if want > 0
                else "at or past" in event.description)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(st.floats(0.9, 1.1), st.sampled_from([60.0, 300.0, 900.0]),
                                st.booleans(), st.floats(0.0, 6.0), st.floats(0.5, 4.0),
                                st.floats(0.95, 1.05)), min_size=1, max_size=40),
       side=st.sampled_from(list(Side)), leverage=st.sampled_from([5.0, 20.0]))
def test_news_is_detect_sifted(steps: list, side: Side, leverage: float) -> None:
    """`EventMonitor.news` (a backtest's screened bar) raises what `detect` on the same
    snapshot, sifted, raises; the same cooldowns, counts and lasting conditions after it,
    while a position grows and its liquidation risk lasts."""
    mmr = 0.005
    engine = TradingEngine(EngineConfig(leverage=leverage, maintenance_margin_rate=mmr,
                                        max_entries_per_position=5, position_size_percent=5))
    engine.open(BTC, side, 100.0, 0.0)

    def monitor() -> EventMonitor:
        feed = ReplayFeed(crashed(step=300), VirtualClock(0), [BTC])
        return EventMonitor(feed, [BTC], EventThresholds(event_repeat_seconds=900.0), mmr)

    whole, lean = monitor(), monitor()
    ts, price = 0.0, 100.0
    for move, step, stack, volume, atr, then in steps * 3:
        ts += step
        price *= move
        if stack and BTC in engine.positions:
            with contextlib.suppress(Rejected):
                engine.open(BTC, side, price, ts)
        snap = SymbolSnapshot(BTC, ts, price, {5: price * then, 15: price / then}, volume,
                              atr, 1.0, volume, 1.0, "5m")
        pos = engine.positions.get(BTC)
        events = whole.detector.detect(snap, [pos] if pos else [], mmr)
        for e in events:
            whole._count(e.event_type)
        raised, _ = whole.lasting.sift(events)
        assert lean.news(snap, engine.positions) == raised
        assert lean.detector._last == whole.detector._last
        assert lean.counts == whole.counts
        assert {k: (o.count, o.seen, o.raised_ts, o.since) for k, o in lean.lasting.ongoing.items()
                } == {k: (o.count, o.seen, o.raised_ts, o.since)
                      for k, o in whole.lasting.ongoing.items()}

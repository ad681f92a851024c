"""Tests of core.events: thresholds at and around every boundary, cooldowns, and CandleWindow."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotrade_tui import config
from autotrade_tui.core.events import (
    CandleWindow,
    EventDetector,
    EventThresholds,
    SymbolSnapshot,
    fmt_price,
    snapshot,
)
from autotrade_tui.core.models import (
    Candle,
    Entry,
    EventType,
    MarketEvent,
    Position,
    Severity,
    Side,
)

T0 = 1_700_000_040.0  # a whole minute
MMR = 0.005
MED, HIGH, CRIT = Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL


def bar(ts: float, close: float, volume: float = 100.0, rng: float = 1.0) -> Candle:
    return Candle(ts, close, close + rng / 2, close - rng / 2, close, volume)


def flat_window(n: int, close: float = 100.0, volume: float = 100.0) -> CandleWindow:
    w = CandleWindow()
    assert w.extend(bar(T0 + 60 * i, close, volume) for i in range(n)) == n
    return w


def live_ts(w: CandleWindow) -> float:
    assert w.last is not None
    return w.last.ts


def of_type(events: list[MarketEvent], kind: EventType) -> list[MarketEvent]:
    return [e for e in events if e.event_type is kind]


def detect(snap: SymbolSnapshot, positions: list[Position] | None = None) -> list[MarketEvent]:
    return EventDetector().detect(snap, positions or [], MMR)


# --- flash moves ------------------------------------------------------------------------------

def flash_window(minutes: int, then: float, price: float) -> tuple[CandleWindow, float]:
    """20 bars at `price`, except the bar whose close is "`minutes` ago" at the returned now."""
    w = CandleWindow()
    for i in range(20):
        w.update(bar(T0 + 60 * i, price))
    now = live_ts(w) + 30.0
    # at now = live + 30 s, "N min ago" is the close of the bar opened at live − (N + 1) min
    w.update(bar(live_ts(w) - 60.0 * (minutes + 1), then))
    return w, now


FLASH_CASES = [  # (price from 100 to, expected type, severity)
    (98.01, None, None),
    (98.0, EventType.FLASH_CRASH, MED),
    (97.0, EventType.FLASH_CRASH, HIGH),
    (95.0, EventType.FLASH_CRASH, HIGH),
    (94.99, EventType.FLASH_CRASH, CRIT),
    (101.99, None, None),
    (102.0, EventType.FLASH_RALLY, MED),
    (103.0, EventType.FLASH_RALLY, HIGH),
    (105.0, EventType.FLASH_RALLY, HIGH),
    (105.01, EventType.FLASH_RALLY, CRIT),
]


@pytest.mark.parametrize("minutes", [1, 5, 15])
@pytest.mark.parametrize(("price", "kind", "severity"), FLASH_CASES)
def test_flash_thresholds_per_window(
    minutes: int, price: float, kind: EventType | None, severity: Severity | None
) -> None:
    w, now = flash_window(minutes, 100.0, price)
    snap = snapshot(w, "BTC/USDT", now, price)
    assert snap.price_ago[minutes] == 100.0
    assert all(p == price for m, p in snap.price_ago.items() if m != minutes)
    events = detect(snap)
    if kind is None:
        assert events == []
        return
    assert [(e.event_type, e.severity) for e in events] == [(kind, severity)]
    e = events[0]
    assert e.metrics["window_min"] == minutes
    assert e.metrics["change_pct"] == pytest.approx((price - 100.0), abs=1e-9)
    verb = "fell" if kind is EventType.FLASH_CRASH else "rose"
    assert e.description == (f"BTC/USDT {verb} {abs(price - 100):.2f} % in {minutes} min "
                             f"(100.00 → {price:.2f})")
    assert e.suggested_action


def test_flash_description_matches_the_house_format() -> None:
    snap = SymbolSnapshot("BTC/USDT", T0, 64_950.0, {5: 67_100.0})
    (e,) = detect(snap)
    assert e.description == "BTC/USDT fell 3.20 % in 5 min (67,100 → 64,950)"
    assert e.severity is HIGH


def test_flash_reports_the_largest_move_of_the_windows() -> None:
    snap = SymbolSnapshot("ETH/USDT", T0, 96.0, {1: 98.5, 5: 99.0, 15: 100.0})
    (e,) = detect(snap)
    assert (e.event_type, e.severity, e.metrics["window_min"]) == (EventType.FLASH_CRASH, HIGH, 15)
    assert e.metrics["change_pct"] == pytest.approx(-4.0)


def test_flash_tie_goes_to_the_shortest_window() -> None:
    (e,) = detect(SymbolSnapshot("X/USDT", T0, 97.0, {15: 100.0, 1: 100.0, 5: 100.0}))
    assert e.metrics["window_min"] == 1


def test_crash_and_rally_in_one_tick_are_two_events() -> None:
    events = detect(SymbolSnapshot("X/USDT", T0, 100.0, {1: 97.0, 15: 110.0}))
    assert {(e.event_type, e.severity) for e in events} == {
        (EventType.FLASH_RALLY, HIGH), (EventType.FLASH_CRASH, CRIT)}


def test_flash_action_depends_on_the_position_held() -> None:
    snap = SymbolSnapshot("BTC/USDT", T0, 97.0, {5: 100.0})
    long_pos = position(Side.LONG, leverage=2.0)
    short_pos = position(Side.SHORT, leverage=2.0)
    actions = {detect(snap, p)[0].suggested_action for p in ([], [long_pos], [short_pos])}
    assert len(actions) == 3
    assert "LONG" in detect(snap, [long_pos])[0].suggested_action


def test_flash_with_default_window_picks_price_ago_from_closed_bars() -> None:
    w = CandleWindow()
    w.extend(bar(T0 + 60 * i, 100.0 + i) for i in range(30))  # bar i closes at 100 + i
    live = live_ts(w)  # bar 29
    assert w.price_ago(1, live + 30) == 127.0  # closed at live − 60 s, 90 s before now
    assert w.price_ago(1, live + 60) == 128.0  # closed exactly 1 min before now
    assert w.price_ago(1, live + 59.9) == 127.0
    assert w.price_ago(5, live + 30) == 123.0
    assert w.price_ago(15, live + 30) == 113.0
    assert w.price_ago(30, live + 30) is None  # before the first bar
    assert w.price_ago(1, live + 600) is None  # the window stopped 10 min ago: a hole


def test_price_ago_tolerates_one_missing_bar_but_not_two() -> None:
    w = CandleWindow()
    w.extend([bar(T0, 100.0), bar(T0 + 60, 101.0), bar(T0 + 120, 102.0)])
    assert w.price_ago(1, T0 + 120 + 30) == 100.0
    w2 = CandleWindow()
    w2.extend([bar(T0, 100.0), bar(T0 + 180, 101.0)])  # bars T0+60 and T0+120 missing
    assert w2.price_ago(1, T0 + 180 + 30) == 100.0  # closed 90 s before "1 min ago"
    assert w2.price_ago(1, T0 + 239) == 100.0  # closed 119 s before "1 min ago"
    assert w2.price_ago(1, T0 + 240) is None  # closed 120 s (two bars) before: too old
    w3 = CandleWindow()
    w3.extend([bar(T0, 100.0), bar(T0 + 240, 101.0)])  # three bars missing
    assert w3.price_ago(1, T0 + 240 + 30) is None


# --- volume -----------------------------------------------------------------------------------

def volume_window(ref_volume: float, baseline_bars: int = 1440) -> CandleWindow:
    """baseline bars of volume 100, then the reference bar, then the live bar."""
    w = flat_window(baseline_bars)
    w.update(bar(T0 + 60 * baseline_bars, 100.0, ref_volume))
    w.update(bar(T0 + 60 * (baseline_bars + 1), 100.0, 3.0))  # live: in no statistic
    return w


@pytest.mark.parametrize(("ref", "kind", "severity"), [
    (199.0, None, None),
    (200.0, EventType.VOLUME_SPIKE, MED),
    (299.0, EventType.VOLUME_SPIKE, MED),
    (300.0, EventType.VOLUME_SPIKE, HIGH),
    (500.0, EventType.VOLUME_SPIKE, HIGH),
    (501.0, EventType.VOLUME_SPIKE, CRIT),
    (21.0, None, None),
    (20.0, EventType.VOLUME_DRY, MED),
    (6.0, EventType.VOLUME_DRY, MED),
    (5.0, EventType.VOLUME_DRY, HIGH),
    (0.0, EventType.VOLUME_DRY, HIGH),
    (100.0, None, None),
])
def test_volume_thresholds(ref: float, kind: EventType | None, severity: Severity | None) -> None:
    w = volume_window(ref)
    now = live_ts(w) + 10
    snap = snapshot(w, "SOL/USDT", now, 100.0)
    assert snap.volume_ratio == pytest.approx(ref / 100.0)
    assert (snap.bar_volume, snap.average_volume) == (ref, 100.0)
    events = detect(snap)
    assert [(e.event_type, e.severity) for e in events] == ([] if kind is None
                                                           else [(kind, severity)])
    if events:
        assert events[0].metrics["ratio"] == pytest.approx(ref / 100.0)
        assert "24 h average" in events[0].description


def test_volume_ratio_float_edges_via_snapshot() -> None:
    base = SymbolSnapshot("A/USDT", T0, 1.0)
    assert detect(replace(base, volume_ratio=1.99)) == []
    assert detect(replace(base, volume_ratio=1.9999999999999998))[0].severity is MED
    assert detect(replace(base, volume_ratio=0.21)) == []
    assert detect(replace(base, volume_ratio=0.20000000000000004))[0].event_type is \
        EventType.VOLUME_DRY


def test_volume_baseline_is_the_24h_before_the_reference_bar() -> None:
    w = CandleWindow()
    w.extend(bar(T0 + 60 * i, 100.0, 10_000.0) for i in range(500))  # older than 24 h: ignored
    start = T0 + 60 * 500
    w.extend(bar(start + 60 * i, 100.0, 100.0) for i in range(1440))
    w.update(bar(start + 60 * 1440, 100.0, 250.0))
    w.update(bar(start + 60 * 1441, 100.0, 0.0))
    assert w.average_volume() == 100.0
    assert w.volume_ratio() == 2.5
    assert len(w) <= 1440 + 2 + 64 + 34  # 24 h + a bit


def test_volume_ratio_needs_min_baseline_and_nonzero_average() -> None:
    assert volume_window(200.0, baseline_bars=59).volume_ratio() is None
    assert volume_window(200.0, baseline_bars=60).volume_ratio() == 2.0
    zero = flat_window(100, volume=0.0)
    zero.update(bar(T0 + 60 * 100, 100.0, 5.0))
    assert zero.volume_ratio() is None
    assert CandleWindow().volume_ratio() is None


def test_live_bar_replacement_counts_only_once_sealed() -> None:
    w = flat_window(100)
    ts = T0 + 60 * 100
    for v in (10.0, 50.0, 300.0):  # the live bar grows
        assert w.update(bar(ts, 101.0, v))
        assert len(w) == 101
        assert w.last == bar(ts, 101.0, v)
        assert w.volume_ratio() == 1.0  # still the previous (sealed) bar's
    w.update(bar(ts + 60, 101.0, 1.0))
    assert w.volume_ratio() == 3.0  # the live bar's final version, not its first


def test_revising_a_sealed_bar_updates_the_statistics() -> None:
    w = flat_window(100)
    w.update(bar(T0 + 60 * 100, 100.0))
    assert w.update(bar(T0 + 60 * 99, 100.0, 400.0))  # the reference bar, revised
    assert w.volume_ratio() == 4.0
    assert w.update(bar(T0 + 60 * 50, 100.0, 100.0 + 98.0))  # a baseline bar
    assert w.average_volume() == pytest.approx((98 * 100 + 198) / 99)


@pytest.mark.parametrize("candle", [
    bar(T0 + 30, 100.0),  # inside a hole (no bar at that ts)
    bar(T0 - 60, 100.0),  # older than the window
    Candle(T0 + 180, 1.0, math.nan, 1.0, 1.0, 1.0),
    Candle(T0 + 180, 1.0, 1.0, 1.0, math.inf, 1.0),
    Candle(T0 + 180, 1.0, 1.0, 1.0, 1.0, -1.0),
])
def test_bad_or_unplaceable_candles_are_ignored(candle: Candle) -> None:
    w = CandleWindow()
    w.extend([bar(T0, 100.0), bar(T0 + 60, 100.0), bar(T0 + 120, 100.0)])
    before = w.candles()
    assert w.update(candle) is False
    assert w.candles() == before


# --- volatility -------------------------------------------------------------------------------

@pytest.mark.parametrize(("short", "severity"), [
    (1.49, None), (1.5, MED), (1.99, MED), (2.0, HIGH), (3.0, HIGH), (3.01, CRIT)])
def test_volatility_thresholds(short: float, severity: Severity | None) -> None:
    snap = SymbolSnapshot("BTC/USDT", T0, 100.0, atr_short=short * 20.0, atr_long=20.0)
    events = detect(snap)
    if severity is None:
        assert events == []
    else:
        assert [(e.event_type, e.severity) for e in events] == [
            (EventType.VOLATILITY_SPIKE, severity)]
        assert events[0].metrics["ratio"] == pytest.approx(short)


def test_wilder_atr_and_long_atr_on_a_known_series() -> None:
    w = flat_window(100)  # every true range is 1
    assert (w.atr_short(), w.atr_long()) == (1.0, 1.0)
    w.update(bar(T0 + 60 * 100, 100.0, rng=15.0))
    w.update(bar(T0 + 60 * 101, 100.0))  # seals the wide bar
    assert w.atr_short() == pytest.approx(1.0 + 14.0 / 14.0)  # Wilder: 1 + (15 − 1) / 14
    assert w.atr_long() == pytest.approx((100 + 15) / 101)  # 24 h not full: 101 sealed bars
    assert w.atr_ratio() == pytest.approx(2.0 / (115 / 101))


def test_volatility_spike_end_to_end_from_candles() -> None:
    w = flat_window(1500)
    for i in range(1500, 1515):
        w.update(bar(T0 + 60 * i, 100.0, rng=3.0))
    w.update(bar(T0 + 60 * 1515, 100.0))
    snap = snapshot(w, "BTC/USDT", live_ts(w) + 5, 100.0)
    (e,) = detect(snap)
    assert e.event_type is EventType.VOLATILITY_SPIKE
    assert snap.atr_ratio is not None and snap.atr_ratio >= 1.5
    assert e.metrics["ratio"] == pytest.approx(snap.atr_ratio, abs=1e-4)


def test_atrs_need_history() -> None:
    w = flat_window(14)  # 13 sealed bars
    assert w.atr_short() is None and w.atr_long() is None
    w.update(bar(T0 + 60 * 14, 100.0))
    assert w.atr_short() == 1.0 and w.atr_long() is None  # long needs 60 bars


# --- liquidation ------------------------------------------------------------------------------

def position(side: Side, leverage: float = 10.0, symbol: str = "BTC/USDT") -> Position:
    margin = 100.0 / leverage
    return Position(symbol, side, [Entry(100.0, 1.0, margin, leverage, 0.0, T0)], T0)


def price_at_distance(pos: Position, distance_pct: float) -> float:
    liq = pos.liquidation_price(MMR)
    if pos.side is Side.LONG:
        return liq / (1 - distance_pct / 100)
    return liq / (1 + distance_pct / 100)


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
@pytest.mark.parametrize(("distance", "severity"), [
    (10.01, None), (10.0, MED), (5.01, MED), (5.0, HIGH), (4.99, HIGH), (2.0, HIGH),
    (1.99, CRIT), (0.0, CRIT)])
def test_liquidation_thresholds(side: Side, distance: float, severity: Severity | None) -> None:
    pos = position(side)
    price = price_at_distance(pos, distance)
    events = detect(SymbolSnapshot("BTC/USDT", T0, price), [pos])
    if severity is None:
        assert events == []
        return
    assert [(e.event_type, e.severity) for e in events] == [
        (EventType.LIQUIDATION_RISK, severity)]
    m = events[0].metrics
    assert m["distance_pct"] == pytest.approx(distance)
    assert m["liquidation_price"] == pytest.approx(pos.liquidation_price(MMR))
    assert m["side"] == str(side)
    assert str(side) in events[0].suggested_action


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
def test_liquidation_past_the_price_is_critical(side: Side) -> None:
    pos = position(side)
    liq = pos.liquidation_price(MMR)
    price = liq * (0.99 if side is Side.LONG else 1.01)
    (e,) = detect(SymbolSnapshot("BTC/USDT", T0, price), [pos])
    assert (e.severity, e.metrics["distance_pct"]) == (CRIT, 0.0)
    assert "past" in e.description


def test_liquidation_ignores_other_symbols_and_unliquidatable_positions() -> None:
    far_long = position(Side.LONG, leverage=1.0)  # liquidation price 0
    other = position(Side.LONG, symbol="ETH/USDT")
    price = price_at_distance(other, 1.0)
    assert detect(SymbolSnapshot("BTC/USDT", T0, price), [other, far_long]) == []
    empty = Position("BTC/USDT", Side.LONG)  # no entries: quantity 0
    assert detect(SymbolSnapshot("BTC/USDT", T0, 50.0), [empty]) == []


@settings(max_examples=500, deadline=None)
@given(side=st.sampled_from([Side.LONG, Side.SHORT]), leverage=st.floats(0.5, 125),
       mmr=st.sampled_from([0.0, 0.005, 0.05, 0.5]), risk=st.sampled_from([0.0, 2.0, 10.0, 60.0]),
       distance=st.floats(-5, 99) | st.sampled_from([10.0, 10.000001, 10.00001, 2.0, 60.0]))
def test_no_liquidation_risk_inside_the_quiet_range(side: Side, leverage: float, mmr: float,
                                                   risk: float, distance: float) -> None:
    """What the backtest skips: inside `liquidation_quiet` the rule finds nothing; within the
    band it finds the risk, and the price is outside."""
    pos = position(side, leverage)
    det = EventDetector(EventThresholds(liquidation_risk_percent=risk,
                                        liquidation_high_percent=min(risk, 5.0),
                                        liquidation_critical_percent=min(risk, 2.0)))
    low, high = det.liquidation_quiet(pos, mmr)
    liq = pos.liquidation_price(mmr)
    if not liq > 0:  # a long at ≤ 1× (after maintenance): never at risk, at any price
        assert (low, high) == (0.0, math.inf)
        price = 100.0 * (1 + distance / 100)
    else:  # the price `distance` % away from liquidation (negative: past it)
        price = liq / (1 - distance / 100) if side is Side.LONG else liq / (1 + distance / 100)
    found = det.detect(SymbolSnapshot("BTC/USDT", T0, price), [pos], mmr)
    if low < price < high:
        assert found == []
    if liq > 0 and distance <= risk - 1e-7:
        assert found and not low < price < high


def test_the_quiet_range_keeps_out_of_every_band_even_unordered_ones() -> None:
    for side in (Side.LONG, Side.SHORT):
        det = EventDetector(EventThresholds(liquidation_risk_percent=2.0,
                                            liquidation_high_percent=5.0,
                                            liquidation_critical_percent=8.0))
        pos = position(side)
        price = price_at_distance(pos, 7.0)  # critical here (7 < 8), beyond the risk band
        low, high = det.liquidation_quiet(pos, MMR)
        assert det.detect(SymbolSnapshot("BTC/USDT", T0, price), [pos], MMR)
        assert not low < price < high


def test_liquidation_description() -> None:
    pos = Position("BTC/USDT", Side.LONG, [Entry(67_000.0, 1.0, 3_350.0, 20.0, 0.0, T0)])
    liq = pos.liquidation_price(MMR)
    (e,) = detect(SymbolSnapshot("BTC/USDT", T0, liq / 0.969), [pos])
    assert e.description == (f"BTC/USDT LONG is 3.10 % from liquidation "
                             f"(price {fmt_price(liq / 0.969)}, liquidation {fmt_price(liq)})")


# --- cooldowns --------------------------------------------------------------------------------

def snap_for(kind: EventType, symbol: str = "BTC/USDT", ts: float = T0) -> SymbolSnapshot:
    return {
        EventType.FLASH_CRASH: SymbolSnapshot(symbol, ts, 97.0, {5: 100.0}),
        EventType.FLASH_RALLY: SymbolSnapshot(symbol, ts, 103.0, {5: 100.0}),
        EventType.VOLUME_SPIKE: SymbolSnapshot(symbol, ts, 100.0, volume_ratio=2.5),
        EventType.VOLUME_DRY: SymbolSnapshot(symbol, ts, 100.0, volume_ratio=0.1),
        EventType.VOLATILITY_SPIKE: SymbolSnapshot(symbol, ts, 100.0, atr_short=2.0,
                                                   atr_long=1.0),
        EventType.LIQUIDATION_RISK: SymbolSnapshot(symbol, ts, 95.0),
    }[kind]


COOLDOWNS = {EventType.FLASH_CRASH: 300, EventType.FLASH_RALLY: 300,
             EventType.VOLUME_SPIKE: 300, EventType.VOLUME_DRY: 600,
             EventType.VOLATILITY_SPIKE: 300, EventType.LIQUIDATION_RISK: 120}


def kinds_at(
    d: EventDetector, kind: EventType, ts: float, symbol: str = "BTC/USDT"
) -> list[EventType]:
    pos = position(Side.LONG, symbol=symbol)  # liq ≈ 90.95: 95 is 4.3 % away
    return [e.event_type for e in d.detect(snap_for(kind, symbol, ts), [pos], MMR)]


@pytest.mark.parametrize("kind", list(EventType))
def test_cooldown_suppresses_until_it_has_passed(kind: EventType) -> None:
    d = EventDetector()
    cooldown = COOLDOWNS[kind]
    assert EventThresholds().cooldown_seconds(kind) == cooldown
    assert kind in kinds_at(d, kind, T0)
    assert kind not in kinds_at(d, kind, T0 + 1)
    assert kind not in kinds_at(d, kind, T0 + cooldown - 1)  # suppressed: clock not restarted
    assert kind in kinds_at(d, kind, T0 + cooldown)
    assert kind not in kinds_at(d, kind, T0 + cooldown + 1)


@pytest.mark.parametrize("kind", list(EventType))
def test_cooldown_is_per_symbol(kind: EventType) -> None:
    d = EventDetector()
    assert kind in kinds_at(d, kind, T0, "BTC/USDT")
    assert kind in kinds_at(d, kind, T0 + 1, "ETH/USDT")
    assert kind not in kinds_at(d, kind, T0 + 2, "BTC/USDT")


def test_cooldown_is_per_type() -> None:
    d = EventDetector()
    assert kinds_at(d, EventType.FLASH_CRASH, T0) == [EventType.FLASH_CRASH,
                                                     EventType.LIQUIDATION_RISK]
    assert kinds_at(d, EventType.FLASH_RALLY, T0 + 1) == [EventType.FLASH_RALLY]
    assert EventType.VOLUME_SPIKE in kinds_at(d, EventType.VOLUME_SPIKE, T0 + 2)
    assert EventType.VOLUME_DRY in kinds_at(d, EventType.VOLUME_DRY, T0 + 3)
    assert EventType.VOLATILITY_SPIKE in kinds_at(d, EventType.VOLATILITY_SPIKE, T0 + 4)
    assert kinds_at(d, EventType.FLASH_CRASH, T0 + 5) == []


def test_cooldowns_come_from_the_thresholds_and_remember_restores_them() -> None:
    d = EventDetector(EventThresholds(flash_cooldown_seconds=10.0))
    assert kinds_at(d, EventType.FLASH_RALLY, T0) == [EventType.FLASH_RALLY]
    assert kinds_at(d, EventType.FLASH_RALLY, T0 + 10) == [EventType.FLASH_RALLY]
    fresh = EventDetector()
    # the rally of snap_for (3 %: HIGH), raised before a restart; a worse one would escalate
    fresh.remember(MarketEvent(T0, "BTC/USDT", EventType.FLASH_RALLY, HIGH, "", ""))
    assert fresh.cooling_down("BTC/USDT", EventType.FLASH_RALLY, T0 + 299)
    assert kinds_at(fresh, EventType.FLASH_RALLY, T0 + 299) == []
    assert kinds_at(fresh, EventType.FLASH_RALLY, T0 - 3600) == [EventType.FLASH_RALLY]
    fresh.reset()
    assert not fresh.cooling_down("BTC/USDT", EventType.FLASH_RALLY, T0 - 3599)


# --- thresholds from settings, missing data ---------------------------------------------------

def test_thresholds_from_settings() -> None:
    assert EventThresholds.from_settings(config.defaults()) == EventThresholds()
    t = EventThresholds.from_settings(config.defaults(
        flash_move_percent=1.0, volume_spike_ratio=4.0, volume_dry_ratio=0.4,
        volatility_spike_ratio=3.0, liquidation_cooldown_seconds=7.0))
    assert (t.flash_move_percent, t.liquidation_cooldown_seconds) == (1.0, 7.0)
    assert (t.volume_spike_high_ratio, t.volume_spike_critical_ratio) == (6.0, 10.0)
    assert t.volume_dry_high_ratio == pytest.approx(0.1)
    assert (t.volatility_high_ratio, t.volatility_critical_ratio) == (4.0, 6.0)
    d = EventDetector(t)
    assert d.detect(SymbolSnapshot("A/B", T0, 101.0, {1: 100.0}), [], MMR)[0].severity is MED
    assert d.detect(SymbolSnapshot("A/B", T0, 1.0, volume_ratio=3.9), [], MMR) == []


@pytest.mark.parametrize("snap", [
    SymbolSnapshot("A/B", T0, 100.0),
    SymbolSnapshot("A/B", T0, 0.0, {1: 50.0}, 9.0, 9.0, 1.0),
    SymbolSnapshot("A/B", T0, math.nan, {1: 50.0}),
    SymbolSnapshot("A/B", T0, 100.0, {1: 0.0, 5: math.nan, 15: -3.0}),
    SymbolSnapshot("A/B", T0, 100.0, volume_ratio=math.nan, atr_short=1.0, atr_long=0.0),
    SymbolSnapshot("A/B", T0, 100.0, atr_short=None, atr_long=1.0),
])
def test_missing_or_bad_data_gives_no_event(snap: SymbolSnapshot) -> None:
    assert detect(snap, [position(Side.LONG, symbol="A/B", leverage=1.0)]) == []


@pytest.mark.parametrize("n", [0, 1, 2, 16])
def test_short_history_snapshots_are_quiet(n: int) -> None:
    w = flat_window(n)
    now = (live_ts(w) if n else T0) + 5
    snap = snapshot(w, "A/B", now, 100.0)
    assert snap.volume_ratio is None and snap.atr_ratio is None
    assert detect(snap) == []


def test_stale_window_gives_no_statistics() -> None:
    w = volume_window(500.0)
    assert snapshot(w, "A/B", live_ts(w) + 10, 100.0).volume_ratio == 5.0
    stale = snapshot(w, "A/B", live_ts(w) + 180, 100.0)
    assert (stale.volume_ratio, stale.atr_short, stale.atr_long) == (None, None, None)
    assert detect(stale) == []


def test_fmt_price() -> None:
    assert [fmt_price(p) for p in (67_100.0, 148.254, 0.00012341, 0.5, 0.0)] == [
        "67,100", "148.25", "0.0001234", "0.5000", "0"]


# --- CandleWindow against a from-scratch recomputation ----------------------------------------

def reference(bars: list[Candle], w: CandleWindow, now: float) -> dict[str, object]:
    """Everything CandleWindow reports, recomputed naively from all bars ever seen."""
    sealed = bars[:-1]
    cap = int(w.baseline_seconds // w.bar_seconds)
    trs: list[float] = []
    atrs: list[float] = []
    for i, b in enumerate(sealed):
        tr = b.high - b.low if i == 0 else max(b.high - b.low, abs(b.high - sealed[i - 1].close),
                                               abs(b.low - sealed[i - 1].close))
        trs.append(tr)
        atrs.append(tr if i == 0 else atrs[-1] + (tr - atrs[-1]) / min(i + 1, w.atr_period))
    out: dict[str, object] = {"vr": None, "short": None, "long": None}
    if sealed:
        ref = sealed[-1]
        cutoff = ref.ts - w.baseline_seconds
        base = [b.volume for b in sealed[:-1] if b.ts >= cutoff][-cap:]
        if len(base) >= w.min_baseline_bars and math.fsum(base) > 0:
            out["vr"] = ref.volume / (math.fsum(base) / len(base))
        win = [tr for b, tr in zip(sealed, trs, strict=True) if b.ts > cutoff][-cap:]
        if len(win) >= w.min_baseline_bars:
            out["long"] = math.fsum(win) / len(win)
        if len(sealed) >= w.atr_period:
            out["short"] = atrs[-1]
    for minutes in (1, 5, 15):
        target = now - 60 * minutes
        done = [b for b in bars if b.ts + w.bar_seconds <= target]
        ok = done and target - (done[-1].ts + w.bar_seconds) < 2 * w.bar_seconds
        out[f"ago{minutes}"] = done[-1].close if ok else None
    return out


def observed(w: CandleWindow, now: float) -> dict[str, object]:
    out: dict[str, object] = {"vr": w.volume_ratio(), "short": w.atr_short(),
                              "long": w.atr_long()}
    for minutes in (1, 5, 15):
        out[f"ago{minutes}"] = w.price_ago(minutes, now)
    return out


def assert_same(got: dict[str, object], want: dict[str, object]) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        if value is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


dyadic = st.integers(0, 64 * 500).map(lambda k: k / 64)  # exact sums: no float drift
OPS = st.lists(st.tuples(
    st.sampled_from(["new", "new", "new", "live", "revise", "hole"]),
    st.integers(1, 3),  # gap in bars for "new", how far back for "revise"
    dyadic, dyadic, dyadic, dyadic,
    st.integers(0, 10_000),
), min_size=1, max_size=220)


@settings(max_examples=60, deadline=None)
@given(ops=OPS, resync=st.sampled_from([1_000_000, 7]), offset=st.integers(0, 200))
def test_window_matches_a_from_scratch_recomputation(
    ops: list[tuple[str, int, float, float, float, float, int]], resync: int, offset: int
) -> None:
    w = CandleWindow(baseline_seconds=600, atr_period=3, min_baseline_bars=3,
                     resync_every=resync)
    seen: dict[float, Candle] = {}
    for step, (kind, k, o, c, up, down, v) in enumerate(ops):
        stamps = sorted(seen)
        if not stamps or kind == "new":
            ts = (stamps[-1] + 60 * k) if stamps else T0
        elif kind == "live":
            ts = stamps[-1]
        elif kind == "revise":
            ts = stamps[-min(k + 1, len(stamps))]
        else:
            ts = stamps[-1] - 30  # inside a hole: refused
        candle = Candle(ts, o + 1, max(o, c) + 1 + up, min(o, c) + 1 - down / 8, c + 1, v)
        accepted = kind != "hole" or not stamps
        assert w.update(candle) is accepted
        if accepted:
            seen[ts] = candle
        bars = [seen[t] for t in sorted(seen)]
        assert w.candles() == bars[-len(w):]
        if step % 5 == 0 or step == len(ops) - 1:
            now = bars[-1].ts + offset
            assert_same(observed(w, now), reference(bars, w, now))


def test_window_matches_recomputation_on_a_long_random_walk() -> None:
    """Default (24 h) window over 3 days of bars: compaction, resync and eviction all happen."""
    rnd = random.Random(7)
    w = CandleWindow()
    bars: list[Candle] = []
    price, ts = 30_000.0, T0
    for i in range(3 * 1440 + 100):
        ts += 60 * (2 if rnd.random() < 0.01 else 1)  # an occasional missing bar
        for _ in range(rnd.randint(1, 3)):  # the live bar grows a few times
            o, price = price, price * math.exp(rnd.gauss(0, 0.002))
            c = Candle(ts, o, max(o, price) * 1.0005, min(o, price) * 0.9995, price,
                       rnd.lognormvariate(3, 1))
            assert w.update(c)
        bars.append(c)
        if i % 997 == 0 or i > 3 * 1440 + 90:
            now = ts + 30
            assert_same(observed(w, now), reference(bars, w, now))
    assert len(w) <= 1440 + 2 + 64 + 34


# --- the rules at their depth (issue 24): advice texts for what they say, whole events field by
# field, assets below 1 USDT, and bar revisions after the window compacted.

CRASH_LONG = "Your LONG is under pressure: tighten its stop or reduce it"
CRASH_SHORT = "The move favours your SHORT: consider taking partial profit; beware a rebound"
CRASH_FLAT = "Don't catch a falling knife: wait for the price to stabilise before buying"
RALLY_SHORT = "Your SHORT is under pressure: tighten its stop or reduce it"
RALLY_LONG = "The move favours your LONG: consider taking partial profit; beware a pullback"
RALLY_FLAT = "Don't chase the spike: wait for a pullback before buying"


@pytest.mark.parametrize(("price", "held", "action"), [
    (97.0, Side.LONG, CRASH_LONG),
    (97.0, Side.SHORT, CRASH_SHORT),
    (97.0, None, CRASH_FLAT),
    (103.0, Side.SHORT, RALLY_SHORT),
    (103.0, Side.LONG, RALLY_LONG),
    (103.0, None, RALLY_FLAT),
])
def test_flash_advice_says_who_the_move_hurts(price: float, held: Side | None,
                                              action: str) -> None:
    positions = [] if held is None else [position(held, leverage=2.0)]
    (e,) = detect(SymbolSnapshot("BTC/USDT", T0, price, {5: 100.0}), positions)
    assert e.suggested_action == action


def test_flash_advice_urgency_and_direction_in_words() -> None:
    # A crash against a LONG asks to protect it; the same crash on a SHORT says it helps.
    crash = SymbolSnapshot("BTC/USDT", T0, 96.0, {5: 100.0})
    against = detect(crash, [position(Side.LONG, leverage=2.0)])[0].suggested_action
    assert "under pressure" in against and "reduce" in against and "favours" not in against
    helps = detect(crash, [position(Side.SHORT, leverage=2.0)])[0].suggested_action
    assert "favours your SHORT" in helps and "profit" in helps
    assert "buying" in detect(crash)[0].suggested_action
    rally = SymbolSnapshot("BTC/USDT", T0, 104.0, {5: 100.0})
    against = detect(rally, [position(Side.SHORT, leverage=2.0)])[0].suggested_action
    assert "SHORT is under pressure" in against
    assert "favours your LONG" in detect(rally, [position(Side.LONG, leverage=2.0)])[0] \
        .suggested_action


def test_a_whole_flash_event() -> None:
    (e,) = detect(SymbolSnapshot("BTC/USDT", T0, 97.12345, {5: 100.0}))
    assert e == MarketEvent(
        T0, "BTC/USDT", EventType.FLASH_CRASH, MED,
        "BTC/USDT fell 2.88 % in 5 min (100.00 → 97.12)", CRASH_FLAT,
        {"change_pct": -2.8765, "window_min": 5, "price_from": 100.0, "price": 97.12345,
         "threshold_pct": 2.0})


@pytest.mark.parametrize(("then", "price", "kind", "severity"), [
    (0.5, 0.49, EventType.FLASH_CRASH, MED),
    (0.5, 0.4901, None, None),
    (0.5, 0.47, EventType.FLASH_CRASH, CRIT),
    (0.0001234, 0.000126, EventType.FLASH_RALLY, MED),
    (0.0001234, 0.0001255, None, None),
    (0.8, 0.85, EventType.FLASH_RALLY, CRIT),
])
def test_flash_on_assets_below_one_usdt(then: float, price: float, kind: EventType | None,
                                        severity: Severity | None) -> None:
    events = detect(SymbolSnapshot("PEPE/USDT", T0, price, {1: then}))
    assert [(e.event_type, e.severity) for e in events] == (
        [] if kind is None else [(kind, severity)])


def test_flash_low_priced_description_and_window_from_candles() -> None:
    w, now = flash_window(5, 0.5, 0.49)
    snap = snapshot(w, "DOGE/USDT", now, 0.49)
    assert snap.price_ago[5] == 0.5
    (e,) = detect(snap)
    assert e.description == "DOGE/USDT fell 2.00 % in 5 min (0.5000 → 0.4900)"
    assert e.metrics["price_from"] == 0.5 and e.metrics["change_pct"] == -2.0


def test_flash_skips_a_bad_window_and_reads_the_next() -> None:
    events = detect(SymbolSnapshot("X/USDT", T0, 97.0, {1: math.nan, 5: 100.0, 15: 0.0}))
    assert [(e.event_type, e.metrics["window_min"]) for e in events] == [
        (EventType.FLASH_CRASH, 5)]


def test_flash_a_small_crash_does_not_hide_a_rally() -> None:
    events = detect(SymbolSnapshot("X/USDT", T0, 100.0, {1: 101.0, 15: 95.0}))
    assert [(e.event_type, e.metrics["window_min"]) for e in events] == [
        (EventType.FLASH_RALLY, 15)]


def test_flash_rally_picks_the_largest_rise_and_ties_go_to_the_shortest() -> None:
    (e,) = detect(SymbolSnapshot("X/USDT", T0, 104.0, {1: 100.0, 5: 101.0}))
    assert (e.metrics["window_min"], e.metrics["change_pct"]) == (1, 4.0)
    (e,) = detect(SymbolSnapshot("X/USDT", T0, 103.0, {15: 100.0, 5: 100.0, 1: 100.0}))
    assert e.metrics["window_min"] == 1


def test_flash_moves_below_one_percent_with_a_low_threshold() -> None:
    d = EventDetector(EventThresholds(flash_move_percent=0.5, flash_high_percent=1.0,
                                      flash_critical_percent=2.0))
    (rally,) = d.detect(SymbolSnapshot("X/USDT", T0, 100.8, {1: 100.0}), [], MMR)
    assert (rally.event_type, rally.severity) == (EventType.FLASH_RALLY, MED)
    (crash,) = d.detect(SymbolSnapshot("Y/USDT", T0, 99.0, {1: 100.0}), [], MMR)
    assert (crash.event_type, crash.severity) == (EventType.FLASH_CRASH, HIGH)
    assert crash.metrics["threshold_pct"] == 0.5


def test_a_whole_volume_spike_and_dry_event() -> None:
    (spike,) = detect(SymbolSnapshot("A/USDT", T0, 1.0, volume_ratio=2.5, bar_volume=250.0,
                                     average_volume=100.0))
    assert spike == MarketEvent(
        T0, "A/USDT", EventType.VOLUME_SPIKE, MED,
        "A/USDT volume 2.50× its 24 h average (last 1m bar 250.00 vs average 100.00)",
        "Heavy activity: expect a breakout or a reversal; confirm the direction first",
        {"ratio": 2.5, "bar_volume": 250.0, "average_volume": 100.0, "price": 1.0,
         "threshold": 2.0})
    (dry,) = detect(SymbolSnapshot("A/USDT", T0, 1.0, volume_ratio=0.123456))
    assert dry == MarketEvent(
        T0, "A/USDT", EventType.VOLUME_DRY, MED, "A/USDT volume only 0.12× its 24 h average",
        "Thin market: expect slippage and false moves; trade smaller or wait",
        {"ratio": 0.1235, "bar_volume": None, "average_volume": None, "price": 1.0,
         "threshold": 0.2})


@pytest.mark.parametrize(("bar_volume", "average_volume"), [(250.0, None), (None, 100.0)])
def test_volume_text_quotes_amounts_only_when_both_are_known(
        bar_volume: float | None, average_volume: float | None) -> None:
    (e,) = detect(SymbolSnapshot("A/USDT", T0, 1.0, volume_ratio=2.5, bar_volume=bar_volume,
                                 average_volume=average_volume))
    assert e.description == "A/USDT volume 2.50× its 24 h average"


def test_an_infinite_volume_ratio_is_no_event() -> None:
    assert detect(SymbolSnapshot("A/USDT", T0, 1.0, volume_ratio=math.inf)) == []


def test_volume_of_a_thinly_traded_asset_below_one_unit() -> None:
    w = flat_window(100, close=0.5, volume=0.4)
    w.update(bar(T0 + 60 * 100, 0.5, 1.0))  # the reference bar: 2.5 × 0.4
    w.update(bar(T0 + 60 * 101, 0.5, 0.0))
    assert w.average_volume() == pytest.approx(0.4)
    assert w.volume_ratio() == pytest.approx(2.5)
    (e,) = detect(snapshot(w, "A/USDT", live_ts(w) + 5, 0.5))
    assert (e.event_type, e.severity) == (EventType.VOLUME_SPIKE, MED)


def test_a_whole_volatility_event_on_a_low_priced_asset() -> None:
    (e,) = detect(SymbolSnapshot("A/USDT", T0, 0.5, atr_short=0.002, atr_long=0.001))
    assert e == MarketEvent(
        T0, "A/USDT", EventType.VOLATILITY_SPIKE, HIGH,
        "A/USDT volatility 2.00× normal: ATR(14) 0.002000 vs 24 h average range 0.001000 "
        "(1m bars)",
        "Volatility is up: widen stops or cut size and leverage",
        {"ratio": 2.0, "atr_short": 0.002, "atr_long": 0.001, "price": 0.5,
         "threshold": 1.5})
    (e,) = detect(SymbolSnapshot("A/USDT", T0, 0.5, atr_short=0.0015555555, atr_long=0.001))
    assert e.metrics["ratio"] == 1.5556


def test_atr_on_sub_cent_ranges_from_candles() -> None:
    w = CandleWindow()
    w.extend(bar(T0 + 60 * i, 0.05, rng=0.001) for i in range(100))
    assert w.atr_short() == pytest.approx(0.001) and w.atr_long() == pytest.approx(0.001)
    for i in range(100, 115):
        w.update(bar(T0 + 60 * i, 0.05, rng=0.004))
    w.update(bar(T0 + 60 * 115, 0.05, rng=0.001))
    ratio = w.atr_ratio()
    assert ratio is not None and ratio > 2.0
    (e,) = detect(snapshot(w, "SHIB/USDT", live_ts(w) + 5, 0.05))
    assert e.event_type is EventType.VOLATILITY_SPIKE and e.severity is HIGH


def test_atr_ratio_needs_both_atrs_and_a_positive_long() -> None:
    short_only = flat_window(20)
    assert short_only.atr_short() == 1.0 and short_only.atr_ratio() is None
    long_only = CandleWindow(atr_period=100, min_baseline_bars=5)
    long_only.extend(bar(T0 + 60 * i, 100.0) for i in range(20))
    assert long_only.atr_long() == 1.0 and long_only.atr_ratio() is None
    still = CandleWindow()
    still.extend(bar(T0 + 60 * i, 100.0, rng=0.0) for i in range(100))  # no range at all
    assert still.atr_long() == 0.0 and still.atr_ratio() is None


def test_reference_volume_with_one_sealed_bar() -> None:
    w = CandleWindow()
    assert w.reference_volume() is None
    w.update(bar(T0, 100.0, 7.0))
    assert w.reference_volume() is None  # the only bar is live
    w.update(bar(T0 + 60, 100.0, 9.0))
    assert w.reference_volume() == 7.0


@pytest.mark.parametrize(("side", "distance", "severity", "action"), [
    (Side.LONG, 1.0, CRIT, "Close the LONG now (x): it is liquidated at 90.45"),
    (Side.SHORT, 0.0, CRIT, "Close the SHORT now (x): it is liquidated at 109.45"),
    (Side.LONG, 3.0, HIGH, "Consider closing the LONG (x) before 90.45"),
    (Side.SHORT, 3.0, HIGH, "Consider closing the SHORT (x) before 109.45"),
    (Side.LONG, 8.0, MED, "Watch the LONG: liquidation at 90.45 (x closes it)"),
    (Side.SHORT, 8.0, MED, "Watch the SHORT: liquidation at 109.45 (x closes it)"),
])
def test_liquidation_advice_by_severity(side: Side, distance: float, severity: Severity,
                                        action: str) -> None:
    pos = position(side)
    (e,) = detect(SymbolSnapshot("BTC/USDT", T0, price_at_distance(pos, distance)), [pos])
    assert e.severity is severity
    assert e.suggested_action == action


def test_liquidation_advice_urgency_in_words() -> None:
    pos = position(Side.LONG)
    def advice(distance: float) -> str:
        (e,) = detect(SymbolSnapshot("BTC/USDT", T0, price_at_distance(pos, distance)), [pos])
        return e.suggested_action
    assert "now" in advice(1.0) and "Close" in advice(1.0)
    assert "stop" not in advice(1.0)
    assert "Watch" in advice(8.0) and "x closes it" in advice(8.0) and "now" not in advice(8.0)
    assert "Close" not in advice(8.0)


def test_a_whole_liquidation_event() -> None:
    pos = Position("B/USDT", Side.LONG, [Entry(100.0, 2.0, 20.0, 10.0, 0.0, T0)], T0)
    (e,) = detect(SymbolSnapshot("B/USDT", T0, 92.0), [pos])
    liq = 90.0 / 0.995
    assert e == MarketEvent(
        T0, "B/USDT", EventType.LIQUIDATION_RISK, CRIT,
        "B/USDT LONG is 1.68 % from liquidation (price 92.00, liquidation 90.45)",
        "Close the LONG now (x): it is liquidated at 90.45",
        {"distance_pct": 1.6823, "liquidation_price": pytest.approx(liq), "price": 92.0,
         "side": "LONG", "entry_price": 100.0, "quantity": 2.0, "leverage": 10.0,
         "margin": 20.0, "threshold_pct": 10.0})


def test_liquidation_text_under_one_percent_and_past_it() -> None:
    pos = position(Side.LONG)
    (near,) = detect(SymbolSnapshot("BTC/USDT", T0, price_at_distance(pos, 0.5)), [pos])
    assert "is 0.50 % from liquidation" in near.description
    (past,) = detect(SymbolSnapshot("BTC/USDT", T0, 80.0), [pos])
    assert past.description == ("BTC/USDT LONG is at or past its liquidation price "
                                "(price 80.00, liquidation 90.45)")


def test_liquidation_risk_on_an_asset_below_one_usdt() -> None:
    pos = Position("X/USDT", Side.LONG, [Entry(0.5, 200.0, 10.0, 10.0, 0.0, T0)], T0)
    liq = pos.liquidation_price(MMR)
    assert liq == pytest.approx(0.45 / 0.995)
    (e,) = detect(SymbolSnapshot("X/USDT", T0, 0.46), [pos])
    assert (e.event_type, e.severity) == (EventType.LIQUIDATION_RISK, CRIT)
    assert e.suggested_action == "Close the LONG now (x): it is liquidated at 0.4523"
    low, high = EventDetector().liquidation_quiet(pos, MMR)
    assert low == pytest.approx(liq / (1 - 0.10000001)) and high == math.inf


def test_liquidation_with_a_maintenance_rate_of_one_or_more_is_never_raised() -> None:
    for side in (Side.LONG, Side.SHORT):
        pos = position(side)
        for mmr in (1.0, 1.5):
            assert EventDetector().detect(SymbolSnapshot("BTC/USDT", T0, 50.0), [pos],
                                          mmr) == []
            assert EventDetector().liquidation_quiet(pos, mmr) == (0.0, math.inf)


def test_an_unliquidatable_position_is_quiet_even_with_a_band_over_100_percent() -> None:
    wide = EventDetector(EventThresholds(liquidation_risk_percent=150.0))
    unlevered = position(Side.LONG, leverage=1.0)  # liquidation price 0
    assert wide.detect(SymbolSnapshot("BTC/USDT", T0, 100.0), [unlevered], MMR) == []
    assert wide.liquidation_quiet(unlevered, MMR) == (0.0, math.inf)
    assert wide.liquidation_quiet(Position("BTC/USDT", Side.LONG), MMR) == (0.0, math.inf)


def test_liquidation_picks_the_nearest_of_several_positions_first_on_a_tie() -> None:
    unlevered = position(Side.LONG, leverage=1.0)
    risky = position(Side.LONG)
    price = price_at_distance(risky, 3.0)
    (e,) = detect(SymbolSnapshot("BTC/USDT", T0, price), [unlevered, risky])
    assert e.severity is HIGH and e.metrics["leverage"] == 10.0
    # Two stacks with the same liquidation price (entry − margin/q = 90): the first is kept.
    a = Position("BTC/USDT", Side.LONG, [Entry(100.0, 1.0, 10.0, 10.0, 0.0, T0)], T0)
    b = Position("BTC/USDT", Side.LONG, [Entry(95.0, 1.0, 5.0, 19.0, 0.0, T0)], T0)
    (e,) = detect(SymbolSnapshot("BTC/USDT", T0, 92.0), [a, b])
    assert e.metrics["entry_price"] == 100.0
    (e,) = detect(SymbolSnapshot("BTC/USDT", T0, 92.0), [b, a])
    assert e.metrics["entry_price"] == 95.0


def test_liquidation_quiet_range_figures() -> None:
    d = EventDetector()
    band = (10.0 + 1e-6) / 100.0
    long_pos, short_pos = position(Side.LONG), position(Side.SHORT)
    assert d.liquidation_quiet(long_pos, MMR) == (long_pos.liquidation_price(MMR) / (1 - band),
                                                  math.inf)
    assert d.liquidation_quiet(short_pos, MMR) == (0.0,
                                                   short_pos.liquidation_price(MMR) / (1 + band))
    # the widest band counts, whichever it is
    high_widest = EventDetector(EventThresholds(liquidation_risk_percent=2.0,
                                                liquidation_high_percent=9.0,
                                                liquidation_critical_percent=1.0))
    band9 = (9.0 + 1e-6) / 100.0
    assert high_widest.liquidation_quiet(long_pos, MMR)[0] == (
        long_pos.liquidation_price(MMR) / (1 - band9))


@pytest.mark.parametrize(("risk", "low_is_inf"), [
    (99.0, False), (100.0 - 1e-6, True), (100.0, True), (150.0, True)])  # band 1.0 at 100 − 1e-6
def test_liquidation_quiet_range_with_a_band_of_100_percent_or_more(risk: float,
                                                                    low_is_inf: bool) -> None:
    d = EventDetector(EventThresholds(liquidation_risk_percent=risk))
    low, high = d.liquidation_quiet(position(Side.LONG), MMR)
    assert high == math.inf and (low == math.inf) is low_is_inf
    assert low > 0


def test_same_tick_repeats_are_suppressed_by_the_cooldown() -> None:
    d = EventDetector()
    snap = SymbolSnapshot("BTC/USDT", T0, 97.0, {5: 100.0})
    assert len(d.detect(snap, [], MMR)) == 1
    assert d.cooling_down("BTC/USDT", EventType.FLASH_CRASH, T0)
    assert d.detect(snap, [], MMR) == []


def test_remember_keeps_the_latest_of_two_restored_events() -> None:
    d = EventDetector()
    d.remember(MarketEvent(T0 + 100, "BTC/USDT", EventType.FLASH_CRASH, MED, "", ""))
    d.remember(MarketEvent(T0, "BTC/USDT", EventType.FLASH_CRASH, MED, "", ""))
    assert d.cooling_down("BTC/USDT", EventType.FLASH_CRASH, T0 + 399)
    assert not d.cooling_down("BTC/USDT", EventType.FLASH_CRASH, T0 + 400)


def test_thresholds_from_settings_read_every_key() -> None:
    t = EventThresholds.from_settings(config.defaults(
        flash_move_percent=1.5, flash_high_percent=2.5, flash_critical_percent=4.5,
        volume_spike_ratio=3.0, volume_dry_ratio=0.4, volatility_spike_ratio=1.2,
        liquidation_risk_percent=12.0, liquidation_high_percent=6.0,
        liquidation_critical_percent=3.0, flash_cooldown_seconds=11.0,
        volume_spike_cooldown_seconds=12.0, volume_dry_cooldown_seconds=13.0,
        volatility_cooldown_seconds=14.0, liquidation_cooldown_seconds=15.0,
        event_repeat_minutes=7.0))
    assert t == EventThresholds(
        flash_move_percent=1.5, flash_high_percent=2.5, flash_critical_percent=4.5,
        volume_spike_ratio=3.0, volume_spike_high_ratio=4.5, volume_spike_critical_ratio=7.5,
        volume_dry_ratio=0.4, volume_dry_high_ratio=0.1, volatility_spike_ratio=1.2,
        volatility_high_ratio=pytest.approx(1.6), volatility_critical_ratio=2.4,
        liquidation_risk_percent=12.0, liquidation_high_percent=6.0,
        liquidation_critical_percent=3.0, flash_cooldown_seconds=11.0,
        volume_spike_cooldown_seconds=12.0, volume_dry_cooldown_seconds=13.0,
        volatility_cooldown_seconds=14.0, liquidation_cooldown_seconds=15.0,
        event_repeat_seconds=420.0)


def test_fmt_price_at_its_boundaries() -> None:
    assert [fmt_price(p) for p in (1_000.0, 999.994, 1.0, 0.99999, 1.5, -2.0)] == [
        "1,000", "999.99", "1.00", "1.0000", "1.50", "-2"]


def test_snapshot_fields_empty_stale_and_fresh() -> None:
    assert snapshot(CandleWindow(), "A/B", T0, 5.0) == SymbolSnapshot("A/B", T0, 5.0, {})
    w = flat_window(30)
    stale = snapshot(w, "A/B", live_ts(w) + 3600, 99.0)
    assert stale == SymbolSnapshot("A/B", live_ts(w) + 3600, 99.0, {})
    gap = snapshot(w, "A/B", live_ts(w) + 200, 99.0)  # lookbacks still found, statistics not
    assert gap == SymbolSnapshot("A/B", live_ts(w) + 200, 99.0, {1: 100.0, 5: 100.0, 15: 100.0})
    fresh = snapshot(w, "A/B", live_ts(w) + 5, 99.0)
    assert (fresh.symbol, fresh.ts, fresh.price) == ("A/B", live_ts(w) + 5, 99.0)
    assert fresh.price_ago == {1: 100.0, 5: 100.0, 15: 100.0}


def test_snapshot_drops_lookbacks_at_zero_but_keeps_sub_one_prices() -> None:
    w = CandleWindow()
    w.extend([bar(T0 + 60 * i, 0.5) for i in range(10)])
    w.update(Candle(T0 + 60 * 7, 0.0, 0.0, 0.0, 0.0, 1.0))  # a revised bar closing at 0
    snap = snapshot(w, "A/B", live_ts(w) + 30, 0.5)
    assert snap.price_ago == {5: 0.5}
    assert w.price_ago(1, live_ts(w) + 30) == 0.0


def test_revising_the_first_bar_recomputes_from_its_own_range() -> None:
    w = CandleWindow(atr_period=3, min_baseline_bars=3)
    bars = [bar(T0 + 60 * i, 100.0 + i, rng=1.0 + i) for i in range(10)]
    w.extend(bars)
    revised = Candle(T0, 100.0, 100.5, 99.5, 100.0, 50.0)  # far from the live close: its TR
    # is its own range, never a distance to some other bar's close
    assert w.update(revised)
    bars[0] = revised
    now = live_ts(w) + 30
    assert_same(observed(w, now), reference(bars, w, now))


def test_revising_a_bar_after_the_window_compacted() -> None:
    w = CandleWindow(baseline_seconds=600, atr_period=3, min_baseline_bars=3)
    rnd = random.Random(3)
    bars = [Candle(T0 + 60 * i, 100.0, 100.0 + rnd.random() * 5, 100.0 - rnd.random() * 5,
                   100.0 + rnd.random(), rnd.random() * 100) for i in range(300)]
    w.extend(bars)
    assert len(w) < 300  # compacted: the oldest bars are gone
    for back in (2, 5, 20):
        old = bars[-back]
        # 20 higher: its true range is now its distance from the previous close, and the
        # next bar's true range its distance from this close
        new = Candle(old.ts, old.open + 20.0, old.high + 27.0, old.low + 17.0, old.close + 21.0,
                     old.volume + 40.0)
        assert w.update(new)
        bars[-back] = new
        now = live_ts(w) + 30
        assert_same(observed(w, now), reference(bars, w, now))
    assert w.update(bars[0]) is False  # compacted away: refused


@pytest.mark.parametrize("kwargs", [
    {"bar_seconds": 0.0}, {"bar_seconds": -60.0}, {"baseline_seconds": 59.0},
    {"bar_seconds": -1.0, "baseline_seconds": 600.0},
])
def test_window_refuses_a_bad_bar_or_baseline(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError) as exc:
        CandleWindow(**kwargs)  # type: ignore[arg-type]
    assert str(exc.value) == "need bar_seconds > 0 and baseline_seconds >= bar_seconds"


@pytest.mark.parametrize("kwargs", [
    {"atr_period": 0}, {"min_baseline_bars": 0}, {"resync_every": 0},
    {"atr_period": 0, "min_baseline_bars": 5, "resync_every": 5},
])
def test_window_refuses_counts_below_one(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError) as exc:
        CandleWindow(**kwargs)  # type: ignore[arg-type]
    assert str(exc.value) == "atr_period, min_baseline_bars and resync_every must be >= 1"


def test_window_accepts_the_smallest_valid_settings() -> None:
    w = CandleWindow(bar_seconds=0.5, baseline_seconds=0.5, atr_period=1, min_baseline_bars=1,
                     resync_every=1)
    assert w.extend([bar(T0, 1.0), bar(T0 + 0.5, 2.0), bar(T0 + 1.0, 3.0)]) == 3
    assert w.atr_short() == 1.5  # Wilder(1) is the last true range: |high − previous close|


def test_volume_baseline_is_capped_at_a_full_day_of_bars() -> None:
    # 1,441 baseline bars, the oldest with volume 1,540: only the latest 1,440 count.
    w = CandleWindow()
    w.update(bar(T0, 100.0, 1_540.0))
    w.update(bar(T0 + 60, 100.0, 1_540.0))
    w.extend(bar(T0 + 60 * i, 100.0, 100.0) for i in range(2, 1441))
    w.update(bar(T0 + 60 * 1441, 100.0, 100.0))  # the reference bar
    w.update(bar(T0 + 60 * 1442, 100.0, 1.0))  # live
    assert w.average_volume() == pytest.approx((1_439 * 100.0 + 1_540.0) / 1_440)


def test_long_atr_is_the_last_day_of_true_ranges() -> None:
    # 1,442 sealed bars on the minute; bars 1 and 2 have range 101: only the latest 1,440
    # count (bars 2 to 1,441), so one of the wide ones.
    w = CandleWindow()
    w.update(bar(T0, 100.0))
    w.update(bar(T0 + 60, 100.0, rng=101.0))
    w.update(bar(T0 + 120, 100.0, rng=101.0))
    w.extend(bar(T0 + 60 * i, 100.0) for i in range(3, 1443))
    assert w.atr_long() == pytest.approx((1_439 * 1.0 + 101.0) / 1_440)


def test_long_atr_drops_the_bar_exactly_a_day_old_across_a_hole() -> None:
    # One minute missing: the cap of 1,440 bars does not bind, the 24 h cutoff does (a bar
    # exactly 24 h older than the latest sealed one is out).
    w = CandleWindow()
    w.update(bar(T0, 100.0))
    w.update(bar(T0 + 60, 100.0, rng=1_441.0))  # exactly 24 h before the last sealed bar
    w.extend(bar(T0 + 60 * i, 100.0) for i in range(2, 1443) if i != 700)
    assert w.atr_long() == pytest.approx(1.0)


def test_caps_bind_when_bars_come_faster_than_their_length() -> None:
    # 30 s bars in a 60 s/600 s window: the time cutoff would keep 20, the cap keeps 10.
    w = CandleWindow(bar_seconds=60, baseline_seconds=600, atr_period=3, min_baseline_bars=3)
    w.update(bar(T0, 100.0, rng=1.0))
    for i in range(1, 40):
        w.update(bar(T0 + 30 * i, 100.0, volume=100.0 + i, rng=1.0 + i))
    sealed = list(range(39))  # bars 0..38 are sealed; 38 is the reference
    assert w.atr_long() == pytest.approx(sum(1.0 + i for i in sealed[-10:]) / 10)
    assert w.average_volume() == pytest.approx(sum(100.0 + i for i in sealed[-11:-1]) / 10)
    one = CandleWindow(bar_seconds=60, baseline_seconds=60, min_baseline_bars=1)
    one.extend(bar(T0 + 30 * i, 100.0, volume=10.0 * i) for i in range(5))
    assert one.average_volume() == 20.0  # the one bar before the reference (bar 3)


def test_resync_removes_the_drift_of_the_running_sums() -> None:
    # A 1e17 volume swamps the later ones in a running float sum; once it has left the
    # baseline, re-summing gives the small volumes back exactly.
    w = CandleWindow(baseline_seconds=300, min_baseline_bars=1, resync_every=2)
    w.update(bar(T0, 100.0, 1e17))
    w.extend(bar(T0 + 60 * i, 100.0, 3.0) for i in range(1, 15))
    assert w.average_volume() == 3.0


def test_compaction_keeps_the_bars_lookbacks_need() -> None:
    w = CandleWindow(baseline_seconds=60, min_baseline_bars=1)
    w.extend(bar(T0 + 60 * i, 100.0 + i) for i in range(200))
    assert len(w) < 200  # compacted
    now = live_ts(w) + 30
    assert w.price_ago(15, now) == 100.0 + 199 - 16
    assert snapshot(w, "A/B", now, 1.0).price_ago == {1: 297.0, 5: 293.0, 15: 283.0}


def test_wilder_atr_with_a_long_period_across_compactions() -> None:
    w = CandleWindow(baseline_seconds=600, atr_period=200, min_baseline_bars=3)
    bars = [bar(T0 + 60 * i, 100.0, rng=1.0 + (i % 7)) for i in range(400)]
    w.extend(bars[:150])
    assert w.atr_short() is None  # 149 sealed bars < 200
    w.extend(bars[150:])
    assert len(w) < 300
    now = live_ts(w) + 30
    assert_same(observed(w, now), reference(bars, w, now))


def test_revising_the_oldest_stored_bar_after_compaction_is_refused() -> None:
    w = CandleWindow(baseline_seconds=600, atr_period=3, min_baseline_bars=3)
    w.extend(bar(T0 + 60 * i, 100.0) for i in range(300))
    first, second = w.candles()[:2]
    assert w.update(bar(first.ts, 90.0)) is False  # its previous close is gone
    assert w.update(bar(second.ts, 90.0)) is True
    assert w.candles()[1] == bar(second.ts, 90.0)


# ---- issue 24, second pass: the price-only check, the kept liquidation facts, escalations of
# volume and volatility, a restored tie, columns out of order


def long_20x(price: float = 100.0, qty: float = 1.0) -> Position:
    """A 20x long: its liquidation sits ~4.5 % below its entry."""
    return Position("BTC/USDT", Side.LONG, [Entry(price, qty, price * qty / 20.0, 20.0, 0.0, T0)],
                    T0)


def test_detect_price_is_detect_on_a_bare_snapshot_for_any_position_size_and_price() -> None:
    # one unit, a fraction of a unit, an asset below 1 USDT: each near its liquidation
    for pos, price in ((long_20x(), 97.0), (long_20x(qty=0.25), 97.0),
                       (long_20x(0.5, 1_000.0), 0.485)):
        d, ref = EventDetector(), EventDetector()
        found = d.detect_price("BTC/USDT", T0, price, pos, MMR)
        assert found is not None and found.event_type is EventType.LIQUIDATION_RISK
        assert [found] == ref.detect(SymbolSnapshot("BTC/USDT", T0, price), [pos], MMR)


def test_detect_price_without_a_position_or_a_usable_price_is_silent() -> None:
    d = EventDetector()
    assert d.detect_price("BTC/USDT", T0, 97.0, None, MMR) is None
    empty = Position("BTC/USDT", Side.LONG, [], T0)  # no quantity
    assert d.detect_price("BTC/USDT", T0, 97.0, empty, MMR) is None
    for bad in (0.0, -1.0, math.nan, math.inf, -math.inf):
        assert d.detect_price("BTC/USDT", T0, bad, long_20x(), MMR) is None
        assert d.detect(SymbolSnapshot("BTC/USDT", T0, bad), [long_20x()], MMR) == []


def test_liquidation_facts_follow_the_entries_and_the_margin_rate() -> None:
    d = EventDetector(EventThresholds(liquidation_cooldown_seconds=1.0))
    pos = long_20x()
    first = d.detect_price("BTC/USDT", T0, 97.0, pos, MMR)
    pos.entries.append(Entry(98.0, 1.0, 4.9, 20.0, 0.0, T0 + 1))  # stacked: liq moves up
    second = d.detect_price("BTC/USDT", T0 + 10, 97.0, pos, MMR)
    other = d.detect_price("BTC/USDT", T0 + 20, 97.0, pos, 0.02)  # another margin rate
    assert first is not None and second is not None and other is not None
    assert first.metrics["liquidation_price"] == long_20x().liquidation_price(MMR)
    assert second.metrics["liquidation_price"] == pos.liquidation_price(MMR)
    assert second.metrics["quantity"] == 2.0 and second.metrics["entry_price"] == 99.0
    assert other.metrics["liquidation_price"] == pos.liquidation_price(0.02)
    assert len({first.metrics["liquidation_price"], second.metrics["liquidation_price"],
                other.metrics["liquidation_price"]}) == 3


def volume_snap(ts: float, ratio: float) -> SymbolSnapshot:
    return SymbolSnapshot("BTC/USDT", ts, 100.0, volume_ratio=ratio)


def volatility_snap(ts: float, ratio: float) -> SymbolSnapshot:
    return SymbolSnapshot("BTC/USDT", ts, 100.0, atr_short=ratio, atr_long=1.0)


@pytest.mark.parametrize(("kind", "make", "ratios"), [
    (EventType.VOLUME_SPIKE, volume_snap, (2.1, 2.2, 6.0, 2.1)),
    (EventType.VOLATILITY_SPIKE, volatility_snap, (1.6, 1.7, 3.5, 1.6)),
])
def test_a_volume_or_volatility_spike_that_grows_inside_its_cooldown_is_raised(
        kind: EventType, make: Callable[[float, float], SymbolSnapshot],
        ratios: tuple[float, ...]) -> None:
    """MEDIUM, the same band 10 s later (held back), CRITICAL (raised at once), eased (held)."""
    d = EventDetector()
    seen = [[e.severity for e in d.detect(make(T0 + 10 * k, r), [], MMR) if e.event_type is kind]
            for k, r in enumerate(ratios)]
    assert seen == [[MED], [], [CRIT], []]


def test_of_two_remembered_events_at_one_time_the_later_holds_back() -> None:
    d = EventDetector()
    d.remember(MarketEvent(T0, "BTC/USDT", EventType.LIQUIDATION_RISK, MED, "", ""))
    d.remember(MarketEvent(T0, "BTC/USDT", EventType.LIQUIDATION_RISK, CRIT, "", ""))
    assert d.cooling_down("BTC/USDT", EventType.LIQUIDATION_RISK, T0 + 1, HIGH)

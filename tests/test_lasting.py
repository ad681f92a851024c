"""A lasting condition is news once (SPEC §9, issue 21 point 5): raised once, then counted in
place; raised again when it escalates, after `event_repeat_minutes`, or for a new position;
persisted each time it is raised."""

from __future__ import annotations

from pathlib import Path

from autotrade_tui.core.lasting import LastingConditions
from autotrade_tui.core.models import EventType, MarketEvent, Severity, Side
from autotrade_tui.runtime.updates import EventOngoing, EventRaised
from tests.runtime_fixtures import make_runtime
from tests.tui_fixtures import rows

LIQ = EventType.LIQUIDATION_RISK
M, H, C = Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL


def risk(ts: float, severity: Severity, entry: float = 100.0) -> MarketEvent:
    return MarketEvent(ts, "BTC/USDT", LIQ, severity, "BTC/USDT LONG is 4 % from liquidation",
                       "x closes it", {"side": "LONG", "entry_price": entry})


def raised_at(lasting: LastingConditions, *events: MarketEvent) -> list[float]:
    return [e.ts for e in events if lasting.sift([e])[0]]


def test_same_severity_is_raised_once_then_again_after_the_repeat_time() -> None:
    lasting = LastingConditions(1800.0, lambda _kind: 180.0)
    seen = [risk(t, H) for t in range(0, 3601, 120)]  # every cooldown for an hour
    assert raised_at(lasting, *seen) == [0, 1800, 3600]
    assert lasting.ongoing[("BTC/USDT", LIQ, "LONG@100")].count == 31


def test_escalation_is_raised_at_once_an_easing_is_not() -> None:
    lasting = LastingConditions(1800.0, lambda _kind: 180.0)
    got = raised_at(lasting, risk(0, M), risk(120, H), risk(240, M), risk(360, H),
                    risk(480, C), risk(600, C))
    assert got == [0, 120, 480]
    # an eased sighting keeps the severity its line was raised with
    _raised, updated = lasting.sift([risk(720, H)])
    assert updated[0].event.severity is C and updated[0].since == 0


def test_a_condition_that_went_away_or_a_new_position_is_news_again() -> None:
    lasting = LastingConditions(1800.0, lambda _kind: 180.0)
    assert raised_at(lasting, risk(0, H), risk(120, H), risk(500, H)) == [0, 500]
    assert raised_at(lasting, risk(600, H, entry=90.0)) == [600]  # another position


async def test_a_lasting_liquidation_risk_is_persisted_once_and_updated_in_place(
        tmp_path: Path) -> None:
    runtime = await make_runtime(tmp_path, event_repeat_minutes=30.0,
                                 stop_loss_percent=0.0, take_profit_percent=0.0)
    raised: list[MarketEvent] = []
    ongoing: list[EventOngoing] = []
    runtime.subscribe(lambda u: raised.append(u.event) if isinstance(u, EventRaised)
                      and u.event.event_type is LIQ else ongoing.append(u)
                      if isinstance(u, EventOngoing) and u.event.event_type is LIQ else None)
    try:
        await runtime.monitor_tick()
        await runtime.manual_open("BTC/USDT", Side.LONG)  # 20x: ~4.5 % from liquidation
        for _ in range(40):  # 20 minutes, a tick every 30 s
            runtime.clock.advance(30)  # type: ignore[attr-defined]
            await runtime.monitor_tick()
    finally:
        await runtime.close()
    assert "BTC/USDT" in runtime.engine.positions
    assert [e.symbol for e in raised] == ["BTC/USDT"]  # once, not every 2 minutes
    assert len(ongoing) >= 5 and ongoing[-1].raised_ts == raised[0].ts
    assert ongoing[-1].count == len(ongoing) + 1 and ongoing[-1].since == raised[0].ts
    assert rows(tmp_path / "rt.db", "SELECT COUNT(*) FROM market_events WHERE "
                "event_type = 'LIQUIDATION_RISK'") == [(1,)]


def test_on_five_minute_bars_a_risk_seen_every_bar_is_one_condition() -> None:
    """A 5-minute replay shows a price once a bar: a liquidation risk (cooldown 2 min) sighted
    on consecutive bars has not gone away in between (it was raised on every bar before)."""
    from autotrade_tui.core.clock import VirtualClock
    from autotrade_tui.core.events import EventThresholds
    from autotrade_tui.market.replay import ReplayFeed
    from autotrade_tui.runtime.monitor import EventMonitor
    from tests.test_coarse_events import BTC, crashed

    feed = ReplayFeed(crashed(), VirtualClock(0), BTC)
    monitor = EventMonitor(feed, BTC, EventThresholds(), 0.005)
    assert monitor.bar_seconds == 300
    seen = [risk(t, H) for t in range(0, 3601, 300)]  # one sighting a bar for an hour
    assert raised_at(monitor.lasting, *seen) == [0, 1800, 3600]
    # gone for a bar and more than a minute: the next sighting is news again
    assert raised_at(monitor.lasting, risk(3600 + 361 + 300, H)) == [4261]
    # on 1-minute bars the detector's cooldown still decides (unchanged)
    live = EventMonitor(ReplayFeed(crashed(step=60), VirtualClock(0), BTC), BTC,
                        EventThresholds(), 0.005)
    assert live.bar_seconds == 60
    assert raised_at(live.lasting, risk(0, H), risk(120, H), risk(500, H)) == [0, 500]

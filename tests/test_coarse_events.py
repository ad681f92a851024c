"""Backtests see what their bars can show (SPEC §9): on 5-minute candles the detectors run on the
windows those bars allow, so a crash in the data raises its FLASH_CRASH in the backtest as it
does live, and event-triggered decisions fire in the backtest; the screen that spares the
backtest reading the window at quiet bars never hides an event."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from autotrade_tui.ai.offline import MeanReverter, TrendFollower
from autotrade_tui.backtest import runner
from autotrade_tui.backtest.history import load_file
from autotrade_tui.backtest.runner import Backtest
from autotrade_tui.config import defaults
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.core.events import CandleWindow, EventDetector, EventThresholds, snapshot
from autotrade_tui.core.models import Candle, EventType, Severity
from autotrade_tui.market.replay import ReplayFeed
from autotrade_tui.runtime.monitor import EventMonitor, flash_windows
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.runtime.updates import EventRaised
from autotrade_tui.store.store import Store
from tests.test_backtest import T0, market, write
from tests.test_backtest_parity import request

CRASH_BAR = 330  # more than a day of 5-minute bars before it: volume and ATR baselines full
BTC = ["BTC/USDT"]


def crashed(n: int = 400, step: int = 300) -> pd.DataFrame:
    """BTC with one bar closing 7 % below its open; the path goes on from there."""
    df = market(n=n, symbols=BTC, step=step).reset_index(drop=True)
    k = CRASH_BAR
    after = df.index > k
    for col in ("open", "high", "low", "close"):
        df.loc[after, col] *= 0.93
    o = df.at[k, "open"]
    df.loc[k, ["close", "low", "high"]] = [o * 0.93, o * 0.929, o * 1.0005]
    return df


def test_flash_windows_are_those_the_bars_allow() -> None:
    assert flash_windows(60) == (1, 5, 15)
    assert flash_windows(300) == (5, 15)  # a 1-minute move cannot be read from 5m closes
    assert flash_windows(900) == (15,)
    assert flash_windows(3600) == ()
    feed = ReplayFeed(crashed(), VirtualClock(0), BTC)  # the feed's own bars: 5 minutes
    monitor = EventMonitor(feed, BTC, EventThresholds(), 0.005)
    assert (monitor.bar_seconds, monitor.timeframe, monitor.history_bars) == (300, "5m", 348)


async def test_a_crash_bar_raises_flash_crash_critical_in_the_backtest(tmp_path: Path) -> None:
    data = write(crashed(), tmp_path / "crash.csv")
    history = load_file(request(data, symbols=BTC))
    models = (TrendFollower(), MeanReverter())
    out = await Backtest(defaults(symbols=BTC), history, models).run()
    close_time = T0 + (CRASH_BAR + 1) * 300  # the bar is known at its close
    crash = [e for e in out.events if e.event_type is EventType.FLASH_CRASH]
    assert crash and crash[0].ts == close_time
    assert crash[0].severity is Severity.CRITICAL
    # the largest of its 5- and 15-minute moves (the bar's own −7 %, a little more over 15)
    assert crash[0].metrics["window_min"] in (5, 15) and crash[0].metrics["change_pct"] <= -7.0
    assert crash[0].description.startswith("BTC/USDT fell 7.")
    # the 15-minute window still spans the fall for two more bars: one lasting condition,
    # news once (SPEC §9), as live
    assert all(e.ts > close_time + 600 for e in crash[1:])
    kinds = {e.event_type for e in out.events if e.ts == close_time}
    assert EventType.VOLATILITY_SPIKE in kinds  # ATR on the same 5-minute bars
    assert not any(e.ts < T0 + 300 for e in out.events)

    # Event-triggered decisions: each CRITICAL moment asks for one more decision, as live.
    on = await Backtest(defaults(symbols=BTC, event_triggered_decisions=True), history,
                        models).run()
    off = await Backtest(defaults(symbols=BTC, event_triggered_decisions=False), history,
                         models).run()
    critical = {e.ts for e in on.events if e.severity is Severity.CRITICAL}
    assert close_time in critical
    assert on.counts["decisions"] == off.counts["decisions"] + len(critical)


async def test_the_live_runtime_raises_the_same_events(tmp_path: Path) -> None:
    df = crashed()
    df = df[(df.index < 300) | (df.index > 305)]  # a hole: live seals an empty bar for it
    data = write(df, tmp_path / "crash.csv")
    settings = defaults(market_source="replay", replay_file=str(data), symbols=BTC,
                        database_url=str(tmp_path / "live.db"), fundamentals_enabled=False,
                        offline_models=True)
    history = load_file(request(data, symbols=BTC))
    back = await Backtest(settings, history, (TrendFollower(), MeanReverter())).run()
    clock = VirtualClock(T0)
    rt = await Runtime.open(settings, clock=clock, feed=ReplayFeed(data, clock, BTC),
                            store=Store(tmp_path / "live.db", writer=True))
    raised = []
    rt.subscribe(lambda u: raised.append(u.event) if isinstance(u, EventRaised) else None)
    await rt.monitor.prime()
    for k in range(1, 401):
        clock.set(T0 + 300 * k)
        await rt.monitor_tick()
        await rt.decision_cycle()
    await rt.close()
    seen = [(e.ts, e.event_type, e.severity, e.description) for e in raised]
    assert seen == [(e.ts, e.event_type, e.severity, e.description) for e in back.events]
    assert (T0 + (CRASH_BAR + 1) * 300, EventType.FLASH_CRASH, Severity.CRITICAL) in \
        [s[:3] for s in seen]


@pytest.mark.parametrize(("step", "timeframe"), [(300, "5m"), (300, "15m"), (60, "1m")])
async def test_the_screen_never_hides_an_event(tmp_path: Path, step: int, timeframe: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    df = crashed(n=700, step=step)
    df.loc[500, "volume"] *= 9  # a volume spike
    df.loc[560:620, "volume"] *= 0.05  # a drought
    df = df[(df.index < 600) | (df.index > 606)]  # a hole of 7 bars
    data = write(df, tmp_path / "m.csv")
    secs = {"1m": 60, "5m": 300, "15m": 900}[timeframe]
    history = load_file(request(data, symbols=BTC, timeframe=timeframe, bar_seconds=secs))
    settings = defaults(symbols=BTC, leverage=50.0, position_size_percent=10.0)
    models = (TrendFollower(), MeanReverter())
    screened = await Backtest(settings, history, models).run()
    with monkeypatch.context() as m:  # irregular bars: the screen's own sums, a fed window
        m.setattr(runner, "fits", lambda *a: False)
        own = await Backtest(settings, history, models).run()
    monkeypatch.setattr(runner, "screen", lambda ts, *a: [True] * len(ts))
    everywhere = await Backtest(settings, history, models).run()
    assert screened.events == everywhere.events == own.events
    kinds = {e.event_type for e in screened.events}
    assert {EventType.FLASH_CRASH, EventType.VOLUME_SPIKE, EventType.VOLUME_DRY} <= kinds
    assert EventType.VOLATILITY_SPIKE in kinds or timeframe == "15m"  # 15m: 1 bar in 3 falls
    assert screened.trades == everywhere.trades and screened.equity == everywhere.equity


@pytest.mark.parametrize(("bar", "label"), [(60, "1m"), (300, "5m"), (900, "15m"),
                                            (90, "1.5m"), (3600, "1h"), (14_400, "4h"),
                                            (5400, "1.5h")])
def test_event_texts_name_the_windows_bar_length(bar: int, label: str) -> None:
    """A volume or volatility event says which bars it measured ("last 5m bar", "5m bars")."""
    win = CandleWindow(bar_seconds=bar, baseline_seconds=max(86_400.0, 200 * bar),
                       min_baseline_bars=5, atr_period=3)
    for k in range(40):  # calm bars, then one with ten times the volume and range
        c = 100.0 + (k % 2)
        win.update(Candle(T0 + k * bar, c, c + 0.5, c - 0.5, c, 10.0))
    big = T0 + 40 * bar
    win.update(Candle(big, 100.0, 110.0, 95.0, 101.0, 100.0))
    win.update(Candle(big + bar, 101.0, 101.0, 101.0, 101.0, 0.0))  # the next bar opens
    snap = snapshot(win, "BTC/USDT", big + bar, 101.0)
    assert snap.bar == label
    events = {e.event_type: e for e in EventDetector().detect(snap, [], 0.005)}
    assert f"(last {label} bar 100.00 vs average 10.00)" in \
        events[EventType.VOLUME_SPIKE].description
    assert events[EventType.VOLATILITY_SPIKE].description.endswith(f"({label} bars)")


@pytest.mark.parametrize(("step", "timeframe"), [(300, "5m"), (60, "1m")])
async def test_the_window_series_reads_what_the_fed_window_reads(
        tmp_path: Path, step: int, timeframe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The backtest reads its window's `WindowSeries` (computed over the series at once); fed
    bar by bar instead (`_feed_window`, as for irregular bars), the same events, trades and
    equity, across holes (each an empty bar in the window), read everywhere."""
    df = crashed(n=900, step=step)
    df.loc[500, "volume"] *= 9
    df.loc[560:620, "volume"] *= 0.05
    df = df[(df.index < 600) | (df.index > 606)]  # a hole of 7 bars
    df = df[(df.index < 700) | (df.index > 701)]  # and one of 2
    data = write(df, tmp_path / "m.csv")
    history = load_file(request(data, symbols=BTC, timeframe=timeframe, bar_seconds=step))
    settings = defaults(symbols=BTC, leverage=50.0, position_size_percent=10.0)
    models = (TrendFollower(), MeanReverter())
    monkeypatch.setattr(runner, "screen", lambda ts, *a: [True] * len(ts))
    bt = Backtest(settings, history, models)
    series = await bt.run()
    assert all(s.window is not None for s in bt._by_name.values())
    monkeypatch.setattr(runner, "fits", lambda *a: False)
    fed = Backtest(settings, history, models)
    window = await fed.run()
    assert all(s.window is None for s in fed._by_name.values())
    assert len(series.events) > 20 and series.events == window.events
    assert series.trades == window.trades and series.equity == window.equity

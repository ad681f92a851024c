"""A replay played live (`--market replay`) plays its data's own time, and a restarted one goes
on where its account stopped (SPEC §5.2 Restarts, §5.3; issue 21 point 2): its clock never
goes behind the newest record in the database and its prices continue from the last marks, so
a restart is never a jump in equity without a trade."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from autotrade_tui.config import defaults
from autotrade_tui.core.clock import ScaledClock, VirtualClock
from autotrade_tui.core.models import Side
from autotrade_tui.market.replay import WARMUP_BARS, ReplayFeed
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.store.store import Store

SYMBOLS = ["BTC/USDT", "ETH/USDT"]
START = 1_717_200_000.0  # 2024-06-01 00:00 UTC: long before the wall clock
BAR = 300.0
BARS = 3 * 288  # three days of 5-minute bars


def write_data(path: Path) -> Path:
    rng = np.random.default_rng(7)
    lines = ["timestamp,symbol,open,high,low,close,volume"]
    for symbol, level in (("BTC/USDT", 67_000.0), ("ETH/USDT", 3_500.0)):
        close = level * np.exp(np.cumsum(rng.normal(0, 0.003, BARS)))
        opens = np.concatenate([[level], close[:-1]])
        for i in range(BARS):
            o, c = opens[i], close[i]
            lines.append(f"{START + BAR * i:.0f},{symbol},{o:.2f},{max(o, c) * 1.001:.2f},"
                         f"{min(o, c) * 0.999:.2f},{c:.2f},{rng.uniform(5, 50):.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def replay_settings(tmp_path: Path, data: Path) -> object:
    return defaults(market_source="replay", replay_file=str(data), symbols=SYMBOLS,
                    database_url=str(tmp_path / "r.db"), speed=60.0, offline_models=True,
                    fundamentals_enabled=False)


def test_a_live_clock_starts_at_the_datas_time_and_a_told_one_is_left_alone(
        tmp_path: Path) -> None:
    data = write_data(tmp_path / "two.csv")
    scaled = ScaledClock(60.0)
    feed = ReplayFeed(data, scaled, SYMBOLS).cued()
    first = START + BAR * WARMUP_BARS  # WARMUP_BARS bars closed
    assert feed.first_live_ts == first
    assert first <= scaled.now() < first + 60.0  # a second of wall time at most
    told = VirtualClock(START + 5 * BAR)
    ReplayFeed(data, told, SYMBOLS).cued()
    assert told.now() == START + 5 * BAR
    short = tmp_path / "short.csv"
    short.write_text("timestamp,open,high,low,close,volume\n"
                     + "".join(f"{START + BAR * i:.0f},1,2,0.5,1.5,1\n" for i in range(10)))
    assert ReplayFeed(short, VirtualClock(), ["BTC/USDT"]).first_live_ts == START + 5 * BAR


def test_start_at_never_goes_behind_what_not_before_asked_for() -> None:
    clock = ScaledClock(1.0)
    clock.start_at(START)
    assert START <= clock.now() < START + 5
    clock.not_before(START + 3_600)
    assert clock.floor == START + 3_600
    clock.start_at(START)  # a replay cued after a restart's resume: the newest record wins
    assert START + 3_600 <= clock.now() < START + 3_605
    clock.not_before(START)  # an older record lowers nothing
    assert clock.floor == START + 3_600


async def test_a_live_replay_plays_fresh_prices_from_its_data(tmp_path: Path) -> None:
    data = write_data(tmp_path / "d.csv")
    rt = await Runtime.open(replay_settings(tmp_path, data))
    try:
        await rt.monitor_tick()
        now = rt.clock.now()
        assert START + BAR * WARMUP_BARS <= now < START + BAR * (WARMUP_BARS + 1)
        assert set(rt.prices()) == set(SYMBOLS)
        assert not rt.status().stale  # the bar that closed at the start: fresh
    finally:
        await rt.close()


async def test_a_restarted_replay_goes_on_from_its_newest_record_and_last_marks(
        tmp_path: Path) -> None:
    data = write_data(tmp_path / "d.csv")
    settings = replay_settings(tmp_path, data)
    # A first run got a day into the data (played on a told clock, as a fast run would).
    clock = VirtualClock(START + BAR * WARMUP_BARS)
    first = await Runtime.open(settings, clock=clock, feed=ReplayFeed(data, clock, SYMBOLS),
                               store=Store(tmp_path / "r.db", writer=True))
    await first.monitor_tick()
    await first.manual_open("BTC/USDT", Side.LONG)
    await first.manual_open("ETH/USDT", Side.SHORT)
    clock.advance(24 * 3600 + 40)  # prices moved away from where they opened
    await first.monitor_tick()
    marks, equity = first.prices(), first.engine.equity(first.prices())
    stopped_at = clock.now()
    await first.close()

    # The restart builds its own clock and feed from the settings, as the command line does.
    again = await Runtime.open(settings)
    try:
        assert isinstance(again.clock, ScaledClock)
        assert stopped_at <= again.clock.now() < stopped_at + BAR  # not the data's start
        await again.monitor_tick()
        assert again.prices() == marks  # the same bar of the same file
        assert again.engine.equity(again.prices()) == pytest.approx(equity, abs=0.01)
    finally:
        await again.close()


def test_a_restart_on_another_file_says_its_marks_are_not_the_files(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = write_data(tmp_path / "d.csv")
    feed = ReplayFeed(data, VirtualClock(START + BAR * WARMUP_BARS), SYMBOLS)
    with caplog.at_level(logging.WARNING, logger="autotrade_tui.market.replay"):
        feed.continue_from({"BTC/USDT": 1.0, "ETH/USDT": 0.0, "DOGE/USDT": 0.1})
    assert len(caplog.records) == 1 and "BTC/USDT was last marked at 1" in caplog.text
    caplog.clear()
    now = START + BAR * WARMUP_BARS
    same = {s: float(feed.frame(s)["close"].iat[WARMUP_BARS - 1]) for s in SYMBOLS}
    assert feed.clock.now() == now
    with caplog.at_level(logging.WARNING, logger="autotrade_tui.market.replay"):
        feed.continue_from(same)  # the file's own prices: nothing to say
    assert caplog.records == []


async def test_a_live_replay_is_fresh_between_closes_and_stale_past_its_end(
        tmp_path: Path) -> None:
    """A replay's price is a bar's close: between two closes it is as fresh as the data can
    be (no STALE in the header every bar); past the file's last bar it goes stale."""
    data = write_data(tmp_path / "two.csv")
    settings = replay_settings(tmp_path, data)
    clock = VirtualClock(START + BAR * WARMUP_BARS)
    feed = ReplayFeed(data, clock, SYMBOLS)
    rt = await Runtime.open(settings, clock=clock, feed=feed, store=Store(tmp_path / "r.db",
                                                                          writer=True))
    try:
        limit = float(settings.stale_after_seconds)  # type: ignore[attr-defined]
        for into_bar in (0.0, limit + 1, BAR - 1):  # past stale_after, but not past the bar
            clock.set(START + BAR * (WARMUP_BARS + 10) + into_bar)
            await rt.monitor_tick()
            assert rt.stale == frozenset(), into_bar
        clock.set(START + BAR * BARS + limit + 1)  # the last bar closed at START + BAR * BARS
        await rt.monitor_tick()
        assert rt.stale == frozenset()  # no later bar expected yet: its price is the last one
        clock.set(START + BAR * (BARS + 1) + limit + 1)  # the next close passed with no bar
        await rt.monitor_tick()
        assert rt.stale == frozenset(SYMBOLS)
    finally:
        await rt.close()

"""Bounded memory for a year of running (SPEC §10 "Runs for a year"): the simulated market keeps
a fixed window of 1-minute bars, and dropping the old ones changes no price or candle."""

from __future__ import annotations

import asyncio

import pytest

from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.market import sim as sim_mod
from autotrade_tui.market.sim import CHUNK_MINUTES, KEEP_MINUTES, SimMarket

T0 = 1_750_000_000.0
SYMBOLS = ["BTC/USDT", "SOL/USDT"]
DAYS = 25


def _walk(monkeypatch: pytest.MonkeyPatch | None, profile: str) -> tuple[list, list[int]]:
    """Tickers and candles read every ~6 hours over DAYS simulated days; the bar counts."""
    clock = VirtualClock(T0)
    market = SimMarket(SYMBOLS, clock, seed=11, profile=profile)
    seen: list = []
    sizes: list[int] = []
    for step in range(DAYS * 4):
        clock.advance(6 * 3600 + 37.0)
        seen.append(asyncio.run(market.fetch_tickers(SYMBOLS)))
        if step % 8 == 0 or step == DAYS * 4 - 1:
            for tf, n in (("1m", 50), ("15m", 960), ("1h", 240), ("1d", 10)):
                seen.append(market.candles("SOL/USDT", tf, n))
            seen.append(market.candles("BTC/USDT", "5m", 500, since=clock.now() - 86_400))
        sizes.append(max(len(p.bars.close) for p in market._paths.values()))
    seen.append(market.candles("BTC/USDT", "1d", 30))  # more than is kept: last, compared apart
    return seen, sizes


@pytest.mark.parametrize("profile", ["realistic", "eventful"])
def test_the_sim_keeps_a_fixed_window_and_the_same_prices(
        profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bounded, sizes = _walk(None, profile)
    assert max(sizes) <= KEEP_MINUTES + CHUNK_MINUTES  # a fixed window however long it runs
    assert sizes[-1] == sizes[len(sizes) // 2]  # flat after warm-up
    monkeypatch.setattr(sim_mod, "KEEP_MINUTES", 10**9)  # the old behaviour: keep everything
    unbounded, grown = _walk(monkeypatch, profile)
    assert grown[-1] > KEEP_MINUTES + 10 * 1440
    assert bounded[:-1] == unbounded[:-1]  # bit-identical tickers and candles
    days, all_days = bounded[-1], unbounded[-1]
    assert 10 <= len(days) < len(all_days) == 30  # a long request gets the days kept,
    assert days == all_days[-len(days):]  # the newest ones, unchanged


def test_the_monitor_windows_stay_a_fixed_size() -> None:
    """Three days of 1-minute bars through the event monitor: each window keeps about a day."""
    from autotrade_tui.config import defaults
    from autotrade_tui.core.events import EventThresholds
    from autotrade_tui.runtime.monitor import EventMonitor

    clock = VirtualClock(T0)
    market = SimMarket(SYMBOLS, clock, seed=3)
    monitor = EventMonitor(market, SYMBOLS, EventThresholds.from_settings(defaults()), 0.005)
    asyncio.run(monitor.prime())
    sizes = []

    async def run() -> None:
        for minute in range(3 * 1440):
            clock.advance(60.0)
            for sym in SYMBOLS:
                await monitor.refresh_candles(sym, clock.now())
            if minute % 360 == 0:
                sizes.append(max(len(w) for w in monitor.windows.values()))

    asyncio.run(run())
    assert max(sizes) <= monitor.history_bars + 100  # a day and a margin, never more
    assert sizes[-1] <= sizes[len(sizes) // 2] + 100  # flat
    newest = monitor.windows["BTC/USDT"].last
    assert newest is not None and newest.ts >= clock.now() - 120  # and it kept up


async def test_a_live_table_keeps_a_screenful_of_render_cache() -> None:
    """A table updated 400 times (marks move): its render caches stay a screenful deep."""
    from rich.text import Text
    from textual.app import App, ComposeResult

    from autotrade_tui.tui.widgets.table import CACHED_CELLS, CACHED_LINES, FreshTable

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield FreshTable()

    async with One().run_test(size=(100, 30)) as pilot:
        table = pilot.app.query_one(FreshTable)
        cols = table.add_columns(*[f"c{i}" for i in range(8)])
        rows = [table.add_row(*[Text(str(i * j)) for j in range(8)]) for i in range(20)]
        for step in range(400):
            table.update_cell(rows[step % 20], cols[step % 8], Text(f"{step:,}"))
            if step % 10 == 0:
                await pilot.pause()
        await pilot.pause()
        assert 0 < len(table._cell_render_cache) <= CACHED_CELLS
        assert len(table._line_cache) <= CACHED_LINES
        assert len(table._row_render_cache) <= CACHED_LINES

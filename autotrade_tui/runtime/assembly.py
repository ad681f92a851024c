"""Building a runtime's parts from the settings: its clock, its feed (a restarted sim goes on
from the database's time and last marks), its models and its fundamentals."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from autotrade_tui.core.clock import Clock, RealClock, ScaledClock

if TYPE_CHECKING:
    import httpx

    from autotrade_tui.ai.base import DecisionModel
    from autotrade_tui.config import Settings
    from autotrade_tui.market.base import MarketFeed
    from autotrade_tui.market.fundamentals import Fundamentals
    from autotrade_tui.store.base import EngineStore

Models = tuple["DecisionModel", "DecisionModel"]


def make_clock(settings: Settings) -> Clock:
    """Live data runs on wall time; the sim and replays on wall time × `speed`."""
    if settings.market_source == "ccxt":
        return RealClock()
    return ScaledClock(settings.speed)


async def open_parts(
    settings: Settings, clock: Clock, store: EngineStore, feed: MarketFeed | None,
    models: Models | None,
) -> tuple[MarketFeed, Models, Fundamentals | None, httpx.AsyncClient | None]:
    """(feed, models, fundamentals, http client) as the settings ask, parts given kept as
    they are; if anything fails, the store and what was opened are closed."""
    http: httpx.AsyncClient | None = None
    try:
        if feed is None:
            feed = await open_feed(settings, clock, store)
        if models is None:
            from autotrade_tui.ai.factory import build_models

            if not settings.use_offline_models:
                import httpx

                http = httpx.AsyncClient()
            models = build_models(settings, http)
        fundamentals: Fundamentals | None = None
        if settings.fundamentals_enabled and feed.mode == "LIVE DATA":
            from autotrade_tui.market.fundamentals import Fundamentals

            fundamentals = Fundamentals.from_settings(settings, clock)
    except BaseException:
        store.close()
        if http is not None:
            await http.aclose()
        raise
    return feed, models, fundamentals, http


async def open_feed(settings: Settings, clock: Clock, store: EngineStore) -> MarketFeed:
    """The settings' feed on `clock`; a restarted sim goes on from the database's time and
    last marks (see resume_clock)."""
    from autotrade_tui.market.factory import open_feed as open_market

    prices = await asyncio.to_thread(resume_clock, store, clock, settings)
    feed = await open_market(settings, clock)
    if prices and hasattr(feed, "continue_from"):
        feed.continue_from(prices)
    if feed.mode == "LIVE DATA" and isinstance(clock, ScaledClock):
        clock.make_real()  # --speed is for sim/replay; live data runs on wall time
    return feed


def resume_clock(store: EngineStore, clock: Clock, settings: Settings) -> dict[str, float]:
    """A restarted sim or replay (SPEC §5.2 Restarts): its clock set no earlier than the
    newest record in the database; returns the last marks its prices go on from (blocking
    reads: call in a thread)."""
    if settings.market_source == "ccxt" or not isinstance(clock, ScaledClock):
        return {}
    newest = store.newest_ts()
    if newest is None:
        return {}
    clock.not_before(newest)
    return store.last_prices()

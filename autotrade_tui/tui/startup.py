"""Opening an engine in this process for the cockpit without stalling its first frame: the
heavy imports are done in a thread first, then `services.open_engine` opens it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autotrade_tui.config import Settings
    from autotrade_tui.runtime.interface import EngineLink

# Imported in a thread before the runtime opens, so the event loop (the UI) never stalls on
# them: sqlmodel/SQLAlchemy, numpy, pandas/TA-Lib, and ccxt when the exchange may be used.
PRELOAD = ("autotrade_tui.store.store", "autotrade_tui.report", "autotrade_tui.market.sim",
           "autotrade_tui.ai.factory", "autotrade_tui.ai.prompts", "autotrade_tui.runtime.trader",
           "autotrade_tui.core.indicators")
PRELOAD_EXCHANGE = ("autotrade_tui.market.ccxt_feed", "ccxt.async_support", "httpx")


def preload(settings: Settings) -> None:
    import importlib

    names = PRELOAD + (PRELOAD_EXCHANGE if settings.market_source in ("auto", "ccxt") else ())
    for name in names:
        importlib.import_module(name)


async def open_runtime(settings: Settings) -> EngineLink:
    """An engine in this process (`runtime.link.LocalLink`), its heavy imports done off the
    event loop first; when another engine already trades on the database and serves its API,
    that engine, attached (SPEC §13: a second cockpit attaches instead of exiting 3)."""
    await asyncio.to_thread(preload, settings)
    from autotrade_tui.errors import EngineLockedError
    from autotrade_tui.services import open_engine

    try:
        return await open_engine(settings)
    except EngineLockedError as locked:
        from autotrade_tui.attach.command import attach_running

        return await attach_running(settings, locked)

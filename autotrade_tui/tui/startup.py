"""Opening an engine in this process for the cockpit without stalling its first frame: the
database file's start-up check runs in a thread from the command line on (`begin_check`), the
heavy imports in another, then `services.open_engine` opens it."""

from __future__ import annotations

import asyncio
import threading
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


def begin_check(settings: Settings) -> None:
    """Start the SQLite file's start-up check (SPEC §10) in a thread now, before the cockpit
    is even imported: on a year-old file it reads hundreds of MB (`store.faults.precheck`),
    which the second core does while the first frame is drawn. `open_runtime` waits for it;
    the engine's own check then stands on it if the file did not change."""
    db = settings.database_url.get()
    if db not in _CHECKS:
        _CHECKS[db] = thread = threading.Thread(target=_precheck, args=(db,), daemon=True,
                                                name="autotrade-db-check")
        thread.start()


_CHECKS: dict[str, threading.Thread] = {}


def _precheck(db: str) -> None:
    from autotrade_tui.config import default_db_path
    from autotrade_tui.store.faults import precheck
    from autotrade_tui.store.urls import resolve_url, sqlite_path

    path = sqlite_path(resolve_url(db, default_db_path()))
    if path is not None:
        precheck(path)


async def open_runtime(settings: Settings) -> EngineLink:
    """An engine in this process (`runtime.link.LocalLink`), its heavy imports done off the
    event loop first; when another engine already trades on the database and serves its API,
    that engine, attached (SPEC §13: a second cockpit attaches instead of exiting 3)."""
    begin_check(settings)  # (the command line began it already)
    await asyncio.gather(asyncio.to_thread(preload, settings),
                         asyncio.to_thread(_CHECKS.pop(settings.database_url.get()).join))
    from autotrade_tui.errors import EngineLockedError
    from autotrade_tui.services import open_engine

    try:
        return await open_engine(settings)
    except EngineLockedError as locked:
        from autotrade_tui.attach.command import attach_running

        return await attach_running(settings, locked)

"""The runtime every front end shares: restores the engine from the store, runs the decision
cycle and the event monitor on the Clock, takes commands, and publishes typed updates.

`Runtime` is assembled from its parts, one module each: its state and the engine-change
transaction (runtime.state), the ticks (runtime.ticks: `monitor_tick`, `decision_cycle`, on
the rules of core.step that the backtest shares), the loops that schedule them
(runtime.scheduler), the user's commands (runtime.commands), and building it from the
settings (runtime.assembly). Front ends reach it through runtime.link.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import TYPE_CHECKING

from autotrade_tui.core.clock import Clock
from autotrade_tui.errors import StoreError
from autotrade_tui.runtime.assembly import make_clock, open_parts
from autotrade_tui.runtime.commands import Commands
from autotrade_tui.runtime.scheduler import Scheduler

if TYPE_CHECKING:
    from autotrade_tui.config import Settings
    from autotrade_tui.market.base import MarketFeed
    from autotrade_tui.runtime.assembly import Models
    from autotrade_tui.store.base import EngineStore

log = logging.getLogger(__name__)
__all__ = ["Runtime", "make_clock"]


class Runtime(Scheduler, Commands):
    @classmethod
    async def open(cls, settings: Settings, *, clock: Clock | None = None,
                   feed: MarketFeed | None = None, models: Models | None = None,
                   store: EngineStore | None = None) -> Runtime:
        """Build everything the settings ask for; parts given as arguments are used as they are."""
        clock = clock or make_clock(settings)
        if store is None:
            from autotrade_tui.store.store import Store

            store = await asyncio.to_thread(Store, settings.database_url.get(), writer=True)
        feed, models, fundamentals, http = await open_parts(settings, clock, store, feed, models)
        # In a thread: __init__ reads and writes the store (state, recent events), which must
        # not stall the event loop (a TUI frame, a PostgreSQL retry). Its asyncio primitives
        # bind to the loop on first use (Python ≥ 3.10), so building them there is safe.
        building = asyncio.ensure_future(asyncio.to_thread(
            partial(cls, settings, feed=feed, models=models, store=store, clock=clock,
                    fundamentals=fundamentals, http_client=http)))
        try:
            return await asyncio.shield(building)
        except BaseException:
            # Cancelled (Ctrl-C, quit) or failed. The thread cannot be stopped and may still
            # use the store: let it finish, then close what it built (or was given), so no
            # write lands after the writer lock is released.
            await asyncio.wait({building})
            if building.exception() is None:
                await building.result().close()
            else:
                await feed.close()
                store.close()
                if http is not None:
                    await http.aclose()
            raise

    async def close(self) -> None:
        self._stop.set()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        for part in (*self.models, self.feed, self.fundamentals):
            if part is not None:
                try:
                    await part.close()
                except Exception:  # closing must not hide why we stopped
                    log.exception("closing %r failed", part)
        if self._http is not None:
            await self._http.aclose()
        await self._save_final_marks()
        await asyncio.to_thread(self.store.close)

    async def _save_final_marks(self) -> None:
        """The last prices and an equity point, so `report` after a stop shows what we saw."""
        if self.fatal is not None or not self.tickers:
            return
        try:
            async with self._lock:
                await self._maybe_snapshot(self.clock.now(), force=True)
        except StoreError as exc:
            self.unsaved = f"the last prices and equity point were not saved ({exc})"
            log.warning("final snapshot not saved: %s", exc)

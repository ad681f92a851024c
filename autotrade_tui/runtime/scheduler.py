"""The live scheduler of the ticks (runtime.ticks): the event monitor every
`event_interval_seconds`, a decision cycle every interval, both on the Clock (wall time, a
sim's scaled time, or a virtual clock moved by a test or a replay)."""

from __future__ import annotations

import asyncio
import contextlib

from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.runtime.ticks import Ticks
from autotrade_tui.runtime.updates import Notice, StatusChanged


class Scheduler(Ticks):
    async def run(self) -> None:
        """Monitor and decisions until `stop()`; the first decision cycle runs at once."""
        await self.start()
        tasks = [asyncio.create_task(self._monitor_loop(), name="event-monitor"),
                 asyncio.create_task(self._decision_loop(), name="decision-cycle")]
        try:
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def start(self) -> None:
        await self.monitor.prime()
        await self.monitor_tick()
        self.publish(Notice("info", self._start_text()))

    def _start_text(self) -> str:
        lg = self.engine.ledger
        what = (f"restored account: equity {self.engine.equity(self.prices()):,.2f}, free "
                f"{lg.capital:,.2f}, {len(self.engine.positions)} open position(s)"
                if self.restored else f"new paper account: {lg.initial_capital:,.2f} USDT")
        models = " + ".join(m.name for m in self.models)
        return f"{self.feed.mode}: {getattr(self.feed, 'note', '')}; models {models}; {what}"

    async def _monitor_loop(self) -> None:
        step = float(self.settings.event_interval_seconds)
        while not self._stop.is_set():  # (not `stopping`: a checker would think it stays False)
            await self.sleep_until(self.clock.now() + step)
            if self.stopping:
                return
            await self._guarded(self.monitor_tick(), "event monitor")

    async def _decision_loop(self) -> None:
        """A cycle every interval (SPEC §7.3), timed from when each was due, not from when
        the previous one ended: a slow cycle (a slow model, a busy cockpit at --speed 600)
        does not push every later one back. One that overran a whole interval is followed
        by the next at once, never by a burst of the missed ones."""
        due = self.clock.now()
        while not self.stopping:
            await self._guarded(self.decision_cycle(), "decision cycle")
            due = max(due + self.interval_s, self.clock.now())
            self.next_decision_at = due
            self.publish(StatusChanged(self.status()))
            await self.sleep_until(self.next_decision_at)

    async def sleep_until(self, target: float) -> None:
        """Wait until the clock reads `target` (or stop). Virtual clocks wake us when moved."""
        while not self.stopping and (remaining := target - self.clock.now()) > 0:
            wall = self.clock.wall_seconds(remaining)
            if wall is None and isinstance(self.clock, VirtualClock):
                await self._wait_virtual(self.clock, target)
            else:
                # Capped so a long wait still notices the clock; stop() ends it at once.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), min(wall or 0.0, 1.0))

    async def _wait_virtual(self, clock: VirtualClock, target: float) -> None:
        reached = asyncio.Event()
        unsubscribe = clock.subscribe(lambda now: reached.set() if now >= target else None)
        waiters = {asyncio.ensure_future(reached.wait()), asyncio.ensure_future(self._stop.wait())}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            unsubscribe()

"""The notifier: one more subscriber of the runtime's updates (SPEC §14), wired in by every
front end that runs the engine (cockpit, headless), never by a backtest.

    notifier = attach(runtime)      # in the loop, before runtime.run()
    ...
    await notifier.close()          # after runtime.close(): what is queued gets a few s

Without `notify_urls` it does nothing and imports nothing. The daily summary fires at 00:00
UTC on the runtime's clock (so also in the sim at speed, and on a test's virtual clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import Any

from autotrade_tui.notify.delivery import Delivery
from autotrade_tui.notify.messages import Alert, Composer
from autotrade_tui.runtime.updates import Notice, Update

DAY_S = 86_400.0
CLOSE_GRACE_S = 3.0


def next_midnight(now: float) -> float:
    """The first 00:00 UTC strictly after `now` (epoch seconds)."""
    return (math.floor(now / DAY_S) + 1) * DAY_S


class Notifier:
    """Composes alerts from updates (`__call__`, the subscriber) and hands the kinds in
    `notify_on` to the delivery. `active` is False when no URL is configured."""

    def __init__(self, runtime: Any, delivery: Delivery | None = None) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.kinds = frozenset(settings.notify_on)
        urls = [u.get() for u in settings.notify_urls]
        self.active = bool(urls)
        self.delivery = delivery or Delivery(
            urls, per_minute=int(settings.notify_max_per_minute), report=self._report)
        self.composer = Composer(runtime.clock.now(), self._stopped)
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe = lambda: None

    def _stopped(self) -> bool:
        """An error notice now means trading stopped (fatal) or waits (a storage fault)."""
        rt = self.runtime
        return rt.fatal is not None or bool(getattr(rt.store, "fault", ""))

    def _report(self, text: str) -> None:
        # A Notice: the headless log line and the cockpit's toast; the URL is never in it.
        self.runtime.publish(Notice("warning", text))

    def __call__(self, update: Update) -> None:
        for alert in self.composer.compose(update):
            self.post(alert)

    def post(self, alert: Alert) -> None:
        if alert.kind in self.kinds:
            self.delivery.post(alert)

    def start(self) -> None:
        if not self.active:
            return
        self._unsubscribe = self.runtime.subscribe(self)
        self._tasks = [asyncio.create_task(self._start_delivery(), name="notify start"),
                       asyncio.create_task(self._daily(), name="notify daily summary")]

    async def _start_delivery(self) -> None:
        try:
            await self.delivery.start()
        except Exception as exc:  # alerts are a help, never a reason to stop trading
            self._report(f"alerts are off: Apprise could not start ({type(exc).__name__})")

    async def _daily(self) -> None:
        rt = self.runtime
        while not rt.stopping:
            target = next_midnight(rt.clock.now())
            await rt.sleep_until(target)
            if rt.stopping:
                return
            self.post(self.composer.daily(target))

    async def close(self, grace_s: float = CLOSE_GRACE_S) -> None:
        """Stop listening; what is queued gets up to `grace_s` seconds to go out."""
        self._unsubscribe()
        tasks, self._tasks = self._tasks, []
        if not tasks:  # inert, or closed already
            return
        start, *rest = tasks
        for task in rest:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(start, grace_s)  # the services are built before draining
        await asyncio.gather(*rest, return_exceptions=True)
        await self.delivery.close(grace_s)


def attach(runtime: Any) -> Notifier:
    """A started notifier for `runtime` (inert without `notify_urls`)."""
    notifier = Notifier(runtime)
    notifier.start()
    return notifier

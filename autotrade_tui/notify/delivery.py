"""Delivery of alerts to the Apprise services, off the trading path (SPEC §14).

`post` is synchronous, O(services) and never waits: the runtime calls it from its publish.
Behind it:
- a rate limit on a sliding window (`per_minute` messages a minute, wall time: the services'
  limits are in real time); what comes over it is held and goes out as ONE "+N more"
  message as soon as the window has room (the most urgent held messages listed, the rest
  counted by kind; bounded however long the burst);
- one queue per service, bounded: a service that cannot keep up loses its oldest pending
  messages, counted (`dropped`), never unbounded memory;
- one sender task per service: a slow or dead service delays only its own messages. Apprise
  sends synchronously, so each send runs in a daemon thread of its own (never the loop's
  default executor, which the runtime's database writes use; never a pool, whose threads
  the interpreter waits for at exit), one at a time per service, awaited at most `timeout`
  seconds;
- failures said through `report` once per service per `quiet_s` (10 minutes), the service
  named by its place and scheme, the error text scrubbed of every URL piece.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autotrade_tui.core.text import one_line
from autotrade_tui.notify.messages import Alert
from autotrade_tui.notify.urls import label, load_apprise, scrub

QUEUE_PER_SERVICE = 50
HELD_LISTED = 5  # held messages a "+N more" message spells out (the most urgent)
SEND_TIMEOUT_S = 15.0  # Apprise's socket timeouts (4 s connect, 4 s read) usually come first
FAILURE_QUIET_S = 600.0
_BAD_LEVELS = ("WARNING", "ERROR", "CRITICAL")


def in_daemon_thread(fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """`fn(*args)` in a new daemon thread, as a future of the running loop. Not a pool: the
    interpreter joins a pool's threads at exit, so a send stuck on a dead service would hold
    up quitting; a daemon thread is left behind. Bounded: one send at a time per service."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # nobody waits any more (cancelled)
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def run() -> None:
        try:
            outcome: tuple[Any, BaseException | None] = (fn(*args), None)
        except BaseException as exc:  # handed to the awaiting task, as an executor would
            outcome = (None, exc)
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=run, name="notify-send", daemon=True).start()
    return future


@dataclass
class _Held:
    """Messages over the rate limit: the most urgent few kept whole, all counted by kind."""

    kept: list[Alert] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)

    def add(self, alert: Alert) -> None:
        self.kinds[alert.kind] += 1
        self.kept.append(alert)
        self.kept.sort(key=lambda a: a.rank)  # stable: same rank stays in arrival order
        del self.kept[HELD_LISTED:]

    @property
    def count(self) -> int:
        return sum(self.kinds.values())

    def merged(self) -> Alert:
        """One message for all of them: the single one as it is, else "+N more"."""
        if self.count == 1:
            return self.kept[0]
        lines = [a.title for a in self.kept]
        rest = self.count - len(self.kept)
        if rest:
            left = self.kinds - Counter(a.kind for a in self.kept)
            lines.append(f"… and {rest} more (" + ", ".join(
                f"{n} {k}" for k, n in sorted(left.items(), key=lambda kv: -kv[1])) + ")")
        worst = min(self.kept, key=lambda a: a.rank)
        return Alert(worst.kind, f"+{self.count} more alerts (over the rate limit)",
                     "\n".join(lines), worst.level)


@dataclass
class Service:
    """One URL: its Apprise object (built in a thread at start), queue and failure record."""

    index: int
    url: str
    queue: deque[Alert] = field(default_factory=lambda: deque(maxlen=QUEUE_PER_SERVICE))
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    apprise: Any = None
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    last_report: float | None = None
    unreported: int = 0  # failures since the last report (said in the next one)
    pending: asyncio.Future[Any] | None = None  # a send that outlived its timeout
    busy: bool = False  # a message of this service is on its way

    @property
    def name(self) -> str:
        return label(self.index, self.url)


class Delivery:
    """Alerts to every service in `urls`: `post` from the loop, `start`/`close` around it.
    `now` is wall time (injectable: tests move it for the 10-minute quiet period)."""

    def __init__(self, urls: list[str], *, per_minute: int = 20, window_s: float = 60.0,
                 timeout_s: float = SEND_TIMEOUT_S, quiet_s: float = FAILURE_QUIET_S,
                 report: Callable[[str], None] | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.services = [Service(i, u) for i, u in enumerate(urls)]
        self.per_minute, self.window_s = per_minute, window_s
        self.timeout_s, self.quiet_s = timeout_s, quiet_s
        self.report = report or (lambda _text: None)
        self.now = now
        self.posted = self.coalesced = 0
        self._released: deque[float] = deque()  # wall times of messages let through
        self._held = _Held()
        self._wake = asyncio.Event()  # something was held: the flusher recomputes its wait
        self._progress = asyncio.Event()  # a send ended (`close` waits for the queues)
        self._tasks: list[asyncio.Task[None]] = []

    # ---- the producer side (the runtime's publish)
    def post(self, alert: Alert) -> None:
        self.posted += 1
        if self._held.count == 0 and self._room():
            self._release(alert)
        else:
            self._held.add(alert)
            self._wake.set()

    def _room(self) -> bool:
        cutoff = self.now() - self.window_s
        while self._released and self._released[0] <= cutoff:
            self._released.popleft()
        return len(self._released) < self.per_minute

    def _release(self, alert: Alert) -> None:
        self._released.append(self.now())
        for svc in self.services:
            if len(svc.queue) == svc.queue.maxlen:
                self._dropped(svc)  # the deque drops its oldest on append
            svc.queue.append(alert)
            svc.ready.set()

    # ---- life
    async def prepare(self) -> None:
        """Build the Apprise objects (a slow import the first time: in a thread)."""
        await in_daemon_thread(self._build)

    async def start(self) -> None:
        """`prepare`, then the sender tasks."""
        await self.prepare()
        self._tasks = [asyncio.create_task(self._serve(s), name=f"notify {s.name}")
                       for s in self.services]
        self._tasks.append(asyncio.create_task(self._flush_held(), name="notify held"))

    def _build(self) -> None:
        apprise = load_apprise()
        for svc in self.services:
            # async_mode off and no service_timeout: Apprise sends in the calling thread
            # (ours, a daemon) instead of its shared pool, which the interpreter would wait
            # for at exit; our own `timeout_s` bounds the wait instead.
            obj = apprise.Apprise(asset=apprise.AppriseAsset(
                app_id="autotrade-tui", async_mode=False, service_timeout=0))
            obj.add(svc.url)  # validated at start-up (config); a failure shows when sending
            svc.apprise = obj

    async def close(self, grace_s: float = 3.0) -> None:
        """Give what is queued `grace_s` seconds to go out, then stop; never waits longer."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained(), grace_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _drained(self) -> None:
        while self._held.count or any(s.queue or s.busy for s in self.services):
            self._progress.clear()
            await self._progress.wait()

    # ---- the consumers
    async def _flush_held(self) -> None:
        """Send what was held back as one message once the window has room again."""
        while True:
            if self._held.count and self._room():
                held, self._held = self._held, _Held()
                self.coalesced += held.count
                self._release(held.merged())
            wait = None
            if self._held.count:
                wait = max(0.01, self._released[0] + self.window_s - self.now())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _serve(self, svc: Service) -> None:
        while True:
            await svc.ready.wait()
            if not svc.queue:
                svc.ready.clear()
                continue
            alert = svc.queue.popleft()
            svc.busy = True
            try:
                error = await self.send(svc, alert)
            finally:
                svc.busy = False
                self._progress.set()
            if error is None:
                svc.sent += 1
            else:
                self._failed(svc, error)

    async def send(self, svc: Service, alert: Alert) -> str | None:
        """One message to one service; None when it went through, else why not."""
        if svc.pending is not None:  # the last send outlived its timeout: one at a time
            with contextlib.suppress(Exception):
                await svc.pending
            svc.pending = None
        future = in_daemon_thread(self._send_blocking, svc, alert)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout_s)
        except TimeoutError:
            svc.pending = future
            return f"no answer in {self.timeout_s:g} s"

    def _send_blocking(self, svc: Service, alert: Alert) -> str | None:
        """In a thread of its own. Without a `timeout`, Apprise sends in this thread (not
        its shared pool), bounded by its socket timeouts (4 s connect, 4 s read); the
        result carries this send's log lines, the failure's reason."""
        apprise = load_apprise()
        try:
            result = svc.apprise.notify(
                title=alert.title, body=alert.body or alert.title,
                notify_type=getattr(apprise.NotifyType, alert.level.upper(),
                                    apprise.NotifyType.INFO),
                body_format=apprise.NotifyFormat.TEXT)
        except Exception as exc:  # a plugin bug must not end the sender
            lines = [f"{type(exc).__name__}: {exc}"]
        else:
            if result:
                return None
            lines = [e.message for e in result.logs() if e.level in _BAD_LEVELS]
        why = " — ".join(dict.fromkeys(lines)) or "the service refused it"
        return one_line(scrub(why, [s.url for s in self.services]))

    def _quiet(self, svc: Service) -> bool:
        """Whether this service was reported less than `quiet_s` ago (else: it is now)."""
        now = self.now()
        if svc.last_report is not None and now - svc.last_report < self.quiet_s:
            return True
        svc.last_report = now
        return False

    def _dropped(self, svc: Service) -> None:
        svc.dropped += 1
        if not self._quiet(svc):
            self.report(f"alerts to {svc.name}: {svc.dropped} dropped so far, its queue of "
                        f"{QUEUE_PER_SERVICE} is full (the service is slower than the alerts)")

    def _failed(self, svc: Service, error: str) -> None:
        svc.failed += 1
        svc.unreported += 1
        if self._quiet(svc):
            return
        more = f" ({svc.unreported - 1} more failures since the last report)" \
            if svc.unreported > 1 else ""
        dropped = f"; {svc.dropped} alerts dropped (queue full)" if svc.dropped else ""
        svc.unreported = 0
        self.report(f"alerts to {svc.name} failed: {error}{more}{dropped} — said at most once "
                    f"every {self.quiet_s / 60:g} minutes")

"""`GET /api/ws`: every update to every attached client, one subscriber of the engine.

The subscriber runs inside the engine's `publish` (synchronous, on its loop), so it only
notes the update; once the engine's unit of work is over, each update is encoded once into a
log every client's sender task reads at its own pace (one wakeup for all per flush). A client
more than QUEUE_LIMIT messages behind (it stopped reading, or reads slower than the engine
publishes) is dropped: its connection is closed, and nothing waits for it. An account
message carries the scorecard's curves only when they changed (wire's docstring)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any

from autotrade_tui.api import wire
from autotrade_tui.runtime.updates import AccountUpdated, StatusChanged, Update

log = logging.getLogger(__name__)
QUEUE_LIMIT = 1_000  # messages: a decision cycle's burst is tens; a healthy reader keeps up
TOO_SLOW = 1013  # "try again later": the client may reconnect and re-read the state
FLUSH_S = 0.01  # at most this long before an update with no closing status is sent
CLOSE_WAIT_S = 1.0  # a dropped client's close frame waits at most this for buffer space


class Client:
    """One attached WebSocket: its own first messages, its place in the hub's log of message
    bodies and its own `seq` count."""

    def __init__(self, ws: Any, hub: Hub, first: list[str]) -> None:
        self.ws, self.hub = ws, hub
        self.first = collections.deque(first)  # the state at its join, before the log
        self.cursor = hub.end  # the hub's index of the next body it sends
        self.seq = 0
        self.dropped = False
        self._sender: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()  # set (and replaced) whenever it has caught up

    def backlog(self) -> int:
        """Messages queued for it and not yet handed to its connection."""
        return len(self.first) + self.hub.end - self.cursor

    def drop(self) -> None:
        self.dropped = True
        if self._sender is not None:
            self._sender.cancel()  # never awaited here: publish does not wait

    async def run(self) -> None:
        """Send until the client leaves, is dropped or the server shuts down."""
        self._sender = sender = asyncio.create_task(self._send(), name="api ws sender")
        receiver = asyncio.create_task(self._receive(), name="api ws receiver")
        if self.dropped:  # dropped before its sender even started
            sender.cancel()
        try:
            await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, receiver):
                task.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)
        if self.dropped:
            # A client that does not read may leave no room for a close frame: bounded.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_WAIT_S):
                    await self.ws.close(TOO_SLOW, "too slow: dropped; reconnect")

    async def sent(self) -> None:
        """Until everything queued for it so far was handed to its connection (or it is
        gone): benchmarks, tests."""
        while self.backlog() and not (self._sender is not None and self._sender.done()):
            await self._progress.wait()

    async def _send(self) -> None:
        hub = self.hub
        try:
            while True:
                while self.first:
                    await self._write(self.first.popleft())
                while self.cursor < hub.end:
                    body = hub.body(self.cursor)
                    self.cursor += 1
                    await self._write(body)
                self._progress.set()
                self._progress = asyncio.Event()
                await hub.updated()
        finally:
            self._progress.set()

    async def _write(self, body: str) -> None:
        self.seq += 1
        await self.ws.send_text(wire.message(self.seq, body))

    async def _receive(self) -> None:
        """What a client sends is not read as commands (those are POSTs): only its leaving."""
        while True:
            msg = await self.ws.receive()
            if msg["type"] == "websocket.disconnect":
                return


class Hub:
    """The engine's subscriber that fans updates out to the clients: each update's body is
    encoded once into a log the clients' senders read at their own pace (one wakeup for all
    of them per flush, no per-client queue)."""

    def __init__(self, link: Any, limit: int = QUEUE_LIMIT) -> None:
        self.link, self.limit = link, limit
        self.clients: set[Client] = set()
        self.dropped = 0  # clients dropped as too slow, since start
        self.end = 0  # bodies logged since start: the log's next index
        self._log: collections.deque[str] = collections.deque()  # bodies from index _base
        self._base = 0  # index of _log[0]: what the slowest client still needs
        self._new = asyncio.Event()  # set (and replaced) when the log grows
        self._changed = asyncio.Event()  # set on every join, leave and drop (tests wait)
        self._pending: list[Update] = []  # published, not yet handed to the clients
        self._flush_at: asyncio.Handle | None = None
        self._flushed = asyncio.Event()  # set (and replaced) on every flush
        self._curves: dict[str, list[float]] | None = None  # scorecard curves last sent

    def __call__(self, update: Update) -> None:
        """Inside the engine's publish: the update is only noted. Encoding it and handing it
        to the clients wait until the engine's unit of work is over (its closing
        StatusChanged: a tick, a decision cycle, a command), so none of it runs inside the
        tick (its awaits would let the senders in) and a tick's updates go out together;
        an update no status follows goes out after at most FLUSH_S."""
        if not self.clients:  # nobody attached: no cost at all
            return
        self._pending.append(update)
        loop = asyncio.get_running_loop()
        if isinstance(update, StatusChanged):  # the work is done: right after it returns
            if self._flush_at is not None:
                self._flush_at.cancel()
            self._flush_at = loop.call_soon(self._flush)
        elif self._flush_at is None:
            self._flush_at = loop.call_later(FLUSH_S, self._flush)

    def _flush(self) -> None:
        """The pending updates into the log, once each; a client more than `limit` messages
        behind is dropped; the senders woken (one event for all)."""
        pending, self._pending, self._flush_at = self._pending, [], None
        if pending and self.clients:
            self._log.extend(self._body(update) for update in pending)
            self.end += len(pending)
            low = self.end
            for client in list(self.clients):
                if client.backlog() > self.limit:
                    client.drop()
                    self._drop(client)
                else:
                    low = min(low, client.cursor)
            for _ in range(low - self._base):  # what every client has taken
                self._log.popleft()
            self._base = low
            self._new.set()
            self._new = asyncio.Event()
        self._flushed.set()
        self._flushed = asyncio.Event()

    def body(self, index: int) -> str:
        """The logged body at `index` (a client's cursor: never below what was kept)."""
        return self._log[index - self._base]

    async def updated(self) -> None:
        """Until the log grows."""
        await self._new.wait()

    def _body(self, update: Update) -> str:
        """The update's message body, once for all clients. An account's scorecard curves
        (most of its bytes; they change once a snapshot interval) only when they differ from
        the ones every client last got: the others keep theirs (wire's docstring)."""
        if isinstance(update, AccountUpdated) and update.account.scorecard_curves is not None:
            curves = update.account.scorecard_curves
            if curves == self._curves:
                return wire.message_body(update, curves=False)
            self._curves = {name: list(curve) for name, curve in curves.items()}
        return wire.message_body(update)

    async def flushed(self) -> None:
        """Until what was published so far is in the log (benchmarks, tests)."""
        if self._flush_at is not None:
            await self._flushed.wait()

    async def sent(self) -> None:
        """Until what was published so far was handed to every client's connection (one
        client after the other: no tasks). Benchmarks, tests."""
        await self.flushed()
        for client in list(self.clients):
            await client.sent()

    def join(self, ws: Any) -> Client:
        """A new client, its first messages the engine's status and account now (so a viewer
        has both at once), then every update from this moment."""
        if self._flush_at is not None:  # what was published before the snapshot below
            self._flush_at.cancel()
            self._flush()
        account = self.link.account()
        if account.scorecard_curves != self._curves:  # the others' are not this one's
            self._curves = None  # the next account message carries them again, for all
        client = Client(ws, self, [wire.message_body(StatusChanged(self.link.status())),
                                   wire.message_body(AccountUpdated(account))])
        if not self.clients:  # the log starts over: nobody needs what is in it
            self._log.clear()
            self._base = self.end
        self.clients.add(client)
        self._signal()
        return client

    def leave(self, client: Client) -> None:
        self.clients.discard(client)
        self._signal()

    def _drop(self, client: Client) -> None:
        if client in self.clients:
            self.clients.discard(client)
            self.dropped += 1
            log.warning("API: a WebSocket client could not keep up and was dropped")
            self._signal()

    def _signal(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self) -> None:
        """Until the next join, leave or drop."""
        await self._changed.wait()

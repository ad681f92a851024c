"""`GET /api/ws`: every update to every attached client, one subscriber of the engine.

The subscriber runs inside the engine's `publish` (synchronous, on its loop), so it only
encodes the update once and puts the text into each client's bounded queue; each client has
its own sender task. A client whose queue is full (it stopped reading, or reads slower than
the engine publishes) is dropped: its connection is closed, and nothing waits for it."""

from __future__ import annotations

import asyncio
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
    """One attached WebSocket: its queue of message bodies and its own `seq` count."""

    def __init__(self, ws: Any, limit: int) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str] = asyncio.Queue(limit)
        self.seq = 0
        self.dropped = False
        self._sender: asyncio.Task[None] | None = None

    def offer(self, body: str) -> bool:
        """Queue `body`; False (and the client is dropped) when its queue is full."""
        if self.dropped:
            return False
        try:
            self.queue.put_nowait(body)
            return True
        except asyncio.QueueFull:
            self.dropped = True
            if self._sender is not None:
                self._sender.cancel()  # never awaited here: publish does not wait
            return False

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

    async def _send(self) -> None:
        while True:
            body = await self.queue.get()
            self.seq += 1
            await self.ws.send_text(wire.message(self.seq, body))
            self.queue.task_done()  # `queue.join()`: everything queued has been sent

    async def _receive(self) -> None:
        """What a client sends is not read as commands (those are POSTs): only its leaving."""
        while True:
            msg = await self.ws.receive()
            if msg["type"] == "websocket.disconnect":
                return


class Hub:
    """The engine's subscriber that fans updates out to the clients."""

    def __init__(self, link: Any, limit: int = QUEUE_LIMIT) -> None:
        self.link, self.limit = link, limit
        self.clients: set[Client] = set()
        self.dropped = 0  # clients dropped as too slow, since start
        self._changed = asyncio.Event()  # set on every join, leave and drop (tests wait)
        self._pending: list[Update] = []  # published, not yet handed to the clients
        self._flush_at: asyncio.Handle | None = None
        self._flushed = asyncio.Event()  # set (and replaced) on every flush

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
        pending, self._pending, self._flush_at = self._pending, [], None
        for update in pending:
            body = wire.message_body(update)
            for client in list(self.clients):
                if not client.offer(body):
                    self._drop(client)
        self._flushed.set()
        self._flushed = asyncio.Event()

    async def flushed(self) -> None:
        """Until what was published so far is in the clients' queues (benchmarks, tests)."""
        if self._flush_at is not None:
            await self._flushed.wait()

    def join(self, ws: Any) -> Client:
        """A new client, its first messages the engine's status and account now (so a viewer
        has both at once), then every update from this moment."""
        if self._flush_at is not None:  # what was published before the snapshot below
            self._flush_at.cancel()
            self._flush()
        client = Client(ws, self.limit)
        for update in (StatusChanged(self.link.status()), AccountUpdated(self.link.account())):
            client.offer(wire.message_body(update))
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

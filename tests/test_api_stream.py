"""`GET /api/ws` (SPEC §13) on a real engine: every update as one typed message with a `seq`
counting up by one, the status and account first; a client that stops reading is dropped
while the others and the engine go on; 20 clients at once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from autotrade_tui.api import wire
from autotrade_tui.api.service import ApiService
from autotrade_tui.api.stream import Hub
from autotrade_tui.attach.client import RemoteLink, Target
from autotrade_tui.core.account import AccountView
from autotrade_tui.core.models import Side
from autotrade_tui.runtime.updates import (
    AccountUpdated,
    DecisionRecorded,
    Notice,
    PricesUpdated,
    StatusChanged,
    TradeExecuted,
)
from tests.api_fixtures import SYMBOLS, api_of, engine, http, next_update, ws_connect

BTC = SYMBOLS[0]


class Reader:
    """A client's side of the stream, decoded as RemoteLink decodes it: an account message
    without `scorecard_curves` keeps the previous account's curves."""

    def __init__(self, ws: object) -> None:
        self.ws = ws
        self.account: AccountView | None = None
        self.raw: list[dict[str, object]] = []

    async def next(self) -> tuple[int, str, object]:
        msg = json.loads(await self.ws.recv())  # type: ignore[attr-defined]
        self.raw.append(msg)
        update = wire.decode_update(msg, self.account)
        if isinstance(update, AccountUpdated):
            self.account = update.account
        return msg["seq"], msg["type"], update


async def test_every_update_arrives_typed_and_in_seq_order(tmp_path: Path) -> None:
    async with engine(tmp_path) as link:
        rt, hub = link.runtime, api_of(link).hub
        seen: list[tuple[object, str]] = []  # what the engine published, as it was then
        rt.subscribe(lambda u: seen.append((u, wire.dumps(wire.encode_update(u)[1]))))
        ws = await ws_connect(api_of(link).path)
        reader = Reader(ws)
        try:
            first = [await reader.next() for _ in range(2)]
            assert [(s, t) for s, t, _ in first] == [(1, "status"), (2, "account")]
            assert first[0][2] == StatusChanged(link.status())
            assert isinstance(first[1][2], AccountUpdated)
            assert len(hub.clients) == 1

            await rt.monitor_tick()
            await rt.decision_cycle([BTC])
            await rt.manual_open(BTC, Side.LONG)
            rt.publish(Notice("info", "hello"))
            got = [await reader.next() for _ in seen]
        finally:
            await ws.close()
        assert [s for s, _, _ in got] == list(range(3, 3 + len(seen)))
        for (_, kind, decoded), (update, data) in zip(got, seen, strict=True):
            assert type(decoded) is type(update)
            assert wire.decode_update({"type": kind, "data": json.loads(data)}) == decoded
            if not isinstance(update, AccountUpdated):  # its curves are live lists
                assert decoded == update
        kinds = {t for _, t, _ in got}
        assert kinds <= set(wire.UPDATE_TYPES)
        assert {"prices", "account", "status", "decision", "trade", "notice"} <= kinds
        assert {type(u) for u, _ in seen} >= {PricesUpdated, DecisionRecorded, TradeExecuted}


async def test_a_client_that_stops_reading_is_dropped_and_nothing_waits(tmp_path: Path) -> None:
    async with engine(tmp_path, api=False) as link:
        settings = link.runtime.settings.replace(api=True, api_socket=str(tmp_path / "e.sock"))
        service = ApiService(link, settings, queue_limit=8)
        await service.start()
        try:
            hub = service.hub
            slow = await ws_connect(service.path, max_queue=1)  # reads nothing from now on
            good = await ws_connect(service.path, max_size=None)
            for ws in (slow, good):  # both joined
                await next_update(ws)
            await next_update(good)
            big = "x" * 100_000
            sent = 0
            while not hub.dropped and sent < 1_000:  # a real bound: buffers are ~100s of KB
                link.runtime.publish(Notice("info", f"{sent} {big}"))
                sent += 1
                seq, kind, _ = await next_update(good)  # the good one keeps up
                assert (seq, kind) == (sent + 2, "notice")
            assert hub.dropped == 1 and len(hub.clients) == 1
            await link.runtime.monitor_tick()  # the engine goes on; the good client with it
            kinds = [(await next_update(good))[1] for _ in range(3)]
            assert kinds == ["prices", "account", "status"]
            received = 0
            try:
                while True:
                    await slow.recv()
                    received += 1
            except ConnectionClosed:
                pass
            assert 2 <= received < sent + 2  # what was on its way, then its connection closed
            await good.close()
            await slow.close()
        finally:
            await service.close()


async def test_twenty_clients_at_once(tmp_path: Path) -> None:
    async with engine(tmp_path) as link:
        path = api_of(link).path
        clients = await asyncio.gather(*(ws_connect(path) for _ in range(20)))
        try:
            for ws in clients:
                assert [(await next_update(ws))[1] for _ in range(2)] == ["status", "account"]
            await link.runtime.monitor_tick()

            async def three(ws: object) -> list[tuple[int, str, object]]:
                return [await next_update(ws) for _ in range(3)]

            streams = await asyncio.gather(*(three(ws) for ws in clients))
            assert {tuple((s, t) for s, t, _ in got) for got in streams} == {
                ((3, "prices"), (4, "account"), (5, "status"))}
            async with http(path) as c:
                replies = await asyncio.gather(*(c.get("/api/account") for _ in range(20)))
            assert {r.status_code for r in replies} == {200}
            assert len({r.text for r in replies}) == 1
        finally:
            await asyncio.gather(*(ws.close() for ws in clients))


def plain_curves(account: AccountView) -> dict[str, list[float]]:
    return {name: list(curve) for name, curve in (account.scorecard_curves or {}).items()}


async def test_curves_go_out_only_when_changed_and_every_viewer_sees_the_current_ones(
        tmp_path: Path) -> None:
    async with engine(tmp_path) as link:
        rt, path = link.runtime, api_of(link).path
        first = Reader(await ws_connect(path, max_size=None))
        remote = await RemoteLink.open(Target(socket=str(path)))  # an attached cockpit
        accounts: asyncio.Queue[AccountView] = asyncio.Queue()
        remote.subscribe(lambda u: accounts.put_nowait(u.account)
                         if isinstance(u, AccountUpdated) else None)
        following = asyncio.create_task(remote.run())
        try:
            for _ in range(2):
                await first.next()
            while len(api_of(link).hub.clients) < 2:
                await api_of(link).hub.changed()
            assert "scorecard_curves" in first.raw[1]["data"]  # the first account has them
            rt.scorecard.sample(rt.prices())  # the curves change: the next account has them
            await rt.monitor_tick()
            for _ in range(3):
                await first.next()
            assert "scorecard_curves" in first.raw[3]["data"]
            assert any(plain_curves(link.account()).values())
            second = Reader(await ws_connect(path, max_size=None))  # joins in between
            for _ in range(2):
                await second.next()
            for tick in range(4):  # unchanged curves stay out; then they change again
                if tick == 2:
                    rt.scorecard.sample(rt.prices())
                await rt.monitor_tick()
                for reader in (first, second):
                    _, kind, _ = await reader.next()
                    while kind != "status":
                        _, kind, _ = await reader.next()
                    account = reader.raw[-2]
                    assert account["type"] == "account"
                    assert ("scorecard_curves" in account["data"]) == (tick == 2)
                    assert reader.account is not None
                    assert plain_curves(reader.account) == plain_curves(link.account())
            for reader in (first, second):  # seq counts 1, 2, 3 … on each connection
                assert [m["seq"] for m in reader.raw] == list(range(1, len(reader.raw) + 1))
            async with asyncio.timeout(10):  # the attached cockpit: its join's and 5 ticks'
                got = [await accounts.get() for _ in range(6)]
            assert plain_curves(got[-1]) == plain_curves(link.account())  # kept, not lost
            assert got[-1] == remote.account() == first.account
            async with http(path) as c:  # the reads keep them, always
                acc = (await c.get("/api/account")).json()
                card = (await c.get("/api/scorecard")).json()
            assert acc["scorecard_curves"] == card["curves"] == plain_curves(link.account())
            await first.ws.close()  # type: ignore[attr-defined]
            await second.ws.close()  # type: ignore[attr-defined]
        finally:
            await remote.close()
            await asyncio.wait_for(following, 10)


class FakeSocket:
    """What the hub's senders write to: records each message; `gate` unset = stuck."""

    def __init__(self, stuck: bool = False) -> None:
        self.sent: list[dict[str, object]] = []
        self.gate = asyncio.Event()
        self.closed: int | None = None
        if not stuck:
            self.gate.set()

    async def send_text(self, text: str) -> None:
        await self.gate.wait()
        self.sent.append(json.loads(text))

    async def receive(self) -> dict[str, str]:
        await asyncio.Event().wait()
        return {"type": "websocket.disconnect"}

    async def close(self, code: int, reason: str = "") -> None:
        self.closed = code


async def test_the_hub_logs_each_update_once_drops_a_stuck_client_and_keeps_no_backlog(
        tmp_path: Path) -> None:
    async with engine(tmp_path, api=False) as link:
        hub = Hub(link, limit=5)
        unsubscribe = link.subscribe(hub)
        good, stuck = FakeSocket(), FakeSocket(stuck=True)
        clients = [hub.join(good), hub.join(stuck)]
        runs = [asyncio.create_task(c.run()) for c in clients]
        try:
            for n in range(12):  # one at a time: each flushed on its own (no status follows)
                link.runtime.publish(Notice("info", str(n)))
                await hub.flushed()
                await clients[0].sent()
                # more than 5 messages behind (its join's account counts): dropped
                assert hub.dropped == (n >= 4)
            assert hub.dropped == 1 and hub.clients == {clients[0]}
            await asyncio.wait_for(runs[1], 5)  # its sender cancelled, its socket closed
            assert stuck.closed == 1013 and stuck.sent == []
            await hub.sent()
            assert [m["seq"] for m in good.sent] == list(range(1, 15))
            assert [m["data"]["text"] for m in good.sent[2:]] == [str(n) for n in range(12)]
            assert [m["type"] for m in good.sent[:2]] == ["status", "account"]
            link.runtime.publish(Notice("info", "last"))
            await hub.sent()
            assert len(hub._log) <= 1  # what every client took is let go
        finally:
            unsubscribe()
            for run in runs:
                run.cancel()
            await asyncio.gather(*runs, return_exceptions=True)

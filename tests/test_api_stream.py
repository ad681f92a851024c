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


async def test_every_update_arrives_typed_and_in_seq_order(tmp_path: Path) -> None:
    async with engine(tmp_path) as link:
        rt, hub = link.runtime, api_of(link).hub
        seen: list[tuple[object, str]] = []  # what the engine published, as it was then
        rt.subscribe(lambda u: seen.append((u, wire.dumps(wire.encode_update(u)[1]))))
        ws = await ws_connect(api_of(link).path)
        try:
            first = [await next_update(ws) for _ in range(2)]
            assert [(s, t) for s, t, _ in first] == [(1, "status"), (2, "account")]
            assert first[0][2] == StatusChanged(link.status())
            assert isinstance(first[1][2], AccountUpdated)
            assert len(hub.clients) == 1

            await rt.monitor_tick()
            await rt.decision_cycle([BTC])
            await rt.manual_open(BTC, Side.LONG)
            rt.publish(Notice("info", "hello"))
            got = [await next_update(ws) for _ in seen]
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

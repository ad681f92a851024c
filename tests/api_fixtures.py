"""Builders for the API tests: a real engine (LocalLink over a Runtime on the simulated market,
a virtual clock and an SQLite file) serving its API on a Unix socket, and real clients
(httpx over the socket or TCP, `websockets` over the socket)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from autotrade_tui import services
from autotrade_tui.api import wire
from autotrade_tui.config import defaults
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.market.sim import SimMarket
from autotrade_tui.runtime.link import LocalLink
from autotrade_tui.runtime.updates import Update
from autotrade_tui.store.store import Store

START = 1_750_000_020.0
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
TOKEN = "t0ken-0123456789abcdef"  # ≥ 16 characters


def engine_settings(tmp_path: Path, **overrides: Any) -> Any:
    return defaults(**{"database_url": str(tmp_path / "api.db"), "market_source": "sim",
                       "symbols": SYMBOLS, **overrides})


async def open_engine(tmp_path: Path, **overrides: Any) -> LocalLink:
    """An engine as the cockpit and headless open it (services.open_engine: alerts and API wired),
    its first prices in (the runtime's loops are not run: tests drive its ticks)."""
    settings = engine_settings(tmp_path, **overrides)
    clock = VirtualClock(START)
    link = await services.open_engine(settings, clock=clock,
                                      feed=SimMarket(settings.symbols, clock, 7),
                                      store=Store(tmp_path / "api.db", writer=True))
    await link.runtime.start()
    return link


@asynccontextmanager
async def engine(tmp_path: Path, **overrides: Any) -> AsyncIterator[LocalLink]:
    link = await open_engine(tmp_path, **overrides)
    try:
        yield link
    finally:
        await link.close()


def api_of(link: LocalLink) -> Any:
    """The link's API service (its last extra)."""
    return link.extras[-1]


def http(path: Path) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=str(path)),
                             base_url="http://engine", timeout=10)


async def ws_connect(path: Path, **kw: Any) -> Any:
    from websockets.asyncio.client import unix_connect

    return await unix_connect(str(path), "ws://engine/api/ws", **kw)


async def next_update(ws: Any) -> tuple[int, str, Update]:
    """(seq, type, decoded update) of the stream's next message."""
    msg = json.loads(await ws.recv())
    return msg["seq"], msg["type"], wire.decode_update(msg)

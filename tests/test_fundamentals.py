"""Fundamentals: Fear & Greed + CoinGecko from a loopback server; TTL cache; never raises."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from autotrade_tui.config import defaults
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.market.fundamentals import Fundamentals
from tests.kraken_server import closed_port_url

FNG = {"name": "Fear and Greed Index", "data": [
    {"value": "34", "value_classification": "Fear", "timestamp": "1750000000",
     "time_until_update": "3600"}], "metadata": {"error": None}}
GLOBAL = {"data": {"active_cryptocurrencies": 17000,
                   "total_market_cap": {"usd": 2.45e12, "eur": 2.2e12},
                   "total_volume": {"usd": 8.1e10},
                   "market_cap_percentage": {"btc": 54.2, "eth": 16.9},
                   "market_cap_change_percentage_24h_usd": -1.25, "updated_at": 1750000000}}
PRICES = {"bitcoin": {"usd": 67000.5, "usd_24h_change": 1.5},
          "ethereum": {"usd": 3100.25, "usd_24h_change": -0.75},
          "solana": {"usd": 150.0}}


class JsonServer:
    """Loopback server: path → (status, body, delay seconds); records every request path."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, float]] = {
            "/fng/": (200, json.dumps(FNG), 0.0),
            "/api/v3/global": (200, json.dumps(GLOBAL), 0.0),
            "/api/v3/simple/price": (200, json.dumps(PRICES), 0.0),
        }
        self.seen: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                server.seen.append(self.path)
                status, body, delay = server.routes.get(parts.path, (404, "not found", 0.0))
                time.sleep(delay)
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[JsonServer]:
    s = JsonServer()
    yield s
    s.close()


def make(server_url: str, clock: VirtualClock, **kw: Any) -> Fundamentals:
    return Fundamentals(clock, fear_greed_url=f"{server_url}/fng/",
                        coingecko_url=f"{server_url}/api/v3", timeout_seconds=1.0, **kw)


async def test_both_sources_parsed(server: JsonServer) -> None:
    f = make(server.url, VirtualClock(1_750_000_100.0))
    try:
        data = await f.get()
    finally:
        await f.close()
    assert data is not None and data["status"] == "ok" and data["errors"] == []
    assert data["fear_greed"] == {"value": 34, "classification": "Fear", "ts": 1_750_000_000.0}
    assert data["market"]["total_market_cap_usd"] == 2.45e12
    assert data["market"]["btc_dominance_pct"] == 54.2
    assert data["market"]["market_cap_change_24h_pct"] == -1.25
    assert data["prices"] == {"BTC": {"usd": 67000.5, "change_24h_pct": 1.5},
                              "ETH": {"usd": 3100.25, "change_24h_pct": -0.75},
                              "SOL": {"usd": 150.0}}
    assert data["fetched_at"] == 1_750_000_100.0
    assert sorted(p.split("?")[0] for p in server.seen) == [
        "/api/v3/global", "/api/v3/simple/price", "/fng/"]
    price_call = next(p for p in server.seen if p.startswith("/api/v3/simple/price"))
    assert "ids=bitcoin%2Cethereum%2Csolana" in price_call and "vs_currencies=usd" in price_call


async def test_second_call_inside_ttl_makes_no_request(server: JsonServer) -> None:
    clock = VirtualClock(1_750_000_000.0)
    f = make(server.url, clock, ttl_seconds=300)
    try:
        first = await f.get()
        assert len(server.seen) == 3
        clock.advance(299)
        second = await f.get()
        assert len(server.seen) == 3 and second == first
        assert second is not first  # a copy: callers cannot change the cache
        clock.advance(1)
        await f.get()
        assert len(server.seen) == 6
    finally:
        await f.close()


async def test_concurrent_callers_share_one_fetch(server: JsonServer) -> None:
    f = make(server.url, VirtualClock(1_750_000_000.0))
    try:
        results = await asyncio.gather(*(f.get() for _ in range(8)))
    finally:
        await f.close()
    assert len(server.seen) == 3
    assert all(r == results[0] for r in results)


async def test_unreachable_port_is_unavailable_not_an_exception() -> None:
    f = make(closed_port_url(), VirtualClock(1_750_000_000.0))
    try:
        started = time.perf_counter()
        data = await f.get()
        assert time.perf_counter() - started < 1.0  # refused at once, no timeout wait
    finally:
        await f.close()
    assert data is not None and data["status"] == "unavailable"
    assert data["fear_greed"] is None and data["market"] is None and data["prices"] is None
    assert len(data["errors"]) == 3 and "unreachable" in data["reason"]


async def test_failures_are_retried_only_after_the_failure_ttl(server: JsonServer) -> None:
    server.routes["/fng/"] = (500, "oops", 0.0)
    server.routes["/api/v3/global"] = (503, "busy", 0.0)
    server.routes["/api/v3/simple/price"] = (429, "slow down", 0.0)
    clock = VirtualClock(1_750_000_000.0)
    f = make(server.url, clock, failure_ttl_seconds=60)
    try:
        data = await f.get()
        assert data is not None and data["status"] == "unavailable"
        assert "HTTP 500" in data["reason"] and "HTTP 429" in data["reason"]
        clock.advance(59)
        await f.get()
        assert len(server.seen) == 3
        server.routes["/fng/"] = (200, json.dumps(FNG), 0.0)
        clock.advance(1)
        data = await f.get()
        assert len(server.seen) == 6
        assert data is not None and data["status"] == "partial"
        assert data["fear_greed"]["value"] == 34 and data["market"] is None
    finally:
        await f.close()


@pytest.mark.parametrize(("path", "body", "message"), [
    ("/fng/", '{"data": []}', "no data[0]"),
    ("/fng/", '{"data": [{"value": "140", "value_classification": "Greed"}]}', "outside 0..100"),
    ("/fng/", "<html>", "not JSON"),
    ("/api/v3/global", '{"data": {"total_market_cap": {}}}', "lacks data.total_market_cap"),
    ("/api/v3/global", '{"data": {"total_market_cap": {"usd": "NaN"}, "total_volume": {"usd": 1},'
                       ' "market_cap_percentage": {"btc": 50},'
                       ' "market_cap_change_percentage_24h_usd": 1}}', "not finite"),
    ("/api/v3/simple/price", '{"dogecoin": {"usd": 0.1}}', "none of the coins"),
    ("/api/v3/simple/price", "[1, 2]", "not an object"),
])
async def test_bad_data_from_one_source_leaves_the_others(
        server: JsonServer, path: str, body: str, message: str) -> None:
    server.routes[path] = (200, body, 0.0)
    f = make(server.url, VirtualClock(1_750_000_000.0))
    try:
        data = await f.get()
    finally:
        await f.close()
    assert data is not None and data["status"] == "partial"
    assert len(data["errors"]) == 1 and message in data["errors"][0]
    assert sum(data[k] is None for k in ("fear_greed", "market", "prices")) == 1


async def test_slow_source_times_out_into_unavailable(server: JsonServer) -> None:
    server.routes["/fng/"] = (200, json.dumps(FNG), 1.0)
    f = make(server.url, VirtualClock(1_750_000_000.0))
    f.timeout = 0.2
    try:
        started = time.perf_counter()
        data = await f.get()
        assert time.perf_counter() - started < 0.9
    finally:
        await f.close()
    assert data is not None and data["status"] == "partial"
    assert data["errors"] == [f"fear greed: timed out ({server.url}/fng/?limit=1)"]


async def test_disabled_returns_none_and_asks_nothing(server: JsonServer) -> None:
    f = make(server.url, VirtualClock(0.0), enabled=False)
    assert await f.get() is None
    assert server.seen == []


async def test_shared_client_is_used_and_left_open(server: JsonServer) -> None:
    async with httpx.AsyncClient() as client:
        f = Fundamentals.from_settings(
            defaults(fear_greed_url=f"{server.url}/fng/", coingecko_url=f"{server.url}/api/v3",
                     symbols=["ETH/USDT", "FOO/USDT"]),
            VirtualClock(1_750_000_000.0), client=client)
        data = await f.get()
        await f.close()
        assert not client.is_closed
        assert data is not None and data["status"] == "ok"
        assert list(data["prices"]) == ["ETH"]  # FOO has no CoinGecko id: not asked for

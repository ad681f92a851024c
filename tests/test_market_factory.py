"""open_feed: each market source, and auto's probe with its fallback to the simulated market."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from autotrade_tui.config import defaults
from autotrade_tui.core.clock import RealClock, VirtualClock
from autotrade_tui.errors import ConfigError
from autotrade_tui.market.base import MarketFeed
from autotrade_tui.market.ccxt_feed import CcxtFeed
from autotrade_tui.market.factory import check_settings, open_feed
from autotrade_tui.market.replay import ReplayFeed
from autotrade_tui.market.sim import SimMarket
from tests.kraken_server import KrakenServer, closed_port_url

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
FAST = {"rate_limit_ms": 1}  # the loopback server needs no 1 request/s pacing


async def test_sim_source() -> None:
    feed = await open_feed(defaults(market_source="sim", seed=9), VirtualClock())
    assert isinstance(feed, SimMarket) and feed.mode == "SIM"
    assert feed.note == "simulated market (realistic, seed 9)" and feed.fallback_reason is None
    assert set(await feed.fetch_tickers(SYMBOLS)) == set(SYMBOLS)


async def test_replay_source(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("timestamp,open,high,low,close,volume\n"
                    "1700000100,1,2,0.5,1.5,10\n1700000400,1.5,2,1,1.8,12\n")
    settings = defaults(market_source="replay", replay_file=str(path), symbols=["ETH/USDT"])
    feed = await open_feed(settings, VirtualClock(1_700_000_700.0))  # the 2nd bar has closed
    assert isinstance(feed, ReplayFeed) and feed.mode == "REPLAY"
    assert (await feed.fetch_tickers(["ETH/USDT"]))["ETH/USDT"].last == 1.8
    assert "h.csv" in feed.note


async def test_ccxt_source_uses_the_api_url() -> None:
    with KrakenServer() as kraken:
        feed = await open_feed(defaults(market_source="ccxt", exchange_api_url=kraken.url),
                               RealClock(), **FAST)
        try:
            assert isinstance(feed, CcxtFeed) and feed.mode == "LIVE DATA"
            assert len(await feed.fetch_tickers(SYMBOLS)) == 3
        finally:
            await feed.close()


async def test_auto_uses_the_exchange_when_it_answers() -> None:
    # Default options: Kraken's real pacing (1 request/s) still fits in the 5 s probe.
    with KrakenServer({"BTC/USDT": 64_000.0, "ETH/USDT": 3_000.0, "SOL/USDT": 140.0}) as kraken:
        feed = await open_feed(defaults(exchange_api_url=kraken.url), RealClock())
        try:
            assert isinstance(feed, MarketFeed) and isinstance(feed, CcxtFeed)
            assert feed.mode == "LIVE DATA"
            assert feed.note.startswith("Kraken answered")
            assert len(kraken.requests_to("Ticker")) == 1  # the probe: one batch call
            assert (await feed.fetch_tickers(SYMBOLS))["BTC/USDT"].last == 64_000.0
        finally:
            await feed.close()


async def test_auto_falls_back_fast_when_the_port_is_closed() -> None:
    settings = defaults(exchange_api_url=closed_port_url(), seed=3)
    started = time.perf_counter()
    feed = await open_feed(settings, VirtualClock())
    assert time.perf_counter() - started < 2.0  # no retry waits: refused means no
    assert isinstance(feed, SimMarket) and feed.mode == "SIM"
    assert feed.note == "Kraken unreachable — simulated market"
    assert feed.fallback_reason and "not available" in feed.fallback_reason
    assert feed.seed == 3 and len(await feed.fetch_tickers(SYMBOLS)) == 3


async def test_auto_falls_back_when_the_exchange_is_too_slow() -> None:
    with KrakenServer() as kraken:
        kraken.fail("AssetPairs", "delay", seconds=3.0)
        settings = defaults(exchange_api_url=kraken.url, auto_probe_seconds=0.4)
        started = time.perf_counter()
        feed = await open_feed(settings, VirtualClock())
        assert time.perf_counter() - started < 1.5
    assert isinstance(feed, SimMarket)
    assert feed.note == "Kraken unreachable — simulated market"
    assert feed.fallback_reason == "Kraken did not answer within 0.4 s"


async def test_auto_falls_back_when_the_exchange_cannot_price_the_symbols() -> None:
    with KrakenServer() as kraken:
        settings = defaults(exchange_api_url=kraken.url, symbols=["DOGE/USDT"])
        feed = await open_feed(settings, VirtualClock(), **FAST)
    assert isinstance(feed, SimMarket)
    assert feed.fallback_reason and "no market for DOGE/USDT" in feed.fallback_reason


async def test_auto_with_an_unknown_exchange_id_falls_back() -> None:
    feed = await open_feed(defaults(exchange_id="nosuchexchange"), VirtualClock())
    assert isinstance(feed, SimMarket)
    assert feed.note == "Nosuchexchange unavailable — simulated market"
    assert feed.fallback_reason and "unknown exchange id" in feed.fallback_reason


async def test_ccxt_with_an_unknown_exchange_id_is_a_config_error() -> None:
    # market=ccxt asked for that exchange: a bad configuration value (exit 2), no fallback
    settings = defaults(market_source="ccxt", exchange_id="nosuchexchange")
    with pytest.raises(ConfigError, match="'exchange_id' from override: unknown exchange id "
                                          "'nosuchexchange'"):
        check_settings(settings)
    with pytest.raises(ConfigError, match="unknown exchange id 'nosuchexchange'"):
        await open_feed(settings, VirtualClock())
    check_settings(defaults(exchange_id="nosuchexchange"))  # auto: falls back instead
    check_settings(defaults(market_source="ccxt"))  # kraken

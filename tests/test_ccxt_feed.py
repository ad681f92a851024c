"""CcxtFeed: the real ccxt library against a loopback server speaking Kraken's REST format."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.errors import MarketDataError, TemporaryError
from autotrade_tui.market.base import MarketFeed
from autotrade_tui.market.ccxt_feed import CcxtFeed
from tests.kraken_server import KrakenServer, closed_port_url

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
NOW = 1_750_000_000.0  # the server's and the clock's time: OHLC bars end here


@pytest.fixture
def kraken() -> Iterator[KrakenServer]:
    with KrakenServer({"BTC/USDT": 67_000.5, "ETH/USDT": 3_100.25, "SOL/USDT": 150.125},
                      now=NOW) as server:
        yield server


def make_feed(url: str, clock: VirtualClock | None = None, **kw: object) -> CcxtFeed:
    opts: dict[str, object] = {"timeout_seconds": 2.0, "retry_attempts": 3,
                               "retry_wait_seconds": 0.01, "retry_max_wait_seconds": 0.05,
                               "rate_limit_ms": 1}
    opts.update(kw)
    return CcxtFeed("kraken", SYMBOLS, url, clock or VirtualClock(NOW), **opts)  # type: ignore[arg-type]


@pytest.fixture
async def feed(kraken: KrakenServer) -> AsyncIterator[CcxtFeed]:
    f = make_feed(kraken.url)
    yield f
    await f.close()


async def test_prices_parsed_end_to_end_with_one_ticker_call_per_tick(
        kraken: KrakenServer, feed: CcxtFeed) -> None:
    assert isinstance(feed, MarketFeed) and feed.mode == "LIVE DATA"
    tickers = await feed.fetch_tickers(SYMBOLS)
    assert set(tickers) == set(SYMBOLS)
    btc = tickers["BTC/USDT"]
    assert btc.last == 67_000.5 and btc.symbol == "BTC/USDT"
    assert btc.bid is not None and btc.ask is not None and btc.bid < btc.last < btc.ask
    assert btc.volume_24h == pytest.approx(2400.25)
    assert tickers["SOL/USDT"].last == 150.125
    assert btc.ts == NOW  # Kraken gives no ticker time: the clock's time of receipt
    assert feed.latest_ts() == NOW
    calls = kraken.requests_to("Ticker")
    assert len(calls) == 1
    assert calls[0].path == "/0/public/Ticker"
    assert calls[0].query["pair"].split(",") == ["XBTUSDT", "ETHUSDT", "SOLUSDT"]

    kraken.set_price("ETH/USDT", 3_333.5)
    again = await feed.fetch_tickers(SYMBOLS)
    assert again["ETH/USDT"].last == 3_333.5
    assert len(kraken.requests_to("Ticker")) == 2
    assert len(kraken.requests_to("AssetPairs")) == 1  # markets are loaded once
    assert len(kraken.requests_to("Assets")) == 1


def test_api_url_override_sets_public_and_private(kraken: KrakenServer) -> None:
    feed = make_feed(kraken.url + "/")
    api = feed._ex.urls["api"]
    assert api["public"] == kraken.url and api["private"] == kraken.url
    assert api["zendesk"].startswith("https://")  # untouched: not market data


async def test_unknown_symbols_are_absent_not_errors(kraken: KrakenServer, feed: CcxtFeed) -> None:
    tickers = await feed.fetch_tickers(["BTC/USDT", "DOGE/USDT"])
    assert list(tickers) == ["BTC/USDT"]
    with pytest.raises(MarketDataError, match="no market for DOGE/USDT"):
        await feed.fetch_tickers(["DOGE/USDT"])
    with pytest.raises(MarketDataError, match="DOGE/USDT"):
        await feed.fetch_ohlcv("DOGE/USDT", "1m")
    assert len(kraken.requests_to("Ticker")) == 1


async def test_ohlcv_is_refreshed_incrementally(kraken: KrakenServer) -> None:
    clock = VirtualClock(NOW)
    feed = make_feed(kraken.url, clock)
    try:
        first = await feed.fetch_ohlcv("BTC/USDT", "1m", limit=200)
        assert len(first) == 200
        newest = int(NOW // 60) * 60
        assert first[-1].ts == newest and first[0].ts == newest - 199 * 60  # epoch seconds
        assert all(b.ts - a.ts == 60 for a, b in itertools.pairwise(first))
        assert first[-1].close == 67_000.5
        call = kraken.requests_to("OHLC")[0]
        assert call.query == {"pair": "XBTUSDT", "interval": "1"}

        # Three minutes later: the open bar closed at a new price, three new bars exist.
        clock.advance(180)
        kraken.set_now(NOW + 180)
        kraken.set_price("BTC/USDT", 68_000.0)
        second = await feed.fetch_ohlcv("BTC/USDT", "1m", limit=200)
        calls = kraken.requests_to("OHLC")
        assert len(calls) == 2
        # ccxt asks Kraken for bars after (since − one bar) to get the cached open bar again.
        assert calls[1].query["since"] == str(newest - 60)
        assert len(second) == 200
        assert second[-1].ts == newest + 180 and second[-1].close == 68_000.0
        assert all(b.ts - a.ts == 60 for a, b in itertools.pairwise(second))
        replaced = next(c for c in second if c.ts == newest)
        assert replaced.close != first[-1].close  # the open bar was replaced, not duplicated

        # Asking for a different timeframe is its own cache.
        five = await feed.fetch_ohlcv("BTC/USDT", "5m", limit=50)
        assert len(five) == 50 and five[-1].ts % 300 == 0
        assert kraken.requests_to("OHLC")[-1].query["interval"] == "5"
        # `since` inside the cache is served from it (after an incremental refresh).
        tail = await feed.fetch_ohlcv("BTC/USDT", "1m", limit=200, since=newest)
        assert [c.ts for c in tail] == [newest + 60 * k for k in range(4)]
        assert "since" in kraken.requests_to("OHLC")[-1].query

        # Deeper than ever asked: one full download (Kraken has 720 bars), then incremental
        # again even though fewer bars than asked exist.
        deep = await feed.fetch_ohlcv("BTC/USDT", "1m", limit=1000)
        assert len(deep) == 720 and "since" not in kraken.requests_to("OHLC")[-1].query
        again = await feed.fetch_ohlcv("BTC/USDT", "1m", limit=1000)
        assert len(again) == 720 and "since" in kraken.requests_to("OHLC")[-1].query
        assert len(await feed.fetch_ohlcv("BTC/USDT", "1m", limit=50)) == 50
        assert "since" in kraken.requests_to("OHLC")[-1].query
    finally:
        await feed.close()


async def test_timeout_is_retried_then_succeeds(kraken: KrakenServer) -> None:
    feed = make_feed(kraken.url, timeout_seconds=0.3)
    try:
        await feed.fetch_tickers(SYMBOLS)  # markets loaded
        kraken.clear_requests()
        kraken.fail("Ticker", "delay", seconds=1.0)
        tickers = await feed.fetch_tickers(SYMBOLS)
        assert tickers["BTC/USDT"].last == 67_000.5
        assert len(kraken.requests_to("Ticker")) == 2
    finally:
        await feed.close()


async def test_persistent_timeout_becomes_temporary_error(kraken: KrakenServer) -> None:
    feed = make_feed(kraken.url, timeout_seconds=0.2)
    try:
        await feed.fetch_tickers(SYMBOLS)
        kraken.clear_requests()
        kraken.fail("Ticker", "delay", times=3, seconds=0.6)
        with pytest.raises(TemporaryError, match="timed out after 3 attempt"):
            await feed.fetch_tickers(SYMBOLS)
        assert len(kraken.requests_to("Ticker")) == 3
    finally:
        await feed.close()


async def test_5xx_is_retried_with_exponential_backoff(kraken: KrakenServer) -> None:
    feed = make_feed(kraken.url, retry_attempts=4, retry_wait_seconds=0.05,
                     retry_max_wait_seconds=1.0)
    try:
        await feed.fetch_tickers(SYMBOLS)
        kraken.clear_requests()
        kraken.fail("Ticker", "status", times=3, status=503)
        tickers = await feed.fetch_tickers(SYMBOLS)
        assert tickers["ETH/USDT"].last == 3_100.25
        times = [r.at for r in kraken.requests_to("Ticker")]
        assert len(times) == 4
        gaps = [b - a for a, b in itertools.pairwise(times)]
        for gap, wait in zip(gaps, (0.05, 0.1, 0.2), strict=True):
            assert gap >= wait - 0.01  # 0.05 · 2^(n−1)
    finally:
        await feed.close()


async def test_rate_limit_answer_is_retried_then_reported(kraken: KrakenServer,
                                                           feed: CcxtFeed) -> None:
    await feed.fetch_tickers(SYMBOLS)
    kraken.clear_requests()
    kraken.fail("Ticker", "rate_limit", times=1)
    assert (await feed.fetch_tickers(SYMBOLS))["BTC/USDT"].last == 67_000.5
    assert len(kraken.requests_to("Ticker")) == 2
    kraken.clear_requests()
    kraken.fail("Ticker", "rate_limit", times=10)
    with pytest.raises(TemporaryError, match="rate limited") as err:
        await feed.fetch_tickers(SYMBOLS)
    assert "EAPI:Rate limit exceeded" in str(err.value)
    assert len(kraken.requests_to("Ticker")) == 3


async def test_dropped_connection_is_retried(kraken: KrakenServer, feed: CcxtFeed) -> None:
    await feed.fetch_tickers(SYMBOLS)
    kraken.clear_requests()
    kraken.fail("Ticker", "drop")
    assert (await feed.fetch_tickers(SYMBOLS))["SOL/USDT"].last == 150.125
    assert len(kraken.requests_to("Ticker")) == 2


async def test_market_loading_is_retried_too(kraken: KrakenServer, feed: CcxtFeed) -> None:
    kraken.fail("AssetPairs", "status", status=502)
    assert len(await feed.fetch_tickers(SYMBOLS)) == 3
    assert len(kraken.requests_to("AssetPairs")) == 2


@pytest.mark.parametrize(("body", "content_type"), [
    ("<html><body>maintenance</body></html>", "text/html"),
    ('{"error": [], "result": {"XBTUSDT": {"c": ["abc", "1"]}}}', "application/json"),
    ('{"error": [], "result": ', "application/json"),
])
async def test_malformed_ticker_answer_is_a_clear_error_without_retry(
        kraken: KrakenServer, feed: CcxtFeed, body: str, content_type: str) -> None:
    await feed.fetch_tickers(SYMBOLS)
    kraken.clear_requests()
    kraken.fail("Ticker", "body", body=body, content_type=content_type)
    with pytest.raises(MarketDataError, match="Kraken tickers: malformed answer"):
        await feed.fetch_tickers(SYMBOLS)
    assert len(kraken.requests_to("Ticker")) == 1
    assert len(await feed.fetch_tickers(SYMBOLS)) == 3  # and the next tick works


async def test_malformed_candles_are_a_clear_error(kraken: KrakenServer, feed: CcxtFeed) -> None:
    body = ('{"error": [], "result": {"XBTUSDT": [[1750000000, "1", "2", "0.5", "x", "1", '
            '"3", 1]], "last": 0}}')
    kraken.fail("OHLC", "body", body=body, content_type="application/json")
    with pytest.raises(MarketDataError, match="malformed candle #1"):
        await feed.fetch_ohlcv("BTC/USDT", "1m")
    assert len(kraken.requests_to("OHLC")) == 1


async def test_exchange_errors_are_not_retried(kraken: KrakenServer, feed: CcxtFeed) -> None:
    await feed.fetch_tickers(SYMBOLS)
    kraken.fail("OHLC", "kraken_error", message="EQuery:Unknown asset pair")
    with pytest.raises(MarketDataError, match="EQuery:Unknown asset pair"):
        await feed.fetch_ohlcv("BTC/USDT", "1m")
    kraken.fail("OHLC", "kraken_error", message="EQuery:Invalid asset pair")
    with pytest.raises(MarketDataError, match="unknown symbol or market"):
        await feed.fetch_ohlcv("ETH/USDT", "1m")
    kraken.fail("Ticker", "kraken_error", message="EAPI:Invalid key")
    with pytest.raises(MarketDataError, match="credentials refused"):
        await feed.fetch_tickers(SYMBOLS)
    kraken.fail("Ticker", "status", status=404)  # ccxt calls 404 "not available": retried
    assert len(await feed.fetch_tickers(SYMBOLS)) == 3
    assert len(kraken.requests_to("OHLC")) == 2  # one each: no retries
    assert len(kraken.requests_to("Ticker")) == 4  # 1 + 1 refused + 404 + its retry


async def test_bad_arguments_are_clear_errors(feed: CcxtFeed) -> None:
    with pytest.raises(MarketDataError, match="no 7m candles"):
        await feed.fetch_ohlcv("BTC/USDT", "7m")
    with pytest.raises(MarketDataError, match="unknown exchange id 'nosuchexchange'"):
        CcxtFeed("nosuchexchange", SYMBOLS, None, VirtualClock())


async def test_unreachable_exchange_is_a_temporary_error() -> None:
    feed = make_feed(closed_port_url())
    try:
        with pytest.raises(TemporaryError, match="Kraken loading markets: not available"):
            await feed.fetch_tickers(SYMBOLS)
    finally:
        await feed.close()


async def test_close_closes_the_exchange(kraken: KrakenServer) -> None:
    feed = make_feed(kraken.url)
    await feed.fetch_tickers(SYMBOLS)
    assert feed._ex.session is not None
    await feed.close()
    assert feed._ex.session is None
    await feed.close()  # twice is fine
    with pytest.raises(MarketDataError, match="closed"):
        await feed.fetch_tickers(SYMBOLS)

"""Live, read-only market data from an exchange through ccxt.async_support (SPEC §5.1).

One `fetch_tickers` call per tick for all symbols; OHLCV cached per (symbol, timeframe) and
refreshed incrementally (`since` = the newest cached bar, which is replaced: it was still
open). Retryable ccxt errors (network, timeout, rate limit, exchange not available) are retried
with tenacity's exponential backoff and then become `TemporaryError`; everything else (bad
symbol, auth, exchange error, malformed data) becomes `MarketDataError` at once. ccxt errors are
translated here and nowhere else; their text (the exchange's own words) is made one line with
no control characters (core.text.one_line). ccxt is imported lazily (it is slow to import).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from autotrade_tui.core.clock import Clock
from autotrade_tui.core.models import Candle, Ticker
from autotrade_tui.core.text import one_line
from autotrade_tui.errors import AutotradeError, ConfigError, MarketDataError, TemporaryError
from autotrade_tui.market.base import TIMEFRAME_SECONDS

log = logging.getLogger(__name__)
T = TypeVar("T")
Row = list[float]  # [ts_ms, open, high, low, close, volume]


def override_api_url(exchange: Any, api_url: str) -> None:
    """Point the exchange's REST base URL at `api_url` (a proxy or a loopback test server).

    ccxt builds request URLs as urls['api'][<api name>] + path, e.g. Kraken's public calls are
    urls['api']['public'] + '/0/public/Ticker?pair=…'. So for Kraken the override is the host
    only: 'http://127.0.0.1:8080' → the server sees '/0/public/Ticker'.
    """
    base = api_url.rstrip("/")
    urls = exchange.urls.get("api")
    if isinstance(urls, dict):
        names = [k for k in ("public", "private") if k in urls]
        for name in names or [k for k, v in urls.items() if isinstance(v, str)]:
            urls[name] = base
    else:
        exchange.urls["api"] = base


class UnknownExchangeError(MarketDataError, ConfigError):
    """ccxt has no exchange by that id: no market data (MarketDataError), and a bad
    configuration value the user must fix (ConfigError: exit code 2, not 1)."""


def check_exchange_id(exchange_id: str) -> None:
    """UnknownExchangeError unless ccxt has an exchange called `exchange_id`."""
    import ccxt.async_support as ccxt_async

    if exchange_id not in ccxt_async.exchanges:
        raise UnknownExchangeError(f"unknown exchange id '{exchange_id}' (ccxt has no such "
                                   "exchange; e.g. kraken, binance, coinbase)")


class CcxtFeed:
    """`MarketFeed` over a ccxt exchange ("LIVE DATA")."""

    mode = "LIVE DATA"

    def __init__(
        self,
        exchange_id: str,
        symbols: Sequence[str],
        api_url: str | None,
        clock: Clock,
        *,
        timeout_seconds: float = 10.0,
        retry_attempts: int = 4,
        retry_wait_seconds: float = 0.5,
        retry_max_wait_seconds: float = 8.0,
        rate_limit_ms: int | None = None,
        cache_limit: int = 1000,
    ) -> None:
        import ccxt.async_support as ccxt_async  # lazy: ~0.5 s to import

        check_exchange_id(exchange_id)
        self._ccxt = ccxt_async
        config: dict[str, Any] = {"enableRateLimit": True, "timeout": int(timeout_seconds * 1000)}
        if rate_limit_ms is not None:
            config["rateLimit"] = rate_limit_ms
        self._ex = getattr(ccxt_async, exchange_id)(config)
        if api_url:
            override_api_url(self._ex, api_url)
        self.exchange_id = exchange_id
        self.name = str(getattr(self._ex, "name", exchange_id) or exchange_id)
        self.symbols = list(symbols)
        self.note = f"{self.name} market data (read-only, paper trading)"
        self._clock = clock
        self._attempts = max(1, retry_attempts)
        self._wait = retry_wait_seconds
        self._max_wait = retry_max_wait_seconds
        self._cache_limit = cache_limit
        self._cache: dict[tuple[str, str], list[Row]] = {}
        self._depth: dict[tuple[str, str], int] = {}  # deepest full download per cache key
        self._latest: float | None = None
        self._warned: set[str] = set()
        self._closed = False

    # --- errors -------------------------------------------------------------------------
    def _retryable(self, exc: BaseException) -> bool:
        c = self._ccxt
        return isinstance(exc, c.NetworkError) and not isinstance(exc, c.InvalidNonce)

    def _translate(self, exc: Exception, what: str) -> AutotradeError:
        c = self._ccxt
        text = one_line(str(exc), 240)  # the exchange's words: one inert line
        if self._retryable(exc):
            if isinstance(exc, c.RequestTimeout):
                kind = "timed out"
            elif isinstance(exc, c.DDoSProtection):  # RateLimitExceeded is a subclass
                kind = "rate limited"
            elif isinstance(exc, c.ExchangeNotAvailable):
                kind = "not available"
            else:
                kind = "network error"
            return TemporaryError(f"{self.name} {what}: {kind} after {self._attempts} "
                                  f"attempt(s): {text}")
        if isinstance(exc, c.BadSymbol):
            return MarketDataError(f"{self.name} {what}: unknown symbol or market: {text}")
        if isinstance(exc, c.AuthenticationError):
            return MarketDataError(f"{self.name} {what}: credentials refused: {text}")
        if isinstance(exc, c.BaseError):
            return MarketDataError(f"{self.name} {what}: the exchange refused: {text}")
        return MarketDataError(f"{self.name} {what}: malformed answer "
                               f"({type(exc).__name__}: {text})")

    async def _call(self, what: str, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run one ccxt call with retries for temporary failures; translate its errors."""
        if self._closed:
            raise MarketDataError(f"{self.name} feed is closed")
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._wait, min=self._wait, max=self._max_wait),
            retry=retry_if_exception(self._retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await fn(*args)
        except AutotradeError:
            raise
        except Exception as exc:  # ccxt errors and whatever a malformed answer breaks
            raise self._translate(exc, what) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")

    # --- markets ------------------------------------------------------------------------
    async def _markets(self) -> dict[str, Any]:
        if not self._ex.markets:
            await self._call("loading markets", self._ex.load_markets)
        return self._ex.markets or {}

    async def _known(self, symbols: Sequence[str]) -> list[str]:
        markets = await self._markets()
        unknown = [s for s in symbols if s not in markets]
        for s in unknown:
            if s not in self._warned:
                self._warned.add(s)
                log.warning("%s has no market %s; it gets no prices", self.name, s)
        known = [s for s in symbols if s in markets]
        if symbols and not known:
            raise MarketDataError(f"{self.name} has no market for {', '.join(symbols)}")
        return known

    # --- MarketFeed ---------------------------------------------------------------------
    async def fetch_tickers(self, symbols: list[str]) -> dict[str, Ticker]:
        known = await self._known(symbols)
        if not known:
            return {}
        raw = await self._call("tickers", self._ex.fetch_tickers, known)
        now = self._clock.now()
        out: dict[str, Ticker] = {}
        for sym in known:
            t = raw.get(sym) if isinstance(raw, dict) else None
            if not isinstance(t, dict):
                continue
            last = _num(t.get("last"))
            if last is None or last <= 0:
                continue
            ms = _num(t.get("timestamp"))
            out[sym] = Ticker(sym, last, ms / 1000 if ms and ms > 0 else now,
                              bid=_num(t.get("bid")), ask=_num(t.get("ask")),
                              volume_24h=_num(t.get("baseVolume")))
        if not out:
            raise MarketDataError(f"{self.name} tickers: malformed answer, no usable price "
                                  f"for {', '.join(known)}")
        self._latest = max([self._latest or 0.0, *(t.ts for t in out.values())])
        return out

    async def probe(self, symbols: list[str]) -> dict[str, Ticker]:
        """`fetch_tickers` tried once, without retries: does the exchange answer? (auto mode)"""
        saved, self._attempts = self._attempts, 1
        try:
            return await self.fetch_tickers(symbols)
        finally:
            self._attempts = saved

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "5m", limit: int = 200,
                          since: float | None = None) -> list[Candle]:
        await self._known([symbol])
        if timeframe not in (self._ex.timeframes or {}):
            raise MarketDataError(f"{self.name} has no {timeframe} candles")
        what = f"OHLCV {symbol} {timeframe}"
        since_ms = int(since * 1000) if since is not None else None
        cached = self._cache.get((symbol, timeframe), [])
        if since_ms is not None and (not cached or since_ms < cached[0][0]):
            rows = _validate(await self._call(what, self._ex.fetch_ohlcv, symbol, timeframe,
                                              since_ms, limit), self.name, what)
            return [_candle(r) for r in rows if r[0] >= since_ms][:limit]
        rows = await self._refresh(symbol, timeframe, limit, cached, what)
        if since_ms is not None:
            return [_candle(r) for r in rows if r[0] >= since_ms][:limit]
        return [_candle(r) for r in rows[-limit:]]

    async def _refresh(self, symbol: str, timeframe: str, limit: int, cached: list[Row],
                       what: str) -> list[Row]:
        tf_ms = TIMEFRAME_SECONDS.get(timeframe, 60) * 1000
        behind = (self._clock.now() * 1000 - cached[-1][0]) / tf_ms if cached else math.inf
        depth = self._depth.get((symbol, timeframe), 0)
        # Full download only for a first or deeper request than before, or after a long pause;
        # an exchange that has fewer bars than asked (Kraken: 720) is not asked again and again.
        if cached and limit <= depth and behind < limit:
            # Incremental: from the newest cached bar on; that bar was still open, replace it.
            new = _validate(await self._call(what, self._ex.fetch_ohlcv, symbol, timeframe,
                                             int(cached[-1][0]), None), self.name, what)
            rows = [r for r in cached if not new or r[0] < new[0][0]] + new
        else:
            rows = _validate(await self._call(what, self._ex.fetch_ohlcv, symbol, timeframe,
                                              None, limit), self.name, what)
            self._depth[(symbol, timeframe)] = max(depth, limit)
        rows = rows[-max(self._cache_limit, limit):]
        self._cache[(symbol, timeframe)] = rows
        if rows:
            self._latest = max(self._latest or 0.0, rows[-1][0] / 1000)
        return rows

    def latest_ts(self) -> float | None:
        return self._latest

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._ex.close()


def _num(value: Any) -> float | None:
    """A finite float, or None for anything else (None, '', 'abc', NaN)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _validate(rows: Any, name: str, what: str) -> list[Row]:
    """ccxt OHLCV rows → checked rows sorted by time; MarketDataError if any is malformed."""
    if not isinstance(rows, list):
        raise MarketDataError(f"{name} {what}: malformed answer (not a list of candles)")
    out: list[Row] = []
    for i, r in enumerate(rows):
        row = _row(r)
        if row is None:
            raise MarketDataError(f"{name} {what}: malformed candle #{i + 1}: {r!r:.120}")
        out.append(row)
    out.sort(key=lambda r: r[0])
    return out


def _row(r: Any) -> Row | None:
    """[ts, o, h, l, c, v] with positive prices, high ≥ low, volume ≥ 0; else None."""
    if not isinstance(r, list | tuple) or len(r) < 6:
        return None
    nums = [x for x in (_num(v) for v in r[:6]) if x is not None]
    if len(nums) != 6:
        return None
    _ts, o, h, lo, c, v = nums
    if min(o, h, lo, c) <= 0 or v < 0 or h < lo:
        return None
    return nums


def _candle(r: Row) -> Candle:
    return Candle(r[0] / 1000, r[1], r[2], r[3], r[4], r[5])

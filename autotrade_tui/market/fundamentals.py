"""Optional fundamentals for the decision prompt: Fear & Greed index and CoinGecko market data.

Fetched over one shared httpx.AsyncClient, cached with a TTL on the app clock, and never
raising: when a source is unreachable or answers nonsense, `get()` says so in the result
({"status": "unavailable" | "partial", "errors": [...]}) and the decision goes on without it.
Text from the sources (the index's label, error messages) is cleaned here (core.text): it
reaches the prompt, the database and the screen.
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx

from autotrade_tui.core.clock import Clock
from autotrade_tui.core.text import FIELD_LIMIT, one_line

if TYPE_CHECKING:
    from autotrade_tui.config import Settings

# Base asset → CoinGecko coin id (for /simple/price).
COINGECKO_IDS = {
    "BTC": "bitcoin", "ETH": "ethereum", "SOL": "solana", "BNB": "binancecoin",
    "XRP": "ripple", "ADA": "cardano", "DOGE": "dogecoin", "AVAX": "avalanche-2",
    "LINK": "chainlink", "DOT": "polkadot", "LTC": "litecoin", "TRX": "tron",
    "MATIC": "matic-network", "POL": "polygon-ecosystem-token", "XLM": "stellar",
}


class SourceError(Exception):
    """One source failed; the message says how (for the result's `errors`)."""


# What a failing source may raise; anything else is a bug and propagates.
DATA_ERRORS = (SourceError, httpx.HTTPError, httpx.InvalidURL, ValueError)


def _number(value: Any, what: str) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise SourceError(f"{what} is not a number: {value!r:.40}") from None
    if not math.isfinite(f):
        raise SourceError(f"{what} is not finite")
    return f


class Fundamentals:
    """Fear & Greed + CoinGecko, cached `ttl_seconds` (failures `failure_ttl_seconds`)."""

    def __init__(
        self,
        clock: Clock,
        *,
        fear_greed_url: str = "https://api.alternative.me/fng/",
        coingecko_url: str = "https://api.coingecko.com/api/v3",
        symbols: Sequence[str] = ("BTC/USDT", "ETH/USDT", "SOL/USDT"),
        ttl_seconds: float = 600.0,
        failure_ttl_seconds: float = 120.0,
        timeout_seconds: float = 5.0,
        enabled: bool = True,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.clock = clock
        self.fear_greed_url = fear_greed_url
        self.coingecko_url = coingecko_url.rstrip("/")
        bases = [s.partition("/")[0].upper() for s in symbols]
        self.coin_ids = {b: COINGECKO_IDS[b] for b in bases if b in COINGECKO_IDS}
        self.ttl = ttl_seconds
        self.failure_ttl = failure_ttl_seconds
        self.timeout = timeout_seconds
        self.enabled = enabled
        self._client = client
        self._own_client = client is None
        self._cache: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock,
                      client: httpx.AsyncClient | None = None) -> Fundamentals:
        return cls(clock, fear_greed_url=settings.fear_greed_url,
                   coingecko_url=settings.coingecko_url, symbols=settings.symbols,
                   enabled=bool(settings.fundamentals_enabled), client=client)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout, follow_redirects=True,
                headers={"Accept": "application/json", "User-Agent": "autotrade-tui"})
        return self._client

    async def get(self) -> dict[str, Any] | None:
        """The latest fundamentals (a copy), from the cache while fresh; None when disabled."""
        if not self.enabled:
            return None
        async with self._lock:  # concurrent callers share one fetch
            now = self.clock.now()
            if self._cache is not None:
                at, result = self._cache
                ttl = self.ttl if result["status"] == "ok" else self.failure_ttl
                if now - at < ttl:
                    return copy.deepcopy(result)
            result = await self._fetch(now)
            self._cache = (now, result)
            return copy.deepcopy(result)

    async def _fetch(self, now: float) -> dict[str, Any]:
        names = ("fear_greed", "market", "prices")
        jobs = [self._fear_greed(), self._global(), self._prices()]
        outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        result: dict[str, Any] = {"fetched_at": now}
        errors: list[str] = []
        for name, outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, DATA_ERRORS):
                    raise outcome  # a bug, or cancellation: not a data problem
                result[name] = None
                errors.append(f"{name.replace('_', ' ')}: {one_line(_describe(outcome))}")
            else:
                result[name] = outcome
        got = sum(result[n] is not None for n in names)
        result["status"] = "ok" if got == len(names) else "partial" if got else "unavailable"
        result["errors"] = errors
        if errors:
            result["reason"] = "; ".join(errors)
        return result

    async def _json(self, url: str, params: dict[str, str] | None = None) -> Any:
        response = await self._http().get(url, params=params)
        response.raise_for_status()
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"answer from {url} is not JSON") from None

    async def _fear_greed(self) -> dict[str, Any]:
        data = await self._json(self.fear_greed_url, {"limit": "1"})
        try:
            item = data["data"][0]
            label = one_line(str(item["value_classification"]), FIELD_LIMIT)
        except (KeyError, IndexError, TypeError):
            raise SourceError("answer has no data[0].value_classification") from None
        value = _number(item.get("value"), "value")
        if not 0 <= value <= 100:
            raise SourceError(f"value {value:g} is outside 0..100")
        out: dict[str, Any] = {"value": int(value), "classification": label}
        if item.get("timestamp") is not None:
            out["ts"] = _number(item["timestamp"], "timestamp")
        return out

    async def _global(self) -> dict[str, Any]:
        data = await self._json(f"{self.coingecko_url}/global")
        try:
            d = data["data"]
            return {
                "total_market_cap_usd": _number(d["total_market_cap"]["usd"], "market cap"),
                "total_volume_usd": _number(d["total_volume"]["usd"], "volume"),
                "btc_dominance_pct": _number(d["market_cap_percentage"]["btc"], "BTC share"),
                "eth_dominance_pct": _number(d["market_cap_percentage"].get("eth", 0.0),
                                             "ETH share"),
                "market_cap_change_24h_pct": _number(
                    d["market_cap_change_percentage_24h_usd"], "24 h change"),
            }
        except (KeyError, TypeError, AttributeError):
            raise SourceError("/global answer lacks data.total_market_cap.usd, "
                              "total_volume.usd or market_cap_percentage") from None

    async def _prices(self) -> dict[str, Any]:
        if not self.coin_ids:
            return {}
        data = await self._json(f"{self.coingecko_url}/simple/price", {
            "ids": ",".join(self.coin_ids.values()), "vs_currencies": "usd",
            "include_24hr_change": "true"})
        if not isinstance(data, dict):
            raise SourceError("/simple/price answer is not an object")
        out: dict[str, Any] = {}
        for base, coin in self.coin_ids.items():
            entry = data.get(coin)
            if isinstance(entry, dict) and "usd" in entry:
                out[base] = {"usd": _number(entry["usd"], f"{base} price")}
                if entry.get("usd_24h_change") is not None:
                    out[base]["change_24h_pct"] = _number(entry["usd_24h_change"],
                                                          f"{base} change")
        if not out:
            raise SourceError("/simple/price answer has none of the coins asked for")
        return out

    async def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({exc.request.url})" if _has_request(exc) else "timed out"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {exc.request.url}"
    if isinstance(exc, httpx.ConnectError):
        return f"unreachable ({exc.request.url})" if _has_request(exc) else "unreachable"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {exc}"
    return str(exc)


def _has_request(exc: httpx.HTTPError) -> bool:
    try:
        exc.request  # noqa: B018  (raises RuntimeError when the error has no request)
    except RuntimeError:
        return False
    return True


__all__ = ["COINGECKO_IDS", "Fundamentals"]

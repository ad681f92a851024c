"""The `MarketFeed` seam: every source of prices (ccxt, sim, replay) looks like this."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from autotrade_tui.core.models import Candle, Ticker

TIMEFRAME_SECONDS: dict[str, int] = {
    "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14_400, "1d": 86_400,
}


@runtime_checkable
class MarketFeed(Protocol):
    """Read-only market data.

    `mode` is what the header shows: "LIVE DATA", "SIM" or "REPLAY".
    `fetch_tickers` returns one Ticker per requested symbol, all from ONE upstream call;
    symbols it could not price are absent (never a made-up price).
    `fetch_ohlcv` returns up to `limit` closed-or-current candles, oldest first, `ts` = bar open
    time in epoch seconds; `since` (epoch s) asks only for bars opening at or after it.
    `latest_ts` is the time of the newest data the feed holds (for staleness).
    Errors: `TemporaryError` (retry later), `MarketDataError` (permanent: bad symbol, bad answer).
    """

    mode: str

    async def fetch_tickers(self, symbols: list[str]) -> dict[str, Ticker]: ...

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "5m", limit: int = 200, since: float | None = None
    ) -> list[Candle]: ...

    def latest_ts(self) -> float | None: ...

    async def close(self) -> None: ...

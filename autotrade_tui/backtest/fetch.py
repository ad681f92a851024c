"""History from the exchange (no --data): ccxt `fetch_ohlcv` paginated over the range, kept in
the backtest database's `market_data_cache` so the same backtest again downloads nothing."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from autotrade_tui.backtest.history import History, Series
from autotrade_tui.backtest.request import DAY, DEFAULT_DAYS, Request, iso
from autotrade_tui.backtest.store import BacktestStore
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.errors import UserError

CCXT_OPTIONS: dict[str, Any] = {}  # extra CcxtFeed options (tests: a loopback rate limit)
PAGE = 720  # candles per request (Kraken's most)
WARMUP_BARS = 200  # fetched before --from: the runtime's decision window

Bar = list[float]  # [ts (epoch s), open, high, low, close, volume]


def plan(req: Request, now: float) -> tuple[float, float, float]:
    """(first bar to fetch, first decision time, end): closed bars only, on the bar grid."""
    tf = req.bar_seconds
    closed = math.floor(now / tf) * tf  # bars opening before this one have closed
    end = closed if req.date_to is None else min(math.ceil(req.date_to / tf) * tf, closed)
    start = end - DEFAULT_DAYS * DAY if req.date_from is None else req.date_from
    start = math.ceil(start / tf) * tf
    if start >= end:
        raise UserError(_no_closed_candle(req, start >= closed, now))
    return start - WARMUP_BARS * tf, start, end


def _no_closed_candle(req: Request, too_late: bool, now: float) -> str:
    """Why [start, end) is empty, never printed backwards. Only with --from (2 days back
    without it): past the last closed candle, or a --from .. --to inside one candle."""
    since = iso(req.date_from or 0.0)
    if too_late:
        return (f"no closed candles in {since} onwards: --from is after the last closed "
                f"{req.timeframe} candle (it is {iso(now)} now)")
    return (f"no closed candles in {since} .. {iso(req.date_to or 0.0)}: no {req.timeframe} "
            "candle opens in that range")


async def fetch_history(req: Request, settings: Any, store: BacktestStore,
                        now: float | None = None) -> History:
    now = time.time() if now is None else now
    lo, start, end = plan(req, now)
    source = str(settings.exchange_id)
    feed: Any = None
    series: dict[str, Series] = {}
    downloaded: list[str] = []
    try:
        for sym in req.symbols:
            bars = _from_cache(store, source, sym, req.timeframe, lo, end)
            if bars is None:
                if feed is None:
                    feed = _open(settings, req.symbols, now)
                bars = await _extend(feed, store, source, sym, req, lo, end)
                downloaded.append(sym)
            if not any(start <= b[0] < end for b in bars):
                raise UserError(f"{source} has no {req.timeframe} candles for {sym} in "
                                f"{iso(start)} .. {iso(end)}")
            a = np.asarray(bars, dtype=np.float64).reshape(-1, 6)
            series[sym] = Series(sym, *(np.ascontiguousarray(a[:, k]) for k in range(6)))
    finally:
        if feed is not None:
            await feed.close()
    where = f"{source} (downloaded {', '.join(downloaded)})" if downloaded else \
        f"{source} (market_data_cache)"
    return History(series, req.bar_seconds, start, end, where,
                   _gaps(series, req.bar_seconds))


def _open(settings: Any, symbols: list[str], now: float) -> Any:
    from autotrade_tui.market.ccxt_feed import CcxtFeed

    return CcxtFeed(settings.exchange_id, symbols, settings.exchange_api_url or None,
                    VirtualClock(now), **CCXT_OPTIONS)


def _from_cache(store: BacktestStore, source: str, sym: str, timeframe: str, lo: float,
                hi: float) -> list[Bar] | None:
    for a, b, bars in store.cached_bars(source, sym, timeframe):
        if a <= lo and b >= hi:
            return [bar for bar in bars if lo <= bar[0] < hi]
    return None


async def _extend(feed: Any, store: BacktestStore, source: str, sym: str, req: Request,
                  lo: float, hi: float) -> list[Bar]:
    """Download what the cache lacks (only the tail when a cached download covers the start),
    store the merged download, return the bars of [lo, hi)."""
    head: list[Bar] = []
    since, first = lo, lo
    for a, b, bars in store.cached_bars(source, sym, req.timeframe):
        if a <= lo < b:
            head, since, first = bars, b, a
            break
    fresh = await download(feed, sym, req.timeframe, req.bar_seconds, since, hi)
    merged = {bar[0]: bar for bar in head}
    merged.update((bar[0], bar) for bar in fresh)
    bars = [merged[t] for t in sorted(merged)]
    store.cache_bars(source, sym, req.timeframe, first, hi, bars)
    return [bar for bar in bars if lo <= bar[0] < hi]


async def download(feed: Any, symbol: str, timeframe: str, bar_seconds: int, lo: float,
                   hi: float) -> list[Bar]:
    """Every bar of [lo, hi) the exchange gives, page by page (`since` = after the last)."""
    out: dict[float, Bar] = {}
    cursor = lo
    while cursor < hi:
        page = await feed.fetch_ohlcv(symbol, timeframe, PAGE, since=cursor)
        new = [c for c in page if lo <= c.ts < hi and c.ts not in out]
        if not new:
            break
        for c in new:
            out[c.ts] = [c.ts, c.open, c.high, c.low, c.close, c.volume]
        cursor = max(c.ts for c in new) + bar_seconds
    return [out[t] for t in sorted(out)]


def _gaps(series: dict[str, Series], tf: int) -> list[str]:
    found = []
    for sym, s in series.items():
        steps = np.diff(s.ts)
        for i in np.flatnonzero(steps > tf * 1.5):
            found.append(f"{sym}: {round(steps[i] / tf) - 1} bar(s) missing between "
                         f"{iso(s.ts[i])} and {iso(s.ts[i + 1])}")
    return found

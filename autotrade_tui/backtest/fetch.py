"""History without --data, from where `market_source` says the market is:
* ccxt: the exchange's `fetch_ohlcv` paginated over the range, kept in the backtest database's
  `market_data_cache` so the same backtest again downloads nothing;
* auto: the same when the exchange answers (the app's probe); else, as the app does, the
  simulated market, with a warning;
* sim: the simulated market (seeded), its history starting at the range's first warm-up bar,
  so the same --from/--to and seed give the same candles. Not cached: it is made, not fetched.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from autotrade_tui.backtest.history import History, Series, from_rows
from autotrade_tui.backtest.request import DAY, DEFAULT_DAYS, Request, iso
from autotrade_tui.backtest.store import BacktestStore
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.errors import UserError

if TYPE_CHECKING:
    from autotrade_tui.config import Settings

CCXT_OPTIONS: dict[str, Any] = {}  # extra CcxtFeed options (tests: a loopback rate limit)
PAGE = 720  # candles per request (Kraken's most)
WARMUP_BARS = 200  # fetched before --from: the runtime's decision window
MAX_SIM_DAYS = 400  # the simulated market keeps its 1-minute bars in memory (~80 MB a year each)

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


def preflight(req: Request, settings: Settings, now: float) -> None:
    """What can be refused before the backtest database is created: an empty range, an
    unknown exchange id (when the exchange is asked: a backtest names the exchange to fetch
    from, so a typo is an error even with market=auto, whose fallback is for an exchange
    that does not answer), a range too long for the sim."""
    lo, start, end = plan(req, now)
    if settings.market_source == "sim":
        _sim_limit(lo, start, end)
    else:
        from autotrade_tui.market.factory import check_settings

        check_settings(settings, market="ccxt")


def _sim_limit(lo: float, start: float, end: float) -> None:
    if end - lo > MAX_SIM_DAYS * DAY:
        raise UserError(f"the simulated market makes at most {MAX_SIM_DAYS} days of history: "
                        f"narrow --from/--to (asked: {iso(start)} .. {iso(end)})")


def _no_closed_candle(req: Request, too_late: bool, now: float) -> str:
    """Why [start, end) is empty, never printed backwards. Only with --from (2 days back
    without it): past the last closed candle, or a --from .. --to inside one candle."""
    since = iso(req.date_from or 0.0)
    if too_late:
        return (f"no closed candles in {since} onwards: --from is after the last closed "
                f"{req.timeframe} candle (it is {iso(now)} now)")
    return (f"no closed candles in {since} .. {iso(req.date_to or 0.0)}: no {req.timeframe} "
            "candle opens in that range")


async def fetch_history(req: Request, settings: Settings, store: BacktestStore,
                        now: float) -> History:
    """The history of `req` up to `now` (epoch s): closed bars only (see `plan`)."""
    lo, start, end = plan(req, now)
    if settings.market_source == "sim":
        return simulated(req, settings, lo, start, end, "simulated market")
    source = str(settings.exchange_id)
    feed: Any = None
    series: dict[str, Series] = {}
    downloaded: list[str] = []
    try:
        for sym in req.symbols:
            bars = _from_cache(store, source, sym, req.timeframe, lo, end)
            if bars is None:
                if feed is None:
                    feed = await _open(settings, now)
                    if feed.mode == "SIM":  # market=auto, and the exchange did not answer
                        return simulated(req, settings, lo, start, end, feed.note)
                bars = await _extend(feed, store, source, sym, req, lo, end)
                downloaded.append(sym)
            if not any(start <= b[0] < end for b in bars):
                raise UserError(f"{source} has no {req.timeframe} candles for {sym} in "
                                f"{iso(start)} .. {iso(end)}")
            series[sym] = from_rows(sym, bars)
    finally:
        if feed is not None:
            await feed.close()
    where = f"{source} (downloaded {', '.join(downloaded)})" if downloaded else \
        f"{source} (market_data_cache)"
    return History(series, req.bar_seconds, start, end, where,
                   _gaps(series, req.bar_seconds))


async def _open(settings: Settings, now: float) -> Any:
    """The exchange's feed (market=ccxt); with market=auto, the app's probe decides, and the
    simulated market comes back when the exchange does not answer (logged as a warning)."""
    from autotrade_tui.market.factory import open_feed

    if settings.market_source not in ("auto", "ccxt"):  # replay without a file: the exchange
        settings = settings.replace(market_source="ccxt")
    return await open_feed(settings, VirtualClock(now), **CCXT_OPTIONS)


def simulated(req: Request, settings: Settings, lo: float, start: float, end: float,
              note: str) -> History:
    """The simulated market's bars of [lo, end): its history is made to start at `lo`."""
    from autotrade_tui.market.sim import HISTORY_MINUTES, SimMarket

    _sim_limit(lo, start, end)
    clock = VirtualClock(lo + HISTORY_MINUTES * 60)  # its history: the 10 days before now
    sim = SimMarket(req.symbols, clock, settings.seed, settings.sim_profile)
    if end > clock.now():
        clock.set(end)  # and on to the end of the range
    count = int((end - lo) // req.bar_seconds) + 1
    series = {}
    for sym in req.symbols:
        series[sym] = from_rows(sym, [(c.ts, c.open, c.high, c.low, c.close, c.volume)
                                      for c in sim.candles(sym, req.timeframe, count, since=lo)
                                      if c.ts < end])
    return History(series, req.bar_seconds, start, end, f"{note} (seed {sim.seed})")


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

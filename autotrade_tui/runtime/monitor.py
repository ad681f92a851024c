"""The event monitor's state between ticks: a 1-minute candle window per symbol, kept up to
date incrementally (live bar from tickers, sealed bars fetched once a minute), and the
detector with its cooldowns (SPEC §9)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from autotrade_tui.core.events import CandleWindow, EventDetector, EventThresholds, snapshot
from autotrade_tui.core.models import Candle, MarketEvent, Position, Ticker
from autotrade_tui.errors import AutotradeError
from autotrade_tui.market.base import MarketFeed

log = logging.getLogger(__name__)
HISTORY_BARS = 1500  # 24 h of 1-minute bars and a margin: the volume/ATR baselines


class EventMonitor:
    def __init__(self, feed: MarketFeed, symbols: Iterable[str], thresholds: EventThresholds,
                 maintenance_margin_rate: float) -> None:
        self.feed = feed
        self.symbols = list(symbols)
        self.detector = EventDetector(thresholds)
        self.mmr = maintenance_margin_rate
        self.windows = {s: CandleWindow() for s in self.symbols}
        self.counts: dict[str, int] = {}

    async def prime(self) -> None:
        """Load the 1-minute history once, at start."""
        for sym in self.symbols:
            try:
                self.windows[sym].extend(await self.feed.fetch_ohlcv(sym, "1m", HISTORY_BARS))
            except AutotradeError as exc:
                log.warning("event monitor: no 1m history for %s: %s", sym, exc)

    async def refresh_candles(self, symbol: str, now: float) -> None:
        """Fetch only the bars since the last one we hold, once the minute has rolled."""
        win = self.windows[symbol]
        last = win.last
        if last is not None and now < last.ts + 60:
            return
        since = last.ts if last is not None else None
        limit = HISTORY_BARS if last is None else 30
        win.extend(await self.feed.fetch_ohlcv(symbol, "1m", limit, since=since))

    def fold_ticker(self, ticker: Ticker) -> None:
        """Let the live bar follow the latest price between candle refreshes."""
        win = self.windows.get(ticker.symbol)
        live = win.last if win is not None else None
        if win is None or live is None or not live.ts <= ticker.ts < live.ts + 60:
            return
        p = ticker.last
        win.update(Candle(live.ts, live.open, max(live.high, p), min(live.low, p), p,
                          live.volume))

    def detect(self, symbol: str, now: float, price: float,
               positions: Mapping[str, Position]) -> list[MarketEvent]:
        snap = snapshot(self.windows[symbol], symbol, now, price)
        pos = positions.get(symbol)
        events = self.detector.detect(snap, [pos] if pos else [], self.mmr)
        for e in events:
            self.counts[e.event_type.value] = self.counts.get(e.event_type.value, 0) + 1
        return events

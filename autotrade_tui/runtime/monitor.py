"""The event monitor's state between ticks: a candle window per symbol on the finest bars the
feed has (1 minute live; a replay's own bars, e.g. 5 minutes), kept up to date incrementally
(live bar from tickers, sealed bars fetched once a bar), and the detector with its cooldowns
(SPEC §9). The flash windows are those the bars allow: 1, 5 and 15 minutes on 1-minute bars,
5 and 15 on 5-minute bars (a "1 minute" move cannot be read from 5-minute closes)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from autotrade_tui.core.events import (
    FLASH_WINDOWS_MIN,
    CandleWindow,
    EventDetector,
    EventThresholds,
    SymbolSnapshot,
    snapshot,
)
from autotrade_tui.core.lasting import Key, LastingConditions, position_key
from autotrade_tui.core.models import Candle, EventType, MarketEvent, Position, Ticker
from autotrade_tui.errors import AutotradeError
from autotrade_tui.market.base import TIMEFRAME_SECONDS, MarketFeed

log = logging.getLogger(__name__)
_LIQUIDATION = EventType.LIQUIDATION_RISK  # (a module global reads faster than the enum)
HISTORY_BARS = 1500  # 24 h of 1-minute bars and a margin: the volume/ATR baselines


def history_bars(bar_seconds: float) -> int:
    """24 h of bars and a margin of 60 (1500 for 1-minute bars)."""
    return int(86_400 // bar_seconds) + 60


def flash_windows(bar_seconds: float) -> tuple[int, ...]:
    """The flash windows (minutes) whole bars of `bar_seconds` can measure."""
    return tuple(m for m in FLASH_WINDOWS_MIN if m * 60 >= bar_seconds
                 and (m * 60) % bar_seconds == 0)


def finest_bar(feed: object) -> int:
    """The finest timeframe (seconds) the feed gives: its own bars (a replay), else 1 minute."""
    native = float(getattr(feed, "timeframe_seconds", 60) or 60)
    return next((s for s in sorted(TIMEFRAME_SECONDS.values()) if s >= native and s % native
                 == 0), max(TIMEFRAME_SECONDS.values()))


class EventMonitor:
    def __init__(self, feed: MarketFeed, symbols: Iterable[str], thresholds: EventThresholds,
                 maintenance_margin_rate: float, bar_seconds: int | None = None) -> None:
        self.feed = feed
        self.symbols = list(symbols)
        self.detector = EventDetector(thresholds)
        self.mmr = maintenance_margin_rate
        self.bar_seconds = bar_seconds or finest_bar(feed)
        self.timeframe = next(n for n, s in TIMEFRAME_SECONDS.items() if s == self.bar_seconds)
        self.flash_windows = flash_windows(self.bar_seconds)
        self.history_bars = history_bars(self.bar_seconds)
        self.windows = {s: CandleWindow(bar_seconds=self.bar_seconds) for s in self.symbols}
        self.counts: dict[str, int] = {}
        # A condition gone for its cooldown and a minute is over; its next sighting is news.
        # Not before a bar has passed: on 5-minute bars a price is seen once a bar, so a
        # liquidation risk (cooldown 2 min) sighted on consecutive bars is one condition.
        gone = {kind: max(thresholds.cooldown_seconds(kind), self.bar_seconds) + 60.0
                for kind in EventType}
        self.lasting = LastingConditions(thresholds.event_repeat_seconds, gone.__getitem__)
        self._keys: dict[str, tuple[object, Key]] = {}  # symbol → (facts, their condition)

    async def prime(self) -> None:
        """Load the history once, at start."""
        for sym in self.symbols:
            try:
                self.windows[sym].extend(await self.feed.fetch_ohlcv(sym, self.timeframe,
                                                                     self.history_bars))
            except AutotradeError as exc:
                log.warning("event monitor: no %s history for %s: %s", self.timeframe, sym, exc)

    async def refresh_candles(self, symbol: str, now: float) -> None:
        """Fetch only the bars since the last one we hold, once its bar has rolled."""
        win = self.windows[symbol]
        last = win.last
        if last is not None and now < last.ts + self.bar_seconds:
            return
        since = last.ts if last is not None else None
        limit = self.history_bars if last is None else 30
        self.add_bars(symbol, await self.feed.fetch_ohlcv(symbol, self.timeframe, limit,
                                                          since=since), now)

    def add_bars(self, symbol: str, candles: Sequence[Candle], now: float) -> None:
        """New bars into the window. When the newest has closed by `now` (a replay serves
        closed bars only; an exchange may lag), the next bar opens at its close, empty, at its
        price: the closed bar is then sealed and counts at once, not one bar late."""
        win = self.windows[symbol]
        win.extend(candles)
        if candles:
            self._open_next(win, candles[-1].ts, candles[-1].close, now)

    def add_closed_columns(self, symbol: str, ts: Sequence[float], open_: Sequence[float],
                           high: Sequence[float], low: Sequence[float], close: Sequence[float],
                           volume: Sequence[float]) -> None:
        """`add_bars` for bars that have all closed and were checked when read (a backtest's,
        as columns): `CandleWindow.extend_closed`, the same state in one step."""
        self.windows[symbol].extend_closed(ts, open_, high, low, close, volume)

    def _open_next(self, win: CandleWindow, ts: float, close: float, now: float) -> None:
        """After the bar of `ts` was added: if it has closed by `now`, the next opens."""
        last = win.last
        if ts + self.bar_seconds <= now and last is not None and last.ts == ts:
            win.update(Candle(ts + self.bar_seconds, close, close, close, close, 0.0))

    def fold_ticker(self, ticker: Ticker) -> None:
        """Let the live bar follow the latest price between candle refreshes."""
        win = self.windows.get(ticker.symbol)
        live = win.last if win is not None else None
        if win is None or live is None or not live.ts <= ticker.ts < live.ts + self.bar_seconds:
            return
        p = ticker.last
        win.update(Candle(live.ts, live.open, max(live.high, p), min(live.low, p), p,
                          live.volume))

    def detect(self, symbol: str, now: float, price: float,
               positions: Mapping[str, Position]) -> list[MarketEvent]:
        """The symbol's events now (`price_news`: those the price alone can show)."""
        snap = snapshot(self.windows[symbol], symbol, now, price, self.flash_windows)
        return self._detected(snap, positions.get(symbol), liquidation=True)

    def _detected(self, snap: SymbolSnapshot, pos: Position | None, *,
                  liquidation: bool) -> list[MarketEvent]:
        """The detector's events on `snap` (`pos`: the symbol's position), counted."""
        events = self.detector.detect(snap, [pos] if pos else [], self.mmr,
                                      liquidation=liquidation)
        for e in events:
            self._count(e.event_type)
        return events

    def news(self, snap: SymbolSnapshot,
             positions: Mapping[str, Position]) -> list[MarketEvent]:
        """`detect` on a snapshot read elsewhere (a backtest's `WindowSeries`), sifted as
        lasting conditions (SPEC §9): the events to raise. The liquidation rule is asked apart
        (`price_news`): a lasting sighting of it is counted without being worded (a backtest's
        screened bar while it holds a leveraged position)."""
        pos = positions.get(snap.symbol)
        events = self._detected(snap, pos, liquidation=False)
        raised = self.lasting.sift(events)[0] if events else []
        found = self.price_news(snap.symbol, snap.ts, snap.price, pos)
        if found is not None:
            raised.append(found)  # (the liquidation rule's event comes last, as in detect)
        return raised

    def price_news(self, symbol: str, now: float, price: float,
                   position: Position | None) -> MarketEvent | None:
        """`EventDetector.detect_price` and `lasting.sift` in one: the liquidation risk the
        price alone shows (a backtest's bar its screen finds quiet), if it is news (SPEC §9).
        A sighting of a lasting condition is counted without its event being built: a
        backtest holding a leveraged position sees one every candle."""
        level = self.detector.price_level(symbol, now, price, position, self.mmr)
        if level is None:
            return None
        kind = _LIQUIDATION
        self._count(kind)
        facts = level[2]
        kept = self._keys.get(symbol)
        if kept is None or kept[0] is not facts:  # (the same position's facts: the same key)
            kept = self._keys[symbol] = (facts, position_key(symbol, kind, facts[1], facts[3]))
        if self.lasting.absorb(kept[1], level[1], now):
            return None
        event = self.detector.liquidation_event(symbol, now, price, level)
        self.lasting.raise_refused(kept[1], event)  # (not absorbed: news)
        return event

    def _count(self, kind: EventType) -> None:
        name = kind._value_  # (`.value` is a slow property; a backtest counts every candle)
        self.counts[name] = self.counts.get(name, 0) + 1

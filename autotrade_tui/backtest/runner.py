"""The replay loop: the backtest's scheduler of the live runtime's two steps (their rules are
`core.step`'s, shared with `runtime.ticks`) on a VirtualClock, candle by candle.

A bar is known when it closes (SPEC §5.3): the replay clock steps from bar close to bar close,
and the bar that opens at T is seen at T + timeframe, so whatever is decided or filled on its
close carries that time. Per candle (the runtime's `monitor_tick`): every symbol's price is the
close of its last visible bar (the replay feed's ticker, stale once its bar is over by more
than `stale_after_seconds`); `engine.mark` with the fresh prices (liquidations, guards,
drawdown switch); the event detectors of `runtime.monitor.EventMonitor` for every fresh symbol,
its windows on the history's own bars (5-minute bars: 5 and 15 minute moves, volume and ATR on
those bars), fed as the live runtime feeds them (`EventMonitor.add_bars`).
Per decision time, every `trading_interval_minutes` of candle time (the runtime's
`decision_cycle`): each symbol's indicators at its last visible bar, both models, the vote,
the gates and the engine, settled in symbol order.

The same functions as live, called cheaply: indicators come from one `compute_frame` over the
whole series (row i equals the runtime's value on the candles up to i); the offline models'
rules, pure functions of a bar's values written over arrays, run once over those columns and
each distinct pair of answers is voted once with `voting.tally` (the code their `decide` and
`voting.vote` run, without the reasoning text, which is written afterwards for the decisions
a run keeps; see `fast.py`); a HOLD never reaches the engine; the windows are read only at
the bars where `screen.py` finds that a rule reading them may fire (at the others only a
position's liquidation risk can show), and read from `core.window_series`: what the window fed
bar by bar would read, computed over the series at once. Any other models get the full context
(`core.decision.build_context`) and `decide`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autotrade_tui.backtest.fast import Decider, SeriesVotes, indicator_keys, lean, make_decider
from autotrade_tui.backtest.history import History, Series
from autotrade_tui.backtest.screen import screen
from autotrade_tui.core import indicators as ta
from autotrade_tui.core import step
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.core.engine import EngineConfig, TradingEngine
from autotrade_tui.core.events import EventThresholds
from autotrade_tui.core.models import (
    Action,
    Candle,
    DecisionContext,
    MarketEvent,
    ModelVote,
    Trade,
    TradeSource,
    VoteResult,
)
from autotrade_tui.core.scorecard import Columns, Scorecard
from autotrade_tui.core.step import (
    DECISION_CANDLES,
    RECENT_CLOSES,
    TickRules,
    is_stale,
)
from autotrade_tui.core.step import mark as mark_engine
from autotrade_tui.core.window_series import WindowSeries, fits
from autotrade_tui.runtime.monitor import EventMonitor
from autotrade_tui.runtime.ticks import settle_in_order

log = logging.getLogger(__name__)

_HOLD = Action.HOLD
_NONE = ()  # "no symbol to decide out of cycle", without a new list per candle
_AUTO = TradeSource.AUTO


@dataclass(slots=True)
class Decided:
    """A decision whose vote was not HOLD (HOLDs are only counted)."""

    ts: float
    symbol: str
    index: int  # bar index in the symbol's series
    price: float
    source: TradeSource
    result: VoteResult
    executed: bool
    note: str
    trades: list[Trade]
    votes: tuple[ModelVote, ModelVote] | None = None  # None: offline, written on demand
    state: int = 0  # offline: the open position the rules saw (fast.HELD_STATES index)


@dataclass(repr=False)  # (asyncio.run on 3.11 reprs its finished task's result: ~0.4 s)
class Outcome:
    """What a replay produced; `seconds` is the replay's wall time (indicators included)."""

    engine: TradingEngine
    times: list[float]
    equity: list[float]
    trades: list[tuple[Trade, int | None]]  # with the index of their decision in `decided`
    decided: list[Decided]
    events: list[MarketEvent]
    counts: dict[str, int]
    candles: int
    seconds: float
    prices: dict[str, float]
    votes_of: Callable[[Decided], tuple[ModelVote, ModelVote]]


@contextmanager
def _quiet_gc(offline: bool) -> Iterator[None]:
    """The replay allocates a lot and frees little. With the offline models (no I/O, no tasks:
    no reference cycles made) the collector waits until the end; either way what is frozen
    inside (the precomputed inputs) is not scanned again. Measured: ~30 % of the offline loop
    went to collections scanning the inputs."""
    was = gc.isenabled()
    if offline:
        gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
        gc.unfreeze()


class _Sym:
    """One symbol's replay state; lists of floats, not arrays, for cheap per-candle reads."""

    def __init__(self, s: Series, bar_seconds: int) -> None:
        self.name = s.symbol
        self.series = s
        self.ts: list[float] = s.ts.tolist()
        self.open: list[float] = s.open.tolist()
        self.high: list[float] = s.high.tolist()
        self.low: list[float] = s.low.tolist()
        self.close: list[float] = s.close.tolist()
        self.volume: list[float] = s.volume.tolist()
        self.last = len(self.ts) - 1  # index of the series' last bar
        self.i = -1  # index of the last visible bar
        self.values: np.ndarray | None = None  # row-major indicator values (context path)
        self.lean: SeriesVotes  # the offline models' answers (lean path)
        self.bar = bar_seconds
        self.first = -1  # the newest bar when the symbol was first fresh (the monitor primes)
        self.fed = -1  # the last bar given to the monitor's window
        self.screen: list[bool] = []  # per bar: may a rule reading the window fire (screen.py)
        # what the monitor's window is fed in all (`_first_fresh`): the bars from `p0`, each
        # hole's empty bar after it; `place`: each bar's index there (from `p0`)
        self.p0 = 0
        self.fed_columns: list[np.ndarray] = []
        self.place = np.empty(0, dtype=np.int64)
        # the window's readings after each of those; None: irregular bars, the window
        # itself is fed (`_feed_window`)
        self.window: WindowSeries | None = None
        self._closed: np.ndarray | None = None

    @property
    def closed(self) -> np.ndarray:
        """Each bar's close time, as `Backtest._monitor` adds them (`ts[j] + bar`)."""
        if self._closed is None:
            self._closed = self.series.ts + float(self.bar)
        return self._closed

    def frame(self, keys: tuple[str, ...] = ta.INDICATOR_KEYS) -> pd.DataFrame:
        """The indicators `keys` over the whole series (row i: on the candles up to i)."""
        s = self.series
        return ta.compute_frame(pd.DataFrame({c: getattr(s, c) for c in
                                              ("open", "high", "low", "close", "volume")}), keys)

    def indicators(self, j: int) -> dict[str, float]:
        """Row j as `indicators.latest` gives it on the candles up to j."""
        if self.values is None:
            self.values = self.frame().to_numpy(dtype=np.float64)
        return dict(zip(ta.INDICATOR_KEYS, self.values[j].tolist(), strict=True))

    def levels(self, j: int) -> tuple[list[float], list[float]]:
        lo = max(0, j + 1 - DECISION_CANDLES)
        s = self.series
        df = pd.DataFrame({"high": s.high[lo:j + 1], "low": s.low[lo:j + 1],
                           "close": s.close[lo:j + 1]})
        return ta.support_resistance(df)

    def candle(self, j: int) -> Candle:
        s = self.series
        return Candle(self.ts[j], float(s.open[j]), float(s.high[j]), float(s.low[j]),
                      self.close[j], float(s.volume[j]))


def _bar_columns(syms: list[_Sym], times: list[float]) -> dict[str, Columns] | None:
    """Each symbol's bars for `Scorecard.replay` (opens, highs, lows, closes and the index
    of its bar closing at the first candle) when every candle after the first gives every
    symbol exactly one new bar, closing at it (fresh: `_monitor` marks the shadows on all
    of them); None otherwise (a hole, a late start, another step: marked candle by candle)."""
    if not times:
        return None
    at = np.asarray(times, dtype=np.float64)
    out: dict[str, Columns] = {}
    for s in syms:
        closed = s.closed
        first = int(np.searchsorted(closed, at[0], side="left"))
        if not np.array_equal(closed[first:first + len(at)], at):
            return None
        out[s.name] = (s.open, s.high, s.low, s.close, first)
    return out


class _Seen:
    """The price of a symbol the first mark at or after a time saw (NaN: none did before the
    replay ended): `Backtest._monitor`'s rule (the close of the symbol's last bar closed by
    a candle, at the first candle at which that is fresh) computed after the replay for many
    times at once. The scorecard judges a backtest's answers at it (`Scorecard.judge_seen`)."""

    def __init__(self, by_name: dict[str, _Sym], times: list[float], limit: float) -> None:
        self.by_name = by_name
        self.times = np.asarray(times, dtype=np.float64)
        self.limit = limit

    def __call__(self, symbol: str, due: list[float]) -> list[float]:
        s, times, n = self.by_name[symbol], self.times, len(self.times)
        closed, close = s.closed, s.series.close
        k = np.searchsorted(times, due, side="left")  # the first candle at or after each
        t = times[np.minimum(k, n - 1)]
        j = np.searchsorted(closed, t, side="right") - 1  # the last bar closed by then
        fresh = (k < n) & (j >= 0) & ~(t - closed[np.maximum(j, 0)] > self.limit)
        out = np.where(fresh, close[np.maximum(j, 0)], np.nan)
        for m in np.flatnonzero((k < n) & ~fresh):  # stale there: the next fresh candle
            out[m] = self._later(closed, close, int(k[m]), int(j[m]))
        prices: list[float] = out.tolist()
        return prices

    def _later(self, closed: np.ndarray, close: np.ndarray, k: int, j: int) -> float:
        """From candle k, where the symbol's price (bar j) is stale: a price turns fresh
        only at a candle where a later bar has closed."""
        times, n = self.times, len(self.times)
        while j + 1 < len(closed):
            k = max(k + 1, int(np.searchsorted(times, closed[j + 1], side="left")))
            if k >= n:
                break
            t = times[k]
            j = int(np.searchsorted(closed, t, side="right")) - 1
            if not is_stale(float(closed[j]), float(t), self.limit):
                return float(close[j])
        return math.nan


class Backtest:
    """One replay of `history` with `models` under `settings`; `run()` once."""

    def __init__(self, settings: Any, history: History, models: tuple[Any, Any], *,
                 clock: VirtualClock | None = None, fast: bool | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 progress_every: int = 8192, after_cycle: Callable[[], None] | None = None
                 ) -> None:
        self.settings = settings
        self.history = history
        self.models = models
        self.clock = clock or VirtualClock(history.start)
        self.fast = lean(models) if fast is None else fast and lean(models)
        rules = TickRules.from_settings(settings)  # the live runtime's, as it reads them
        self.policy = rules.policy
        self.engine = TradingEngine(EngineConfig.from_settings(settings))
        self.interval = rules.interval_s
        self.stale_after = rules.stale_after
        self.event_decisions = rules.event_decisions
        self.monitor = EventMonitor(None, history.symbols,  # type: ignore[arg-type]
                                    EventThresholds.from_settings(settings),
                                    settings.maintenance_margin_rate, history.bar_seconds)
        self.progress, self.progress_every = progress, max(1, progress_every)
        self.after_cycle = after_cycle
        self._slots = asyncio.Semaphore(int(settings.max_concurrent_model_calls))
        self.prices: dict[str, float] = {}
        self.stale: set[str] = set()
        self.trades: list[tuple[Trade, int | None]] = []
        self.decided: list[Decided] = []
        self.events: list[MarketEvent] = []
        self.recent: list[MarketEvent] = []
        # per symbol: (position, its entries, low, high) of its liquidation-quiet prices
        self._quiet: dict[str, tuple[Any, int, float, float]] = {}
        self.counts = {"decisions": 0, "BUY": 0, "SELL": 0, "HOLD": 0, "executed": 0}
        # SPEC §16: each model's own answers on a shadow ledger (a copy of the engine)
        self.scorecard = Scorecard(self.engine.config, [m.name for m in models],
                                   float(settings.single_model_threshold), self.interval)
        self._fast: Decider | None = None
        self._by_name: dict[str, _Sym] = {}

    async def run(self) -> Outcome:
        started = time.perf_counter()
        syms, times = self._prepare()
        card = self.scorecard
        later = card.judge_later()  # known in advance: the prices the marks will see
        columns = _bar_columns(syms, times) if later else None
        if columns is not None:  # every symbol a bar each candle: the shadows afterwards
            card.record()
        with _quiet_gc(offline=self.fast):
            gc.freeze()  # the series and the per-bar votes: never garbage, never scanned again
            equity = await self._replay(syms, times)
            if columns is not None:
                card.replay(times, columns)
        if later:
            card.judge_seen(_Seen(self._by_name, times, self.stale_after))
        h = self.history
        return Outcome(self.engine, times, equity, self.trades, self.decided, self.events,
                       self.counts, h.candles(), time.perf_counter() - started,
                       dict(self.prices), self.votes_of)

    def _prepare(self) -> tuple[list[_Sym], list[float]]:
        """Indicators once per series (lean: only those the rules read, and the rules' answers
        and votes at every bar), the replay's timeline."""
        h = self.history
        syms = [_Sym(s, h.bar_seconds) for s in h.series.values()]
        self._by_name = {s.name: s for s in syms}
        if self.fast:
            keys = indicator_keys(self.models)
            try:
                for s in syms:
                    s.lean = SeriesVotes(self.models, s.series.close, s.frame(keys), self.policy)
            except Exception as exc:
                # a broken rule: ask the models bar by bar (their error votes, as live)
                log.warning("the models' rules failed over the series (%s: %s): asking them "
                            "bar by bar, much slower", type(exc).__name__, exc)
                self.fast = False
            else:
                self._fast = make_decider(self)
        # each bar is seen at its close: the clock's times are the bars' closes
        times = np.unique(np.concatenate(
            [s.ts[(s.ts >= h.start) & (s.ts < h.end)] + h.bar_seconds
             for s in h.series.values()])).tolist()
        return syms, times

    async def _replay(self, syms: list[_Sym], times: list[float]) -> list[float]:
        """The candle loop; the equity after every candle."""
        equity: list[float] = []
        next_at = -math.inf
        every, interval, fast = self.progress_every, self.interval, self._fast
        set_clock, monitor, cycle = self.clock.set, self._monitor, self._cycle
        value, prices, add = self.engine.equity, self.prices, equity.append
        for lo in range(0, len(times), every):
            for t in times[lo:lo + every]:
                set_clock(t)
                urgent = monitor(syms, t)
                if urgent:  # CRITICAL events: the runtime decides for them at once
                    await cycle(urgent, t, TradeSource.EVENT)
                if t >= next_at:
                    if fast is not None:
                        fast(syms, t, _AUTO)
                    else:
                        await cycle(syms, t, _AUTO)
                    next_at = t + interval
                add(value(prices))
            if self.progress is not None:
                self.progress(min(lo + every, len(times)), len(times))
        return equity

    def votes_of(self, d: Decided) -> tuple[ModelVote, ModelVote]:
        """Both models' votes of a recorded decision, reasoning included (the fast path
        recomputes them with the text: the same rule on the same values)."""
        if d.votes is not None:
            return d.votes
        return self._by_name[d.symbol].lean.votes(d.index, d.state)

    # ---- the monitor step
    def _monitor(self, syms: list[_Sym], t: float) -> list[_Sym] | tuple[()]:
        """Prices, engine.mark, events; returns the symbols an event wants decided now.

        First each symbol's last visible bar (the replay feed's ticker step, in line: once
        per candle): its price, and whether it is fresh."""
        fresh: dict[str, float] = {}
        stale, prices, limit = self.stale, self.prices, self.stale_after
        positions = self.engine.positions
        card = self.scorecard
        # each new bar's range: the engine's positions and the shadows' are checked on it
        bars: dict[str, tuple[float, float, float, float]] = {}
        for s in syms:
            j, ts, last, bar = s.i, s.ts, s.last, s.bar
            seen = j
            while j < last and ts[j + 1] + bar <= t:  # closed by now
                j += 1
            s.i = j
            name = s.name
            if j > seen >= 0:
                k = seen + 1  # the first new bar; usually the only one
                bars[name] = ((s.open[k], s.high[j], s.low[j], s.close[j]) if j == k else
                              (s.open[k], max(s.high[k:j + 1]), min(s.low[k:j + 1]),
                               s.close[j]))
            if j < 0:
                stale.add(name)  # no bar yet: no ticker
                continue
            price = prices[name] = s.close[j]
            # the replay feed's ticker: stamped min(now, its bar's end) (see step.is_stale)
            if is_stale(ts[j] + bar, t, limit):
                stale.add(name)
            elif name in stale:
                stale.discard(name)
                fresh[name] = price
            else:
                fresh[name] = price
        if not fresh:
            return _NONE
        engine = self.engine
        if bars and not bars.keys() <= fresh.keys():  # a stale symbol's bar: not marked
            bars = {k: b for k, b in bars.items() if k in fresh}
        # (the bars of symbols only shadows hold are for them: a flat engine is marked on its
        # prices, as `mark_bars` would mark it)
        marked = mark_engine(engine, fresh, t, bars if positions else None)
        if marked:
            self.trades += [(trade, None) for trade in marked]
        if card.holding or t >= card.next_due:  # `step.mark_shadows`, in line: every candle
            card.mark(fresh, t, bars)
        return self._events(t, fresh, engine.positions)

    def _events(self, t: float, fresh: dict[str, float],
                positions: dict[str, Any]) -> list[_Sym] | tuple[()]:
        """The event detectors for the fresh symbols (see `_monitor`): the window read where
        the screen says a rule on it may fire (or the symbol has no new bar: a hole), else
        the price alone, for a position near enough to its liquidation."""
        monitor = self.monitor
        quiet, by_name, detect = self._quiet, self._by_name, monitor.detect
        sifted = monitor.news
        sift = monitor.lasting.sift
        found: list[MarketEvent] = []  # raised ones only: a lasting condition is news once
        for name, price in fresh.items():
            s = by_name[name]
            j = s.i
            if s.first < 0:
                self._first_fresh(s)
            if s.ts[j] + s.bar == t and not s.screen[j]:
                pos = positions.get(name)
                if pos is None:
                    continue
                q = quiet.get(name)
                if q is None or q[0] is not pos or q[1] != len(pos.entries):
                    low, high = self.monitor.detector.liquidation_quiet(pos, self.monitor.mmr)
                    q = quiet[name] = (pos, len(pos.entries), low, high)
                if q[2] < price < q[3]:
                    continue  # far from liquidation: the rule would find nothing
                news = monitor.price_news(name, t, price, pos)
                if news is not None:
                    found.append(news)
                continue
            win = s.window
            if win is not None:  # the window fed through bar j (its index among the fed)
                snap = win.snapshot(int(s.place[j - s.p0]), name, t, price)
                found += sifted(snap, positions)
                continue
            self._feed_window(s, t)
            found += sift(detect(name, t, price, positions))[0]
        if not found:
            return _NONE
        self.events += found
        self.recent = step.remember(found, self.recent)
        if not self.event_decisions:
            return _NONE
        return [self._by_name[n] for n in step.urgent(found) if n in self._by_name]

    def _first_fresh(self, s: _Sym) -> None:
        """The symbol's first fresh candle: the live monitor primes its window here (the
        day before); the screen of its bars and the window's readings are made."""
        s.first = s.i
        s.fed = max(0, s.i + 1 - self.monitor.history_bars) - 1
        c = s.series
        after = np.flatnonzero(np.diff(c.ts) != s.bar)
        holes = after[after >= s.first]
        # as live: after each bar the next opens empty at its close, so a hole leaves that
        # empty bar sealed
        s.p0 = p0 = s.fed + 1
        at = holes - p0 + 1
        shut = c.close[holes]
        ts, _open, high, low, close, volume = s.fed_columns = [
            np.insert(col[p0:], at, extra) for col, extra in (
                (c.ts, c.ts[holes] + s.bar), (c.open, shut), (c.high, shut), (c.low, shut),
                (c.close, shut), (c.volume, 0.0))]
        bars = np.arange(p0, len(c.ts))
        s.place = bars - p0 + np.searchsorted(holes, bars, side="left")
        readings = None
        if fits(ts, s.bar):
            win = s.window = WindowSeries(self.monitor.windows[s.name],
                                          self.monitor.flash_windows, ts, high, low, close,
                                          volume)
            readings = (win.volume_ratio[s.place], win.atr_ratio[s.place])
        s.screen = screen(c.ts, c.high, c.low, c.close, c.volume, s.bar, s.first, self.monitor,
                          readings)

    def _feed_window(self, s: _Sym, t: float) -> None:
        """Catch the symbol's window up to its newest bar, as the live monitor fed it bar by
        bar (`EventMonitor.add_bars`): `fed_columns` from after the last bar fed through it
        (a hole's empty bar after the last one fed included)."""
        j = s.i
        if s.fed >= j:
            return
        lo = 0 if s.fed < s.p0 else int(s.place[s.fed - s.p0]) + 1
        hi = int(s.place[j - s.p0]) + 1
        s.fed = j
        self.monitor.add_closed_columns(  # (closed by t, checked when loaded)
            s.name, *(col[lo:hi].tolist() for col in s.fed_columns))

    async def _cycle(self, syms: list[_Sym] | tuple[()], t: float,
                     source: TradeSource) -> None:
        ready = [s for s in syms if s.i >= 0]  # the runtime: "no candles" → no decision
        if self._fast is not None:
            self._fast(ready, t, source)
            return

        async def prepare(s: _Sym) -> tuple[_Sym, tuple[ModelVote, ModelVote]]:
            ctx = self._context(s, t)
            votes = await asyncio.gather(*(self._ask(m, ctx) for m in self.models))
            return s, (votes[0], votes[1])

        async def settle(prep: tuple[_Sym, tuple[ModelVote, ModelVote]]) -> None:
            s, pair = prep
            price = self.prices[s.name]
            out = step.settle_votes(self.engine, self.scorecard, s.name, price, t, pair,
                                    self.policy, stale=s.name in self.stale, source=source)
            self.record(s, t, price, source, out.result, out.executed, out.note,
                        out.execution.trades, votes=pair)

        for res in await settle_in_order(ready, prepare, settle):
            if isinstance(res, BaseException):  # a model raised: the replay stops
                raise res
        if self.after_cycle is not None:
            self.after_cycle()

    async def _ask(self, model: Any, ctx: Any) -> ModelVote:
        async with self._slots:
            return await model.decide(ctx)

    def _context(self, s: _Sym, t: float) -> DecisionContext:
        j = s.i
        price = self.prices[s.name]
        ind = s.indicators(j)
        return step.context(s.name, t, price, self.engine, self.prices, ind,
                            ta.signals(ind, price), *s.levels(j), self.recent,
                            s.close[max(0, j + 1 - RECENT_CLOSES):j + 1])

    def record(self, s: _Sym, t: float, price: float, source: TradeSource,
                result: VoteResult, executed: bool, note: str, trades: list[Trade], *,
                votes: tuple[ModelVote, ModelVote] | None = None, state: int = 0) -> None:
        if votes is not None:  # the context path counts here; the fast path counted already
            self.counts["decisions"] += 1
            if result.decision is _HOLD:
                self.counts["HOLD"] += 1
                return
        counts = self.counts
        counts[str(result.decision)] += 1  # a StrEnum's str() is its value, without .value
        counts["executed"] += executed
        k = len(self.decided)
        self.decided.append(Decided(t, s.name, s.i, price, source, result, executed, note,
                                    trades, votes, state))
        if trades:  # most refusals did nothing
            self.trades += [(trade, k) for trade in trades]

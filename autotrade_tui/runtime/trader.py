"""The runtime every front end shares: restores the engine from the store, runs the decision
cycle and the event monitor on the Clock, takes commands, and publishes typed updates.

Work comes in ticks (`monitor_tick`, `decision_cycle`), each one awaitable step; `run` only
schedules them. Engine changes and their persistence happen under one lock, so the database
always holds a state the engine really had; if a write fails, the engine is put back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, NamedTuple

from autotrade_tui.core.clock import Clock, RealClock, ScaledClock, VirtualClock
from autotrade_tui.core.decision import Outcome, VotePolicy, build_context, decide
from autotrade_tui.core.engine import EngineConfig, EngineState, Rejected, TradingEngine, copy_state
from autotrade_tui.core.events import EventThresholds
from autotrade_tui.core.models import (
    Action,
    Candle,
    DecisionContext,
    EventType,
    MarketEvent,
    ModelVote,
    Severity,
    Side,
    Ticker,
    Trade,
    TradeSource,
)
from autotrade_tui.errors import AutotradeError, EngineLockedError, StoreError, StoreFatal
from autotrade_tui.runtime.monitor import EventMonitor
from autotrade_tui.runtime.updates import (
    AccountUpdated,
    DecisionRecorded,
    EventOngoing,
    EventRaised,
    Notice,
    PricesUpdated,
    Status,
    StatusChanged,
    TradeExecuted,
    Update,
)

log = logging.getLogger(__name__)
DECISION_CANDLES = 200
REPLAY_HISTORY = 10_000_000  # "all of it": a replay's indicators see every candle up to now
SNAPSHOT_EVERY_S = 60.0  # clock seconds between equity-curve points
RECENT_EVENTS = 10  # a symbol's events in its decision prompt
EVENTS_KEPT = 50  # recent events (all symbols) the runtime holds, newest first
COOLDOWN_MEMORY_S = 3600.0  # events this recent are remembered across a restart


class _Prepared(NamedTuple):
    ctx: DecisionContext  # its symbol, and its price as the models were asked
    votes: list[ModelVote]


def make_clock(settings: Any) -> Clock:
    """Live data runs on wall time; the sim and replays on wall time × `speed`."""
    if settings.market_source == "ccxt":
        return RealClock()
    return ScaledClock(settings.speed)


class Runtime:
    def __init__(self, settings: Any, *, feed: Any, models: tuple[Any, Any], store: Any,
                 clock: Clock, fundamentals: Any = None, http_client: Any = None) -> None:
        self.settings = settings
        self.feed, self.models, self.store, self.clock = feed, models, store, clock
        self.fundamentals, self._http = fundamentals, http_client
        self.symbols: list[str] = list(settings.symbols)
        self.policy = VotePolicy.from_settings(settings)
        self.interval_s = float(settings.trading_interval_minutes) * 60.0
        loaded = store.load_state()
        self.engine = TradingEngine(EngineConfig.from_settings(settings),
                                    loaded[0] if loaded else None)
        if loaded:  # the re-entry cooldown runs on across a restart
            from autotrade_tui.store.queries import last_closes

            self.engine.closed_at.update(last_closes(store))
        self.paused = bool(loaded and loaded[1])
        # A restored position on a symbol no longer configured is still priced and marked.
        self.symbols = list(dict.fromkeys([*self.symbols, *self.engine.positions]))
        self.restored = loaded is not None
        self.monitor = EventMonitor(feed, self.symbols, EventThresholds.from_settings(settings),
                                    settings.maintenance_margin_rate)
        from autotrade_tui.runtime.scorecard import ScorecardKeeper

        self.scorecard = ScorecardKeeper(self.engine.config, [m.name for m in models],
                                         float(settings.single_model_threshold),
                                         self.interval_s, store)
        self.tickers: dict[str, Ticker] = {}
        self.stale: frozenset[str] = frozenset()
        self.recent_events: list[MarketEvent] = []
        self.next_decision_at: float | None = None
        self.cycles = 0
        self._last_snapshot = -1e18
        self._lock = asyncio.Lock()
        self._model_slots = asyncio.Semaphore(int(settings.max_concurrent_model_calls))
        self._subscribers: list[Callable[[Update], None]] = []
        self._stop = asyncio.Event()
        self._wake_decisions = asyncio.Event()
        self._feed_failing = False
        self._background: set[asyncio.Task[Any]] = set()
        self.fatal: Exception | None = None  # set when the runtime had to stop by itself
        self.unsaved = ""  # why the state at the stop is not all on disk ("" when it is)
        self._store_fault = ""  # the storage fault last reported, until writes work again
        if not self.restored:
            store.save_state(self.engine.state, paused=False)
        self._restore_events()

    def _restore_events(self) -> None:
        """Recent events feed the prompts and keep their cooldowns across a restart."""
        from autotrade_tui.store.tables import EventRow

        since = self.clock.now() - COOLDOWN_MEMORY_S
        rows = self.store.rows(EventRow, 200, since_ts=since)
        events = [MarketEvent(r.ts, r.symbol, EventType(r.event_type), Severity(r.severity),
                              r.description, r.suggested_action, dict(r.metrics or {}))
                  for r in rows]  # newest first
        for event in events:
            self.monitor.detector.remember(event)
        for event in reversed(events):  # oldest first: the newest raise of each wins
            self.monitor.lasting.remember(event)
        self.recent_events = events[:EVENTS_KEPT]

    # ---- construction
    @classmethod
    async def open(cls, settings: Any, *, clock: Clock | None = None, feed: Any = None,
                   models: tuple[Any, Any] | None = None, store: Any = None) -> Runtime:
        """Build everything the settings ask for; parts given as arguments are used as they are."""
        clock = clock or make_clock(settings)
        if store is None:
            from autotrade_tui.store.store import Store

            store = await asyncio.to_thread(Store, settings.database_url.get(), writer=True)
        http = None
        try:
            if feed is None:
                feed = await _open_feed(settings, clock, store)
            if models is None:
                from autotrade_tui.ai.factory import build_models

                if not settings.use_offline_models:
                    import httpx

                    http = httpx.AsyncClient()
                models = build_models(settings, http)
            fundamentals = None
            if settings.fundamentals_enabled and feed.mode == "LIVE DATA":
                from autotrade_tui.market.fundamentals import Fundamentals

                fundamentals = Fundamentals.from_settings(settings, clock)
        except BaseException:
            store.close()
            if http is not None:
                await http.aclose()
            raise
        # In a thread: __init__ reads and writes the store (state, recent events), which must
        # not stall the event loop (a TUI frame, a PostgreSQL retry). Its asyncio primitives
        # bind to the loop on first use (Python ≥ 3.10), so building them there is safe.
        building = asyncio.ensure_future(asyncio.to_thread(
            partial(cls, settings, feed=feed, models=models, store=store, clock=clock,
                    fundamentals=fundamentals, http_client=http)))
        try:
            return await asyncio.shield(building)
        except BaseException:
            # Cancelled (Ctrl-C, quit) or failed. The thread cannot be stopped and may still
            # use the store: let it finish, then close what it built (or was given), so no
            # write lands after the writer lock is released.
            await asyncio.wait({building})
            if building.exception() is None:
                await building.result().close()
            else:
                await feed.close()
                store.close()
                if http is not None:
                    await http.aclose()
            raise

    async def close(self) -> None:
        self._stop.set()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        for part in (*self.models, self.feed, self.fundamentals):
            if part is not None:
                try:
                    await part.close()
                except Exception:  # closing must not hide why we stopped
                    log.exception("closing %r failed", part)
        if self._http is not None:
            await self._http.aclose()
        await self._save_final_marks()
        await asyncio.to_thread(self.store.close)

    async def _save_final_marks(self) -> None:
        """The last prices and an equity point, so `report` after a stop shows what we saw."""
        if self.fatal is not None or not self.tickers:
            return
        try:
            async with self._lock:
                await self._maybe_snapshot(self.clock.now(), force=True)
        except StoreError as exc:
            self.unsaved = f"the last prices and equity point were not saved ({exc})"
            log.warning("final snapshot not saved: %s", exc)

    # ---- subscribers
    def subscribe(self, callback: Callable[[Update], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def publish(self, update: Update) -> None:
        for cb in list(self._subscribers):
            try:
                cb(update)
            except Exception:  # a broken pane must never stop trading
                log.exception("subscriber %r failed on %s", cb, type(update).__name__)

    def status(self) -> Status:
        return Status(mode=self.feed.mode, note=getattr(self.feed, "note", ""),
                      models=(self.models[0].name, self.models[1].name),
                      offline_models=self.settings.use_offline_models, paused=self.paused,
                      halted_reason=self.engine.ledger.halted_reason,
                      next_decision_at=self.next_decision_at, now=self.clock.now(),
                      last_data_ts=self.feed.latest_ts(), stale=self.stale,
                      speed=getattr(self.clock, "speed", 1.0), risk=self._risk_text())

    def _risk_text(self) -> str:
        """The active risk rules' state for the header (SPEC §8.1)."""
        from autotrade_tui.report import risk_dict

        r = risk_dict(self.engine, {**self.engine.marks, **self.prices()})
        parts = []
        # compact: it shares the header's second line with the clock and the data age
        if r["max_exposure_pct"]:
            parts.append(f"exp {r['exposure_pct']:.0f}/{r['max_exposure_pct']:g}%")
        if r["max_drawdown_limit_pct"]:
            parts.append(f"DD {r['drawdown_pct']:.1f}/{r['max_drawdown_limit_pct']:g}%")
        return " ".join(parts)

    def prices(self) -> dict[str, float]:
        return {s: t.last for s, t in self.tickers.items()}

    def account(self) -> dict[str, Any]:
        from autotrade_tui.report import account_dict

        prices = self.prices()
        acc = account_dict(self.engine, prices)
        acc["scorecard"] = self.scorecard.rows(prices, self.engine)
        acc["scorecard_curves"] = self.scorecard.card.curves
        return acc

    def _publish_account(self) -> None:
        self.publish(AccountUpdated(self.account()))
        self.publish(StatusChanged(self.status()))

    # ---- the loops
    async def run(self) -> None:
        """Monitor and decisions until `stop()`; the first decision cycle runs at once."""
        await self.start()
        tasks = [asyncio.create_task(self._monitor_loop(), name="event-monitor"),
                 asyncio.create_task(self._decision_loop(), name="decision-cycle")]
        try:
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def start(self) -> None:
        await self.monitor.prime()
        await self.monitor_tick()
        self.publish(Notice("info", self._start_text()))

    def _start_text(self) -> str:
        lg = self.engine.ledger
        what = (f"restored account: equity {self.engine.equity(self.prices()):,.2f}, free "
                f"{lg.capital:,.2f}, {len(self.engine.positions)} open position(s)"
                if self.restored else f"new paper account: {lg.initial_capital:,.2f} USDT")
        models = " + ".join(m.name for m in self.models)
        return f"{self.feed.mode}: {getattr(self.feed, 'note', '')}; models {models}; {what}"

    async def _monitor_loop(self) -> None:
        step = float(self.settings.event_interval_seconds)
        while not self.stopping:
            await self.sleep_until(self.clock.now() + step)
            if self.stopping:
                return
            await self._guarded(self.monitor_tick(), "event monitor")

    async def _decision_loop(self) -> None:
        """A cycle every interval (SPEC §7.3), timed from when each was due, not from when
        the previous one ended: a slow cycle (a slow model, a busy cockpit at --speed 600)
        does not push every later one back. One that overran a whole interval is followed
        by the next at once, never by a burst of the missed ones."""
        due = self.clock.now()
        while not self.stopping:
            await self._guarded(self.decision_cycle(), "decision cycle")
            due = max(due + self.interval_s, self.clock.now())
            self.next_decision_at = due
            self.publish(StatusChanged(self.status()))
            await self.sleep_until(self.next_decision_at)

    async def _guarded(self, work: Any, what: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except StoreError as exc:
            self._store_trouble(exc, what)
        except Exception as exc:  # one bad tick must not end the loop
            log.exception("%s failed", what)
            self.publish(Notice("error", f"{what} failed: {exc.__class__.__name__}: {exc}"))
        self._store_back()

    def _store_trouble(self, exc: StoreError, what: str) -> None:
        """A storage fault: a fatal one stops the runtime; any other is said once a minute
        while it lasts (the store marks repeats); nothing it hit was executed."""
        if isinstance(exc, StoreFatal):
            self._stop_fatal(exc)
        elif not exc.repeat:
            self._store_fault = exc.cause or "error"
            self.publish(Notice("error", f"{what}: {exc} — trading waits until the database "
                                         "can be written again"))

    def _store_back(self) -> None:
        """Say once that a reported storage fault is over (a write worked again)."""
        if self._store_fault and not self.store.fault and self.fatal is None:
            self.publish(Notice("info", f"the database works again ({self._store_fault} is "
                                        "over): trading resumes"))
            self._store_fault = ""

    async def sleep_until(self, target: float) -> None:
        """Wait until the clock reads `target` (or stop). Virtual clocks wake us when moved."""
        while not self.stopping and (remaining := target - self.clock.now()) > 0:
            wall = self.clock.wall_seconds(remaining)
            if wall is None and isinstance(self.clock, VirtualClock):
                await self._wait_virtual(self.clock, target)
            else:
                # Capped so a long wait still notices the clock; stop() ends it at once.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), min(wall or 0.0, 1.0))

    async def _wait_virtual(self, clock: VirtualClock, target: float) -> None:
        reached = asyncio.Event()
        unsubscribe = clock.subscribe(lambda now: reached.set() if now >= target else None)
        waiters = {asyncio.ensure_future(reached.wait()), asyncio.ensure_future(self._stop.wait())}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            unsubscribe()

    # ---- the event monitor tick (prices, liquidations, guards, events)
    async def monitor_tick(self) -> list[MarketEvent]:
        # The database file is still the one opened (else StoreFatal: stop before trading).
        await asyncio.to_thread(self.store.check)
        try:
            tickers = await self.feed.fetch_tickers(self.symbols)
        except AutotradeError as exc:
            if not self._feed_failing:
                self.publish(Notice("warning", f"market data unavailable: {exc}"))
            self._feed_failing = True
            self._set_stale(frozenset(self.symbols))
            return []
        if self._feed_failing:
            self.publish(Notice("info", "market data is back"))
        self._feed_failing = False
        now = self.clock.now()
        self.tickers.update(tickers)
        limit = float(self.settings.stale_after_seconds)
        self._set_stale(frozenset(s for s in self.symbols
                                  if s not in tickers or now - tickers[s].ts > limit))
        fresh = {s: t.last for s, t in tickers.items() if s not in self.stale}
        await self._mark(fresh, now)
        events: list[MarketEvent] = []
        for sym, price in fresh.items():
            self.monitor.fold_ticker(tickers[sym])
            try:
                await self.monitor.refresh_candles(sym, now)
            except AutotradeError as exc:
                log.warning("1m candles for %s: %s", sym, exc)
            events += self.monitor.detect(sym, now, price, self.engine.positions)
        # A lasting condition is news once (SPEC §9): only what is raised is persisted and
        # shown as a new line; the rest updates its ongoing line in place.
        events, ongoing = self.monitor.lasting.sift(events)
        for o in ongoing:
            self.publish(EventOngoing(o.event, o.raised_ts, o.since, o.count))
        if events:
            await asyncio.to_thread(self.store.record_events, events)
            self.recent_events = (events + self.recent_events)[:EVENTS_KEPT]
            for e in events:
                self.publish(EventRaised(e))
            self._maybe_trigger_decisions(events)
        self.publish(PricesUpdated(dict(self.tickers), self.stale, now))
        await self._maybe_snapshot(now)
        self._publish_account()
        return events

    def _set_stale(self, stale: frozenset[str]) -> None:
        newly = stale - self.stale
        if newly:
            self.publish(Notice("warning", f"stale prices: {', '.join(sorted(newly))} — no "
                                           "trades on them until fresh data arrives"))
        self.stale = stale

    async def _mark(self, prices: dict[str, float], now: float) -> None:
        """Liquidations, guards and the drawdown switch; whatever changes is persisted."""
        if not prices:
            return
        async with self._lock:
            before = copy_state(self.engine.state)
            trades = self.engine.mark(prices, now)
            await self._persist(before, trades, prices=prices, ts=now)
            self.scorecard.track(self.engine.last_equity)
            self.scorecard.mark(prices, now)
            await self.scorecard.save(now)

    def _maybe_trigger_decisions(self, events: list[MarketEvent]) -> None:
        if not self.settings.event_triggered_decisions:
            return
        for sym in sorted({e.symbol for e in events if e.severity is Severity.CRITICAL}):
            task = asyncio.create_task(self._guarded(
                self.decision_cycle([sym], TradeSource.EVENT), f"event decision {sym}"))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _maybe_snapshot(self, now: float, force: bool = False) -> None:
        if not force and now - self._last_snapshot < SNAPSHOT_EVERY_S:
            return
        self._last_snapshot = now
        self.scorecard.sample(self.prices())
        await self.scorecard.save(now)
        acc = self.account()
        await asyncio.to_thread(
            self.store.record_snapshot, now, equity=acc["equity"], capital=acc["capital"],
            unrealized=acc["unrealized_pnl"], positions=acc["positions"],
            ledger=self.engine.ledger, prices=self.prices())

    # ---- persistence of engine changes
    async def _persist(self, before: EngineState, trades: list[Trade], *,
                       prices: dict[str, float] | None = None, ts: float = 0.0) -> None:
        """Commit the engine's new state with its trades; on failure put the engine back."""
        if not self._changed(before, trades):
            return
        state = copy_state(self.engine.state)
        try:
            await asyncio.to_thread(self.store.save_state, state, trades=trades, prices=prices,
                                    ts=ts, paused=self.paused)
        except StoreError as exc:
            self._roll_back(before, exc)
            raise
        for t in trades:
            self.publish(TradeExecuted(t))

    # ---- the decision cycle
    async def decision_cycle(self, symbols: Iterable[str] | None = None,
                             source: TradeSource = TradeSource.AUTO) -> list[DecisionRecorded]:
        """Every symbol × both models concurrently; then vote, gate, execute, persist one symbol
        at a time in symbol order, so a cycle's fills (each sized on the capital the previous
        one left) never depend on which answer arrived first: a backtest gives the same trades."""
        syms = list(symbols or self.symbols)
        prepared = await asyncio.gather(*(self._prepare(s) for s in syms),
                                        return_exceptions=True)
        results: list[Any] = []
        for prep in prepared:
            if isinstance(prep, BaseException):
                results.append(prep)
                continue
            try:
                results.append(await self._settle(prep, source))
            except Exception as exc:  # reported below, like a failed preparation
                results.append(exc)
        out: list[DecisionRecorded] = []
        for sym, res in zip(syms, results, strict=True):
            if isinstance(res, DecisionRecorded):
                out.append(res)
            elif isinstance(res, StoreError):
                self._store_trouble(res, f"no decision for {sym}")
            elif isinstance(res, AutotradeError):
                self.publish(Notice("warning", f"no decision for {sym}: {res}"))
            elif isinstance(res, BaseException):
                if isinstance(res, asyncio.CancelledError):
                    raise res
                log.error("decision for %s failed", sym, exc_info=res)
                self.publish(Notice("error", f"decision for {sym} failed: {res!r}"))
        if source is TradeSource.AUTO:
            self.cycles += 1
        await self._maybe_snapshot(self.clock.now(), force=True)
        await self.scorecard.save(self.clock.now())  # the cycle's answers
        self._publish_account()
        return out

    async def _prepare(self, symbol: str) -> _Prepared:
        """Data, context and both models' votes for one symbol (no engine change)."""
        # A replay has the whole history: its indicators then start from the first candle,
        # exactly as a backtest's whole-series indicators do (see _analyse).
        limit = REPLAY_HISTORY if self.feed.mode == "REPLAY" else DECISION_CANDLES
        candles = await self.feed.fetch_ohlcv(symbol, "5m", limit)
        if not candles:
            raise AutotradeError(f"no candles for {symbol}")
        ticker = self.tickers.get(symbol)
        price = ticker.last if ticker else candles[-1].close
        analysis = await asyncio.to_thread(_analyse, candles, price)
        fundamentals = await self.fundamentals.get() if self.fundamentals else None
        now = self.clock.now()
        ctx = build_context(symbol, now, price, self.engine, self.prices(), *analysis,
                            events=[e for e in self.recent_events if e.symbol == symbol]
                            [:RECENT_EVENTS], fundamentals=fundamentals,
                            recent_closes=[c.close for c in candles[-20:]])
        votes = list(await asyncio.gather(*(self._ask(m, ctx) for m in self.models)))
        return _Prepared(ctx, votes)

    async def _settle(self, prep: _Prepared, source: TradeSource) -> DecisionRecorded:
        ctx, votes = prep
        symbol = ctx.symbol
        async with self._lock:
            # Price and freshness as they are now, not when the models were asked: a model
            # call can outlast the staleness limit, and we never trade on an old price.
            now = self.clock.now()
            ticker = self.tickers.get(symbol)
            stale = self._is_stale(symbol, now)
            price = ticker.last if ticker is not None else ctx.price
            before = copy_state(self.engine.state)
            outcome = decide(self.engine, symbol, price, now, (votes[0], votes[1]), self.policy,
                             stale=stale, paused=self.paused, source=source)
            self.scorecard.on_votes(symbol, price, now, votes, stale=stale)
            decision_id = await self._record_decision(symbol, now, price, votes, outcome, ctx,
                                                      source, before)
        for t in outcome.execution.trades:
            self.publish(TradeExecuted(t))
        rec = DecisionRecorded(decision_id, now, symbol, price, (votes[0], votes[1]),
                               outcome.result, outcome.executed, outcome.note, source.value,
                               outcome.execution.trades)
        self.publish(rec)
        return rec

    def _is_stale(self, symbol: str, now: float) -> bool:
        t = self.tickers.get(symbol)
        return (t is None or symbol in self.stale
                or now - t.ts > float(self.settings.stale_after_seconds))

    async def _ask(self, model: Any, ctx: Any) -> ModelVote:
        async with self._model_slots:
            return await model.decide(ctx)

    async def _record_decision(self, symbol: str, now: float, price: float,
                               votes: list[ModelVote], outcome: Outcome, ctx: Any,
                               source: TradeSource, before: EngineState) -> int | None:
        from dataclasses import asdict

        from autotrade_tui.ai.prompts import build_messages

        # The messages are a pure function of the context: exactly what an LLM model was sent
        # (rebuilt here because concurrent calls share one model object).
        input_data = {"context": asdict(ctx), "prompt": build_messages(ctx),
                      "models": [m.name for m in self.models]}
        trades = outcome.execution.trades
        changed = self._changed(before, trades)
        try:
            return await asyncio.to_thread(
                self.store.record_decision, symbol=symbol, ts=now, price=price, votes=votes,
                result=outcome.result, executed=outcome.executed, note=outcome.note,
                input_data=input_data, source=source.value, trades=trades,
                state=copy_state(self.engine.state) if changed else None,
                prices={symbol: price})
        except StoreError as exc:
            self._roll_back(before, exc)
            raise

    def _changed(self, before: EngineState, trades: list[Trade]) -> bool:
        """Whether the engine moved since `before`: fills, or its ledger alone (the drawdown
        switch); only then is there a state to write."""
        return bool(trades) or before.ledger != self.engine.ledger

    def _roll_back(self, before: EngineState, exc: StoreError) -> None:
        """Writing a change failed: the engine goes back to `before`, the state the database
        still holds. A fatal fault (another engine took the database, the file was deleted
        or replaced) stops the runtime: never trade on beside another engine or into a lost
        file."""
        self.engine.ledger, self.engine.positions = before.ledger, before.positions
        if isinstance(exc, StoreFatal):
            self._stop_fatal(exc)

    def _stop_fatal(self, exc: StoreFatal) -> None:
        """Stop at once, said once: another engine took the database (front ends exit 3), or
        the file was deleted/replaced (exit 1: what was written since is not on disk)."""
        if self.fatal is not None:
            return
        self.fatal = exc
        if not isinstance(exc, EngineLockedError):
            self.unsaved = f"database {exc.cause}" if exc.cause else "database lost"
        self.publish(Notice("error", f"stopping: {exc}"))
        self.stop()

    # ---- commands (from the TUI's keys, or any front end)
    async def manual_open(self, symbol: str, side: Side) -> str:
        """`b`/`s`: open or add; an opposite position is closed first (like BUY/SELL)."""
        price = self._fresh_price(symbol)
        action = Action.BUY if side is Side.LONG else Action.SELL
        async with self._lock:
            before, now = copy_state(self.engine.state), self.clock.now()
            ex = self.engine.execute(action, symbol, price, now, TradeSource.MANUAL,
                                     f"manual {side.value.lower()}")
            await self._persist(before, ex.trades, prices={symbol: price}, ts=now)
        self._publish_account()
        if ex.rejected:
            raise Rejected(ex.rejected)
        return "; ".join(f"{t.order_type.value} {t.side.value} {symbol} {t.amount:.6g} @ "
                         f"{t.price:,.2f}" for t in ex.trades)

    async def manual_close(self, symbol: str) -> str:
        price = self._fresh_price(symbol)
        async with self._lock:
            before, now = copy_state(self.engine.state), self.clock.now()
            t = self.engine.close(symbol, price, now, TradeSource.MANUAL, "manual close")
            await self._persist(before, [t], prices={symbol: price}, ts=now)
        self._publish_account()
        return f"closed {t.side.value} {symbol} @ {t.price:,.2f}: P&L {t.pnl - t.fee:+,.2f}"

    async def manual_close_all(self) -> str:
        if not self.engine.positions:
            raise Rejected("no open positions")
        for sym in self.engine.positions:
            self._fresh_price(sym)
        async with self._lock:
            before, now, prices = copy_state(self.engine.state), self.clock.now(), self.prices()
            trades = self.engine.close_all(prices, now, TradeSource.MANUAL, "manual close all")
            await self._persist(before, trades, prices=prices, ts=now)
        self._publish_account()
        return f"closed {len(trades)} position(s): P&L {sum(t.pnl - t.fee for t in trades):+,.2f}"

    @property
    def trading_off(self) -> bool:
        """Automatic trading is off: paused by the user, or halted by the drawdown switch."""
        return self.paused or bool(self.engine.ledger.halted_reason)

    async def toggle_pause(self) -> None:
        """Pause, or resume (a drawdown halt included: resuming clears it)."""
        await self.set_paused(not self.trading_off)

    async def set_paused(self, paused: bool) -> None:
        async with self._lock:
            state = copy_state(self.engine.state)
            if not paused and state.ledger.halted_reason:
                TradingEngine(self.engine.config, state).resume()
            # Saved first: if the write fails, nothing changes in memory either.
            await asyncio.to_thread(self.store.save_state, state, paused=paused)
            self.paused = paused
            self.engine.ledger = state.ledger
        self.publish(Notice("info", "automatic trading paused" if paused
                            else "automatic trading resumed"))
        self.publish(StatusChanged(self.status()))

    async def decide_now(self, symbol: str) -> DecisionRecorded | None:
        recs = await self.decision_cycle([symbol], TradeSource.MANUAL)
        return recs[0] if recs else None

    def _fresh_price(self, symbol: str) -> float:
        t = self.tickers.get(symbol)
        if t is None or self._is_stale(symbol, self.clock.now()):
            raise Rejected(f"no fresh price for {symbol}: not trading on stale data")
        return t.last


async def _open_feed(settings: Any, clock: Clock, store: Any) -> Any:
    """The settings' feed on `clock`; a restarted sim goes on from the database's time and
    last marks (see _resume_clock)."""
    from autotrade_tui.market.factory import open_feed

    prices = await asyncio.to_thread(_resume_clock, store, clock, settings)
    feed = await open_feed(settings, clock)
    if prices and hasattr(feed, "continue_from"):
        feed.continue_from(prices)
    if feed.mode == "LIVE DATA" and isinstance(clock, ScaledClock):
        clock.make_real()  # --speed is for sim/replay; live data runs on wall time
    return feed


def _resume_clock(store: Any, clock: Clock, settings: Any) -> dict[str, float]:
    """A restarted sim or replay (SPEC §5.2 Restarts): its clock set no earlier than the
    newest record in the database; returns the last marks its prices go on from (blocking
    reads: call in a thread)."""
    if settings.market_source == "ccxt" or not isinstance(clock, ScaledClock):
        return {}
    from autotrade_tui.store.queries import newest_ts

    newest = newest_ts(store)
    if newest is None:
        return {}
    clock.not_before(newest)
    return store.last_prices()


def _analyse(candles: list[Candle], price: float) -> tuple[dict[str, float], dict[str, str],
                                                           list[float], list[float]]:
    """Indicators over all `candles`, support/resistance over the last DECISION_CANDLES of them,
    signals (pandas: run off the event loop)."""
    from autotrade_tui.core import indicators as ta

    df = ta.candles_to_frame(candles)
    ind = ta.latest(df)
    support, resistance = ta.support_resistance(df.iloc[-DECISION_CANDLES:])
    return ind, ta.signals(ind, price), support, resistance

"""The runtime's state and its one way of changing the engine.

`RuntimeState` is what the ticks (runtime.ticks), the commands (runtime.commands) and the
loops (runtime.scheduler) share: the engine restored from the store, prices, recent events,
subscribers, and the storage-fault reporting. Every engine change goes through
`engine_change()` (an `EngineChange`): under one lock, from a copy of the state before, with
the write that makes it durable; a failed write puts the engine back, so the database always
holds a state the engine really had.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from autotrade_tui.core.account import AccountView, RiskFigures
from autotrade_tui.core.clock import Clock
from autotrade_tui.core.engine import EngineConfig, EngineState, TradingEngine, copy_state
from autotrade_tui.core.events import EventThresholds
from autotrade_tui.core.models import MarketEvent, Ticker, Trade
from autotrade_tui.core.step import EVENTS_KEPT, TickRules
from autotrade_tui.errors import EngineLockedError, StoreError, StoreFatal
from autotrade_tui.runtime.monitor import EventMonitor
from autotrade_tui.runtime.scorecard import ScorecardKeeper
from autotrade_tui.runtime.updates import (
    AccountUpdated,
    Notice,
    Status,
    StatusChanged,
    TradeExecuted,
    Update,
)

if TYPE_CHECKING:
    import httpx

    from autotrade_tui.ai.base import DecisionModel
    from autotrade_tui.config import Settings
    from autotrade_tui.market.base import MarketFeed
    from autotrade_tui.market.fundamentals import Fundamentals
    from autotrade_tui.store.base import EngineStore

log = logging.getLogger(__name__)
COOLDOWN_MEMORY_S = 3600.0  # events this recent are remembered across a restart
T = TypeVar("T")


class EngineChange:
    """One change of the engine in progress (see `RuntimeState.engine_change`): `before` is
    the state it started from; `save` or `write` makes the change durable."""

    def __init__(self, rt: RuntimeState) -> None:
        self.rt = rt
        self.before = copy_state(rt.engine.state)
        self.paused_before = rt.paused

    def moved(self, trades: Sequence[Trade]) -> bool:
        """Whether the engine moved since `before`: fills, or its ledger alone (the drawdown
        switch); only then is there a state to write."""
        return bool(trades) or self.before.ledger != self.rt.engine.ledger

    async def save(self, trades: list[Trade], *, prices: dict[str, float] | None = None,
                   ts: float = 0.0) -> None:
        """Commit the engine's new state with its trades, if it moved; then announce them."""
        if not self.moved(trades):
            return
        await self.write(partial(self.rt.store.save_state, trades=trades, prices=prices, ts=ts,
                                 paused=self.rt.paused))
        for t in trades:
            self.rt.publish(TradeExecuted(t))

    async def write(self, write: Callable[[EngineState], T]) -> T:
        """`write(the engine's state now)` in a thread; if it fails, the engine (and the
        paused flag) go back to `before`, the state the database still holds, and the
        error is raised. A fatal fault (another engine took the database, the file was
        deleted or replaced) stops the runtime: never trade beside another engine or into
        a lost file."""
        rt = self.rt
        try:
            return await asyncio.to_thread(write, copy_state(rt.engine.state))
        except StoreError as exc:
            rt.engine.ledger, rt.engine.positions = self.before.ledger, self.before.positions
            rt.paused = self.paused_before
            if isinstance(exc, StoreFatal):
                rt.stop_fatal(exc)
            raise


class RuntimeState:
    def __init__(self, settings: Settings, *, feed: MarketFeed,
                 models: tuple[DecisionModel, DecisionModel], store: EngineStore,
                 clock: Clock, fundamentals: Fundamentals | None = None,
                 http_client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.feed, self.models, self.store, self.clock = feed, models, store, clock
        self.fundamentals, self._http = fundamentals, http_client
        self.symbols: list[str] = list(settings.symbols)
        self.rules = TickRules.from_settings(settings).over_bars(
            float(getattr(feed, "timeframe_seconds", 0.0) or 0.0))
        self.policy = self.rules.policy
        self.interval_s = self.rules.interval_s
        loaded = store.load_state()
        self.engine = TradingEngine(EngineConfig.from_settings(settings),
                                    loaded[0] if loaded else None)
        if loaded:  # the re-entry cooldown runs on across a restart
            self.engine.closed_at.update(store.last_closes())
        self.paused = bool(loaded and loaded[1])
        # A restored position on a symbol no longer configured is still priced and marked.
        self.symbols = list(dict.fromkeys([*self.symbols, *self.engine.positions]))
        self.restored = loaded is not None
        self.monitor = EventMonitor(feed, self.symbols, EventThresholds.from_settings(settings),
                                    settings.maintenance_margin_rate)
        self.scorecard = ScorecardKeeper(self.engine.config, [m.name for m in models],
                                         float(settings.single_model_threshold),
                                         self.interval_s, store)
        self.tickers: dict[str, Ticker] = {}
        self.stale: frozenset[str] = frozenset()
        self.recent_events: list[MarketEvent] = []
        self.next_decision_at: float | None = None
        self.cycles = 0
        self._last_snapshot = -1e18
        self._feed_failing = False
        self._lock = asyncio.Lock()
        self._model_slots = asyncio.Semaphore(int(settings.max_concurrent_model_calls))
        self._subscribers: list[Callable[[Update], None]] = []
        self._stop = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self.fatal: Exception | None = None  # set when the runtime had to stop by itself
        self.unsaved = ""  # why the state at the stop is not all on disk ("" when it is)
        self._store_fault = ""  # the storage fault last reported, until writes work again
        if not self.restored:
            store.save_state(self.engine.state, paused=False)
        self._restore_events()

    def _restore_events(self) -> None:
        """Recent events feed the prompts and keep their cooldowns across a restart."""
        since = self.clock.now() - COOLDOWN_MEMORY_S
        events = self.store.recent_events(200, since_ts=since)  # newest first
        for event in events:
            self.monitor.detector.remember(event)
        for event in reversed(events):  # oldest first: the newest raise of each wins
            self.monitor.lasting.remember(event)
        self.recent_events = events[:EVENTS_KEPT]

    # ---- the engine-change transaction
    @asynccontextmanager
    async def engine_change(self) -> AsyncIterator[EngineChange]:
        """The one way to change the engine: under the lock, from the state before."""
        async with self._lock:
            yield EngineChange(self)

    # ---- subscribers and what they are shown
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
        """The active risk rules' state for the header (SPEC §8.1), compact: it shares the
        header's second line with the clock and the data age."""
        return RiskFigures.of(self.engine, {**self.engine.marks, **self.prices()}).text()

    def prices(self) -> dict[str, float]:
        return {s: t.last for s, t in self.tickers.items()}

    def account_view(self) -> AccountView:
        """The account at the last prices, with the scorecard (SPEC §16)."""
        prices = self.prices()
        return AccountView.of(self.engine, prices).with_scorecard(
            self.scorecard.rows(prices, self.engine), self.scorecard.card.curves)

    def account(self) -> dict[str, Any]:
        """`report --json`'s account keys, with the scorecard: `account_view()` as JSON."""
        return self.account_view().to_dict()

    def _publish_account(self) -> None:
        self.publish(AccountUpdated(self.account_view()))
        self.publish(StatusChanged(self.status()))

    @property
    def trading_off(self) -> bool:
        """Automatic trading is off: paused by the user, or halted by the drawdown switch."""
        return self.paused or bool(self.engine.ledger.halted_reason)

    # ---- stopping, and storage faults
    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop_fatal(self, exc: StoreFatal) -> None:
        """Stop at once, said once: another engine took the database (front ends exit 3), or
        the file was deleted/replaced (exit 1: what was written since is not on disk)."""
        if self.fatal is not None:
            return
        self.fatal = exc
        if not isinstance(exc, EngineLockedError):
            self.unsaved = f"database {exc.cause}" if exc.cause else "database lost"
        self.publish(Notice("error", f"stopping: {exc}"))
        self.stop()

    async def _guarded(self, work: Awaitable[object], what: str) -> None:
        """Await one tick; a failure is reported, never raised (the loop goes on)."""
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
            self.stop_fatal(exc)
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

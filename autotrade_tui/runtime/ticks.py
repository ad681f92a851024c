"""The live runtime's two ticks, each one awaitable step: `monitor_tick` (prices, the mark,
events) and `decision_cycle` (both models for every symbol, settled in symbol order). The rules
of a tick are `core.step`'s, which the backtest schedules too; here they meet the feed, the
models and the store (every engine change through `engine_change`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from autotrade_tui.core import step
from autotrade_tui.core.account import AccountView
from autotrade_tui.core.models import (
    Candle,
    DecisionContext,
    MarketEvent,
    ModelVote,
    TradeSource,
)
from autotrade_tui.core.step import DECISION_CANDLES, RECENT_CLOSES
from autotrade_tui.core.text import RAW_ANSWER_LIMIT, utf8_head
from autotrade_tui.errors import AutotradeError, StoreError
from autotrade_tui.runtime.state import RuntimeState
from autotrade_tui.runtime.updates import (
    DecisionRecorded,
    EventOngoing,
    EventRaised,
    Notice,
    PricesUpdated,
    TradeExecuted,
)

if TYPE_CHECKING:
    from autotrade_tui.ai.base import DecisionModel

log = logging.getLogger(__name__)
REPLAY_HISTORY = 10_000_000  # "all of it": a replay's indicators see every candle up to now
SNAPSHOT_EVERY_S = 60.0  # clock seconds between equity-curve points
S = TypeVar("S")
P = TypeVar("P")
R = TypeVar("R")


class _Prepared(NamedTuple):
    ctx: DecisionContext  # its symbol, and its price as the models were asked
    votes: list[ModelVote]


async def settle_in_order(symbols: Sequence[S], prepare: Callable[[S], Awaitable[P]],
                          settle: Callable[[P], Awaitable[R]]) -> list[R | BaseException]:
    """Every symbol prepared concurrently (data, context, both models' calls), then settled
    one at a time in the order given, so a cycle's fills (each sized on the capital the
    previous one left) never depend on which answer arrived first: live and a backtest give
    the same trades. A failure is returned in its symbol's place."""
    prepared = await asyncio.gather(*(prepare(s) for s in symbols), return_exceptions=True)
    results: list[R | BaseException] = []
    for prep in prepared:
        if isinstance(prep, BaseException):
            results.append(prep)
            continue
        try:
            results.append(await settle(prep))
        except Exception as exc:  # reported by the caller, like a failed preparation
            results.append(exc)
    return results


class Ticks(RuntimeState):
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
        limit = self.rules.stale_after
        self._set_stale(frozenset(s for s in self.symbols if s not in tickers
                                  or step.is_stale(tickers[s].ts, now, limit)))
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
            self.recent_events = step.remember(events, self.recent_events)
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
        async with self.engine_change() as change:
            trades = step.mark(self.engine, prices, now)
            await change.save(trades, prices=prices, ts=now)
            self.scorecard.track(self.engine.last_equity)
            self.scorecard.mark(prices, now)
            await self.scorecard.save(now)

    def _maybe_trigger_decisions(self, events: list[MarketEvent]) -> None:
        if not self.rules.event_decisions:
            return
        for sym in step.urgent(events):
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
        acc = AccountView.of(self.engine, self.prices())
        await asyncio.to_thread(
            self.store.record_snapshot, now, equity=acc.equity, capital=acc.free_capital,
            unrealized=acc.unrealized_pnl, positions=[p.to_dict() for p in acc.positions],
            ledger=self.engine.ledger, prices=self.prices())

    # ---- the decision cycle
    async def decision_cycle(self, symbols: Iterable[str] | None = None,
                             source: TradeSource = TradeSource.AUTO) -> list[DecisionRecorded]:
        """Every symbol × both models concurrently; then vote, gate, execute, persist one symbol
        at a time in symbol order (`settle_in_order`)."""
        syms = list(symbols or self.symbols)
        results = await settle_in_order(syms, self._prepare,
                                        lambda prep: self._settle(prep, source))
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
        ctx = step.context(symbol, self.clock.now(), price, self.engine, self.prices(),
                           *analysis, self.recent_events,
                           [c.close for c in candles[-RECENT_CLOSES:]], fundamentals)
        votes = list(await asyncio.gather(*(self._ask(m, ctx) for m in self.models)))
        return _Prepared(ctx, votes)

    async def _settle(self, prep: _Prepared, source: TradeSource) -> DecisionRecorded:
        ctx, votes = prep
        symbol = ctx.symbol
        async with self.engine_change() as change:
            # Price and freshness as they are now, not when the models were asked: a model
            # call can outlast the staleness limit, and we never trade on an old price.
            now = self.clock.now()
            ticker = self.tickers.get(symbol)
            stale = self._is_stale(symbol, now)
            price = ticker.last if ticker is not None else ctx.price
            outcome = step.settle_votes(self.engine, self.scorecard, symbol, price, now, votes,
                                        self.policy, stale=stale, paused=self.paused,
                                        source=source)
            trades = outcome.execution.trades
            input_data = _input_data(ctx, self.models, votes)
            moved = change.moved(trades)
            decision_id = await change.write(lambda state: self.store.record_decision(
                symbol=symbol, ts=now, price=price, votes=votes, result=outcome.result,
                executed=outcome.executed, note=outcome.note, input_data=input_data,
                source=source.value, trades=trades, state=state if moved else None,
                prices={symbol: price}))
        for t in trades:
            self.publish(TradeExecuted(t))
        rec = DecisionRecorded(decision_id, now, symbol, price, (votes[0], votes[1]),
                               outcome.result, outcome.executed, outcome.note, source.value,
                               trades)
        self.publish(rec)
        return rec

    def _is_stale(self, symbol: str, now: float) -> bool:
        t = self.tickers.get(symbol)
        return (t is None or symbol in self.stale
                or step.is_stale(t.ts, now, self.rules.stale_after))

    async def _ask(self, model: DecisionModel, ctx: DecisionContext) -> ModelVote:
        async with self._model_slots:
            return await model.decide(ctx)


def _input_data(ctx: DecisionContext, models: Sequence[DecisionModel],
                votes: Sequence[ModelVote]) -> dict[str, Any]:
    """A decision's stored input: its context, and the messages, a pure function of the
    context: exactly what an LLM model was sent (rebuilt here because concurrent calls
    share one model object; absent when no model was sent any: offline rules read the
    context alone, and a third of a row on disk is not spent on a prompt nobody received,
    which `ai.prompts.build_messages(context)` rebuilds); and for audit each model's raw
    answer as it came
    (`raw_answers`: model name → text, only the models that sent text back, the key absent
    when none did: offline rules add nothing), each its first RAW_ANSWER_LIMIT bytes of UTF-8;
    `raw_answers_cut` (model name → the whole answer's bytes) names the ones cut there."""
    from dataclasses import asdict

    from autotrade_tui.ai.prompts import build_messages

    out: dict[str, Any] = {"context": asdict(ctx)}
    if any(getattr(m, "sends_prompt", True) for m in models):
        out["prompt"] = build_messages(ctx)
    out["models"] = [m.name for m in models]
    raw: dict[str, str] = {}
    cut: dict[str, int] = {}
    for v in votes:
        if v.raw is not None:
            raw[v.model], size = utf8_head(v.raw, RAW_ANSWER_LIMIT)
            if len(raw[v.model]) < len(v.raw):
                cut[v.model] = size
    if raw:
        out["raw_answers"] = raw
    if cut:
        out["raw_answers_cut"] = cut
    return out


def _analyse(candles: list[Candle], price: float) -> tuple[dict[str, float], dict[str, str],
                                                           list[float], list[float]]:
    """Indicators over all `candles`, support/resistance over the last DECISION_CANDLES of them,
    signals (pandas: run off the event loop)."""
    from autotrade_tui.core import indicators as ta

    df = ta.candles_to_frame(candles)
    ind = ta.latest(df)
    support, resistance = ta.support_resistance(df.iloc[-DECISION_CANDLES:])
    return ind, ta.signals(ind, price), support, resistance

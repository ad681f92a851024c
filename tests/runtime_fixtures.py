"""Builders for runtime tests: a simulated market on a virtual clock, a real SQLite store,
and scripted in-memory decision models (the DecisionModel seam's fake)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from autotrade_tui.config import defaults
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.core.models import Action, DecisionContext, ModelVote, Ticker
from autotrade_tui.market.sim import SimMarket
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.store.store import Store

START = 1_750_000_020.0
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


class ScriptedModel:
    """Answers from a per-symbol script (or one answer for all); records what it saw."""

    def __init__(self, name: str, answer: tuple[str | None, float] = ("HOLD", 0.5),
                 per_symbol: dict[str, tuple[str | None, float]] | None = None) -> None:
        self.name = name
        self.answer = answer
        self.per_symbol = per_symbol or {}
        self.seen: list[DecisionContext] = []

    async def decide(self, context: DecisionContext) -> ModelVote:
        self.seen.append(context)
        decision, conf = self.per_symbol.get(context.symbol, self.answer)
        if decision is None:
            return ModelVote(self.name, None, error="scripted failure")
        return ModelVote(self.name, Action(decision), conf, f"{self.name} says {decision}")

    async def close(self) -> None:
        pass


class StaleFeed(SimMarket):
    """The simulated market, but its tickers are `age` seconds old."""

    age = 600.0

    async def fetch_tickers(self, symbols: list[str]) -> dict[str, Ticker]:
        fresh = await super().fetch_tickers(symbols)
        return {s: Ticker(s, t.last, t.ts - self.age) for s, t in fresh.items()}


async def make_runtime(tmp_path: Path, *, models: Iterable[Any] | None = None,
                       feed_cls: type[SimMarket] = SimMarket, clock: VirtualClock | None = None,
                       db_name: str = "rt.db", **overrides: Any) -> Runtime:
    # the eventful sim: these tests want the event monitor busy within simulated minutes
    overrides = {"market_source": "sim", "symbols": SYMBOLS, "sim_profile": "eventful",
                 "database_url": str(tmp_path / db_name), **overrides}
    settings = defaults(**overrides)
    clock = clock or VirtualClock(START)
    feed = feed_cls(settings.symbols, clock, seed=7, profile=settings.sim_profile)
    store = Store(tmp_path / db_name, writer=True)
    pair = tuple(models) if models is not None else None
    return await Runtime.open(settings, clock=clock, feed=feed, store=store,
                              models=pair)  # type: ignore[arg-type]

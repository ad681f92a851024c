"""The live scorecard (SPEC §16): the runtime's hold on `core.scorecard`. Every decision's two
answers and every mark go to the shadows; the state is saved when it changed (after a decision
cycle, a shadow's trade or judgement, and once a snapshot interval for the curves and
drawdowns), so a restart, `kill -9` included, resumes it as saved."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autotrade_tui.core.engine import EngineConfig, TradingEngine
from autotrade_tui.core.metrics import deepen
from autotrade_tui.core.models import ModelVote
from autotrade_tui.core.scorecard import Scorecard
from autotrade_tui.core.step import mark_shadows

if TYPE_CHECKING:
    from autotrade_tui.store.base import EngineStore


class ScorecardKeeper:
    def __init__(self, config: EngineConfig, models: Sequence[str], threshold: float,
                 interval: float, store: EngineStore) -> None:
        self.card = Scorecard(config, models, threshold, interval)
        self.store = store
        saved = store.load_scorecard()
        if saved:
            self.card.restore(saved)
        self._seen = self._fingerprint()
        self.dirty = False
        # the ensemble (the real account): its deepest drawdown, from the snapshots on
        self.peak = 0.0
        self.max_dd = store.max_drawdown_pct(config.initial_capital)

    def track(self, equity: float) -> None:
        """The real account's equity at a mark (the ensemble row's drawdown)."""
        self.peak, self.max_dd = deepen(self.peak, self.max_dd, equity)

    def on_votes(self, symbol: str, price: float, ts: float, votes: Sequence[ModelVote],
                 *, stale: bool) -> None:
        self.card.on_votes(symbol, price, ts, votes, stale=stale)
        self.dirty = True

    def mark(self, prices: Mapping[str, float], ts: float) -> None:
        if not mark_shadows(self.card, prices, ts):
            return
        seen = self._fingerprint()
        if seen != self._seen:  # a shadow traded, an answer was judged, a guard tripped
            self._seen, self.dirty = seen, True

    def sample(self, prices: Mapping[str, float]) -> None:
        """A point of each shadow's curve (the runtime's snapshot interval); saved with it."""
        self.card.sample(prices)
        self.dirty = True

    async def save(self, ts: float) -> None:
        if not self.dirty:
            return
        state = self.card.to_dict()
        self.dirty = False
        await asyncio.to_thread(self.store.save_scorecard, state, ts)

    def rows(self, prices: Mapping[str, float], engine: TradingEngine) -> list[dict[str, Any]]:
        """Each model's row, then the ensemble (the real account) with its drawdown."""
        rows = self.card.rows(prices, engine)
        rows[-1]["max_drawdown"] = self.max_dd
        return rows

    def _fingerprint(self) -> tuple[object, ...]:
        # (a mark that changes nothing else may trip a shadow's drawdown guard: saved too)
        return tuple(n for s in self.card.shadows.values()
                     for n in (s.engine.ledger.total_trades, len(s.engine.positions),
                               s.tally.judged1, s.tally.judged_h,
                               s.engine.ledger.halted_reason))

"""The model scorecard (SPEC §16): which model earns its cost.

Each model's own answers are followed by a shadow ledger: a copy of the same pure engine
(`TradingEngine`, same config: sizing, fees, guards, liquidations) that executes that model's
answer alone, gated as a single answer is (the single-model threshold, stale prices, its own
drawdown halt), marked with the real prices. Beside it, direction accuracy: a BUY (SELL) answer
is right when the price is higher (lower) one decision interval later, and one hour later
(pending until that time has come). The real account is the "ensemble" row.

Pure and synchronous like the engine: times and prices come in as arguments; the state is a
JSON-ready dict (`to_dict` / `from_dict`) that restores bit-exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autotrade_tui.core.decision import settle
from autotrade_tui.core.engine import EngineConfig, EngineState, Ledger, TradingEngine
from autotrade_tui.core.metrics import deepen, max_drawdown_pct
from autotrade_tui.core.models import (
    Action,
    Entry,
    ModelVote,
    Position,
    Side,
    VoteResult,
)

HOUR = 3600.0
ENSEMBLE = "ensemble"
CURVE_POINTS = 240  # each shadow's equity curve keeps this many samples (the Models tab)


@dataclass(slots=True)
class Pending:
    """A BUY/SELL answer waiting for the price one interval (`due1`) and an hour later."""

    symbol: str
    price: float
    up: bool  # BUY: the answer says the price goes up
    due1: float
    due_h: float
    done1: bool = False


@dataclass(slots=True)
class Tally:
    """What is known of one model's answers besides its ledger."""

    right1: int = 0
    judged1: int = 0
    right_h: int = 0
    judged_h: int = 0
    errors: int = 0
    tokens: int = 0
    cost: float = 0.0
    peak: float = 0.0  # the shadow's equity peak and deepest drawdown (%) at its marks
    max_dd: float = 0.0
    pending: list[Pending] = field(default_factory=list)


class Shadow:
    """One model's ledger and tally."""

    def __init__(self, config: EngineConfig, threshold: float,
                 state: EngineState | None = None, tally: Tally | None = None) -> None:
        self.engine = TradingEngine(config, state)
        self.threshold = threshold
        self.tally = tally or Tally(peak=config.initial_capital)
        self._next_due = min((_due(p) for p in self.tally.pending), default=math.inf)
        self._was_holding = bool(self.engine.positions)

    def answer(self, vote: ModelVote, symbol: str, price: float, ts: float, interval: float,
               *, stale: bool = False) -> None:
        t = self.tally
        t.tokens += vote.prompt_tokens + vote.completion_tokens
        t.cost += vote.cost
        if not vote.ok:
            t.errors += 1
            return
        assert vote.decision is not None
        self.act(vote.decision, vote.confidence, symbol, price, ts, interval, stale=stale)

    def act(self, action: Action, confidence: float, symbol: str, price: float, ts: float,
            interval: float, *, stale: bool = False) -> None:
        """The model's answer, executed alone (gated as one answer is) and put up for
        judging; a HOLD does nothing."""
        if action is Action.HOLD:
            return
        if price > 0:
            self.tally.pending.append(Pending(symbol, price, action is Action.BUY,
                                              ts + interval, ts + HOUR))
            self._next_due = min(self._next_due, ts + interval)
        result = VoteResult(action, confidence, "alone", self.threshold)
        settle(self.engine, symbol, price, ts, result, stale=stale)

    def mark(self, prices: Mapping[str, float], ts: float,
             bars: Mapping[str, tuple[float, float, float, float]] | None = None) -> None:
        eng = self.engine
        if ts >= self._next_due:
            self._judge(prices, ts)
        if not (eng.positions or self._was_holding):
            return  # flat since its last mark: nothing can move (capital is fixed)
        if bars and eng.positions:
            eng.mark_bars(prices, bars, ts)
        else:  # just flat: once more, so the guard's peak follows the equity as live
            eng.mark(prices, ts)
        self._was_holding = bool(eng.positions)
        equity = eng.last_equity  # what the engine's mark measured for its drawdown guard
        t = self.tally
        t.peak, t.max_dd = deepen(t.peak, t.max_dd, equity)

    def _judge(self, prices: Mapping[str, float], ts: float) -> None:
        t = self.tally
        if not t.pending:
            return
        keep = []
        for p in t.pending:
            price = prices.get(p.symbol)
            if price is None:
                keep.append(p)
                continue
            moved = price > p.price if p.up else price < p.price
            if not p.done1 and ts >= p.due1:
                p.done1 = True
                t.judged1 += 1
                t.right1 += moved
            if ts >= p.due_h:
                t.judged_h += 1
                t.right_h += moved
            else:
                keep.append(p)
        t.pending = keep
        self._next_due = min((_due(p) for p in keep), default=math.inf)


def _due(p: Pending) -> float:
    """When `p` is next to be judged."""
    return p.due_h if p.done1 else p.due1


class Scorecard:
    """The shadows of both models, fed by every decision and every mark."""

    def __init__(self, config: EngineConfig, models: Sequence[str], threshold: float,
                 interval: float) -> None:
        self.config, self.threshold, self.interval = config, threshold, interval
        self.shadows = {name: Shadow(config, threshold) for name in dict.fromkeys(models)}
        self.curves: dict[str, list[float]] = {name: [] for name in self.shadows}
        self.next_due = math.inf  # when the next answer is to be judged
        self.holding = False  # some shadow holds a position

    def _changed(self) -> None:
        # (a plain loop: a backtest calls this every candle a shadow holds)
        due, holding = math.inf, False
        for s in self.shadows.values():
            if s._next_due < due:
                due = s._next_due
            if s.engine.positions:
                holding = True
        self.next_due, self.holding = due, holding

    def sample(self, prices: Mapping[str, float]) -> None:
        """One point of each shadow's equity curve (the caller decides how often)."""
        for name, s in self.shadows.items():
            curve = self.curves.setdefault(name, [])
            curve.append(s.engine.equity({**s.engine.marks, **prices}))
            del curve[:-CURVE_POINTS]

    def on_votes(self, symbol: str, price: float, ts: float, votes: Sequence[ModelVote], *,
                 stale: bool = False) -> None:
        """Both models' answers on one symbol (in the order of `models`)."""
        for vote, shadow in zip(votes, self.shadows.values(), strict=False):
            shadow.answer(vote, symbol, price, ts, self.interval, stale=stale)
        self._changed()

    def on_answers(self, symbol: str, price: float, ts: float,
                   answers: Sequence[tuple[Action, float]], *, stale: bool = False) -> None:
        """The offline models' answers (no tokens, cost or errors): (action, confidence)."""
        for (action, confidence), shadow in zip(answers, self.shadows.values(), strict=False):
            shadow.act(action, confidence, symbol, price, ts, self.interval, stale=stale)
        self._changed()

    def mark(self, prices: Mapping[str, float], ts: float,
             bars: Mapping[str, tuple[float, float, float, float]] | None = None) -> None:
        for shadow in self.shadows.values():
            if shadow.engine.positions or shadow._was_holding or ts >= shadow._next_due:
                shadow.mark(prices, ts, bars)
        self._changed()

    def held(self) -> set[str] | dict[str, Any]:
        """The symbols some shadow holds a position on (a container to test `in`)."""
        shadows = list(self.shadows.values())
        if len(shadows) == 2:  # the usual pair: no set built per candle
            a, b = shadows[0].engine.positions, shadows[1].engine.positions
            return a if not b else b if not a else a | b
        return {sym for s in shadows for sym in s.engine.positions}

    def rows(self, prices: Mapping[str, float], ensemble: TradingEngine | None = None,
             ensemble_curve: Sequence[float] = ()) -> list[dict[str, Any]]:
        """Per model (then the ensemble, the real account): the figures SPEC §16 names."""
        out = [_row(name, s.engine, s.tally, {**s.engine.marks, **prices}, s.tally.max_dd)
               for name, s in self.shadows.items()]
        if ensemble is not None:
            total = Tally(tokens=sum(s.tally.tokens for s in self.shadows.values()),
                          cost=sum(s.tally.cost for s in self.shadows.values()))
            dd = max_drawdown_pct(list(ensemble_curve)) if ensemble_curve else 0.0
            out.append(_row(ENSEMBLE, ensemble, total, {**ensemble.marks, **prices}, dd))
        return out

    # ---- persistence
    def to_dict(self) -> dict[str, Any]:
        return {name: {**_shadow_dict(s), "curve": list(self.curves.get(name, []))}
                for name, s in self.shadows.items()}

    def restore(self, data: Mapping[str, Any]) -> None:
        """Shadows from `to_dict` (models not in it start fresh; unknown names are kept out)."""
        for name in self.shadows:
            if name in data:
                self.shadows[name] = _shadow_from(self.config, self.threshold, data[name])
                self.curves[name] = list(data[name].get("curve", []))
        self._changed()


def _row(name: str, engine: TradingEngine, t: Tally, prices: Mapping[str, float],
         max_dd: float) -> dict[str, Any]:
    lg = engine.ledger
    equity = engine.equity(prices)
    pnl = equity - lg.initial_capital
    return {
        "model": name, "equity": equity, "return_pct": pnl / lg.initial_capital * 100.0,
        "trades": lg.total_trades, "win_rate": lg.win_rate * 100.0 if lg.total_trades else None,
        "max_drawdown": max_dd,
        "accuracy_1": t.right1 / t.judged1 * 100.0 if t.judged1 else None,
        "accuracy_1h": t.right_h / t.judged_h * 100.0 if t.judged_h else None,
        "judged_1": t.judged1, "judged_1h": t.judged_h, "pending": len(t.pending),
        "errors": t.errors, "tokens": t.tokens, "cost": t.cost,
        "pnl_per_dollar": pnl / t.cost if t.cost > 0 else None, "fees": lg.total_fees,
        "liquidations": lg.liquidations,
    }


def _shadow_dict(s: Shadow) -> dict[str, Any]:
    t, eng = s.tally, s.engine
    lg = eng.ledger
    return {
        "ledger": [lg.initial_capital, lg.capital, lg.realized_pnl, lg.total_fees,
                   lg.total_trades, lg.winning_trades, lg.losing_trades, lg.liquidations,
                   lg.peak_equity, lg.halted_reason],
        "positions": [[p.symbol, p.side.value, p.opened_at,
                       [[e.price, e.quantity, e.margin, e.leverage, e.fee, e.ts]
                        for e in p.entries]] for p in eng.positions.values()],
        "closed_at": dict(eng.closed_at), "marks": dict(eng.marks),
        "tally": [t.right1, t.judged1, t.right_h, t.judged_h, t.errors, t.tokens, t.cost,
                  t.peak, t.max_dd],
        "pending": [[p.symbol, p.price, p.up, p.due1, p.due_h, p.done1] for p in t.pending],
    }


def _shadow_from(config: EngineConfig, threshold: float, d: Mapping[str, Any]) -> Shadow:
    lg = Ledger(*d["ledger"])
    positions = {sym: Position(sym, Side(side), [Entry(*e) for e in entries], opened)
                 for sym, side, opened, entries in d["positions"]}
    state = EngineState(lg, positions, dict(d["closed_at"]))
    tally = Tally(*d["tally"])
    tally.pending = [Pending(*p) for p in d["pending"]]
    shadow = Shadow(config, threshold, state, tally)
    shadow.engine.marks.update(d["marks"])
    return shadow


__all__ = ["ENSEMBLE", "Scorecard", "Shadow", "Tally"]

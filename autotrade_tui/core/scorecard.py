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
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autotrade_tui.core.engine import EPS, EngineConfig, EngineState, Ledger, TradingEngine
from autotrade_tui.core.metrics import deepen, max_drawdown_pct
from autotrade_tui.core.models import (
    Action,
    Entry,
    ModelVote,
    Position,
    Side,
    TradeSource,
    pnl_at,
)
from autotrade_tui.core.voting import EPS as VOTE_EPS

HOUR = 3600.0
_LATER_MIN = 1e-3  # s: the shortest interval `Scorecard.judge_later` takes (`ts + interval`
# stays above `ts` at any epoch time)
_HOLD = Action.HOLD
ENSEMBLE = "ensemble"
CURVE_POINTS = 240  # each shadow's equity curve keeps this many samples (the Models tab)
_SHRINK = 1e-9  # a calm band's inward margin (relative), far above the inversion's rounding
Bar = tuple[float, float, float, float]  # open, high, low, close
_NAN = math.nan
_NO_BAR: Bar = (_NAN, _NAN, _NAN, _NAN)
# (position, its entries, capital, quiet bar low and high, calm price low and high):
# `Shadow._calm_band`
Calm = tuple[Position, int, float, float, float, float, float]
# (the marks of the engines holding the symbol, the symbol, then the band as in Calm, the
# narrowest of theirs): `Scorecard._calm_shadows`
CalmShadow = tuple[list[dict[str, float]], str, float, float, float, float]
# the bands by symbol (a shadow of several positions with a box of closes (`_calm_box`) has
# its band there), and those of several positions without a box, whose equity at the closes
# is checked once every band held (`Shadow._calm_equity`)
CalmAll = tuple[list[CalmShadow], list["Shadow"]]
# a recorded answer (`Scorecard.record`): time, symbol, price, the answers, stale, votes
Recorded = tuple[float, str, float, tuple[Any, ...], bool, bool]
# a symbol's bars in a replay (`Scorecard.replay`): opens, highs, lows, closes, first
Columns = tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float], int]
_SHARE = 1e-6  # what each position's share of the equity's room gives up, for rounding
_POSITIVE = 5e-324  # the smallest float above 0: `price_lo <= price` is `price > 0`


@dataclass(slots=True)
class Pending:
    """A BUY/SELL answer waiting for the price one interval (`due1`) and an hour later."""

    symbol: str
    price: float
    up: bool  # BUY: the answer says the price goes up
    due1: float
    due_h: float
    done1: bool = False

    def right(self, price: float) -> bool:
        """Whether `price` bears the answer out (higher after a BUY, lower after a SELL)."""
        return price > self.price if self.up else price < self.price


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
        self._calm: Calm | None = None  # see `_calm_band`
        self._box: tuple[tuple[Any, ...], list[tuple[float, float]]] | None = None  # (what
        # it was found for, the box): see `_calm_box`
        self.judged_later = False  # answers judged all at once (`judge_seen`), not in marks

    def answer(self, vote: ModelVote, symbol: str, price: float, ts: float, interval: float,
               *, stale: bool = False) -> bool:
        """`act` on the vote's answer (an error is only counted); whether the ledger may
        have changed."""
        t = self.tally
        t.tokens += vote.prompt_tokens + vote.completion_tokens
        t.cost += vote.cost
        if not vote.ok:
            t.errors += 1
            return False
        assert vote.decision is not None
        return self.act(vote.decision, vote.confidence, symbol, price, ts, interval,
                        stale=stale)

    def act(self, action: Action, confidence: float, symbol: str, price: float, ts: float,
            interval: float, *, stale: bool = False) -> bool:
        """The model's answer, executed alone (gated as one answer is) and put up for
        judging; a HOLD does nothing. Whether the ledger changed (the engine traded)."""
        if action is Action.HOLD:
            return False
        if price > 0:
            due = ts + interval
            self.tally.pending.append(Pending(symbol, price, action is Action.BUY, due,
                                              ts + HOUR))
            if due < self._next_due and not self.judged_later:
                self._next_due = due
        eng = self.engine
        if _gated(eng, confidence, self.threshold, stale) or _refused(eng, action, symbol, price,
                                                                      ts):
            return False
        if not eng.execute(action, symbol, price, ts, TradeSource.AUTO, "alone").trades:
            return False  # refused by the engine (it refuses before changing anything)
        self._calm = self._box = None
        return True

    def mark(self, prices: Mapping[str, float], ts: float,
             bars: Mapping[str, Bar] | None = None) -> None:
        eng = self.engine
        if ts >= self._next_due:
            self._judge(prices, ts)
        positions = eng.positions
        if not (positions or self._was_holding):
            return  # flat since its last mark: nothing can move (capital is fixed)
        if bars and len(positions) == 1:
            # A calm bar (most of a backtest's): it reaches no level of the one position, and
            # the equity at its close is no new peak and no drawdown that trips the guard or
            # deepens the tally's (`_calm_band`): all `mark_bars` would change is the mark.
            ((symbol, pos),) = positions.items()
            calm = self._calm_for(pos)
            price, bar = prices.get(symbol, math.nan), bars.get(symbol, _NO_BAR)
            quiet = calm[3] < bar[2] and bar[1] < calm[4] and price > 0
            if quiet and calm[5] <= price <= calm[6]:
                eng.marks[symbol] = price
                self._was_holding = True
                return
        elif bars and positions and self._calm_bars(prices, bars):
            self._was_holding = True
            return
        else:
            quiet = False
        if quiet:  # a new peak or a deeper drawdown on a quiet bar (most of the rest): all
            # `mark_bars` does then is mark the close and check the drawdown at its equity
            eng.marks[symbol] = price
            eng._check_drawdown(prices, ts=ts)
        elif bars and positions:
            eng.mark_bars(prices, bars, ts)
        else:  # just flat: once more, so the guard's peak follows the equity as live
            eng.mark(prices, ts)
        self._was_holding = bool(positions)
        self._calm = self._box = None  # the peaks, the halt or the deepest drawdown may
        # have moved
        equity = eng.last_equity  # what the engine's mark measured for its drawdown guard
        t = self.tally
        t.peak, t.max_dd = deepen(t.peak, t.max_dd, equity)

    def _calm_for(self, pos: Position) -> Calm:
        """The calm band of `pos`, the shadow's one position (kept while it holds)."""
        calm = self._calm
        if (calm is None or calm[0] is not pos or calm[1] != len(pos.entries)
                or calm[2] != self.engine.ledger.capital):
            calm = self._calm = self._calm_band(pos)
        return calm

    def _calm_band(self, pos: Position) -> Calm:
        """(The position, its entries and the capital the band is for; the quiet range of
        the position's bars (low above, high below; a low above 0, as `mark_bars` checks);
        the prices at which the equity `engine.equity` computes moves neither the guard's
        peak nor the tally's peak and deepest drawdown, nor trips the drawdown guard). Those
        move only in a whole mark or a trade, which drop the band. The price band is found
        by inverting the equity, shrunk, then checked at both ends with the engine's own
        arithmetic: equity and drawdown are monotone in the price, rounding included, so
        every price between is calm too; a band that fails its check is empty."""
        eng = self.engine
        lg = eng.ledger
        low, high = eng.quiet_range(pos)
        low = max(low, 0.0)
        empty: Calm = (pos, len(pos.entries), lg.capital, low, high, math.inf, -math.inf)
        q, notional, margin = pos.totals()
        bounds = self._equity_bounds()
        if bounds is None or not q > 0:
            return empty
        top, floor = bounds
        base = lg.capital + margin
        side = pos.side
        # equity = base + q·(P − E) (long) or base + q·(E − P) (short), E = notional / q
        sign, entry = (1.0 if side is Side.LONG else -1.0), notional / q
        lo, hi = entry + (floor - base) / q * sign, entry + (top - base) / q * sign
        if hi < lo:
            lo, hi = hi, lo
        lo, hi = lo * (1.0 + _SHRINK), hi * (1.0 - _SHRINK)
        if lo <= 0.0:  # no price takes the equity to that bound (a short's peak when the
            lo = _POSITIVE  # room to it exceeds its notional, a long's floor likewise):
            # the band reaches down to any positive price (half the bands of a backtest)
        if not lo <= hi:
            return empty
        # the engine's `equity` at both ends (its sum for one position, inlined)
        if not self._calm_equity(base + pnl_at(side, q, notional, lo),
                                 base + pnl_at(side, q, notional, hi)):
            return empty
        return (pos, len(pos.entries), lg.capital, low, high, lo, hi)

    def _calm_bars(self, prices: Mapping[str, float], bars: Mapping[str, Bar]) -> bool:
        """Several positions (a shadow trading two or three symbols): the bars are calm when
        each position's bar reaches none of its levels (`quiet_range`, as in the one-position
        band) and the equity at the closes, computed as the whole mark computes it, leaves
        the peaks, the deepest drawdown and the guard as they are (`_calm_equity`). Then, as
        that mark would, only the positions' marks move."""
        eng = self.engine
        positions = eng.positions
        for symbol, pos in positions.items():
            bar, price = bars.get(symbol, _NO_BAR), prices.get(symbol, math.nan)
            low, high = eng.quiet_range(pos)
            if not (max(low, 0.0) < bar[2] and bar[1] < high and price > 0):
                return False  # (a missing bar or price: the whole mark, which checks it)
        if not self._calm_equity(eng.equity(prices)):
            return False
        marks = eng.marks
        for symbol in positions:
            marks[symbol] = prices[symbol]
        return True

    def _calm_box(self) -> list[tuple[float, float]] | None:
        """Several positions: for each, a range of closes around its mark such that the
        equity at any closes inside all of them is calm (`_calm_equity`), so a bar of each
        inside its range and its quiet range is calm with no equity computed (the equity
        check each bar cost a backtest of three symbols more than the rest of its calm
        bars). The equity's room to the floor and to the top (as in `_calm_band`) is shared
        out evenly, then checked at the two extreme corners with the engine's own
        arithmetic: the equity is monotone in each price, rounding included, so every
        corner between is calm too. None: no room (the equity at the marks is at or past a
        bound on both sides or past one: the equity is checked each bar)."""
        eng, marks = self.engine, self.engine.marks
        positions = eng.positions
        lg, t = eng.ledger, self.tally
        key = (lg.capital, lg.peak_equity, lg.halted_reason, eng._flatten_left, t.peak,
               t.max_dd, len(positions))  # (a trade moves the capital)
        kept = self._box  # dropped by a trade or a whole mark too
        if kept is not None and kept[0] == key and all(
                lo <= marks.get(symbol, 0.0) <= hi
                for symbol, (lo, hi) in zip(positions, kept[1], strict=True)):
            return kept[1]  # (the marks still inside: every corner of it is calm as before)
        bounds = self._equity_bounds()
        if bounds is None or not all(marks.get(symbol, 0.0) > 0 for symbol in positions):
            return None
        top, floor = bounds
        now = eng.equity(marks)
        n = len(positions)
        up, down = (top - now) / n * (1.0 - _SHARE), (now - floor) / n * (1.0 - _SHARE)
        if not (up >= 0.0 and down >= 0.0 and up + down > 0.0):
            return None  # (no room: the equity at the marks is already at or past a bound,
            # e.g. a fill moved a mark since the last mark)
        box, worst, best = [], {}, {}
        for symbol, pos in positions.items():
            q = pos.totals()[0]
            price = marks[symbol]
            if not q > 0:
                return None
            gain, loss = (up / q, down / q) if pos.side is Side.LONG else (down / q, up / q)
            lo, hi = max(price - loss, _POSITIVE), price + gain
            box.append((lo, hi))
            worst[symbol], best[symbol] = ((lo, hi) if pos.side is Side.LONG else (hi, lo))
        if not self._calm_equity(eng.equity(worst), eng.equity(best)):
            return None
        self._box = (key, box)
        return box

    def _equity_bounds(self) -> tuple[float, float] | None:
        """(top, floor): the equity a mark may measure without moving the guard's peak or
        the tally's (at most both peaks) and without tripping the guard or deepening the
        tally's drawdown (above both); None while the engine flattens or has no peak yet."""
        eng, t = self.engine, self.tally
        lg, limit = eng.ledger, eng.config.max_drawdown_percent
        if eng._flatten_left or not lg.peak_equity > 0 or not t.peak > 0:
            return None
        floor = t.peak * (1.0 - t.max_dd / 100.0)
        if limit and not lg.halted_reason:
            floor = max(floor, lg.peak_equity * (1.0 - (limit - EPS) / 100.0))
        return min(lg.peak_equity, t.peak), floor

    def _calm_equity(self, *equities: float) -> bool:
        """Whether a mark measuring each of `equities` leaves the peaks, the deepest
        drawdown and the guard as they are (the comparisons of `_check_drawdown` and
        `deepen`, on it)."""
        eng, t = self.engine, self.tally
        lg, limit = eng.ledger, eng.config.max_drawdown_percent
        peak, top, worst = lg.peak_equity, t.peak, t.max_dd
        if eng._flatten_left or not peak > 0 or not top > 0:
            return False
        guard = limit and not lg.halted_reason
        for equity in equities:
            if equity > peak or equity > top:
                return False
            if guard and (peak - equity) / peak * 100.0 >= limit - EPS:
                return False
            if (top - equity) / top * 100.0 > worst:
                return False
        return True

    def _judge(self, prices: Mapping[str, float], ts: float) -> None:
        t = self.tally
        if not t.pending:
            return
        keep = []
        due = math.inf  # `_due` of those kept, in the same loop (live, every mark that is due)
        for p in t.pending:
            at = p.due_h if p.done1 else p.due1
            if ts < at and ts < p.due_h:  # nothing of it due (most): kept as it is
                keep.append(p)
                if at < due:
                    due = at
                continue
            price = prices.get(p.symbol)
            if price is not None:
                moved = p.right(price)
                if not p.done1 and ts >= p.due1:
                    p.done1 = True
                    t.judged1 += 1
                    t.right1 += moved
                if ts >= p.due_h:
                    t.judged_h += 1
                    t.right_h += moved
                    continue
            keep.append(p)
            at = p.due_h if p.done1 else p.due1
            if at < due:
                due = at
        t.pending = keep
        self._next_due = due

    def judge_seen(self, seen1: Sequence[float], seen_h: Sequence[float]) -> None:
        """Judge the answers waiting (in order) at the prices the marks saw first at or after
        their due times (`seen1`, `seen_h`; NaN: no mark saw one before the run ended): what
        judging mark by mark comes to once those marks are past, when the interval is at most
        the hour (an answer is then judged for its interval first)."""
        t = self.tally
        keep = []
        for p, at1, at_h in zip(t.pending, seen1, seen_h, strict=True):
            if not p.done1 and at1 == at1:  # (NaN != NaN)
                p.done1 = True
                t.judged1 += 1
                t.right1 += p.right(at1)
            if at_h == at_h:
                t.judged_h += 1
                t.right_h += p.right(at_h)
            else:
                keep.append(p)
        t.pending = keep
        self._next_due = math.inf if self.judged_later else min(
            (_due(p) for p in keep), default=math.inf)


def _gated(eng: TradingEngine, confidence: float, threshold: float, stale: bool) -> bool:
    """`decision.gate` of a lone BUY/SELL answer, without its reason's text (nobody reads a
    shadow's, and most answers a backtest gives a shadow are gated or refused)."""
    return confidence + VOTE_EPS < threshold or stale or bool(eng.ledger.halted_reason)


def _refused(eng: TradingEngine, action: Action, symbol: str, price: float,
             ts: float) -> bool:
    """Whether `eng.execute` surely refuses the automatic `action` on `symbol` by its
    three commonest rules for a shadow (a new position in its re-entry cooldown; another
    entry on a position of the same side that is full, or that is not in profit when only
    such may be added to), without the refusal's text; False: ask the engine."""
    cfg = eng.config
    pos = eng.positions.get(symbol)
    if pos is None:
        closed = eng.closed_at.get(symbol)
        cooldown = cfg.reentry_cooldown_minutes * 60.0
        return bool(cooldown) and closed is not None and ts - closed < cooldown
    if (pos.side is Side.LONG) is not (action is Action.BUY):
        return False  # a reversal
    cap = cfg.max_entries_per_position
    if cap and len(pos.entries) >= cap:
        return True
    return cfg.stack_only_in_profit and eng.net_pnl(pos, price) <= 0


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
        self.holding = False  # some shadow holds a position (or is to be marked once more)
        self._calm_all: CalmAll | None = None  # see `mark`; dropped by a change
        self._calm_one: CalmShadow | None = None  # its one band when it is all (`_set_calm`)
        self._calm_stale = False  # the bands were dropped by answers: found again at a mark
        self.judges_later = False  # see `judge_later`
        # the prices of the last calm mark, not yet written as the bands' shadows' marks: a
        # calm mark only remembers them (`settle_marks` writes them before
        # anything here reads marks)
        self._unmarked: Mapping[str, float] | None = None
        self._log: list[Recorded] | None = None  # answers recorded to act on later (`record`)

    def _changed(self, moved: bool = True) -> None:
        """After answers (`moved`: a ledger may have changed, so the calm bands go), a
        restore or a change of how answers are judged: when the next answer is due, whether
        a shadow holds (or is to be marked once more)."""
        self.settle_marks()
        if moved:
            self._calm_all = self._calm_one = None
            self._calm_stale = True
        due, holding = math.inf, False
        for s in self.shadows.values():
            if s._next_due < due:
                due = s._next_due
            if s.engine.positions or s._was_holding:
                holding = True  # (one that went flat by an answer is marked once more)
        self.next_due, self.holding = due, holding

    def settle_marks(self) -> None:
        """The marks calm marks left unwritten (`_unmarked`: a backtest's calm bars, most of
        its candles, only remember their prices), written as they would have been. Every
        method here that reads the shadows does it first; a caller reading a shadow's engine
        directly after `mark` calls it."""
        prices = self._unmarked
        if prices is not None:
            assert self._calm_all is not None  # (the bands go only after settling)
            for engines, symbol, *_ in self._calm_all[0]:
                price = prices[symbol]
                for marks in engines:
                    marks[symbol] = price
        self._unmarked = None

    def sample(self, prices: Mapping[str, float]) -> None:
        """One point of each shadow's equity curve (the caller decides how often)."""
        self.settle_marks()
        for name, s in self.shadows.items():
            curve = self.curves.setdefault(name, [])
            curve.append(s.engine.equity({**s.engine.marks, **prices}))
            del curve[:-CURVE_POINTS]

    def on_votes(self, symbol: str, price: float, ts: float, votes: Sequence[ModelVote], *,
                 stale: bool = False) -> None:
        """Both models' answers on one symbol (in the order of `models`)."""
        if self._log is not None:
            self._log.append((ts, symbol, price, tuple(votes), stale, True))
            return
        self.settle_marks()  # (an entry is sized on the marks)
        moved = [shadow.answer(vote, symbol, price, ts, self.interval, stale=stale)
                 for vote, shadow in zip(votes, self.shadows.values(), strict=False)]
        self._changed(any(moved))

    def on_answers(self, symbol: str, price: float, ts: float,
                   answers: Sequence[tuple[Action, float]], *, stale: bool = False) -> None:
        """The offline models' answers (no tokens, cost or errors): (action, confidence)."""
        if self._log is not None:
            self._log.append((ts, symbol, price, tuple(answers), stale, False))
            return
        self.settle_marks()
        moved = acted = False
        for (action, confidence), shadow in zip(answers, self.shadows.values(), strict=False):
            if action is not _HOLD:  # (a HOLD does nothing: most answers of a pair are one)
                acted = True
                if shadow.act(action, confidence, symbol, price, ts, self.interval,
                              stale=stale):
                    moved = True
        if moved:
            self._changed()
        elif acted and price > 0 and not self.judges_later:  # no ledger changed: what
            # `_changed` would find is only the answers' due time, if it is the nearest
            due = ts + self.interval
            if due < self.next_due:
                self.next_due = due

    def judge_later(self) -> bool:
        """A backtest: the answers are to be judged all at once at its end (`judge_seen`),
        from the prices its marks saw, which it knows in advance; none is judged mark by mark
        (no mark for judging alone, no judging in a calm mark). Whether it can: an answer is
        then judged for its interval before its hour (an interval of at most the hour), and
        its interval's due time comes after it (one of at least a millisecond)."""
        if not _LATER_MIN <= self.interval <= HOUR:
            return False
        self.judges_later = True
        for shadow in self.shadows.values():
            shadow.judged_later = True
            shadow._next_due = math.inf
        self._changed(False)
        return True

    def judge_seen(self, seen: Callable[[str, list[float]], list[float]]) -> None:
        """Judge every answer waiting, `seen(symbol, times)` giving the price the first mark
        at or after each time saw (NaN: none did): the end of a backtest (`judge_later`)."""
        for shadow in self.shadows.values():
            pending = shadow.tally.pending
            by_symbol: dict[str, list[int]] = {}
            for k, p in enumerate(pending):
                by_symbol.setdefault(p.symbol, []).append(k)
            seen1, seen_h = [_NAN] * len(pending), [_NAN] * len(pending)
            for symbol, ks in by_symbol.items():
                prices = seen(symbol, [pending[k].due1 for k in ks] +
                              [pending[k].due_h for k in ks])
                for n, k in enumerate(ks):
                    seen1[k], seen_h[k] = prices[n], prices[len(ks) + n]
            shadow.judge_seen(seen1, seen_h)
        self._changed(False)

    def mark(self, prices: Mapping[str, float], ts: float,
             bars: Mapping[str, Bar] | None = None) -> None:
        """Every shadow marked at `prices` (and, in a backtest, on `bars`). A calm bar keeps
        `prices` to write the shadows' marks from when they are read (`settle_marks`): the
        caller does not change that mapping afterwards (a backtest makes one each candle)."""
        # first `Shadow.mark`'s calm bars for every shadow marked, in line (a backtest marks
        # every candle a shadow holds, most of them calm): one band (shadows on one symbol,
        # the usual case) with the fewest steps, else band by band
        one = self._calm_one
        if one is not None and bars:
            if ts >= self.next_due:  # judging moves no band: the bar may still be calm
                self._judge_due(prices, ts)
            _, symbol, low, high, price_lo, price_hi = one
            price, bar = prices.get(symbol, _NAN), bars.get(symbol, _NO_BAR)
            if low < bar[2] and bar[1] < high and price_lo <= price <= price_hi:
                self._unmarked = prices  # (the marks: written when read, `settle_marks`)
                return
        elif bars and (self._calm_all is not None or self._calm_stale):
            calm = self._calm_all or self._calm_after_answers()
            if calm is not None:
                if ts >= self.next_due:
                    self._judge_due(prices, ts)
                bands, several = calm
                for _, symbol, low, high, price_lo, price_hi in bands:
                    price, bar = prices.get(symbol, _NAN), bars.get(symbol, _NO_BAR)
                    if not (low < bar[2] and bar[1] < high and price_lo <= price <= price_hi):
                        break
                else:  # `Shadow._calm_bars`' last step, for a shadow without a box
                    if not several or all(shadow._calm_equity(shadow.engine.equity(prices))
                                          for shadow in several):
                        self._unmarked = prices
                        return
        self._mark_whole(prices, ts, bars)

    def _mark_whole(self, prices: Mapping[str, float], ts: float,
                    bars: Mapping[str, Bar] | None) -> None:
        """Each shadow marked by itself (`Shadow.mark`), then the bands found again."""
        self.settle_marks()
        due, holding = math.inf, False  # `_changed`, in the same loop
        for shadow in self.shadows.values():
            if shadow.engine.positions or shadow._was_holding or ts >= shadow._next_due:
                shadow.mark(prices, ts, bars)
            if shadow._next_due < due:
                due = shadow._next_due
            if shadow.engine.positions or shadow._was_holding:
                holding = True
        self.next_due, self.holding = due, holding
        self._set_calm(self._calm_shadows() if bars else None)  # (bars: a backtest)
        self._calm_stale = False

    def _calm_after_answers(self) -> CalmAll | None:
        """The bands after answers changed a ledger, without a whole mark first: each
        shadow's band is found again for its position as it now is (`_calm_for`), so a bar
        calm for all is one `Shadow.mark` finds calm shadow by shadow. A shadow in a band
        holds a position and so is marked from now on, as that mark would note."""
        self._calm_stale = False
        calm = self._calm_shadows()
        self._set_calm(calm)
        if calm is not None:
            for shadow in self.shadows.values():
                if shadow.engine.positions:
                    shadow._was_holding = True
        return calm

    def _set_calm(self, calm: CalmAll | None) -> None:
        self._calm_all = calm
        self._calm_one = calm[0][0] if calm is not None and len(calm[0]) == 1 and not calm[1] \
            else None

    # ---- a backtest's shadows, after its candles (`record`, `replay`)
    def record(self) -> None:
        """From now on the answers are recorded, not acted on, until `replay`: a backtest
        whose symbols all have a new bar at every candle replays its shadows after its own
        candle loop, a run of calm candles in one tight loop over the bars instead of a
        `mark` each. With the answers judged later only (`judge_later`): no mark is due."""
        assert self.judges_later
        self._log = []

    def replay(self, times: Sequence[float], columns: Mapping[str, Columns]) -> None:
        """The recorded answers acted on and the shadows marked, candle by candle, as the
        backtest would have: each candle after the first gives every symbol one new bar
        closing at it (`columns`: each symbol's opens, highs, lows, closes, and the index of
        its bar closing at the first candle; its close is the symbol's price), marked when a
        shadow holds (`mark`), then that candle's answers (they come at candle times)."""
        log, self._log = self._log or [], None
        n, names = len(times), list(columns)
        at = [bisect_left(times, entry[0]) for entry in log]  # each answer's candle
        li, k = 0, 0
        while k < n:
            if k and self.holding:
                end = self._calm_run(columns, k, at[li] + 1 if li < len(log) else n)
                if end > k:
                    k = end - 1  # calm up to here; its answers next
                else:
                    prices: dict[str, float] = {}
                    bars: dict[str, Bar] = {}
                    for name in names:
                        opens, highs, lows, closes, first = columns[name]
                        j = first + k
                        prices[name] = closes[j]
                        bars[name] = (opens[j], highs[j], lows[j], closes[j])
                    self.mark(prices, times[k], bars)
            while li < len(log) and at[li] == k:
                ts, symbol, price, given, stale, votes = log[li]
                li += 1
                if votes:
                    self.on_votes(symbol, price, ts, given, stale=stale)
                else:
                    self.on_answers(symbol, price, ts, given, stale=stale)
            k += 1

    def _calm_run(self, columns: Mapping[str, Columns], k: int, stop: int) -> int:
        """The first candle from k (before `stop`) whose bars are not calm in the bands
        (`mark`'s calm check, over the columns); the calm ones are marked as `mark` marks
        them (their last prices kept for `settle_marks`)."""
        calm = self._calm_all
        if calm is None or calm[1] or not calm[0]:
            return k  # (bands found at a mark; a shadow whose equity is checked each bar)
        bands = [(columns[symbol], low, high, lo, hi) for _, symbol, low, high, lo, hi
                 in calm[0]]
        end = k
        if len(bands) == 1:  # (the usual case: a loop of its own)
            (_, highs, lows, closes, first), low, high, lo, hi = bands[0]
            j, last = first + k, first + stop
            while j < last and low < lows[j] and highs[j] < high and lo <= closes[j] <= hi:
                j += 1
            end = j - first
        else:
            checks = [(lows, highs, closes, first, low, high, lo, hi)
                      for (_, highs, lows, closes, first), low, high, lo, hi in bands]
            while end < stop:
                for lows, highs, closes, first, low, high, lo, hi in checks:
                    j = first + end
                    if not (low < lows[j] and highs[j] < high and lo <= closes[j] <= hi):
                        break
                else:
                    end += 1
                    continue
                break
        if end > k:
            self._unmarked = {symbol: columns[symbol][3][columns[symbol][4] + end - 1]
                              for _, symbol, *_ in calm[0]}
        return end

    def _judge_due(self, prices: Mapping[str, float], ts: float) -> None:
        """`Shadow.mark`'s first step for each shadow an answer of which is due (judging
        again is a no-op: what was judged is marked done or dropped)."""
        due = math.inf
        for shadow in self.shadows.values():
            if ts >= shadow._next_due:
                shadow._judge(prices, ts)
            if shadow._next_due < due:
                due = shadow._next_due
        self.next_due = due

    def _calm_shadows(self) -> CalmAll | None:
        """After a mark: the shadows that the next one marks, by symbol, with the band where
        all of them are calm (each condition holds for all when it holds for the narrowest),
        and those of several positions: with a box of closes (`Shadow._calm_box`) their
        bands are in it, like one position's; without one, their bars are calm when every
        position's bar is quiet (`quiet_range`: its band, any positive price) and their
        equity then is (`Shadow._calm_bars`). None when one was holding and is flat (it is
        marked once more). Valid until the shadows change, which they do only through this class
        (`_changed`)."""
        out: dict[str, CalmShadow] = {}
        several: list[Shadow] = []
        for shadow in self.shadows.values():
            eng = shadow.engine
            positions = eng.positions
            if not positions:
                if shadow._was_holding:
                    return None
                continue  # not marked before its next answer is due
            bands: Sequence[tuple[str, float, float, float, float]]
            if len(positions) == 1:
                ((symbol, pos),) = positions.items()
                _, _, _, low, high, lo, hi = shadow._calm_for(pos)
                bands = ((symbol, low, high, lo, hi),)
            else:
                box = shadow._calm_box()
                if box is None:
                    several.append(shadow)
                    box = [(_POSITIVE, math.inf)] * len(positions)
                bands = [(symbol, max(low, 0.0), high, lo, hi) for (symbol, (low, high)), (lo, hi)
                         in zip(((s, eng.quiet_range(p)) for s, p in positions.items()), box,
                                strict=True)]
            for symbol, low, high, lo, hi in bands:
                seen = out.get(symbol)
                if seen is None:
                    out[symbol] = ([eng.marks], symbol, low, high, lo, hi)
                else:  # the narrowest of both
                    engines, _, low0, high0, lo0, hi0 = seen
                    engines.append(eng.marks)
                    out[symbol] = (engines, symbol, max(low, low0), min(high, high0),
                                   max(lo, lo0), min(hi, hi0))
        return list(out.values()), several

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
        self.settle_marks()
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
        self.settle_marks()
        return {name: {**_shadow_dict(s), "curve": list(self.curves.get(name, []))}
                for name, s in self.shadows.items()}

    def restore(self, data: Mapping[str, Any]) -> None:
        """Shadows from `to_dict` (models not in it start fresh; unknown names are kept out)."""
        self.settle_marks()
        for name in self.shadows:
            if name in data:
                shadow = self.shadows[name] = _shadow_from(self.config, self.threshold,
                                                          data[name])
                if self.judges_later:
                    shadow.judged_later, shadow._next_due = True, math.inf
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

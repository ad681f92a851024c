"""The offline models' decision step for a whole cycle, lean: their rule functions on the
precomputed indicator values, `voting.tally` (memoised: the rules' confidences are rounded to
hundredths, so a run meets only a few thousand distinct vote pairs), and `decision.settle`
for the results that are not HOLD. The same functions, in the same order, as
`TrendFollower.decide` / `MeanReverter.decide`, `voting.vote` and `decision.decide`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from autotrade_tui.core.decision import settle
from autotrade_tui.core.models import Action, TradeSource, VoteResult
from autotrade_tui.core.voting import tally

if TYPE_CHECKING:
    from autotrade_tui.backtest.runner import Backtest

Decider = Callable[[list[Any], float, TradeSource], None]


def make_decider(bt: Backtest) -> Decider:
    """`decide(symbols, t, source)` for `bt`, whose models both have a `rule_function`."""
    r1, r2 = bt.rules
    assert r1 is not None and r2 is not None
    p = bt.policy
    strategy, threshold, single, weights = bt.strategy, p.threshold, p.single_threshold, p.weights
    engine, prices, stale, counts, record = bt.engine, bt.prices, bt.stale, bt.counts, bt.record
    memo: dict[tuple[Any, ...], VoteResult] = {}
    hold = Action.HOLD

    def decide(syms: list[Any], t: float, source: TradeSource) -> None:
        made = holds = 0
        for s in syms:
            j = s.i
            if j < 0:
                continue  # the runtime: "no candles" → no decision
            made += 1
            x1, x2 = s.inputs
            e1 = e2 = ""
            try:
                a1, c1, _ = r1(*x1[j])  # (price, indicator values)
            except Exception as exc:  # as the model's decide(): an error vote, never a crash
                a1, c1, e1 = None, 0.0, f"unexpected {type(exc).__name__}"
            try:
                a2, c2, _ = r2(*x2[j])
            except Exception as exc:
                a2, c2, e2 = None, 0.0, f"unexpected {type(exc).__name__}"
            key = (a1, c1, a2, c2)
            result = memo.get(key)
            if result is None:
                action, score, _, limit = tally(a1, c1, a2, c2, strategy, threshold, single,
                                                weights)
                # the reason is written when the decision is saved
                result = memo[key] = VoteResult(action, score, "", limit)
            if result.decision is hold:
                holds += 1
                continue
            name = s.name
            price = prices[name]
            out = settle(engine, name, price, t, result, stale=name in stale, source=source)
            record(s, t, price, source, result, out.executed, out.note, out.execution.trades,
                   raw=(a1, c1, e1, a2, c2, e2))
        counts["decisions"] += made
        if holds:
            counts["HOLD"] += holds

    return decide

"""The offline models' decision step, lean.

Their rules are pure functions of a bar's price and indicator values, written over arrays
(`vector_rules`, the very function their live `decide` runs on one bar). A backtest has the
indicators of every bar before it starts (the whole-series mode of the indicator module), so
each rule runs once over the whole series, and each distinct pair of answers is voted once
(`voting.tally`, the vote without its text; the rules' confidences are hundredths, so a year
meets a few thousand pairs). Per decision what is left is a lookup and, for the results that
are not HOLD, `decision.settle`: the same gates and engine as live (`core.step.settle_votes`
after its vote). The reasoning text is written afterwards, only for the decisions a run
records (`SeriesVotes.votes`). The parity tests (tests/test_backtest_parity.py) hold this path
equal to the full-context one and to the live runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from autotrade_tui.ai.offline import ACTIONS, HELD, RuleOutput, value
from autotrade_tui.core.decision import VotePolicy, settle
from autotrade_tui.core.models import Action, ModelVote, Side, TradeSource, VoteResult
from autotrade_tui.core.voting import strategy_name, tally

if TYPE_CHECKING:
    import pandas as pd

    from autotrade_tui.backtest.runner import Backtest

Decider = Callable[[list[Any], float, TradeSource], None]
_HOLD = Action.HOLD


def lean(models: Sequence[Any]) -> bool:
    """Whether `models` all have a rule over arrays (the offline models do)."""
    return all(callable(getattr(m, "vector_rules", None)) for m in models)


def indicator_keys(models: Sequence[Any]) -> tuple[str, ...]:
    """The indicators the models' rules read, each once, in first-read order."""
    return tuple(dict.fromkeys(k for m in models for k in m.inputs if k != HELD))


HELD_STATES = (0.0, 1.0, -1.0)  # flat, LONG, SHORT: the `held` input, by `state_of`


def state_of(position: Any) -> int:
    """The index in HELD_STATES of an open position (None: flat)."""
    if position is None:
        return 0
    return 1 if position.side is Side.LONG else 2  # `is`: Enum.value is a slow property


class SeriesVotes:
    """One symbol's rule answers and vote result at every bar of its series, for each side
    the open position may have (the rules read it: `offline.HELD`)."""

    def __init__(self, models: Sequence[Any], close: np.ndarray, frame: pd.DataFrame,
                 policy: VotePolicy) -> None:
        self.models = models
        n = len(close)
        # Per held state, per model: the rule's arguments (the bar's close, the replay feed's
        # ticker price, then its inputs' columns) and its answers.
        self.columns = [[[close, *(np.full(n, h) if k == HELD else frame[k].to_numpy()
                                   for k in m.inputs)] for m in models] for h in HELD_STATES]
        self.outputs: list[list[RuleOutput]] = [
            [m.vector_rules(*cols) for m, cols in zip(models, state, strict=True)]
            for state in self.columns]
        # Per held state, the vote at every bar; None where it is HOLD (only counted).
        self.results = [_tally_all(out[0], out[1], policy) for out in self.outputs]
        # Per held state, per model: (action codes, confidences) as lists, for the
        # scorecard's shadows (SPEC §16), which follow each model's own answer.
        self.answers = [[(o.action.tolist(), o.confidence.tolist()) for o in out]
                        for out in self.outputs]

    def votes(self, j: int, state: int = 0) -> tuple[ModelVote, ModelVote]:
        """Both models' votes at bar j with the open position `state`, reasoning included."""
        out = []
        for m, cols, rule in zip(self.models, self.columns[state], self.outputs[state],
                                 strict=True):
            values = [value(c[j].item()) for c in cols[1:]]
            text = m.rule_text(int(rule.branch[j]), int(rule.detail[j]), cols[0][j].item(),
                               *values)
            out.append(ModelVote(m.name, ACTIONS[rule.action[j]], rule.confidence[j].item(),
                                 text))
        return out[0], out[1]


def _tally_all(first: RuleOutput, second: RuleOutput,
               policy: VotePolicy) -> list[VoteResult | None]:
    """`tally` of both rules' answers at every bar, each distinct pair voted once."""
    strategy = strategy_name(policy.strategy)
    _, at1 = np.unique(first.confidence, return_inverse=True)
    conf2, at2 = np.unique(second.confidence, return_inverse=True)
    n = len(ACTIONS)
    key = ((at1.astype(np.int64) * n + first.action) * (len(conf2) * n)
           + at2.astype(np.int64) * n + second.action)
    _keys, where, pair_of = np.unique(key, return_index=True, return_inverse=True)
    results: list[VoteResult | None] = []
    for j in where.tolist():
        action, score, _, limit = tally(
            ACTIONS[first.action[j]], first.confidence[j].item(), ACTIONS[second.action[j]],
            second.confidence[j].item(), strategy, policy.threshold, policy.single_threshold,
            policy.weights)
        # the vote's reason is written when the decision is saved
        results.append(None if action is _HOLD else VoteResult(action, score, "", limit))
    return [results[k] for k in pair_of.tolist()]


def make_decider(bt: Backtest) -> Decider:
    """`decide(symbols, t, source)` for `bt`, whose symbols all have their `SeriesVotes`."""
    engine, prices, stale, counts, record = bt.engine, bt.prices, bt.stale, bt.counts, bt.record
    positions = engine.positions
    card = bt.scorecard

    def decide(syms: list[Any], t: float, source: TradeSource) -> None:
        made = holds = 0
        for s in syms:
            j = s.i
            if j < 0:
                continue  # the runtime: "no candles" → no decision
            made += 1
            name = s.name
            state = state_of(positions.get(name))
            (a0, c0), (a1, c1) = s.lean.answers[state]
            if a0[j] or a1[j]:  # a model answered BUY/SELL: its shadow acts on it
                card.on_answers(name, prices[name], t, ((ACTIONS[a0[j]], c0[j]),
                                                        (ACTIONS[a1[j]], c1[j])),
                                stale=name in stale)
            result = s.lean.results[state][j]
            if result is None:
                holds += 1
                continue
            price = prices[name]
            out = settle(engine, name, price, t, result, stale=name in stale, source=source)
            record(s, t, price, source, result, out.executed, out.note, out.execution.trades,
                   state=state)
        counts["decisions"] += made
        if holds:
            counts["HOLD"] += holds

    return decide

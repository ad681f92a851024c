"""One trial: the settings a trial suggests, backtested through the backtest path (the same
`Backtest` and `summary` as `autotrade-tui backtest`), scored by the objective."""

from __future__ import annotations

import asyncio
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autotrade_tui.backtest.history import History

if TYPE_CHECKING:
    from autotrade_tui.config import Settings

OBJECTIVES = ("sharpe", "return", "calmar")
METRIC_KEYS = ("return_pct", "max_drawdown_pct", "sharpe", "total_trades", "win_rate",
               "total_fees", "liquidations", "final_equity", "candles")


def score(objective: str, metrics: dict[str, Any]) -> float:
    """The number a study maximises. calmar = return % / max drawdown % (a drawdown below
    0.01 % counts as 0.01 %, so a flat run does not divide by zero)."""
    if objective == "sharpe":
        value = float(metrics["sharpe"])
    elif objective == "return":
        value = float(metrics["return_pct"])
    else:
        value = float(metrics["return_pct"]) / max(float(metrics["max_drawdown_pct"]), 0.01)
    return value if math.isfinite(value) else 0.0


def backtest_metrics(settings: Settings, history: History, source: Any,
                     timeframe: str) -> dict[str, Any]:
    """The `backtest --json` figures of one run (the subset a study keeps); `source.build`
    gives the models (made inside the run's event loop, closed after it)."""
    return asyncio.run(_run(settings, history, source, timeframe))


async def _run(settings: Settings, history: History, source: Any,
               timeframe: str) -> dict[str, Any]:
    from autotrade_tui.backtest.metrics import summary
    from autotrade_tui.backtest.runner import Backtest

    models, close = source.build(settings)
    try:
        out = await Backtest(settings, history, models).run()
    finally:
        await close()
    m = summary(out, history, [m.name for m in models], timeframe=timeframe)
    return {k: m[k] for k in METRIC_KEYS}


@dataclass
class Folds:
    """`--walk-forward K`: K consecutive slices of the period; the first K−1 score a trial
    (in sample), the last one reports the best trial out of sample."""

    in_sample: list[History]
    out_of_sample: History | None


def folds(history: History, k: int) -> Folds:
    if k <= 1:
        return Folds([history], None)
    edges = [history.start + (history.end - history.start) * i / k for i in range(k + 1)]
    parts = [History(history.series, history.bar_seconds, a, b, history.source)
             for a, b in itertools.pairwise(edges)]
    return Folds(parts[:-1], parts[-1])


def evaluate(settings: Settings, parts: list[History], source: Any, objective: str,
             timeframe: str) -> tuple[float, dict[str, Any]]:
    """The mean score over `parts` and the metrics of each (one part: its own metrics)."""
    runs = [backtest_metrics(settings, h, source, timeframe) for h in parts]
    value = sum(score(objective, m) for m in runs) / len(runs)
    return value, runs[0] if len(runs) == 1 else {"folds": runs}

"""A backtest's calm runs looked up ahead (`core.scorecard.calm_end`, `Scorecard.defer` /
`settle`, `Backtest._calm_ahead`): skipping `Scorecard.mark` on the bars found calm for the
one band ahead, the shadows' marks written only when read, leaves the scorecard exactly as
marking every candle does."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotrade_tui.ai.offline import MeanReverter, TrendFollower
from autotrade_tui.backtest.history import load_file
from autotrade_tui.backtest.runner import Backtest
from autotrade_tui.config import defaults
from autotrade_tui.core.scorecard import CalmShadow, Scorecard, calm_end
from tests.test_backtest import SYMBOLS, market, write
from tests.test_backtest_parity import request


def calm_end_one_by_one(band: CalmShadow, start: int, lows: list[float], highs: list[float],
                        closes: list[float]) -> int:
    """The ground truth: `Scorecard.mark`'s one-band check, bar by bar."""
    _, _, low, high, lo, hi = band
    for k in range(start, len(closes)):
        if not (low < lows[k] and highs[k] < high and lo <= closes[k] <= hi):
            return k
    return len(closes)


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.sampled_from([0, 5, 17, 300, 1500, 6000]),
       start=st.integers(0, 40), width=st.floats(0.001, 0.2), nan=st.booleans(),
       edge=st.sampled_from([0, 1, 2]))
def test_calm_end_is_the_first_bar_the_one_band_check_finds_not_calm(
        seed: int, n: int, start: int, width: float, nan: bool, edge: int) -> None:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
    high, low = close * (1 + rng.uniform(0, 0.001, n)), close * (1 - rng.uniform(0, 0.001, n))
    band: CalmShadow = ([], "X", 100.0 * (1 - width), 100.0 * (1 + width),
                        100.0 * (1 - width / 2), 100.0 * (1 + width / 2))
    if nan and n:
        close[rng.integers(0, n)] = np.nan
    if edge and n:  # a bar on an end of the band (closes: calm; lows and highs: not)
        close[rng.integers(0, n)], close[rng.integers(0, n)] = band[4], band[5]
        (low if edge == 1 else high)[rng.integers(0, n)] = band[2 if edge == 1 else 3]
    start = min(start, n)
    lists = (low.tolist(), high.tolist(), close.tolist())
    assert calm_end(band, start, lists, (low, high, close)) == calm_end_one_by_one(
        band, start, *lists)


class EveryCandle(Backtest):
    """The ground truth: the scorecard marked every candle a shadow holds (nothing looked
    up ahead, nothing deferred)."""

    def _calm_ahead(self, bars: dict[str, Any]) -> tuple[str, float] | None:
        return None


def replay(kind: type[Backtest], config: Any, history: Any) -> tuple[Scorecard, int]:
    """The replay's scorecard and how many times it was marked."""
    bt = kind(config, history, (TrendFollower(), MeanReverter()))
    card, calls = bt.scorecard, [0]
    mark = card.mark

    def counted(*args: Any) -> None:
        calls[0] += 1
        mark(*args)

    card.mark = counted  # type: ignore[method-assign]
    asyncio.run(bt.run())
    return card, calls[0]


def shadows_state(card: Scorecard) -> list[object]:
    return [card.to_dict(), card.holding, card.next_due,
            *((s._was_holding, s.engine.closed_at, s.engine.marks, s.engine.ledger)
              for s in card.shadows.values())]


def with_holes(df: pd.DataFrame, seed: int, holes: int) -> pd.DataFrame:
    """Some bars of the first symbol missing: candles where it has no new bar."""
    rng = np.random.default_rng(seed)
    first = df.index[df["symbol"] == df["symbol"].iloc[0]]
    return df.drop(rng.choice(first, size=min(holes, len(first) // 4), replace=False))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), one=st.booleans(), holes=st.sampled_from([0, 0, 3, 40]),
       overrides=st.sampled_from([{}, {"reentry_cooldown_minutes": 0.0,
                                       "position_size_percent": 30.0},
                                  {"max_drawdown_percent": 3.0, "stop_loss_percent": 1.0,
                                   "take_profit_percent": 1.5}]))
def test_a_backtest_looking_ahead_leaves_the_shadows_as_marking_every_candle(
        tmp_path: Path, seed: int, one: bool, holes: int, overrides: dict) -> None:
    symbols = SYMBOLS[:1] if one else SYMBOLS
    df = with_holes(market(n=900, seed=seed, symbols=symbols), seed, holes)
    history = load_file(request(write(df, tmp_path / f"m{seed}.csv"), symbols=symbols))
    config = defaults(symbols=symbols, **overrides)
    (ahead, marks), (every, every_marks) = (replay(kind, config, history)
                                            for kind in (Backtest, EveryCandle))
    assert shadows_state(ahead) == shadows_state(every)
    assert ahead.rows({}) == every.rows({})
    assert marks <= every_marks


def test_the_look_ahead_skips_marks() -> None:
    """The fast path is taken (the equality above is not vacuous): one symbol's trends."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        symbols = SYMBOLS[:1]
        history = load_file(request(write(market(n=3000, symbols=symbols), Path(tmp) / "m.csv"),
                                    symbols=symbols))
    (_, marks), (_, every_marks) = (replay(kind, defaults(symbols=symbols), history)
                                    for kind in (Backtest, EveryCandle))
    assert marks < every_marks * 0.8

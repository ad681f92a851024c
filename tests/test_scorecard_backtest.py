"""The scorecard in backtests (SPEC §16): the lean offline path and the full context path
give the same shadows; `backtest --json` carries them under `scorecard`."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotrade_tui.ai.offline import MeanReverter, TrendFollower
from autotrade_tui.backtest import runner
from autotrade_tui.backtest.history import load_file
from autotrade_tui.backtest.runner import Backtest, _Seen
from autotrade_tui.config import defaults
from autotrade_tui.core.engine import EngineConfig
from autotrade_tui.core.models import Action
from autotrade_tui.core.scorecard import Scorecard
from tests.test_backtest import SYMBOLS, T0, home, market, run_json, write  # noqa: F401
from tests.test_backtest_parity import request

KEYS = {"model", "equity", "return_pct", "trades", "win_rate", "max_drawdown", "accuracy_1",
        "accuracy_1h", "errors", "tokens", "cost"}


@pytest.mark.parametrize("overrides", [{}, {"reentry_cooldown_minutes": 0.0,
                                            "position_size_percent": 10.0}])
async def test_the_lean_and_the_full_path_give_the_same_shadows(tmp_path: Path,
                                                                 overrides: dict) -> None:
    history = load_file(request(write(market(n=500), tmp_path / "m.csv")))
    settings = defaults(symbols=SYMBOLS, **overrides)
    cards = []
    for fast in (True, False):
        bt = Backtest(settings, history, (TrendFollower(), MeanReverter()), fast=fast)
        await bt.run()
        cards.append(bt.scorecard)
    lean, full = cards
    assert lean.to_dict() == full.to_dict()
    trend = lean.shadows["offline/trend-follower"]
    assert trend.tally.judged1 > 0  # the rules answered BUY/SELL and were judged
    assert trend.engine.invariant_error() < 1e-6


def test_backtest_json_has_a_scorecard_row_per_model_and_the_ensemble(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    m = run_json(["--data", str(write(market(), home / "m.csv")), "--results-db",
                  str(home / "bt.db")], capsys)
    assert m["models"] == ["offline/trend-follower", "offline/mean-reversion"]  # unchanged
    rows = m["scorecard"]
    assert [r["model"] for r in rows] == [*m["models"], "ensemble"]
    assert all(set(r) >= KEYS for r in rows)
    ensemble = rows[-1]
    assert ensemble["equity"] == m["final_equity"] and ensemble["trades"] == m["total_trades"]
    assert ensemble["max_drawdown"] == pytest.approx(m["max_drawdown_pct"])
    for r in rows[:2]:
        assert r["cost"] == 0.0 and r["pnl_per_dollar"] is None and r["errors"] == 0
    json.dumps(rows)  # JSON-ready


def _holey(seed: int, holes: list[tuple[int, int, int]], n: int = 600) -> pd.DataFrame:
    """Two symbols of `market`; each hole (symbol index, first bar, bars) left out: a symbol
    stale for a while, a bar step over a hole, one starting late."""
    df = market(n=n, seed=seed, symbols=SYMBOLS[:2])
    out = np.ones(len(df), dtype=bool)
    for which, first, length in holes:
        out &= ~((df["symbol"] == SYMBOLS[which]) &
                 df["timestamp"].between(T0 + first * 300, T0 + (first + length - 1) * 300))
    return df[out]


def _judged_in_marks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backtests from now on judge their answers mark by mark, as the live runtime does."""
    monkeypatch.setattr(Scorecard, "judge_later", lambda self: False)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(seed=st.integers(1, 50),
       holes=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 580), st.integers(1, 40)),
                      max_size=4),
       interval=st.sampled_from([5.0, 15.0, 60.0]), stale=st.sampled_from([30.0, 600.0]))
def test_answers_judged_at_the_end_as_mark_by_mark(
        tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, seed: int,
        holes: list[tuple[int, int, int]], interval: float, stale: float) -> None:
    """A backtest judges its answers at its end from the prices its marks saw (`_Seen`):
    the same tallies and the same answers left waiting as judging them mark by mark, with
    symbols stale for a while, holes and a late start."""
    path = write(_holey(seed, holes), tmp_path_factory.mktemp("h") / "m.csv")
    end, marks = _both_ways(path, monkeypatch, interval, stale)
    assert end.to_dict() == marks.to_dict()


def _both_ways(path: Path, monkeypatch: pytest.MonkeyPatch, interval: float,
               stale: float) -> tuple[Scorecard, Scorecard]:
    """The scorecards of the same backtest judged at its end and judged mark by mark."""
    history = load_file(request(path, symbols=SYMBOLS[:2]))
    cfg = defaults(symbols=SYMBOLS[:2], trading_interval_minutes=interval,
                   stale_after_seconds=stale, single_model_threshold=0.5,
                   offline_rsi_extreme=40.0)  # (answers on many bars: much to judge)
    cards = []
    for later in (True, False):
        with monkeypatch.context() as m:
            if not later:
                _judged_in_marks(m)
            bt = Backtest(cfg, history, (TrendFollower(), MeanReverter()))
            asyncio.run(bt.run())
        assert bt.scorecard.judges_later is later
        cards.append(bt.scorecard)
    return cards[0], cards[1]


def test_answers_around_a_stale_hour_are_judged_at_the_end_as_mark_by_mark(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # BTC has no bars for 2.5 hours from bar 300 (BUY/SELL answers at bars 291-295 fall due
    # in it), ETH starts 4 hours late; the data end 5 bars after a BTC answer at bar 411
    df = _holey(1, [(0, 300, 30), (1, 0, 48)])
    path = write(df[df["timestamp"] < T0 + 416 * 300], tmp_path / "m.csv")
    walked = []  # the due times that met a stale symbol: the price of a later candle
    later = _Seen._later
    monkeypatch.setattr(_Seen, "_later", lambda self, *a: walked.append(a) or later(self, *a))
    end, marks = _both_ways(path, monkeypatch, 5.0, 30.0)
    assert end.to_dict() == marks.to_dict()
    assert walked  # (`_Seen` walked past the stale hour)
    tallies = [s.tally for s in end.shadows.values()]
    assert sum(t.judged_h for t in tallies) >= 10
    waiting = [p for t in tallies for p in t.pending]  # its hour after the data's end
    assert waiting and all(p.symbol == "BTC/USDT" and p.done1 for p in waiting)


async def test_an_interval_beyond_the_hour_is_judged_mark_by_mark(tmp_path: Path) -> None:
    history = load_file(request(write(market(n=600), tmp_path / "m.csv")))
    bt = Backtest(defaults(symbols=SYMBOLS, trading_interval_minutes=120.0,
                           offline_rsi_extreme=40.0), history, (TrendFollower(), MeanReverter()))
    await bt.run()
    card = bt.scorecard
    assert not card.judges_later and not card.judge_later()
    assert sum(s.tally.judged_h for s in card.shadows.values()) > 0  # mark by mark


def test_answers_judged_later_are_never_due_in_a_mark_even_restored() -> None:
    card = Scorecard(EngineConfig(), ["a", "b"], 0.55, 300.0)
    card.on_answers("BTC/USDT", 100.0, 0.0, [(Action.BUY, 0.9), (Action.SELL, 0.9)])
    assert card.next_due == 300.0
    saved = card.to_dict()
    for restored in (False, True):
        if restored:
            card = Scorecard(EngineConfig(), ["a", "b"], 0.55, 300.0)
            assert card.judge_later()
            card.restore(saved)
        else:
            assert card.judge_later()
        card.on_answers("BTC/USDT", 101.0, 300.0, [(Action.BUY, 0.9), (Action.SELL, 0.9)])
        assert card.next_due == math.inf
        assert all(s._next_due == math.inf for s in card.shadows.values())
        card.judge_seen(lambda symbol, times: [102.0] * len(times))
        assert [s.tally.judged_h for s in card.shadows.values()] == [2, 2]
        assert [s.tally.right_h for s in card.shadows.values()] == [2, 0]
        assert card.next_due == math.inf
    assert not Scorecard(EngineConfig(), ["a"], 0.55, 1e-4).judge_later()  # too short


REPLAY_CASES = [
    {"offline_rsi_extreme": 40.0, "single_model_threshold": 0.5},
    {"offline_rsi_extreme": 40.0, "single_model_threshold": 0.5, "leverage": 20.0,
     "max_drawdown_percent": 3.0, "drawdown_action": "flatten", "stop_loss_percent": 20.0,
     "take_profit_percent": 30.0},
    {"offline_rsi_extreme": 45.0, "single_model_threshold": 0.5, "reentry_cooldown_minutes": 0.0,
     "stack_only_in_profit": False, "max_entries_per_position": 5,
     "max_exposure_percent": 0.0, "position_size_percent": 10.0},
]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(seed=st.integers(1, 60), symbols=st.integers(1, 3), case=st.integers(0, 2))
def test_shadows_replayed_after_the_candles_end_as_marked_candle_by_candle(
        tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, seed: int,
        symbols: int, case: int) -> None:
    """Bars at every candle: the shadows are replayed after the candle loop
    (`Scorecard.record` / `replay`: calm runs in a loop over the bars); they end with the
    same ledgers, tallies, marks and rows as marked candle by candle."""
    names = SYMBOLS[:symbols]
    path = write(market(n=500, seed=seed, symbols=names), tmp_path_factory.mktemp("r") / "m.csv")
    history = load_file(request(path, symbols=names))
    cfg = defaults(symbols=names, **REPLAY_CASES[case])
    cards, replayed = [], []
    for after in (True, False):
        with monkeypatch.context() as m:
            if after:
                m.setattr(Scorecard, "replay", lambda self, *a, _replay=Scorecard.replay:
                          replayed.append(1) or _replay(self, *a))
            else:
                m.setattr(runner, "_bar_columns", lambda syms, times: None)
            bt = Backtest(cfg, history, (TrendFollower(), MeanReverter()))
            out = asyncio.run(bt.run())
        cards.append((bt.scorecard.to_dict(),
                      bt.scorecard.rows(out.prices, out.engine, out.equity)))
    assert replayed == [1]
    assert cards[0] == cards[1]
    shadows = cards[0][0].values()
    assert sum(s["ledger"][4] for s in shadows) > 0  # (the shadows traded)


async def test_a_hole_marks_the_shadows_candle_by_candle(tmp_path: Path) -> None:
    history = load_file(request(write(_holey(1, [(0, 100, 3)]), tmp_path / "m.csv"),
                                symbols=SYMBOLS[:2]))
    bt = Backtest(defaults(symbols=SYMBOLS[:2]), history, (TrendFollower(), MeanReverter()))
    assert runner._bar_columns(*bt._prepare()) is None
    complete = load_file(request(write(_holey(1, []), tmp_path / "c.csv"), symbols=SYMBOLS[:2]))
    bt = Backtest(defaults(symbols=SYMBOLS[:2]), complete, (TrendFollower(), MeanReverter()))
    assert runner._bar_columns(*bt._prepare()) is not None

"""The scorecard in backtests (SPEC §16): the lean offline path and the full context path
give the same shadows; `backtest --json` carries them under `scorecard`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotrade_tui.ai.offline import MeanReverter, TrendFollower
from autotrade_tui.backtest.history import load_file
from autotrade_tui.backtest.runner import Backtest
from autotrade_tui.config import defaults
from tests.test_backtest import SYMBOLS, home, market, run_json, write  # noqa: F401
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

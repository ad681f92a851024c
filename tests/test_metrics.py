"""core.metrics: the deepest peak-to-trough fall of an equity series (report, backtest, the
scorecard's shadows), one step at a time (`deepen`) and whole (`max_drawdown_pct`)."""

from __future__ import annotations

import pytest

from autotrade_tui.core.metrics import deepen, max_drawdown_pct


def test_the_deepest_fall_from_a_running_peak() -> None:
    assert max_drawdown_pct([]) == 0.0
    assert max_drawdown_pct([1.0, 2.0, 3.0]) == 0.0  # only rising
    assert max_drawdown_pct([100.0, 100.0]) == 0.0  # level
    # 120 → 90 is 25 %; the later 130 → 117 (10 %) is not deeper
    assert max_drawdown_pct([100.0, 120.0, 90.0, 130.0, 117.0]) == pytest.approx(25.0)
    assert max_drawdown_pct(iter([100.0, 50.0])) == 50.0  # any iterable


def test_a_paper_account_below_1_usdt_has_its_drawdown() -> None:
    assert max_drawdown_pct([0.8, 0.4]) == 50.0


def test_no_positive_peak_no_percentage() -> None:
    assert max_drawdown_pct([0.0, -5.0]) == 0.0
    assert deepen(0.0, 0.0, -5.0) == (0.0, 0.0)


def test_one_step() -> None:
    assert deepen(100.0, 10.0, 120.0) == (120.0, 10.0)  # a new peak keeps the worst so far
    assert deepen(100.0, 10.0, 95.0) == (100.0, 10.0)  # 5 %: not deeper
    assert deepen(100.0, 10.0, 90.0) == (100.0, 10.0)  # 10 %: as deep, unchanged
    assert deepen(100.0, 10.0, 80.0) == (100.0, 20.0)

"""`autotrade-tui backtest`: history replayed through the live decision pipeline, fast."""

from __future__ import annotations

from autotrade_tui.backtest.command import run_backtest_cli

__all__ = ["run_backtest_cli"]

"""Benchmark: what the event monitor's window rules and the scorecard's shadows cost a backtest.

The year's replay of `benchmarks/backtest.py` (the same seeded random walk of 5-minute candles,
offline models) four ways in one process, round-robin: as built; with a scorecard of no models
(no shadow ledgers, SPEC §16); with the screen finding no bar where a window rule may fire (the
monitor's window neither fed nor read: only the price-only liquidation check, as before the
window rules ran on 5-minute bars, SPEC §9); with neither. Wall time of `Backtest.run()`
(`Outcome.seconds`), medians and bests.

    .venv/bin/python benchmarks/backtest_parts.py [--candles N] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from autotrade_tui.ai.offline import MeanReverter, TrendFollower
from autotrade_tui.backtest import runner
from autotrade_tui.backtest.history import History
from autotrade_tui.backtest.runner import Backtest
from autotrade_tui.config import Settings, defaults

sys.path.insert(0, str(Path(__file__).parent))
from backtest import walk_history, without_shadows  # (benchmarks/backtest.py's year)
from table import print_ratios

CASES = {"as built": (True, True), "no shadows": (False, True), "no window rules": (True, False),
         "neither": (False, False)}
_SCREEN = runner.screen


def replay(history: History, settings: Settings, shadows: bool, window: bool) -> float:
    runner.screen = _SCREEN if window else (lambda ts, *_a: [False] * len(ts))
    try:
        bt = Backtest(settings, history, (TrendFollower(), MeanReverter()))
        return asyncio.run((bt if shadows else without_shadows(bt)).run()).seconds
    finally:
        runner.screen = _SCREEN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=105_120)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    settings = defaults(symbols=["BTC/USDT"])
    history = walk_history(args.candles)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for flags in CASES.values():
        replay(history, settings, *flags)  # warm-up
    for _ in range(args.repeat):
        for name, flags in CASES.items():
            times[name].append(replay(history, settings, *flags))
    print(f"{args.candles:,} 5-minute candles, {args.repeat} runs each, round-robin\n")
    print_ratios(times, "as built", 16, "÷ as built")


if __name__ == "__main__":
    main()

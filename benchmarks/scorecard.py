"""Benchmark: what the scorecard's shadow ledgers (SPEC §16) cost.

Two figures, against issue 16's budget:
* backtest: candles/s of `Backtest.run()` with the scorecard as built (one shadow per model)
  and with a scorecard of no models (no shadows: what the replay costs without them), on the
  same seeded random walk as `benchmarks/backtest.py`, the two alternating (round-robin) so
  load from other processes hits both alike; also the CPU time of each run
  (`time.process_time` around `Backtest.run()`), steadier than wall time on a loaded
  machine, and the median of the paired differences (each run with shadows minus the run
  without them that follows it). The garbage of the previous run is collected before each
  (a replay runs with the collector off, as `autotrade-tui backtest` runs one replay a
  process: left to pile up, it slowed later runs by up to 40 %). Budget: shadows add <= 5 %
  to the replay. `--data FILE` replays a data file instead (as `autotrade-tui backtest --data
  FILE` reads it: its symbols, default settings), e.g. the real Binance 2024 BTC/ETH/SOL year.
* event tick: CPU time (`time.thread_time`) of the shadows' part of one live monitor tick,
  `core.step.mark_shadows(card, prices, now)` as `runtime/ticks.py` calls it, with every
  shadow holding a position on each of the three symbols (the costly case: a flat shadow is
  skipped) and prices on a seeded random walk, divided by the number of shadows. Budget:
  <= 0.2 ms a model.

    .venv/bin/python benchmarks/scorecard.py [--candles N] [--repeat N] [--ticks N] [--data FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from autotrade_tui.ai.offline import MeanReverter, TrendFollower
from autotrade_tui.backtest.history import History, load_file
from autotrade_tui.backtest.request import from_args
from autotrade_tui.backtest.runner import Backtest
from autotrade_tui.config import Settings, defaults
from autotrade_tui.core.engine import EngineConfig
from autotrade_tui.core.models import Action
from autotrade_tui.core.scorecard import Scorecard
from autotrade_tui.core.step import mark_shadows

sys.path.insert(0, str(Path(__file__).parent))
from backtest import walk_history, without_shadows  # (benchmarks/backtest.py's year)

LIVE_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")


def replay_seconds(history: History, settings: object, shadows: bool) -> tuple[float, float]:
    """(wall seconds of the replay, CPU seconds of the whole run)."""
    gc.collect()  # the previous run's garbage: not this run's to pay for
    bt = Backtest(settings, history, (TrendFollower(), MeanReverter()))
    if not shadows:  # the same replay with a scorecard of no models
        without_shadows(bt)
    started = time.process_time()
    wall = asyncio.run(bt.run()).seconds
    return wall, time.process_time() - started


def load(data: str) -> tuple[Settings, History]:
    """The file as `autotrade-tui backtest --data FILE` reads it, under default settings."""
    settings = defaults()
    return settings, load_file(from_args(argparse.Namespace(data=data), settings))


def backtest_ab(candles: int, repeat: int, data: str = ""
                ) -> tuple[list[tuple[float, float]], list[tuple[float, float]], int]:
    """(shadows on, no shadows: each run's wall and CPU seconds), the candles replayed."""
    if data:
        settings, history = load(data)
    else:
        settings, history = defaults(symbols=["BTC/USDT"]), walk_history(candles)
    on: list[tuple[float, float]] = []
    off: list[tuple[float, float]] = []
    replay_seconds(history, settings, True)  # warm-up (imports, caches)
    replay_seconds(history, settings, False)
    for _ in range(repeat):
        on.append(replay_seconds(history, settings, True))
        off.append(replay_seconds(history, settings, False))
    return on, off, history.candles()


def tick_ms_per_model(ticks: int, models: int = 2) -> float:
    """Mean CPU ms of `mark_shadows` a tick, a shadow, every shadow holding three positions."""
    config = EngineConfig(leverage=3.0)  # low: no liquidation ends the costly case
    card = Scorecard(config, [f"model-{k}" for k in range(models)], 0.6, 300.0)
    rng = np.random.default_rng(7)
    prices = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0, "SOL/USDT": 150.0}
    now = 1_700_000_000.0
    for symbol in LIVE_SYMBOLS:  # each shadow opens a position on each symbol
        card.on_answers(symbol, prices[symbol], now, [(Action.BUY, 0.9)] * models)
    steps = np.exp(rng.normal(0, 0.0003, (ticks, len(LIVE_SYMBOLS))))
    spent = 0.0
    for k in range(ticks):
        now += 5.0
        for j, symbol in enumerate(LIVE_SYMBOLS):
            prices[symbol] *= float(steps[k, j])
        tick = dict(prices)
        started = time.thread_time()
        mark_shadows(card, tick, now)
        spent += time.thread_time() - started
    held = sum(len(s.engine.positions) for s in card.shadows.values())
    assert held == models * len(LIVE_SYMBOLS), "a shadow lost its position: not the costly case"
    return spent / ticks / models * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=105_120)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--ticks", type=int, default=20_000)
    ap.add_argument("--data", default="", help="a data file to replay instead of the walk")
    args = ap.parse_args()
    *pairs, candles = backtest_ab(args.candles, args.repeat, args.data)
    what = args.data or f"{args.candles:,} 5-minute candles"
    print(f"backtest, {what}, {args.repeat} runs each, round-robin")
    print(f"{'':24} {'median s':>9} {'best s':>8} {'median c/s':>11} {'median CPU s':>13}")
    for name, runs in (("shadows on (2 models)", pairs[0]), ("no shadows", pairs[1])):
        med = statistics.median(w for w, _ in runs)
        print(f"{name:24} {med:9.3f} {min(w for w, _ in runs):8.3f} {candles / med:11,.0f}"
              f" {statistics.median(c for _, c in runs):13.3f}")
    for what, k in (("wall", 0), ("CPU", 1)):
        on, off = ([r[k] for r in runs] for runs in pairs)
        paired = statistics.median(a - b for a, b in zip(on, off, strict=True))
        print(f"shadows add {100 * (statistics.median(on) / statistics.median(off) - 1):+.1f} % "
              f"to the replay's {what} time (medians), {100 * (min(on) / min(off) - 1):+.1f} % "
              f"(bests), {1e3 * paired:.1f} ms = {100 * paired / statistics.median(off):+.1f} % "
              f"(paired); budget <= 5 %")
    per_model = tick_ms_per_model(args.ticks)
    print(f"\nevent tick: the shadows' mark, every shadow holding 3 positions, "
          f"{args.ticks:,} ticks: {per_model:.4f} ms a model (budget <= 0.2 ms)")


if __name__ == "__main__":
    main()

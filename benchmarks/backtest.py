"""Benchmark: backtest candles per second, the full autotrade-tui pipeline vs backtesting.py.

Both run on the same seeded random walk of 105,120 five-minute candles (one year), written
to a temporary CSV:
* autotrade-tui: `Backtest.run()` with the offline models, i.e. indicators once over the
  series, then per candle the monitor step (engine.mark, event detectors) and the decision
  step (both rule models, the vote, the gates, the engine). Loading and validating the CSV
  and saving the results are timed separately (`load`, `save`).
* backtesting.py: its SmaCross example (SMA 10/20 crossover), `Backtest.run()`.
The runs alternate (round-robin) so load from other processes hits both alike; the table gives
the median and the best of `--repeat` runs and the ratio autotrade-tui / backtesting.py.
backtesting.py is not a dependency: `pip install backtesting` to compare (else only ours runs).

    .venv/bin/python benchmarks/backtest.py [--candles N] [--repeat N] [--symbols N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from autotrade_tui.ai.offline import MeanReverter, TrendFollower
from autotrade_tui.backtest.command import save
from autotrade_tui.backtest.history import History, load_file
from autotrade_tui.backtest.metrics import summary
from autotrade_tui.backtest.request import Request
from autotrade_tui.backtest.runner import Backtest, Outcome
from autotrade_tui.backtest.store import BacktestStore
from autotrade_tui.config import defaults
from autotrade_tui.core.scorecard import Scorecard

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT"]


def random_walk(n: int, seed: int = 1, symbols: int = 1) -> pd.DataFrame:
    """`n` 5-minute bars per symbol: log-normal steps of 0.2 %, wicks, log-normal volume."""
    parts = []
    for k in range(symbols):
        rng = np.random.default_rng(seed + k)
        close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
        open_ = np.r_[close[0], close[:-1]]
        high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.001, n)))
        low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.001, n)))
        part = pd.DataFrame({"timestamp": 1_700_000_100 + np.arange(n) * 300, "open": open_,
                             "high": high, "low": low, "close": close,
                             "volume": rng.lognormal(2, 0.5, n)})
        if symbols > 1:
            part.insert(1, "symbol", SYMBOLS[k])
        parts.append(part)
    return pd.concat(parts).sort_values("timestamp", kind="stable")


def walk_history(candles: int) -> History:
    """`random_walk(candles)` for BTC/USDT as `backtest --data` loads it (the other
    benchmarks' year of candles)."""
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "walk.csv"
        random_walk(candles).to_csv(csv, index=False)
        return load_file(Request(str(csv), ["BTC/USDT"], False, None, None, "5m", 300,
                                 "offline", True, ""))


def without_shadows(bt: Backtest) -> Backtest:
    """`bt` with a scorecard of no models: the replay without the shadow ledgers."""
    card = bt.scorecard
    bt.scorecard = Scorecard(card.config, [], card.threshold, card.interval)
    return bt


def ours(history: History, settings: object) -> Callable[[], tuple[float, Outcome]]:
    def once() -> tuple[float, Outcome]:
        bt = Backtest(settings, history, (TrendFollower(), MeanReverter()))
        out = asyncio.run(_run(bt))
        return out.seconds, out

    return once


async def _run(bt: Backtest) -> Outcome:
    return await bt.run()


def theirs(csv: Path) -> Callable[[], tuple[float, object]] | None:
    try:
        from backtesting import Backtest as BtBacktest
        from backtesting import Strategy
        from backtesting.lib import crossover
        from backtesting.test import SMA
    except ImportError:
        return None
    df = pd.read_csv(csv)
    df.index = pd.to_datetime(df.pop("timestamp"), unit="s")
    df = df.rename(columns=str.capitalize)[["Open", "High", "Low", "Close", "Volume"]]

    class SmaCross(Strategy):  # backtesting.py's README example
        n1, n2 = 10, 20

        def init(self) -> None:
            close = self.data.Close
            self.sma1 = self.I(SMA, close, self.n1)
            self.sma2 = self.I(SMA, close, self.n2)

        def next(self) -> None:
            if crossover(self.sma1, self.sma2):
                self.position.close()
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()
                self.sell()

    def once() -> tuple[float, object]:
        bt = BtBacktest(df, SmaCross, cash=10_000_000, commission=0.002, exclusive_orders=True,
                        finalize_trades=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            stats = bt.run()
        return time.perf_counter() - started, stats

    return once


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=105_120)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--symbols", type=int, default=1, choices=range(1, len(SYMBOLS) + 1),
                    help="symbols for autotrade-tui (backtesting.py runs the first only)")
    args = ap.parse_args()
    settings = defaults(symbols=SYMBOLS[:args.symbols])
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "walk.csv"
        random_walk(args.candles, symbols=args.symbols).to_csv(csv, index=False)
        single = Path(tmp) / "walk1.csv"
        random_walk(args.candles).to_csv(single, index=False)
        started = time.perf_counter()
        history = load_file(Request(str(csv), SYMBOLS[:args.symbols], args.symbols > 1, None,
                                    None, "5m", 300, "offline", True, ""))
        load = time.perf_counter() - started
        runners: dict[str, Callable[[], tuple[float, object]]] = {
            "autotrade-tui": ours(history, settings)}
        other = theirs(single)
        if other is None:
            print("backtesting.py is not installed (pip install backtesting): "
                  "timing autotrade-tui only\n")
        else:
            runners["backtesting.py SmaCross"] = other
        times: dict[str, list[float]] = {k: [] for k in runners}
        last: dict[str, object] = {}
        for fn in runners.values():
            fn()  # warm-up (imports, caches)
        for _ in range(args.repeat):
            for name, fn in runners.items():
                seconds, last[name] = fn()
                times[name].append(seconds)
        out = last["autotrade-tui"]
        assert isinstance(out, Outcome)
        m = summary(out, history, ["offline/trend-follower", "offline/mean-reversion"],
                    timeframe="5m")
        with BacktestStore(Path(tmp) / "bt.db") as store:
            started = time.perf_counter()
            save(store, Request(str(csv), [], False, None, None, "5m", 300, "offline", True, ""),
                 settings, history, m, out)
            saved = time.perf_counter() - started

    candles = {"autotrade-tui": out.candles, "backtesting.py SmaCross": args.candles}
    print(f"{args.candles:,} 5-minute candles x {args.symbols} symbol(s) for autotrade-tui; "
          f"{args.repeat} runs each, round-robin\n")
    print(f"{'':26} {'median s':>9} {'best s':>8} {'median c/s':>11} {'best c/s':>10}")
    rates = {}
    for name, ts in times.items():
        med, best = statistics.median(ts), min(ts)
        rates[name] = (candles[name] / med, candles[name] / best)
        print(f"{name:26} {med:9.3f} {best:8.3f} {rates[name][0]:11,.0f} {rates[name][1]:10,.0f}")
    if len(rates) == 2:
        a, b = rates["autotrade-tui"], rates["backtesting.py SmaCross"]
        print(f"\nratio autotrade-tui / backtesting.py: {a[0] / b[0]:.2f} (medians), "
              f"{a[1] / b[1]:.2f} (bests)")
    print(f"\nautotrade-tui, outside the timed replay: load + validate CSV {load:.2f} s, "
          f"save results {saved:.2f} s")
    print(f"its run: {m['decisions']:,} decisions, {m['fills']:,} fills, {m['total_trades']:,} "
          f"closed trades, {m['events']:,} events, return {m['return_pct']:+.1f} %")


if __name__ == "__main__":
    main()

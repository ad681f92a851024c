"""Benchmark: CPU cost of one event-monitor tick (update + snapshot + detect) for 3 and 100 symbols.

A tick is what the monitor does every 5 s for every symbol: fold the latest price into the live
1-minute bar (a new bar every 12 ticks), take a snapshot, run the detector with one open 10×
LONG per symbol. History: 25 h of 1-minute bars per symbol, so every statistic is warm.

    .venv/bin/python benchmarks/events_tick.py [--ticks N]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

from autotrade_tui.core.events import CandleWindow, EventDetector, snapshot
from autotrade_tui.core.models import Candle, Entry, Position, Side

T0 = 1_700_000_040.0
HISTORY_BARS = 1500
MMR = 0.005


class Symbol:
    """One symbol's random-walk market: its window, live bar and position."""

    def __init__(self, name: str, rnd: random.Random) -> None:
        self.name = name
        self.rnd = rnd
        self.price = rnd.uniform(1.0, 60_000.0)
        self.window = CandleWindow()
        self.ts = T0
        history = []
        for _ in range(HISTORY_BARS):
            history.append(self._bar(self.ts))
            self.ts += 60.0
        self.window.extend(history)
        self.live = self._bar(self.ts)
        self.window.update(self.live)
        qty = 10_000.0 / self.price
        self.positions = [Position(name, Side.LONG,
                                   [Entry(self.price, qty, 1_000.0, 10.0, 0.0, T0)], T0)]

    def _bar(self, ts: float) -> Candle:
        o = self.price
        self.price *= math.exp(self.rnd.gauss(0.0, 0.002))
        c = self.price
        return Candle(ts, o, max(o, c) * 1.0003, min(o, c) * 0.9997, c,
                      self.rnd.lognormvariate(3.0, 0.8))

    def move(self, new_bar: bool) -> None:
        """The next 5 s of market: a new live bar, or the live bar grows."""
        self.price *= math.exp(self.rnd.gauss(0.0, 0.0006))
        p, live = self.price, self.live
        if new_bar:
            self.ts += 60.0
            self.live = Candle(self.ts, p, p, p, p, 0.0)
        else:
            self.live = Candle(live.ts, live.open, max(live.high, p), min(live.low, p), p,
                               live.volume + self.rnd.expovariate(0.5))


def run(n_symbols: int, ticks: int, seed: int = 1) -> dict[str, float]:
    rnd = random.Random(seed)
    symbols = [Symbol(f"S{i}/USDT", rnd) for i in range(n_symbols)]
    detector = EventDetector()
    now = symbols[0].ts + 1.0
    cpu: list[float] = []
    wall: list[float] = []
    emitted = 0
    for tick in range(ticks):
        now += 5.0
        new_bar = tick % 12 == 11
        for s in symbols:  # the market moves outside the measured work
            s.move(new_bar)
        c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
        for s in symbols:
            s.window.update(s.live)
            snap = snapshot(s.window, s.name, now, s.price)
            emitted += len(detector.detect(snap, s.positions, MMR))
        c1, w1 = time.thread_time_ns(), time.perf_counter_ns()
        cpu.append((c1 - c0) / 1e6)
        wall.append((w1 - w0) / 1e6)
    med = statistics.median(cpu)
    return {
        "symbols": n_symbols,
        "ticks": ticks,
        "cpu_median_ms": med,
        "cpu_p99_ms": statistics.quantiles(cpu, n=100)[98],
        "cpu_max_ms": max(cpu),
        "wall_median_ms": statistics.median(wall),
        "us_per_symbol": med * 1000.0 / n_symbols,
        "events": emitted,
    }


def history_cost(bars: int = HISTORY_BARS) -> float:
    """CPU milliseconds to load one symbol's history with `extend`."""
    rnd = random.Random(2)
    price, candles = 30_000.0, []
    for i in range(bars):
        o, price = price, price * math.exp(rnd.gauss(0.0, 0.002))
        candles.append(Candle(T0 + 60 * i, o, max(o, price), min(o, price), price, 10.0))
    c0 = time.thread_time_ns()
    CandleWindow().extend(candles)
    return (time.thread_time_ns() - c0) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=2000, help="ticks per run (default 2000)")
    args = parser.parse_args()
    print("Event monitor tick (CPU time of update + snapshot + detect, one position/symbol)")
    print(f"{'symbols':>8} {'median ms':>10} {'p99 ms':>8} {'max ms':>8} {'wall ms':>8} "
          f"{'µs/symbol':>10} {'events':>7}")
    for n in (3, 100):
        r = run(n, args.ticks)
        print(f"{r['symbols']:>8} {r['cpu_median_ms']:>10.3f} {r['cpu_p99_ms']:>8.3f} "
              f"{r['cpu_max_ms']:>8.3f} {r['wall_median_ms']:>8.3f} "
              f"{r['us_per_symbol']:>10.1f} {r['events']:>7}")
    print(f"history load: {history_cost():.2f} ms CPU per symbol for {HISTORY_BARS} 1m bars")
    print("goal: 100 symbols < 20 ms per tick")


if __name__ == "__main__":
    main()

"""Decision-cycle overhead excluding model latency: data, indicators, prompts, vote,
execution and persistence for 3 symbols, with the zero-latency offline models, the simulated
market on a virtual clock and a real SQLite file. Prints median and p90 per cycle.

    .venv/bin/python benchmarks/decision_cycle.py [--cycles N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from autotrade_tui.config import defaults
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.market.sim import SimMarket
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.store.store import Store


async def measure(cycles: int, symbols: list[str], tick_symbols: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        settings = defaults(market_source="sim", symbols=symbols, database_url=str(db))
        clock = VirtualClock(1_750_000_020.0)
        rt = await Runtime.open(settings, clock=clock, feed=SimMarket(symbols, clock, 1),
                                store=Store(db, writer=True))
        await rt.monitor_tick()
        await rt.decision_cycle()  # warm-up: imports, first indicator pass
        cycle_ms: list[float] = []
        trades = 0
        for _ in range(cycles):
            clock.advance(300)
            await rt.monitor_tick()
            t0 = time.perf_counter()
            recs = await rt.decision_cycle()
            cycle_ms.append((time.perf_counter() - t0) * 1000)
            trades += sum(len(r.trades) for r in recs)
        await rt.close()

        many = [f"S{i}/USDT" for i in range(tick_symbols)]
        db2 = Path(tmp) / "bench2.db"
        settings = defaults(market_source="sim", symbols=many, database_url=str(db2))
        clock = VirtualClock(1_750_000_020.0)
        rt = await Runtime.open(settings, clock=clock, feed=SimMarket(many, clock, 1),
                                store=Store(db2, writer=True))
        await rt.monitor.prime()
        await rt.monitor_tick()
        tick_ms: list[float] = []
        for _ in range(200):
            clock.advance(5)
            t0 = time.process_time()
            await rt.monitor_tick()
            tick_ms.append((time.process_time() - t0) * 1000)
        await rt.close()

    q = statistics.quantiles(cycle_ms, n=10)
    print(f"decision cycle, {len(symbols)} symbols x 2 offline models, SQLite, {cycles} cycles "
          f"({trades} fills):")
    print(f"  median {statistics.median(cycle_ms):.1f} ms   p90 {q[-1]:.1f} ms   "
          f"per symbol {statistics.median(cycle_ms) / len(symbols):.1f} ms")
    print(f"runtime monitor tick (sim fetch + candles + detect + publish), {tick_symbols} "
          f"symbols, CPU: median {statistics.median(tick_ms):.2f} ms   "
          f"per symbol {statistics.median(tick_ms) / tick_symbols * 1000:.0f} µs")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=60)
    ap.add_argument("--tick-symbols", type=int, default=100)
    a = ap.parse_args()
    asyncio.run(measure(a.cycles, ["BTC/USDT", "ETH/USDT", "SOL/USDT"], a.tick_symbols))


if __name__ == "__main__":
    main()

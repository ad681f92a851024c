"""The stylized facts (market/stylized.py) of real candle files and of the realistic (or
eventful) simulated market, side by side: what the sim is calibrated against (SPEC §5.2).

    .venv/bin/python benchmarks/sim_stats.py [--days 90] [--seeds 3] [FILE ...]
    .venv/bin/python benchmarks/sim_stats.py ../shared/data/binance-2024/*.csv.gz
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.market.sim import SimMarket
from autotrade_tui.market.stylized import stylized_facts

T0 = 1_735_689_600.0  # 2025-01-01
COLS = ("daily_vol_pct", "kurtosis", "abs_ac_1", "abs_ac_1h", "abs_ac_1d", "ac_1",
        "moves_5pct_15m_per_month")


def simulated(symbol: str, seed: int, days: int, profile: str) -> dict[str, float]:
    clock = VirtualClock(T0)
    sim = SimMarket([symbol], clock, seed, profile)
    clock.set(T0 + days * 86_400)
    bars = sim.candles(symbol, "5m", days * 288, since=T0)
    a = np.array([(c.close, c.high, c.low) for c in bars])
    return stylized_facts(a[:, 0], a[:, 1], a[:, 2])


def row(name: str, facts: dict[str, float]) -> str:
    return f"{name:34}" + "".join(f"{facts[c]:>10.2f}" for c in COLS)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="*")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--profile", default="realistic")
    args = ap.parse_args()
    print(f"{'series':34}" + "".join(f"{c[:9]:>10}" for c in COLS))
    for f in args.files:
        df = pd.read_csv(f)
        print(row(f.rsplit("/", 1)[-1], stylized_facts(
            df["close"].to_numpy(), df["high"].to_numpy(), df["low"].to_numpy())))
    for sym in ("BTC/USDT", "ETH/USDT", "SOL/USDT"):
        for seed in range(1, args.seeds + 1):
            print(row(f"sim {args.profile} {sym} seed {seed}",
                      simulated(sym, seed, args.days, args.profile)))


if __name__ == "__main__":
    main()

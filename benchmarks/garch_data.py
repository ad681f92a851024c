"""Writes 5-minute OHLCV made by a different process from the simulated market's, for judging
the trader on data it was not tuned on (benchmarks/strategy.py --data FILE): per symbol a
GARCH(1,1) with Student-t (ν = 5) innovations, rare jumps (Poisson, ±3–10 %), a slowly
wandering drift, and intrabar wicks from the bar's own volatility. One CSV with a `symbol`
column (BTC/USDT, ETH/USDT, SOL/USDT), timestamps in epoch ms.

    .venv/bin/python benchmarks/garch_data.py --days 180 --seed 7 -o /tmp/garch.csv
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd

# symbol → (start price, daily volatility, jumps a month)
ASSETS = {"BTC/USDT": (60_000.0, 0.03, 1.0), "ETH/USDT": (3_000.0, 0.04, 2.0),
          "SOL/USDT": (150.0, 0.055, 3.0)}
BARS_PER_DAY = 288
ALPHA, BETA = 0.06, 0.93  # GARCH(1,1): persistence 0.99
NU = 5.0


def series(rng: np.random.Generator, n: int, price: float, daily: float,
           jumps: float) -> pd.DataFrame:
    var_target = daily**2 / BARS_PER_DAY
    omega = var_target * (1 - ALPHA - BETA)
    z = rng.standard_t(NU, n) / math.sqrt(NU / (NU - 2))
    r = np.empty(n)
    var = var_target
    for i in range(n):  # the recursion is sequential by nature
        r[i] = math.sqrt(var) * z[i]
        var = omega + ALPHA * r[i] ** 2 + BETA * var
    drift = np.cumsum(rng.normal(0, 1e-6, n))  # a wandering, mean-zero trend
    jump = np.where(rng.random(n) < jumps / (30 * BARS_PER_DAY),
                    rng.uniform(0.03, 0.10, n) * rng.choice([-1, 1], n), 0.0)
    log_close = math.log(price) + np.cumsum(r + drift + np.log1p(jump))
    close = np.exp(log_close)
    open_ = np.r_[price, close[:-1]]
    scale = np.abs(r) + math.sqrt(var_target)
    high = np.maximum(open_, close) * np.exp(0.5 * scale * np.abs(rng.standard_normal(n)))
    low = np.minimum(open_, close) * np.exp(-0.5 * scale * np.abs(rng.standard_normal(n)))
    volume = rng.lognormal(3, 0.4, n) * (1 + 50 * np.abs(r))
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": volume})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-o", "--out", default="garch.csv")
    args = ap.parse_args()
    n = args.days * BARS_PER_DAY
    ts = 1_704_067_200_000 + np.arange(n) * 300_000  # from 2024-01-01, ms
    parts = []
    for k, (sym, (price, daily, jumps)) in enumerate(ASSETS.items()):
        df = series(np.random.default_rng([args.seed, k]), n, price, daily, jumps)
        df.insert(0, "symbol", sym)
        df.insert(0, "timestamp", ts)
        parts.append(df)
    pd.concat(parts).sort_values(["timestamp", "symbol"], kind="stable").to_csv(
        args.out, index=False)
    print(f"wrote {args.out}: {len(ASSETS)} symbols x {n} bars")


if __name__ == "__main__":
    main()

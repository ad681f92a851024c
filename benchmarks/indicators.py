"""Benchmark: full indicator set (TA-Lib + `ta`) vs the TA-Lib-only subset, 200 and 100k candles.

Wall time (`time.perf_counter`), median and best of N runs on a seeded random walk; the
variants run round-robin so load from other processes hits them alike. Also the window-mode
call the runtime makes per symbol and cycle (`latest` on 200 candles), `signals` and
`support_resistance`. Goal (issue #3): the full set on 100,000 candles within 2x of TA-Lib
alone. For comparison only (not used by the product): the four `ta` indicators rebuilt from
TA-Lib primitives (MIDPRICE, MAX, MIN, SUM, SMA), to show what `ta`'s pandas windows cost, and
the floor of the `ta` part: the 13 pandas rolling windows `ta` runs for them (inputs prepared
beforehand), which no use of `ta` can avoid.

    .venv/bin/python benchmarks/indicators.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import talib

from autotrade_tui.core import indicators as ind


def random_walk(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.001, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.001, n)))
    return pd.DataFrame({"ts": np.arange(n) * 60.0, "open": open_, "high": high, "low": low,
                         "close": close, "volume": rng.lognormal(2, 0.5, n)})


def timed_round_robin(fns: list[Callable[[], object]],
                      repeat: int) -> list[tuple[float, float]]:
    """(median, best) milliseconds of each function; one warm-up, then round-robin runs."""
    runs: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        fn()
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            runs[i].append((time.perf_counter() - start) * 1000)
    return [(statistics.median(r), min(r)) for r in runs]


def talib_only(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The same TA-Lib calls `compute_frame` makes, without `ta` and without the DataFrame."""
    _o, high, low, close, volume = ind._arrays(df)
    return ind._talib_part(high, low, close, volume)


def ta_only(df: pd.DataFrame) -> dict[str, np.ndarray]:
    _o, high, low, close, volume = ind._arrays(df)
    return ind._ta_only(high, low, close, volume)


def four_from_talib_primitives(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """VWAP, Keltner (original), Donchian, Ichimoku from TA-Lib building blocks (comparison)."""
    _o, high, low, close, volume = ind._arrays(df)
    tp = (high + low + close) / 3
    rng = talib.SMA(high - low, 20)
    mid = talib.SMA(tp, 20)
    conv, base = talib.MIDPRICE(high, low, 9), talib.MIDPRICE(high, low, 26)
    return {"vwap": talib.SUM(tp * volume, 14) / talib.SUM(volume, 14),
            "kc_middle": mid, "kc_upper": mid + rng, "kc_lower": mid - rng,
            "dc_upper": talib.MAX(high, 20), "dc_lower": talib.MIN(low, 20),
            "dc_middle": talib.MIDPRICE(high, low, 20), "ichimoku_conv": conv,
            "ichimoku_base": base, "ichimoku_a": (conv + base) / 2,
            "ichimoku_b": talib.MIDPRICE(high, low, 52)}


def ta_rolling_windows(df: pd.DataFrame) -> Callable[[], object]:
    """The 13 pandas rolling windows `ta` runs for the four (same inputs, windows, min_periods)."""
    _o, high, low, close, volume = ind._arrays(df)
    h, lo, c, v = (pd.Series(a, copy=False) for a in (high, low, close, volume))
    tp = (h + lo + c) / 3.0
    tpv, kc_hi, kc_lo = tp * v, (4 * h - 2 * lo + c) / 3.0, (-2 * h + 4 * lo + c) / 3.0

    def run() -> list[pd.Series]:
        out = [tpv.rolling(14, min_periods=14).sum(), v.rolling(14, min_periods=14).sum(),
               tp.rolling(20, min_periods=20).mean(), kc_hi.rolling(20, min_periods=0).mean(),
               kc_lo.rolling(20, min_periods=0).mean()]
        for w, minp in ((20, 20), (9, 9), (26, 26), (52, 0)):
            out += [h.rolling(w, min_periods=minp).max(), lo.rolling(w, min_periods=minp).min()]
        return out
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    big, small = random_walk(100_000), random_walk(200, seed=2)
    # Each row: name, and a function of the candles returning the thunk to time.
    rows: list[tuple[str, Callable[[pd.DataFrame], Callable[[], object]]]] = [
        (name, lambda df, fn=fn: lambda: fn(df)) for name, fn in (
            ("full set: compute_frame (TA-Lib + ta)", ind.compute_frame),
            ("TA-Lib-only subset (same TA-Lib calls)", talib_only),
            ("ta part (VWAP, Keltner, Donchian, Ichimoku)", ta_only),
            ("[comparison] those 4 from TA-Lib primitives", four_from_talib_primitives))]
    rows.append(("[floor] ta's 13 pandas rolling windows alone", ta_rolling_windows))
    small_t = timed_round_robin([make(small) for _, make in rows], args.repeat * 10)
    big_t = timed_round_robin([make(big) for _, make in rows], args.repeat)
    print(f"{len(ind.INDICATOR_KEYS)} indicator columns; median / best of runs, ms")
    print(f"{'what':<46}{'200 candles':>16}{'100,000 candles':>20}")
    for (name, _), (sm, sb), (bm, bb) in zip(rows, small_t, big_t, strict=True):
        print(f"{name:<46}{sm:>7.3f} /{sb:>6.3f}{bm:>11.2f} /{bb:>7.2f}")
    (f_s, f_sb), (t_s, t_sb) = small_t[0], small_t[1]
    (f_b, f_bb), (t_b, t_bb) = big_t[0], big_t[1]
    print(f"ratio full / TA-Lib-only: 200 candles {f_s / t_s:.1f}x (best {f_sb / t_sb:.1f}x); "
          f"100,000 candles {f_b / t_b:.2f}x (best {f_bb / t_bb:.2f}x); goal ≤ 2x")
    r_b = big_t[-1][0]
    print(f"floor of that ratio with ta (TA-Lib + ta's rolling windows alone): 100,000 candles "
          f"{(t_b + r_b) / t_b:.2f}x")
    values = ind.latest(small)
    price = float(small["close"].iloc[-1])
    extra = [("latest(200 candles) → dict (window mode)", lambda: ind.latest(small)),
             ("signals(dict, price)", lambda: ind.signals(values, price)),
             ("support_resistance(200 candles)", lambda: ind.support_resistance(small))]
    for (name, _), (med, best) in zip(extra, timed_round_robin([f for _, f in extra],
                                                               args.repeat * 10), strict=True):
        print(f"{name:<46}{med:>7.3f} /{best:>6.3f}")


if __name__ == "__main__":
    main()

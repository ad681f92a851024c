"""Benchmark: does the trader survive its own defaults (SPEC §8.1)? Runs month-long backtests
through the product's own backtest path (`backtest.runner.Backtest`, offline models, the
defaults of `config.KEYS` unless `--set` changes them) and prints, per run and as median /
worst: return, max drawdown, liquidations, stop-outs, trades per day, fees as % of capital,
average exposure (open notional / equity) and churn (positions closed within one decision
interval of their open), with where the losses come from; beside it buy-and-hold (equal
weight, unlevered) and each offline model alone (voting with itself, same gates).

Sources: the simulated market (`--profile realistic|eventful|both`, `--seeds N` seeds of
`--days` days) and any number of `--data FILE` (CSV/JSON/Parquet with a `symbol` column, or
one series per file named by `--symbols`), cut into consecutive `--days` windows.

    .venv/bin/python benchmarks/strategy.py --seeds 20 --days 30 --profile both
    .venv/bin/python benchmarks/strategy.py --data /tmp/btc.csv --symbols BTC/USDT
    .venv/bin/python benchmarks/strategy.py --seeds 5 --set leverage=5 --set stop_loss_percent=0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from autotrade_tui.ai.offline import MeanReverter, TrendFollower
from autotrade_tui.backtest.fetch import WARMUP_BARS, simulated
from autotrade_tui.backtest.history import History, load_file
from autotrade_tui.backtest.metrics import max_drawdown_pct
from autotrade_tui.backtest.request import Request
from autotrade_tui.backtest.runner import Backtest, Outcome
from autotrade_tui.config import KEY_BY_NAME, defaults
from autotrade_tui.core.models import OrderType, TradeSource

DAY = 86_400.0
SIM_START = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
COLUMNS = ("return", "max_dd", "liq", "stops", "trades/d", "fees%", "expo%", "churn")


@dataclass
class Run:
    label: str
    trader: str  # "defaults", "trend alone", "mean alone", "buy & hold"
    figures: dict[str, float]


def request(symbols: list[str], data: str = "", given: bool = True) -> Request:
    return Request(data=data, symbols=symbols, symbols_given=given, date_from=None,
                   date_to=None, timeframe="5m", bar_seconds=300, models="offline",
                   json=True, db="")


def sim_history(settings: Any, seed: int, days: float, start: float) -> History:
    s = settings.replace(seed=seed)
    req = request(list(s.symbols))
    end = start + days * DAY
    return simulated(req, s, start - WARMUP_BARS * 300, start, end,
                     f"sim {s.sim_profile} seed {seed}")


def file_windows(path: str, symbols: list[str], days: float) -> list[History]:
    """The file cut into consecutive windows of `days` (each with its warm-up before it);
    without `symbols`, the default symbols the file has."""
    whole = load_file(request(symbols or list(defaults().symbols), path, bool(symbols)))
    out = []
    step = days * DAY
    t = whole.start + WARMUP_BARS * whole.bar_seconds
    while t + step <= whole.end + whole.bar_seconds:
        lo = t - WARMUP_BARS * whole.bar_seconds
        series = {k: s.window(lo, t + step) for k, s in whole.series.items()}
        out.append(History(series, whole.bar_seconds, t, t + step,
                           f"{path} {datetime.fromtimestamp(t, UTC):%Y-%m-%d}"))
        t += step
    return out


def run_one(settings: Any, history: History, models: tuple[Any, Any]) -> Outcome:
    return asyncio.run(Backtest(settings, history, models).run())


def figures(out: Outcome, history: History, settings: Any) -> dict[str, float]:
    """The per-run row (see the module doc)."""
    initial = float(settings.initial_capital)
    days = (history.end - history.start) / DAY
    trades = [t for t, _ in out.trades]
    closes = [t for t in trades if t.order_type in (OrderType.CLOSE, OrderType.LIQUIDATION)]
    stops = [t for t in closes if t.source is TradeSource.GUARD
             and t.reason.startswith("stop-loss")]
    liqs = [t for t in closes if t.order_type is OrderType.LIQUIDATION]
    fees = sum(t.fee for t in trades)
    opened: dict[str, float] = {}
    churn = 0
    interval = float(settings.trading_interval_minutes) * 60.0
    for t in trades:
        if t.order_type is OrderType.OPEN:
            opened[t.symbol] = t.ts
        elif t.order_type in (OrderType.CLOSE, OrderType.LIQUIDATION):
            churn += t.ts - opened.get(t.symbol, -1e18) <= interval
    equity = out.equity or [initial]
    return {
        "return": (equity[-1] / initial - 1) * 100.0,
        "max_dd": max_drawdown_pct(list(equity)),
        "liq": float(len(liqs)),
        "stops": float(len(stops)),
        "trades/d": len(closes) / days,
        "fees%": fees / initial * 100.0,
        "expo%": exposure(out, history),
        "churn": float(churn),
        # where the money went (USDT): fees, liquidations, stops, every other close
        "lost_fees": fees,
        "lost_liq": -sum(t.pnl for t in liqs),
        "pnl_stops": sum(t.pnl for t in stops),
        "pnl_other": sum(t.pnl for t in closes if t not in stops and t not in liqs),
    }


def exposure(out: Outcome, history: History) -> float:
    """Average over the replay's candles of Σ |quantity · close| / equity, in %."""
    times = np.asarray(out.times)
    if not len(times):
        return 0.0
    notional = np.zeros(len(times))
    for sym, s in history.series.items():
        held = 0.0
        marks: list[tuple[float, float]] = []
        for t, _ in out.trades:
            if t.symbol != sym:
                continue
            if t.order_type in (OrderType.OPEN, OrderType.ADD):
                held += t.amount
            else:
                held = 0.0
            marks.append((t.ts, held))
        if not marks:
            continue
        ts = np.array([m[0] for m in marks])
        held_after = np.array([m[1] for m in marks])
        k = np.searchsorted(ts, times, side="right") - 1
        qty_at = np.where(k >= 0, held_after[np.maximum(k, 0)], 0.0)
        j = np.clip(np.searchsorted(s.ts, times, side="right") - 1, 0, len(s.ts) - 1)
        notional += qty_at * s.close[j]
    return float(np.mean(notional / np.asarray(out.equity)) * 100.0)


def buy_and_hold(history: History, initial: float) -> dict[str, float]:
    """Equal weight across the symbols, unlevered, bought at the first traded bar's close."""
    curves = []
    for s in history.series.values():
        inside = s.close[(s.ts >= history.start) & (s.ts < history.end)]
        if len(inside):
            curves.append(inside / inside[0])
    n = min(len(c) for c in curves)
    curve = np.mean([c[:n] for c in curves], axis=0) * initial
    return {"return": (curve[-1] / initial - 1) * 100.0,
            "max_dd": max_drawdown_pct(curve.tolist()), "liq": 0.0, "stops": 0.0,
            "trades/d": 0.0, "fees%": 0.0, "expo%": 100.0, "churn": 0.0}


TRADERS = {
    "defaults": lambda: (TrendFollower(), MeanReverter()),
    "trend alone": lambda: (TrendFollower(), TrendFollower()),
    "mean alone": lambda: (MeanReverter(), MeanReverter()),
}


def evaluate(settings: Any, histories: list[History], traders: list[str]) -> list[Run]:
    runs = []
    for h in histories:
        for name in traders:
            out = run_one(settings, h, TRADERS[name]())
            runs.append(Run(h.source, name, figures(out, h, settings)))
        runs.append(Run(h.source, "buy & hold",
                        buy_and_hold(h, float(settings.initial_capital))))
    return runs


def worst(col: str, values: list[float]) -> float:
    return min(values) if col == "return" else max(values)


def table(runs: list[Run], per_run: bool) -> str:
    lines = []
    head = f"{'run':34} {'trader':12} " + " ".join(f"{c:>8}" for c in COLUMNS)
    if per_run:
        lines += [head, "-" * len(head)]
        for r in runs:
            lines.append(f"{r.label[:34]:34} {r.trader:12} "
                         + " ".join(f"{r.figures[c]:8.2f}" for c in COLUMNS))
        lines.append("")
    lines += [f"{'summary':34} {'trader':12} " + " ".join(f"{c:>8}" for c in COLUMNS),
              "-" * len(head)]
    for trader in dict.fromkeys(r.trader for r in runs):
        rows = [r.figures for r in runs if r.trader == trader]
        for what, pick in (("median", statistics.median), ("worst", None)):
            vals = [pick([f[c] for f in rows]) if pick else worst(c, [f[c] for f in rows])
                    for c in COLUMNS]
            lines.append(f"{what + f' of {len(rows)}':34} {trader:12} "
                         + " ".join(f"{v:8.2f}" for v in vals))
    mine = [r.figures for r in runs if r.trader == "defaults"]
    if mine:
        no_liq = sum(f["liq"] == 0 for f in mine) / len(mine) * 100.0
        lines.append(f"defaults: runs without a liquidation {no_liq:.0f} %; money lost, "
                     "median USDT: " + ", ".join(
                         f"{k[5:] if k.startswith('lost') else k[4:]} "
                         f"{statistics.median(f[k] for f in mine):,.0f}"
                         for k in ("lost_fees", "lost_liq", "pnl_stops", "pnl_other")))
    return "\n".join(lines)


def parse_set(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in KEY_BY_NAME:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE with a config key")
        out[key] = value
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--profile", choices=("realistic", "eventful", "both", "none"),
                    default="realistic")
    ap.add_argument("--data", action="append", default=[], help="an OHLCV file (repeatable)")
    ap.add_argument("--symbols", default="", help="the symbols of a file without a symbol column")
    ap.add_argument("--traders", default="defaults,trend alone,mean alone")
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE config override")
    ap.add_argument("--per-run", action="store_true", help="a row per run, not only the summary")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    settings = defaults()
    if args.set:
        settings = settings.replace(**parse_set(args.set))
    traders = [t.strip() for t in args.traders.split(",") if t.strip()]
    profiles = {"both": ["realistic", "eventful"], "none": []}.get(args.profile, [args.profile])
    runs: list[Run] = []
    for profile in profiles:
        s = settings.replace(sim_profile=profile)
        hs = [sim_history(s, seed, args.days, SIM_START)
              for seed in range(args.first_seed, args.first_seed + args.seeds)]
        runs += evaluate(s, hs, traders)
    symbols = [x.strip() for x in args.symbols.split(",") if x.strip()]
    for path in args.data:
        runs += evaluate(settings, file_windows(path, symbols, args.days), traders)
    if args.json:
        json.dump([r.__dict__ for r in runs], sys.stdout, indent=1)
        return
    groups: dict[str, list[Run]] = {}
    for r in runs:
        key = r.label.rsplit(" seed ", 1)[0] if " seed " in r.label else r.label.split(" ")[0]
        groups.setdefault(key, []).append(r)
    for key, rs in groups.items():
        print(f"== {key}: {len({r.label for r in rs})} runs of {args.days:g} days")
        print(table(rs, args.per_run))
        print()


if __name__ == "__main__":
    main()

"""Backtest figures (SPEC §2): return, max drawdown, Sharpe, trades, win rate, fees, speed.

Sharpe: the per-candle simple returns of the equity curve (equity after each candle of the
replayed timeline), mean / sample standard deviation, times √(candles per year), a year being
365 days (crypto trades around the clock): √105,120 for 5-minute candles. No risk-free rate.
0 when the equity never moved.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autotrade_tui.backtest.history import History, timeframe_name
from autotrade_tui.backtest.runner import Outcome
from autotrade_tui.core.metrics import max_drawdown_pct
from autotrade_tui.core.models import OrderType

YEAR_SECONDS = 365 * 86_400.0


def sharpe(equity: np.ndarray, bar_seconds: float) -> float:
    """Annualised Sharpe ratio of per-candle equity returns (see the module doc)."""
    if len(equity) < 3:
        return 0.0
    prev = equity[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev > 0, equity[1:] / prev - 1.0, 0.0)
    sd = float(r.std(ddof=1))
    if not sd > 1e-15:
        return 0.0
    return float(r.mean() / sd * math.sqrt(YEAR_SECONDS / bar_seconds))


def summary(out: Outcome, history: History, models: list[str], *, timeframe: str,
            load_seconds: float = 0.0) -> dict[str, Any]:
    """The `--json` object."""
    lg = out.engine.ledger
    initial = lg.initial_capital
    eq = np.asarray(out.equity, dtype=np.float64)
    final = float(eq[-1]) if len(eq) else initial
    fills = [t for t, _ in out.trades]
    seconds = max(out.seconds, 1e-9)
    return {
        "candles": out.candles,
        "seconds": round(out.seconds, 4),
        "candles_per_second": round(out.candles / seconds, 1),
        "return_pct": (final / initial - 1.0) * 100.0,
        "max_drawdown_pct": max_drawdown_pct(eq.tolist()),
        "sharpe": sharpe(eq, history.bar_seconds),
        "total_trades": lg.total_trades,
        "winning_trades": lg.winning_trades,
        "losing_trades": lg.losing_trades,
        "win_rate": lg.win_rate * 100.0,
        "total_fees": lg.total_fees,
        "realized_pnl": lg.realized_pnl,
        "liquidations": lg.liquidations,
        "fills": len(fills),
        "opens": sum(t.order_type in (OrderType.OPEN, OrderType.ADD) for t in fills),
        "final_equity": final,
        "initial_capital": initial,
        "open_positions": len(out.engine.positions),
        "decisions": out.counts["decisions"],
        "decision_counts": {k: out.counts[k] for k in ("BUY", "SELL", "HOLD", "executed")},
        "events": len(out.events),
        "symbols": history.symbols,
        "from": _iso(history.start),
        "to": _iso(history.end),
        "timeframe": timeframe or timeframe_name(history.bar_seconds),
        "models": models,
        "source": history.source,
        "gaps": len(history.gaps),
        "first_gap": history.gaps[0] if history.gaps else None,
        "load_seconds": round(load_seconds, 4),
    }


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")

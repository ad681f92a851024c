"""Terminal output of a backtest: a progress bar on stderr, the equity chart (plotext) and a
summary of the figures and trades."""

from __future__ import annotations

import shutil
import sys
import time
from collections import Counter
from typing import Any, TextIO

from autotrade_tui.core.models import OrderType, Trade

CHART_POINTS = 1000  # the curve is thinned to about this many points before plotting


class Progress:
    """`[#####.....]  45%  47,000/105,120 candles  3.1 s` redrawn in place on a terminal."""

    def __init__(self, out: TextIO = sys.stderr, width: int = 30) -> None:
        self.out, self.width = out, width
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        frac = done / total if total else 1.0
        bar = "#" * int(frac * self.width)
        took = time.perf_counter() - self.started
        self.out.write(f"\r[{bar:.<{self.width}}] {frac:4.0%}  {done:,}/{total:,} candles  "
                       f"{took:.1f} s")
        if done >= total:
            self.out.write("\n")
        self.out.flush()


def equity_chart(times: list[float], equity: list[float], width: int | None = None,
                 height: int | None = None) -> str:
    """The equity curve as plotext text, sized to the terminal (days since the start on x)."""
    import plotext as plt

    size = shutil.get_terminal_size((100, 30))
    w = width or max(40, size.columns)
    h = height or max(12, min(30, size.lines - 12))
    step = max(1, len(equity) // CHART_POINTS)
    xs = [(t - times[0]) / 86_400 for t in times[::step]]
    ys = equity[::step]
    if times and xs[-1] != (times[-1] - times[0]) / 86_400:
        xs.append((times[-1] - times[0]) / 86_400)
        ys.append(equity[-1])
    plt.clear_figure()
    plt.plot_size(w, h)
    plt.theme("clear")
    plt.plot(xs, ys, marker="braille")
    plt.title("Equity (USDT)")
    plt.xlabel("days since start")
    text = plt.uncolorize(plt.build())  # the "clear" theme leaves stray reset codes
    plt.clear_figure()
    return str(text)


def summary_text(m: dict[str, Any], fills: list[Trade], run_id: int | None,
                 db: str) -> str:
    """Figures, then the trades per symbol."""
    lines = [
        f"Backtest {', '.join(m['symbols'])}  {m['timeframe']}  {m['from']} → {m['to']}",
        f"data: {m['source']}; models: {' + '.join(m['models'])}",
        "",
        f"  return          {m['return_pct']:+.2f} %   (equity {m['initial_capital']:,.2f} → "
        f"{m['final_equity']:,.2f} USDT)",
        f"  max drawdown    {m['max_drawdown_pct']:.2f} %",
        f"  Sharpe          {m['sharpe']:.2f}   (annualised, per-candle returns)",
        f"  closed trades   {m['total_trades']:,}   win rate {m['win_rate']:.1f} %   "
        f"liquidations {m['liquidations']:,}",
        f"  fees            {m['total_fees']:,.2f} USDT   fills {m['fills']:,}",
        f"  decisions       {m['decisions']:,}   BUY {m['decision_counts']['BUY']:,}  "
        f"SELL {m['decision_counts']['SELL']:,}  HOLD {m['decision_counts']['HOLD']:,}  "
        f"executed {m['decision_counts']['executed']:,}",
        f"  events          {m['events']:,}   open positions at the end "
        f"{m['open_positions']}",
        f"  speed           {m['candles']:,} candles in {m['seconds']:.2f} s = "
        f"{m['candles_per_second']:,.0f} candles/s",
    ]
    if m["gaps"]:
        lines.append(f"  gaps            {m['gaps']} in the data, first: {m['first_gap']}")
    lines += ["", "Trades by symbol:", *_trade_table(fills)]
    if run_id is not None:
        lines += ["", f"saved as run {run_id} in {db}"]
    return "\n".join(lines)


def _trade_table(fills: list[Trade]) -> list[str]:
    if not fills:
        return ["  (no trades)"]
    rows = ["  symbol        opens   closes  liquid.   won   lost   net P&L (after fees)"]
    for sym in sorted({t.symbol for t in fills}):
        mine = [t for t in fills if t.symbol == sym]
        kinds = Counter(t.order_type for t in mine)
        closes = [t for t in mine if t.order_type in (OrderType.CLOSE, OrderType.LIQUIDATION)]
        won = sum(t.pnl - t.fee > 0 for t in closes)
        net = sum(t.pnl - t.fee for t in mine)
        rows.append(f"  {sym:<12} {kinds[OrderType.OPEN] + kinds[OrderType.ADD]:>6,} "
                    f"{len(closes):>8,} {kinds[OrderType.LIQUIDATION]:>8,} {won:>5,} "
                    f"{len(closes) - won:>6,}   {net:>+14,.2f}")
    return rows

"""The paper-trading engine (SPEC §8): isolated-margin LONG/SHORT with stacking, fees,
liquidation, optional guards. Pure and synchronous: prices and times come in as arguments.

Ledger invariant, after every call:
    initial_capital + Σ realized pnl − Σ fees == free capital + Σ open margin
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from autotrade_tui.core.models import (
    Action,
    Entry,
    OrderType,
    Position,
    Side,
    Trade,
    TradeSource,
    pnl_at,
)

MIN_MARGIN = 1.0  # USDT; below this an entry is dust and is refused as insufficient capital
EPS = 1e-9


class Rejected(Exception):
    """An order the engine refuses; `str(exc)` is the reason shown and stored."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    initial_capital: float = 100_000.0
    leverage: float = 20.0
    commission_rate: float = 0.001
    maintenance_margin_rate: float = 0.005
    position_size_percent: float = 10.0
    max_positions: int = 100
    stop_loss_percent: float = 0.0  # of margin; 0 = off
    take_profit_percent: float = 0.0  # of margin; 0 = off
    max_drawdown_percent: float = 0.0  # of peak equity; 0 = off

    @classmethod
    def from_settings(cls, settings: Any) -> EngineConfig:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


@dataclass(slots=True)
class Ledger:
    """Account counters; with the open positions this is the whole persisted engine state."""

    initial_capital: float
    capital: float  # free capital
    realized_pnl: float = 0.0
    total_fees: float = 0.0
    total_trades: int = 0  # closes (incl. liquidations): the denominator of the win rate
    winning_trades: int = 0
    losing_trades: int = 0
    liquidations: int = 0
    peak_equity: float = 0.0
    halted_reason: str = ""  # non-empty: the drawdown kill switch has paused auto trading

    @property
    def win_rate(self) -> float:
        return self.winning_trades / self.total_trades if self.total_trades else 0.0


@dataclass(slots=True)
class EngineState:
    ledger: Ledger
    positions: dict[str, Position] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Execution:
    """What `execute` did: the fills, and why it stopped short if it did."""

    trades: list[Trade]
    rejected: str = ""

    @property
    def executed(self) -> bool:
        return bool(self.trades) and not self.rejected


class TradingEngine:
    def __init__(self, config: EngineConfig, state: EngineState | None = None) -> None:
        self.config = config
        if state is None:
            state = EngineState(Ledger(config.initial_capital, config.initial_capital,
                                       peak_equity=config.initial_capital))
        self.ledger = state.ledger
        self.positions: dict[str, Position] = state.positions
        self._last_refusal: tuple[float, float, float, str] = (math.nan, 0.0, 0.0, "")

    # ---- reading
    @property
    def state(self) -> EngineState:
        return EngineState(self.ledger, self.positions)

    def unrealized_pnl(self, prices: Mapping[str, float]) -> float:
        return sum((p.unrealized_pnl(prices.get(s, p.entry_price))
                    for s, p in self.positions.items()), 0.0)

    def open_margin(self) -> float:
        return sum((p.margin for p in self.positions.values()), 0.0)

    def equity(self, prices: Mapping[str, float]) -> float:
        """capital + open_margin() + unrealized_pnl(prices), in one pass over the positions."""
        positions = self.positions
        if not positions:  # flat (most candles of a backtest): the same sum, without the loop
            return self.ledger.capital + 0.0 + 0.0
        margin = unrealized = 0.0
        for s, p in positions.items():
            q, notional, m = p.totals()
            price = prices.get(s)
            margin += m
            if price is not None:  # missing: valued at its entry price, no P&L
                unrealized += pnl_at(p.side, q, notional, price)
        return self.ledger.capital + margin + unrealized

    def liquidation_price(self, symbol: str) -> float:
        return self.positions[symbol].liquidation_price(self.config.maintenance_margin_rate)

    def sandbox(self) -> TradingEngine:
        """A deep copy to try orders on (confirmation previews): the real engine never moves."""
        return TradingEngine(self.config, copy_state(self.state))

    def invariant_error(self) -> float:
        """|left − right| of the ledger invariant (0 up to float rounding)."""
        lg = self.ledger
        left = lg.initial_capital + lg.realized_pnl - lg.total_fees
        return abs(left - (lg.capital + self.open_margin()))

    # ---- orders
    def open(self, symbol: str, side: Side, price: float, ts: float,
             source: TradeSource = TradeSource.AUTO, reason: str = "") -> Trade:
        """Open a position or stack onto one of the same side. Raises Rejected."""
        done = self._open(symbol, side, price, ts, source, reason)
        if isinstance(done, str):
            raise Rejected(done)
        return done

    def _open(self, symbol: str, side: Side, price: float, ts: float, source: TradeSource,
              reason: str) -> Trade | str:
        """`open`, with the refusal's reason returned instead of raised (`execute` refuses
        without building and unwinding an exception)."""
        bad = _price_error(price)
        if bad:
            return bad
        cfg, lg = self.config, self.ledger
        pos = self.positions.get(symbol)
        if pos is not None and pos.side is not side:
            return f"a {pos.side} position on {symbol} is open; close it first"
        if pos is None and len(self.positions) >= cfg.max_positions:
            return f"max positions reached ({cfg.max_positions})"
        capital = lg.capital
        margin = capital * cfg.position_size_percent / 100.0
        notional = margin * cfg.leverage
        fee = notional * cfg.commission_rate
        if margin < MIN_MARGIN or margin + fee > capital + EPS:
            return self._insufficient(capital, margin, fee)
        qty = notional / price
        entry = Entry(price=price, quantity=qty, margin=margin, leverage=cfg.leverage, fee=fee,
                      ts=ts)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol, side, [], opened_at=ts)
            order = OrderType.OPEN
        else:
            order = OrderType.ADD
        pos.entries.append(entry)
        lg.capital -= margin + fee
        lg.total_fees += fee
        return Trade(ts, symbol, order, side, qty, price, 0.0, fee, margin, cfg.leverage,
                     source, reason)

    def _insufficient(self, capital: float, margin: float, fee: float) -> str:
        """The insufficient-capital reason; the last one is kept, as a drained account is
        refused with the same figures on every order until its capital moves."""
        last = self._last_refusal
        if last[0] == capital and capital > 0 and last[1] == margin and last[2] == fee:
            return last[3]  # (> 0: all three positive, no -0.0 to format differently)
        text = (f"insufficient capital: {capital:,.2f} USDT free, entry needs "
                f"{margin + fee:,.2f} (margin {margin:,.2f} + fee {fee:,.2f})")
        self._last_refusal = (capital, margin, fee, text)
        return text

    def close(self, symbol: str, price: float, ts: float,
              source: TradeSource = TradeSource.AUTO, reason: str = "") -> Trade:
        """Close the whole position at `price` (a liquidation if it is past its liq price)."""
        bad = _price_error(price)
        if bad:
            raise Rejected(bad)
        pos = self.positions.get(symbol)
        if pos is None:
            raise Rejected(f"no open position on {symbol}")
        if self._is_liquidatable(pos, price):
            return self._liquidate(pos, ts)
        pnl = pos.unrealized_pnl(price)
        qty = pos.quantity
        fee = qty * price * self.config.commission_rate
        lg = self.ledger
        lg.capital += pos.margin + pnl - fee
        lg.realized_pnl += pnl
        lg.total_fees += fee
        self._count_close(pnl - fee > 0)
        del self.positions[symbol]
        return Trade(ts, symbol, OrderType.CLOSE, pos.side, qty, price, pnl, fee, pos.margin,
                     pos.leverage, source, reason)

    def execute(self, action: Action, symbol: str, price: float, ts: float,
                source: TradeSource = TradeSource.AUTO, reason: str = "") -> Execution:
        """SPEC §7.5: BUY closes a short then opens/stacks a long; SELL mirrors; HOLD nothing."""
        if action is Action.HOLD:
            return Execution([])
        side = Side.LONG if action is Action.BUY else Side.SHORT
        trades: list[Trade] = []
        pos = self.positions.get(symbol)
        if pos is not None and pos.side is not side:
            try:
                trades.append(self.close(symbol, price, ts, source, reason))
            except Rejected as exc:
                return Execution(trades, str(exc))
        done = self._open(symbol, side, price, ts, source, reason)
        if isinstance(done, str):
            return Execution(trades, done)
        trades.append(done)
        return Execution(trades)

    def close_all(self, prices: Mapping[str, float], ts: float,
                  source: TradeSource = TradeSource.MANUAL, reason: str = "") -> list[Trade]:
        return [self.close(s, prices[s], ts, source, reason)
                for s in list(self.positions) if s in prices]

    # ---- marking to market
    def mark(self, prices: Mapping[str, float], ts: float) -> list[Trade]:
        """Apply prices: liquidations, then stop-loss/take-profit, then the drawdown switch."""
        if not self.positions:  # flat: only the drawdown switch, on equity = capital
            self._check_drawdown(prices, self.ledger.capital + 0.0 + 0.0)
            return []
        trades: list[Trade] = []
        cfg = self.config
        for symbol, pos in list(self.positions.items()):
            price = prices.get(symbol)
            if price is None or price <= 0:
                continue
            if self._is_liquidatable(pos, price):
                trades.append(self._liquidate(pos, ts))
                continue
            if not (cfg.stop_loss_percent or cfg.take_profit_percent):
                continue  # no guard configured
            roe = pos.unrealized_pnl(price) / pos.margin * 100.0
            if cfg.stop_loss_percent and roe <= -cfg.stop_loss_percent + EPS:
                trades.append(self.close(symbol, price, ts, TradeSource.GUARD,
                                         f"stop-loss {roe:.1f} % of margin"))
            elif cfg.take_profit_percent and roe >= cfg.take_profit_percent - EPS:
                trades.append(self.close(symbol, price, ts, TradeSource.GUARD,
                                         f"take-profit {roe:.1f} % of margin"))
        self._check_drawdown(prices)
        return trades

    def resume(self) -> None:
        """Clear the drawdown kill switch (the user resumed); the peak restarts from now."""
        self.ledger.halted_reason = ""
        self.ledger.peak_equity = 0.0

    # ---- internals
    def _is_liquidatable(self, pos: Position, price: float) -> bool:
        m = self.config.maintenance_margin_rate
        q, notional, margin = pos.totals()
        return margin + pnl_at(pos.side, q, notional, price) <= m * q * price + EPS

    def _liquidate(self, pos: Position, ts: float) -> Trade:
        # Closed at its liquidation price; the whole margin is lost, no fee is charged.
        liq = pos.liquidation_price(self.config.maintenance_margin_rate)
        lg = self.ledger
        lg.realized_pnl -= pos.margin
        lg.liquidations += 1
        self._count_close(False)
        del self.positions[pos.symbol]
        return Trade(ts, pos.symbol, OrderType.LIQUIDATION, pos.side, pos.quantity, liq,
                     -pos.margin, 0.0, pos.margin, pos.leverage, TradeSource.LIQUIDATION,
                     f"liquidated at {liq:,.2f}")

    def _count_close(self, won: bool) -> None:
        lg = self.ledger
        lg.total_trades += 1
        if won:
            lg.winning_trades += 1
        else:
            lg.losing_trades += 1

    def _check_drawdown(self, prices: Mapping[str, float], equity: float | None = None) -> None:
        """The kill switch at `equity` (default: `self.equity(prices)`, as `equity` is)."""
        lg, limit = self.ledger, self.config.max_drawdown_percent
        if equity is None:
            equity = self.equity(prices)
        if equity > lg.peak_equity:  # max(peak, equity), without the call
            lg.peak_equity = equity
        if limit and not lg.halted_reason and lg.peak_equity > 0:
            dd = (lg.peak_equity - equity) / lg.peak_equity * 100.0
            if dd >= limit - EPS:
                lg.halted_reason = (f"max drawdown {dd:.1f} % ≥ {limit:g} %: automatic trading "
                                    "paused")


_INF = math.inf


def _price_error(price: float) -> str:
    """Why an order cannot fill at `price` ("" when it can): not positive, NaN or infinite."""
    if not price > 0 or price == _INF:
        return f"invalid price {price!r}"
    return ""


def copy_state(state: EngineState) -> EngineState:
    """A deep copy (entries are mutable lists)."""
    return EngineState(
        replace(state.ledger),
        {s: Position(p.symbol, p.side, [replace(e) for e in p.entries], p.opened_at)
         for s, p in state.positions.items()},
    )

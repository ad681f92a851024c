"""The paper-trading engine (SPEC §8): isolated-margin LONG/SHORT with stacking, fees,
liquidation, and the risk rules of SPEC §8.1 (bounded stacking and exposure, stop-loss /
take-profit, drawdown guard, re-entry cooldown). Pure and synchronous: prices and times come
in as arguments.

Ledger invariant, after every call:
    initial_capital + Σ realized pnl − Σ fees == free capital + Σ open margin
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from autotrade_tui.config import Settings

MIN_MARGIN = 1.0  # USDT; below this an entry is dust and is refused as insufficient capital
EPS = 1e-9


class Rejected(Exception):
    """An order the engine refuses; `str(exc)` is the reason shown and stored."""


FLATTEN, PAUSE = "flatten", "pause"  # drawdown_action
AUTOMATIC = frozenset({TradeSource.AUTO, TradeSource.EVENT})  # what the discipline rules bind
# A position's guard levels (`TradingEngine._levels_of`): stop and take-profit prices (None:
# off), the side's sign, then the liquidation, stop and take-profit prices signed
Levels = tuple[float | None, float | None, float, float, float, float]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """The engine's rules. Here every optional rule defaults to off (the bare SPEC §8 engine);
    the product's defaults, with the rules on, are `config.KEYS`."""

    initial_capital: float = 100_000.0
    leverage: float = 20.0
    commission_rate: float = 0.001
    maintenance_margin_rate: float = 0.005
    position_size_percent: float = 10.0
    max_positions: int = 100
    stop_loss_percent: float = 0.0  # of margin; 0 = off
    take_profit_percent: float = 0.0  # of margin; 0 = off
    max_drawdown_percent: float = 0.0  # of peak equity; 0 = off
    drawdown_action: str = PAUSE  # FLATTEN: close every position, then pause
    max_entries_per_position: int = 0  # entries of one position, the first included; 0 = any
    stack_only_in_profit: bool = False  # automatic stacking only while in profit after fees
    max_exposure_percent: float = 0.0  # Σ open notional / equity; 0 = off
    reentry_cooldown_minutes: float = 0.0  # automatic entries wait this long after a close

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
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
    closed_at: dict[str, float] = field(default_factory=dict)  # symbol → its last close's ts


@dataclass(frozen=True, slots=True)
class Execution:
    """What `execute` did: the fills, and why it stopped short if it did."""

    trades: list[Trade]
    rejected: str = ""
    note: str = ""  # what a rule changed about an order that went through (sized down)

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
        self.closed_at = state.closed_at
        # The last price seen per symbol (marks and fills): the equity and exposure an entry
        # is sized against when only its own price comes with the order.
        self.marks: dict[str, float] = {}
        self._flatten_left = False  # a drawdown flatten that found a position without a price
        self.last_equity = state.ledger.capital  # the equity the last mark measured
        self._levels: dict[str, tuple[Position, int, Levels]] = {}  # symbol → (position,
        #                                                     its entries, its levels)
        self._last_refusal: tuple[float, float, float, str] = (math.nan, 0.0, 0.0, "")

    # ---- reading
    @property
    def state(self) -> EngineState:
        return EngineState(self.ledger, self.positions, self.closed_at)

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
        return done[0]

    def _open(self, symbol: str, side: Side, price: float, ts: float, source: TradeSource,
              reason: str) -> tuple[Trade, str] | str:
        """`open`, with the refusal's reason returned instead of raised (`execute` refuses
        without building and unwinding an exception); the trade comes with what a rule
        changed about it ("" or "sized down ...")."""
        bad = _price_error(price)
        if bad:
            return bad
        cfg, lg = self.config, self.ledger
        pos = self.positions.get(symbol)
        if pos is not None and pos.side is not side:
            return f"a {pos.side} position on {symbol} is open; close it first"
        refused = (self._new_position_refusal(symbol, ts, source) if pos is None
                   else self._stack_refusal(pos, price, source))
        if refused:
            return refused
        capital = lg.capital
        margin = capital * cfg.position_size_percent / 100.0
        fitted = self._fit_exposure(symbol, price, margin)
        if isinstance(fitted, str):
            return fitted
        margin, sized = fitted
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
        self.marks[symbol] = price
        if sized:
            reason = f"{reason}; {sized}" if reason else sized
        return Trade(ts, symbol, order, side, qty, price, 0.0, fee, margin, cfg.leverage,
                     source, reason), sized

    def _new_position_refusal(self, symbol: str, ts: float, source: TradeSource) -> str:
        """Why a new position on `symbol` may not open now ("" when it may)."""
        cfg = self.config
        if len(self.positions) >= cfg.max_positions:
            return f"max positions reached ({cfg.max_positions})"
        cooldown = cfg.reentry_cooldown_minutes * 60.0
        closed = self.closed_at.get(symbol)
        if cooldown and closed is not None and source in AUTOMATIC and ts - closed < cooldown:
            return (f"re-entry cooldown: {symbol} closed {(ts - closed) / 60:.0f} min ago "
                    f"(automatic entries wait {cfg.reentry_cooldown_minutes:g} min)")
        return ""

    def _stack_refusal(self, pos: Position, price: float, source: TradeSource) -> str:
        """Why `pos` may not take another entry at `price` ("" when it may)."""
        cfg = self.config
        cap = cfg.max_entries_per_position
        if cap and len(pos.entries) >= cap:
            return f"max entries per position reached ({cap}) on {pos.symbol}"
        if cfg.stack_only_in_profit and source in AUTOMATIC:
            net = self.net_pnl(pos, price)
            if net <= 0:
                return (f"no averaging down: the {pos.side} {pos.symbol} is at {net:+,.2f} "
                        "after fees (stacking only in profit)")
        return ""

    def net_pnl(self, pos: Position, price: float) -> float:
        """What closing `pos` at `price` would leave, after its entry fees and the exit fee."""
        fees = sum((e.fee for e in pos.entries), 0.0)
        exit_fee = pos.quantity * price * self.config.commission_rate
        return pos.unrealized_pnl(price) - fees - exit_fee

    def _fit_exposure(self, symbol: str, price: float,
                      margin: float) -> tuple[float, str] | str:
        """The entry margin within `max_exposure_percent` (sized down and said so), or why
        there is no room at all."""
        limit = self.config.max_exposure_percent
        if not limit:
            return margin, ""
        lev, share = self.config.leverage, limit / 100.0
        marks = {**self.marks, symbol: price}
        equity = self.equity(marks)
        open_notional = self.open_notional(marks)
        # (open + N) / (equity − N·fee rate) ≤ share: the entry's fee lowers the equity too
        room = (share * equity - open_notional) / (1.0 + share * self.config.commission_rate)
        if margin * lev <= room + EPS:
            return margin, ""
        if room / lev < MIN_MARGIN:
            pct = open_notional / equity * 100.0 if equity > 0 else math.inf
            return (f"max exposure reached: {pct:.0f} % of equity open, limit {limit:g} %")
        return room / lev, f"sized down to fit max exposure {limit:g} %"

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
        self.closed_at[symbol] = ts
        self.marks[symbol] = price
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
        trade, sized = done
        trades.append(trade)
        return Execution(trades, note=sized)

    def close_all(self, prices: Mapping[str, float], ts: float,
                  source: TradeSource = TradeSource.MANUAL, reason: str = "") -> list[Trade]:
        return [self.close(s, prices[s], ts, source, reason)
                for s in list(self.positions) if s in prices]

    # ---- marking to market
    def mark(self, prices: Mapping[str, float], ts: float) -> list[Trade]:
        """Apply prices: liquidations, then stop-loss/take-profit, then the drawdown guard."""
        if not self.positions:  # flat: only the drawdown switch, on equity = capital
            self.marks.update(prices)
            self._check_drawdown(prices, self.ledger.capital + 0.0 + 0.0)
            return []
        trades = self._mark_ticks(prices, ts)
        trades += self._check_drawdown(prices, ts=ts)
        return trades

    def _mark_ticks(self, prices: Mapping[str, float], ts: float,
                    ranged: set[str] | tuple[()] = ()) -> list[Trade]:
        """Liquidations and guards at each position's price; a symbol in `ranged` had its
        whole bar checked already (its close lies inside that range): only its mark moves."""
        trades: list[Trade] = []
        for symbol, pos in list(self.positions.items()):
            price = prices.get(symbol)
            if price is None or not price > 0:
                continue
            self.marks[symbol] = price
            if symbol in ranged:
                continue
            if self._is_liquidatable(pos, price):
                trades.append(self._liquidate(pos, ts))
                continue
            hit = self._guard_hit(pos, price)
            if hit:
                trades.append(self.close(symbol, price, ts, TradeSource.GUARD, hit))
        return trades

    def mark_bars(self, prices: Mapping[str, float],
                  bars: Mapping[str, tuple[float, float, float, float]],
                  ts: float) -> list[Trade]:
        """`mark(prices)` after whole bars (open, high, low, close) of some symbols, as a
        backtest sees them (`prices` holds their closes): a position's
        stop, take-profit and liquidation are checked on the bar's range in the order the
        price can reach them (SPEC §8.1): a bar opening beyond a level fills at the open
        (beyond the liquidation price: liquidated); inside the bar the stop comes first, then
        the liquidation, then the take-profit, each filled at its own price."""
        trades: list[Trade] = []
        checked = set()
        for symbol, pos in list(self.positions.items()):
            bar = bars.get(symbol)
            if bar is None or not bar[2] > 0:
                continue
            checked.add(symbol)
            trade = self._bar_exit(pos, bar, ts)
            if trade is not None:
                trades.append(trade)
        if not self.positions:
            return trades + self.mark(prices, ts)
        trades += self._mark_ticks(prices, ts, checked)
        trades += self._check_drawdown(prices, ts=ts)
        return trades

    def _bar_exit(self, pos: Position, bar: tuple[float, float, float, float],
                  ts: float) -> Trade | None:
        """The first exit the bar reaches for `pos`, filled (None: it reaches none)."""
        open_, high, low, _ = bar
        long = pos.side is Side.LONG
        stop, take, sgn, liq_s, stop_s, take_s = self._levels_of(pos)
        o = sgn * open_
        worst, best = (sgn * low, sgn * high) if long else (sgn * high, sgn * low)
        if worst > stop_s and worst > liq_s and best < take_s:
            return None  # the bar reaches no level (most bars)
        symbol = pos.symbol
        if o <= liq_s:
            return self._liquidate(pos, ts)
        if o <= stop_s or o >= take_s:  # opened beyond a guard: filled at the open
            return self.close(symbol, open_, ts, TradeSource.GUARD, self._guard_text(pos, open_))
        if stop is not None and worst <= stop_s:
            return self.close(symbol, stop, ts, TradeSource.GUARD, self._guard_text(pos, stop))
        if worst <= liq_s:
            return self._liquidate(pos, ts)
        if take is not None and best >= take_s:
            return self.close(symbol, take, ts, TradeSource.GUARD, self._guard_text(pos, take))
        return None

    def _levels_of(self, pos: Position) -> Levels:
        """(stop and take-profit prices, the side's sign, then the liquidation, stop and
        take-profit prices signed:
        "against the position" is then always ≤ and "for it" always ≥; a missing guard sits
        at ∓∞, where nothing reaches it). Kept per position until an entry is added: a
        backtest asks every candle."""
        n = len(pos.entries)
        cached = self._levels.get(pos.symbol)
        if cached is not None and cached[0] is pos and cached[1] == n:  # (held: no id reuse)
            return cached[2]
        liq = pos.liquidation_price(self.config.maintenance_margin_rate)
        stop, take = self.guard_prices(pos)
        sgn = 1.0 if pos.side is Side.LONG else -1.0
        levels = (stop, take, sgn, sgn * liq, -_INF if stop is None else sgn * stop,
                  _INF if take is None else sgn * take)
        self._levels[pos.symbol] = (pos, n, levels)
        return levels

    def quiet_range(self, pos: Position) -> tuple[float, float]:
        """(low, high): a bar of `pos`'s symbol with a low above the first and a high below
        the second reaches none of its levels (`mark_bars` leaves it open, and so it checks
        the bar: the same comparisons, the sign taken out)."""
        _, _, sgn, liq_s, stop_s, take_s = self._levels_of(pos)
        if sgn > 0:  # a long: its low against the stop and liquidation, its high the take
            return max(stop_s, liq_s), take_s
        return -take_s, min(-stop_s, -liq_s)  # a short: the other way round

    def guard_prices(self, pos: Position) -> tuple[float | None, float | None]:
        """(stop-loss price, take-profit price) of `pos`; None where the guard is off. A guard
        of x % of margin M on quantity q sits x/100 · M/q from the entry price."""
        cfg = self.config
        q, notional, margin = pos.totals()
        if not q:
            return None, None
        e, per_pct = notional / q, margin / q / 100.0
        sign = 1.0 if pos.side is Side.LONG else -1.0
        stop = e - sign * cfg.stop_loss_percent * per_pct if cfg.stop_loss_percent else None
        take = e + sign * cfg.take_profit_percent * per_pct if cfg.take_profit_percent else None
        if stop is not None and stop <= 0:
            stop = None  # a long's stop below zero: the price cannot reach it
        return stop, take

    def _guard_hit(self, pos: Position, price: float) -> str:
        """The guard `price` trips for `pos`, as its reason ("" when none does)."""
        cfg = self.config
        if not (cfg.stop_loss_percent or cfg.take_profit_percent):
            return ""
        roe = pos.unrealized_pnl(price) / pos.margin * 100.0
        if cfg.stop_loss_percent and roe <= -cfg.stop_loss_percent + EPS:
            return f"stop-loss {roe:.1f} % of margin"
        if cfg.take_profit_percent and roe >= cfg.take_profit_percent - EPS:
            return f"take-profit {roe:.1f} % of margin"
        return ""

    def _guard_text(self, pos: Position, price: float) -> str:
        roe = pos.unrealized_pnl(price) / pos.margin * 100.0
        return f"{'stop-loss' if roe < 0 else 'take-profit'} {roe:.1f} % of margin"

    def open_notional(self, prices: Mapping[str, float]) -> float:
        """Σ quantity · price over the open positions (entry price where `prices` has none)."""
        total = 0.0
        for s, p in self.positions.items():
            price = prices.get(s)
            total += p.quantity * price if price is not None else p.totals()[1]
        return total

    def exposure_percent(self, prices: Mapping[str, float]) -> float:
        """Open notional as % of equity (the quantity `max_exposure_percent` bounds)."""
        equity = self.equity(prices)
        notional = self.open_notional(prices)
        if not notional:
            return 0.0
        return notional / equity * 100.0 if equity > 0 else math.inf

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
        self.closed_at[pos.symbol] = ts
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

    def _check_drawdown(self, prices: Mapping[str, float], equity: float | None = None,
                        ts: float = 0.0) -> list[Trade]:
        """The drawdown guard at `equity` (default: `self.equity(prices)`, as `equity` is);
        with `drawdown_action = flatten` its trip closes every position it has a price for."""
        lg, limit = self.ledger, self.config.max_drawdown_percent
        if equity is None:
            equity = self.equity(prices)
        self.last_equity = equity
        if equity > lg.peak_equity:  # max(peak, equity), without the call
            lg.peak_equity = equity
        if limit and not lg.halted_reason and lg.peak_equity > 0:
            dd = (lg.peak_equity - equity) / lg.peak_equity * 100.0
            if dd >= limit - EPS:
                flatten = self.config.drawdown_action == FLATTEN
                lg.halted_reason = (f"max drawdown {dd:.1f} % ≥ {limit:g} %: "
                                    + ("positions closed, " if flatten and self.positions
                                       else "") + "automatic trading paused")
                self._flatten_left = flatten
        if not (self._flatten_left and self.positions):
            self._flatten_left = False
            return []
        return self._flatten(ts)

    def _flatten(self, ts: float) -> list[Trade]:
        """Close every position at its last price (one without a price waits for its first)."""
        trades = []
        for symbol in list(self.positions):
            price = self.marks.get(symbol)
            if price is not None:
                trades.append(self.close(symbol, price, ts, TradeSource.GUARD,
                                         "drawdown guard: flatten"))
        self._flatten_left = bool(self.positions)
        return trades


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
        dict(state.closed_at),
    )

"""What a manual order would do, before the user confirms it: the engine's own rules applied
on a copy (`TradingEngine.sandbox`) at the current marks, as data. The cockpit words it; an
engine served over the API sends it as JSON (SPEC §11 confirmations, §13 attach)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from autotrade_tui.core.engine import TradingEngine
from autotrade_tui.core.models import Action, OrderType, Position, Side, Trade, TradeSource

KINDS = ("long", "short", "close", "close_all")


class NothingToDo(Exception):
    """The order cannot make sense now (no price, no position); `str()` says why."""


@dataclass(frozen=True, slots=True)
class OrderPreview:
    kind: str  # long | short | close | close_all
    symbol: str  # "" for close_all
    mark: float  # the price it was tried at (close_all: 0, see `trades`)
    trades: tuple[Trade, ...]  # the fills confirming would make, at these marks
    rejected: str = ""  # the engine's refusal ("" when it would execute)
    added: bool = False  # an open stacks on a position already held
    liquidation: float | None = None  # of the position an open leaves
    position: Position | None = None  # the position a close closes
    closing: tuple[tuple[str, str], ...] = ()  # close_all: (symbol, side), by symbol
    size_percent: float = 0.0  # of free capital per entry
    leverage: float = 0.0


def preview(engine: TradingEngine, kind: str, symbol: str,
            marks: Mapping[str, float]) -> OrderPreview:
    """What confirming `kind` on `symbol` would do now; raises NothingToDo."""
    if kind in ("long", "short"):
        return _open(engine, kind, symbol, _mark(marks, symbol))
    if kind == "close":
        pos = engine.positions.get(symbol)
        if pos is None:
            raise NothingToDo(f"no open position on {symbol}")
        mark = _mark(marks, symbol)
        t = engine.sandbox().close(symbol, mark, 0.0, TradeSource.MANUAL)
        return OrderPreview(kind, symbol, mark, (t,), position=pos)
    if kind == "close_all":
        positions = dict(engine.positions)
        if not positions:
            raise NothingToDo("no open positions")
        at = {s: _mark(marks, s) for s in positions}
        trades = engine.sandbox().close_all(at, 0.0, TradeSource.MANUAL)
        closing = tuple((s, p.side.value) for s, p in sorted(positions.items()))
        return OrderPreview(kind, "", 0.0, tuple(trades), closing=closing)
    raise NothingToDo(f"unknown order kind {kind!r} (one of {', '.join(KINDS)})")


def _mark(marks: Mapping[str, float], symbol: str) -> float:
    mark = marks.get(symbol)
    if mark is None:
        raise NothingToDo(f"no price for {symbol} yet")
    return float(mark)


def _open(engine: TradingEngine, kind: str, symbol: str, mark: float) -> OrderPreview:
    side = Side.LONG if kind == "long" else Side.SHORT
    box = engine.sandbox()
    ex = box.execute(Action.BUY if side is Side.LONG else Action.SELL, symbol, mark, 0.0,
                     TradeSource.MANUAL)
    flips = any(t.order_type is OrderType.CLOSE for t in ex.trades)
    liq = box.liquidation_price(symbol) if ex.trades and not ex.rejected else None
    cfg = engine.config
    return OrderPreview(kind, symbol, mark, tuple(ex.trades), rejected=ex.rejected or "",
                        added=symbol in engine.positions and not flips, liquidation=liq,
                        size_percent=cfg.position_size_percent, leverage=cfg.leverage)

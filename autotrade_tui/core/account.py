"""The account as every front end sees it (SPEC §8, §8.1, §11), computed once from the engine:
one frozen view with its positions' and risk rules' figures, and its JSON form.

`AccountView.to_dict()` is the account part of `report --json` (and of the API): its keys
are the report's (`capital` for the free capital, `win_rate` in %); `from_dict` reads them
back. The prompt keeps its own smaller vocabulary (`prompt_dict`), derived from the view.
Percentages are 0–100; money is in the quote currency (USDT).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from autotrade_tui.core.engine import TradingEngine
from autotrade_tui.core.models import Position, Side


@dataclass(frozen=True, slots=True)
class PositionFigures:
    """One open position at its mark."""

    symbol: str
    side: Side
    quantity: float
    entry_price: float  # quantity-weighted average
    mark_price: float  # the last price, or the entry price when there is none
    margin: float
    leverage: float
    liquidation_price: float
    liquidation_distance_pct: float | None  # |mark − liq| / mark; None at a zero mark
    unrealized_pnl: float
    entries: int  # 1 + the stacked additions
    opened_at: float

    @classmethod
    def of(cls, pos: Position, mark: float, maintenance_margin_rate: float) -> PositionFigures:
        liq = pos.liquidation_price(maintenance_margin_rate)
        return cls(pos.symbol, pos.side, pos.quantity, pos.entry_price, mark, pos.margin,
                   pos.leverage, liq, abs(mark - liq) / mark * 100.0 if mark else None,
                   pos.unrealized_pnl(mark), len(pos.entries), pos.opened_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "side": self.side.value, "quantity": self.quantity,
            "entry_price": self.entry_price, "mark_price": self.mark_price,
            "margin": self.margin, "leverage": self.leverage,
            "liquidation_price": self.liquidation_price,
            "liquidation_distance_pct": self.liquidation_distance_pct,
            "unrealized_pnl": self.unrealized_pnl, "entries": self.entries,
            "opened_at": self.opened_at,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PositionFigures:
        dist = d["liquidation_distance_pct"]
        return cls(str(d["symbol"]), Side(d["side"]), float(d["quantity"]),
                   float(d["entry_price"]), float(d["mark_price"]), float(d["margin"]),
                   float(d["leverage"]), float(d["liquidation_price"]),
                   None if dist is None else float(dist), float(d["unrealized_pnl"]),
                   int(d["entries"]), float(d["opened_at"]))


@dataclass(frozen=True, slots=True)
class RiskFigures:
    """The risk rules' state (SPEC §8.1): exposure and drawdown against their limits (a limit
    of 0 is a rule that is off)."""

    exposure_pct: float  # open notional / equity (inf when equity ≤ 0 with positions open)
    max_exposure_pct: float
    drawdown_pct: float  # below the peak equity
    max_drawdown_limit_pct: float
    drawdown_action: str  # flatten | pause

    @classmethod
    def of(cls, engine: TradingEngine, marks: Mapping[str, float]) -> RiskFigures:
        cfg, lg = engine.config, engine.ledger
        equity = engine.equity(marks)
        peak = max(lg.peak_equity, equity)
        return cls(engine.exposure_percent(marks), cfg.max_exposure_percent,
                   (peak - equity) / peak * 100.0 if peak > 0 else 0.0,
                   cfg.max_drawdown_percent, cfg.drawdown_action)

    def to_dict(self) -> dict[str, Any]:
        return {"exposure_pct": self.exposure_pct, "max_exposure_pct": self.max_exposure_pct,
                "drawdown_pct": self.drawdown_pct,
                "max_drawdown_limit_pct": self.max_drawdown_limit_pct,
                "drawdown_action": self.drawdown_action}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RiskFigures:
        """From `to_dict()`; an exposure of None is the unbounded one (JSON has no infinity:
        the API writes it as null)."""
        exposure = d["exposure_pct"]
        return cls(math.inf if exposure is None else float(exposure), float(d["max_exposure_pct"]),
                   float(d["drawdown_pct"]), float(d["max_drawdown_limit_pct"]),
                   str(d["drawdown_action"]))

    def text(self) -> str:
        """The active rules, compact (the header's second line): "exp 45/200% DD 2.1/15%"."""
        parts = []
        if self.max_exposure_pct:
            parts.append(f"exp {self.exposure_pct:.0f}/{self.max_exposure_pct:g}%")
        if self.max_drawdown_limit_pct:
            parts.append(f"DD {self.drawdown_pct:.1f}/{self.max_drawdown_limit_pct:g}%")
        return " ".join(parts)


ScoreRow = Mapping[str, Any]  # one row of core.scorecard.Scorecard.rows() (SPEC §16)


@dataclass(frozen=True, slots=True)
class AccountView:
    """The account at its marks. `scorecard` (each model's row, then the ensemble) and its
    equity curves come with the running engine's view; None where no one computed them."""

    equity: float  # free capital + open margin + unrealized P&L
    free_capital: float
    realized_pnl: float  # before fees
    unrealized_pnl: float
    total_fees: float
    total_trades: int  # closes, liquidations included
    winning_trades: int
    losing_trades: int
    win_rate_pct: float  # 0 before the first close
    liquidations: int
    initial_capital: float
    open_margin: float
    halted_reason: str  # non-empty: the drawdown guard paused automatic trading
    risk: RiskFigures
    positions: tuple[PositionFigures, ...]  # by symbol
    scorecard: tuple[ScoreRow, ...] | None = None
    scorecard_curves: Mapping[str, Sequence[float]] | None = None

    @classmethod
    def of(cls, engine: TradingEngine, prices: Mapping[str, float]) -> AccountView:
        """The engine's account at `prices` (a position without a price is marked at its
        entry price: no P&L)."""
        lg = engine.ledger
        marks = marks_of(engine, prices)
        mmr = engine.config.maintenance_margin_rate
        return cls(
            equity=engine.equity(marks), free_capital=lg.capital,
            realized_pnl=lg.realized_pnl, unrealized_pnl=engine.unrealized_pnl(marks),
            total_fees=lg.total_fees, total_trades=lg.total_trades,
            winning_trades=lg.winning_trades, losing_trades=lg.losing_trades,
            win_rate_pct=lg.win_rate * 100.0, liquidations=lg.liquidations,
            initial_capital=lg.initial_capital, open_margin=engine.open_margin(),
            halted_reason=lg.halted_reason, risk=RiskFigures.of(engine, marks),
            positions=tuple(PositionFigures.of(p, marks[s], mmr)
                            for s, p in sorted(engine.positions.items())))

    @property
    def pnl_after_fees(self) -> float:
        """"P&L" on every screen (SPEC §11): what closing trades made after every fee paid,
        open positions' entry fees included; equity = initial + this + unrealized."""
        return self.realized_pnl - self.total_fees

    def position(self, symbol: str) -> PositionFigures | None:
        return next((p for p in self.positions if p.symbol == symbol), None)

    def with_scorecard(self, rows: Sequence[ScoreRow],
                       curves: Mapping[str, Sequence[float]]) -> AccountView:
        return replace(self, scorecard=tuple(rows), scorecard_curves=curves)

    def to_dict(self) -> dict[str, Any]:
        """The account keys of `report --json` (and of the API), in the report's order;
        `scorecard` and `scorecard_curves` too when the view has them."""
        out: dict[str, Any] = {
            "equity": self.equity, "capital": self.free_capital,
            "realized_pnl": self.realized_pnl, "unrealized_pnl": self.unrealized_pnl,
            "pnl_after_fees": self.pnl_after_fees,
            "total_fees": self.total_fees, "total_trades": self.total_trades,
            "winning_trades": self.winning_trades, "losing_trades": self.losing_trades,
            "win_rate": self.win_rate_pct, "liquidations": self.liquidations,
            "initial_capital": self.initial_capital, "open_margin": self.open_margin,
            "halted_reason": self.halted_reason, **self.risk.to_dict(),
            "positions": [p.to_dict() for p in self.positions],
        }
        if self.scorecard is not None:
            out["scorecard"] = list(self.scorecard)
            out["scorecard_curves"] = self.scorecard_curves or {}
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AccountView:
        """The view back from `to_dict()` (or its JSON); other keys are ignored."""
        rows = d.get("scorecard")
        return cls(
            float(d["equity"]), float(d["capital"]), float(d["realized_pnl"]),
            float(d["unrealized_pnl"]), float(d["total_fees"]), int(d["total_trades"]),
            int(d["winning_trades"]), int(d["losing_trades"]), float(d["win_rate"]),
            int(d["liquidations"]), float(d["initial_capital"]), float(d["open_margin"]),
            str(d["halted_reason"]), RiskFigures.from_dict(d),
            tuple(PositionFigures.from_dict(p) for p in d["positions"]),
            None if rows is None else tuple(rows),
            None if rows is None else d.get("scorecard_curves") or {})

    def prompt_dict(self) -> dict[str, Any]:
        """The account as the models are told it (core.decision.build_context): the prompt's
        own names, stored with every decision's input (`ai_decisions.input_data`)."""
        return {"equity": self.equity, "free_capital": self.free_capital,
                "open_positions": len(self.positions), "realized_pnl": self.realized_pnl,
                "win_rate_pct": self.win_rate_pct, "closed_trades": self.total_trades}


def marks_of(engine: TradingEngine, prices: Mapping[str, float]) -> dict[str, float]:
    """Each open position's mark: its last price, else its entry price (no P&L)."""
    return {s: prices.get(s, p.entry_price) for s, p in engine.positions.items()}


__all__ = ["AccountView", "PositionFigures", "RiskFigures", "marks_of"]

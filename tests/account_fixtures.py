"""Small accounts for tests of what reads one (panes, alerts): a flat 100k account with the
figures a test names, and positions from the few figures a test cares about."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from autotrade_tui.core.account import AccountView, PositionFigures
from autotrade_tui.core.engine import EngineConfig, TradingEngine

POSITION = {"symbol": "BTC/USDT", "side": "LONG", "quantity": 1.0, "entry_price": 50_000.0,
            "mark_price": 50_000.0, "margin": 2_500.0, "leverage": 20.0,
            "liquidation_price": 47_738.0, "liquidation_distance_pct": None,
            "unrealized_pnl": 0.0, "entries": 1, "opened_at": 0.0}


def position(**figures: Any) -> PositionFigures:
    return PositionFigures.from_dict({**POSITION, **figures})


def view(positions: Iterable[Mapping[str, Any]] = (), **figures: Any) -> AccountView:
    """A flat 100,000 USDT account, then `figures` (AccountView's names) and `positions`
    (PositionFigures' names; the rest from POSITION)."""
    flat = AccountView.of(TradingEngine(EngineConfig()), {})
    return replace(flat, positions=tuple(position(**p) for p in positions), **figures)

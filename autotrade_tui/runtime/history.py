"""The database's records as the domain's objects, for a front end opening on an engine that
already ran (runtime.interface.History): the cockpit's panes and the API read these, never
table rows (the store turns its rows into them: store.records)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autotrade_tui.runtime.interface import History
from autotrade_tui.store.records import decision_from_row as decision_from_row
from autotrade_tui.store.records import event_from_row as event_from_row
from autotrade_tui.store.records import trade_from_row as trade_from_row

if TYPE_CHECKING:
    from autotrade_tui.store.base import EngineStore


def load_history(store: EngineStore, limit: int = 200) -> History:
    """Blocking database reads: call in a thread."""
    return History(store.recent_decisions(limit), store.recent_trades(limit),
                   store.recent_events(limit), store.equity_curve())

"""The `EngineStore` seam: the engine's database as the runtime and the front ends see it
(store.store.Store is the one implementation, on SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from autotrade_tui.core.decision import DecisionRecorded
    from autotrade_tui.core.engine import EngineState, Ledger
    from autotrade_tui.core.models import MarketEvent, ModelVote, Trade, VoteResult


class EngineStore(Protocol):
    """One engine's account and records, in and out as the domain's objects (never table
    rows). Every call blocks on the database: the runtime makes them in a thread.

    Writes are transactions: `save_state` writes the ledger and positions with the trades that
    changed them; `record_decision` with `state` writes the decision, its fills and the new
    state at once. Reads of records are newest first. Times are epoch seconds.
    Errors: `StoreError` (temporary: the write may be retried; `fault` says why until one
    works), `StoreFatal` from `check` (this engine must stop: its database was deleted or
    replaced, or another engine took the account)."""

    shown_url: str  # where the database is, its password masked

    @property
    def fault(self) -> str:
        """The storage fault in progress ("" when the last operation worked)."""
        ...

    def check(self) -> None: ...

    def close(self) -> None: ...

    # ---- the account
    def load_state(self) -> tuple[EngineState, bool] | None:
        """(engine state, paused) as last committed; None on a new database."""
        ...

    def save_state(self, state: EngineState, *, paused: bool | None = None,
                   prices: Mapping[str, float] | None = None, ts: float = 0.0,
                   trades: Sequence[Trade] = (), decision_id: int | None = None) -> None: ...

    def last_prices(self) -> dict[str, float]:
        """The prices saved with the state (what `report` marks the positions at)."""
        ...

    def last_closes(self) -> dict[str, float]:
        """symbol → the time of its newest close or liquidation (the re-entry cooldown)."""
        ...

    def newest_ts(self) -> float | None:
        """The time of the newest record of any kind; None on an empty database."""
        ...

    def record_snapshot(self, ts: float, *, equity: float, capital: float, unrealized: float,
                        positions: list[dict[str, Any]], ledger: Ledger,
                        prices: Mapping[str, float]) -> None: ...

    def save_scorecard(self, shadows: Mapping[str, Any], ts: float) -> None:
        """`core.scorecard.Scorecard.to_dict()`, one row per model."""
        ...

    def load_scorecard(self) -> dict[str, Any]: ...

    # ---- the records
    def record_decision(self, *, symbol: str, ts: float, price: float,
                        votes: Sequence[ModelVote], result: VoteResult, executed: bool,
                        note: str, input_data: dict[str, Any], source: str = "auto",
                        trades: Sequence[Trade] = (), state: EngineState | None = None,
                        prices: Mapping[str, float] | None = None) -> int:
        """The decision's id."""
        ...

    def record_events(self, events: Iterable[MarketEvent]) -> None: ...

    def recent_decisions(self, limit: int | None = None) -> list[DecisionRecorded]:
        """Without their trades (`recent_trades` has them)."""
        ...

    def recent_trades(self, limit: int | None = None) -> list[Trade]: ...

    def recent_events(self, limit: int | None = None,
                      since_ts: float | None = None) -> list[MarketEvent]: ...

    def equity_curve(self, limit: int = 2000) -> list[tuple[float, float]]:
        """(ts, equity) of the snapshots, oldest first."""
        ...

    def max_drawdown_pct(self, initial_capital: float | None = None,
                         current_equity: float | None = None) -> float: ...

    def usage_totals(self, since_ts: float | None = None) -> tuple[int, float]:
        """Model tokens and cost (USD) over the decisions (since a time, or ever)."""
        ...

"""The one interface a front end talks to an engine through (SPEC §11, §13).

The cockpit uses nothing else: the in-process runtime implements it (runtime.link.LocalLink)
and so does the API client of `autotrade-tui attach` (api.client), so the cockpit never knows
whether its engine is in this process or behind a socket."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from autotrade_tui.core.account import AccountView
from autotrade_tui.core.models import Candle, MarketEvent, Trade
from autotrade_tui.core.preview import OrderPreview
from autotrade_tui.runtime.updates import DecisionRecorded, Status, Update


@dataclass(frozen=True, slots=True)
class History:
    """What the engine's database already holds when a front end opens (newest first)."""

    decisions: list[DecisionRecorded]
    trades: list[Trade]
    events: list[MarketEvent]
    equity: list[tuple[float, float]]  # (ts, equity), oldest first


class EngineLink(Protocol):
    """An engine as a front end sees it: its state now, its updates as they happen, the
    history behind them, and the user's commands (each goes through the engine's own path:
    confirmed by the front end first, refused by the engine with `core.engine.Rejected`)."""

    @property
    def symbols(self) -> Sequence[str]: ...

    @property
    def where(self) -> str:
        """"" for an engine in this process; what it is attached to otherwise (the header
        shows it)."""
        ...

    @property
    def fatal(self) -> BaseException | None:
        """Why the engine stopped for good (its database taken or lost), else None."""
        ...

    @property
    def trading_off(self) -> bool:
        """Automatic trading is off: paused by the user or halted by the drawdown guard."""
        ...

    def now(self) -> float:
        """The engine's clock (virtual in a sim at speed)."""
        ...

    def status(self) -> Status: ...

    def account(self) -> AccountView:
        """The account now, with the scorecard (`.to_dict()`: `report --json`'s keys)."""
        ...

    def subscribe(self, callback: Callable[[Update], None]) -> Callable[[], None]:
        """Every update from now on, in order; returns the unsubscribe call."""
        ...

    async def run(self) -> None:
        """Until `stop()`: the engine's loops (in process) or the connection (attached)."""
        ...

    def stop(self) -> None: ...

    async def close(self) -> None:
        """Release everything (an attached viewer detaches: the engine keeps trading)."""
        ...

    async def history(self, limit: int = 200) -> History: ...

    async def candles(self, symbol: str, timeframe: str, limit: int) -> list[Candle]: ...

    async def preview(self, kind: str, symbol: str) -> OrderPreview:
        """What a manual order would do now (core.preview); raises NothingToDo."""
        ...

    async def order(self, kind: str, symbol: str) -> str:
        """Execute a confirmed manual order (long | short | close | close_all); returns what
        was done, raises Rejected with the engine's reason."""
        ...

    async def toggle_pause(self) -> None: ...

    async def decide_now(self, symbol: str) -> DecisionRecorded | None: ...

"""The in-process engine as a front end sees it (runtime.interface.EngineLink): the cockpit
on an engine of its own, and the API server of every engine, talk to the Runtime through
this and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from autotrade_tui.core.account import AccountView
from autotrade_tui.core.models import Candle, Side
from autotrade_tui.core.preview import KINDS, NothingToDo, OrderPreview, preview
from autotrade_tui.runtime.history import load_history
from autotrade_tui.runtime.interface import History
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.runtime.updates import DecisionRecorded, Status, Update

if TYPE_CHECKING:
    from autotrade_tui.config import Settings


class Service(Protocol):
    """What lives and dies with an engine (the notifier, the API server)."""

    async def close(self) -> None: ...


class LocalLink:
    """`runtime` and the services that live and die with it (`extras`: the notifier, the
    API server, added by services.open_engine), each with an async `close()`."""

    def __init__(self, runtime: Runtime, extras: Sequence[Service] = ()) -> None:
        self.runtime, self.extras = runtime, list(extras)

    @classmethod
    async def open(cls, settings: Settings, **parts: Any) -> LocalLink:
        """`Runtime.open(settings, **parts)`, nothing more: the services every engine runs
        (alerts, the API) are wired in by `autotrade_tui.services.open_engine`."""
        return cls(await Runtime.open(settings, **parts))

    @property
    def symbols(self) -> Sequence[str]:
        return self.runtime.symbols

    @property
    def where(self) -> str:
        return ""

    @property
    def fatal(self) -> BaseException | None:
        return self.runtime.fatal

    @property
    def trading_off(self) -> bool:
        return self.runtime.trading_off

    def now(self) -> float:
        return self.runtime.clock.now()

    def status(self) -> Status:
        return self.runtime.status()

    def account(self) -> AccountView:
        return self.runtime.account_view()

    def subscribe(self, callback: Callable[[Update], None]) -> Callable[[], None]:
        return self.runtime.subscribe(callback)

    async def run(self) -> None:
        await self.runtime.run()

    def stop(self) -> None:
        self.runtime.stop()

    async def close(self) -> None:
        await self.runtime.close()
        await self.close_extras()

    async def close_extras(self) -> None:
        """After the runtime's close: a "stopped" alert still gets its few seconds."""
        extras, self.extras = self.extras, []
        for extra in reversed(extras):
            await extra.close()

    async def history(self, limit: int = 200) -> History:
        return await asyncio.to_thread(load_history, self.runtime.store, limit)

    async def candles(self, symbol: str, timeframe: str, limit: int) -> list[Candle]:
        return list(await self.runtime.feed.fetch_ohlcv(symbol, timeframe, limit))

    async def preview(self, kind: str, symbol: str) -> OrderPreview:
        return preview(self.runtime.engine, kind, symbol, self.runtime.prices())

    async def order(self, kind: str, symbol: str) -> str:
        rt = self.runtime
        if kind in ("long", "short"):
            return await rt.manual_open(symbol, Side.LONG if kind == "long" else Side.SHORT)
        if kind == "close":
            return await rt.manual_close(symbol)
        if kind == "close_all":
            return await rt.manual_close_all()
        raise NothingToDo(f"unknown order kind {kind!r} (one of {', '.join(KINDS)})")

    async def toggle_pause(self) -> None:
        await self.runtime.toggle_pause()

    async def decide_now(self, symbol: str) -> DecisionRecorded | None:
        return await self.runtime.decide_now(symbol)

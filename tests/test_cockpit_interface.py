"""The cockpit needs nothing of its engine but runtime.interface.EngineLink (issue 19, SPEC
§13): here it runs against a small fake that implements only that Protocol (a pure engine
from core for the figures, no runtime, feed, store or API), and shows, previews, confirms,
orders, pauses and decides through it alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autotrade_tui.config import defaults
from autotrade_tui.core.account import AccountView
from autotrade_tui.core.engine import EngineConfig, Rejected, TradingEngine
from autotrade_tui.core.models import (
    Action,
    Candle,
    ModelVote,
    Side,
    TradeSource,
    VoteResult,
)
from autotrade_tui.core.preview import OrderPreview, preview
from autotrade_tui.runtime.interface import EngineLink, History
from autotrade_tui.runtime.updates import (
    AccountUpdated,
    DecisionRecorded,
    Status,
    StatusChanged,
    TradeExecuted,
    Update,
)
from autotrade_tui.tui.app import AutotradeApp
from autotrade_tui.tui.screens.confirm import ConfirmScreen
from autotrade_tui.tui.widgets.decision_list import DecisionList
from tests.tui_fixtures import NARROW, screen_text, wait_for

NOW = 1_750_000_000.0
MARKS = {"BTC/USDT": 80_000.0, "ETH/USDT": 3_000.0}


class FakeLink:
    """EngineLink and nothing more: the figures of a pure engine, updates on demand."""

    def __init__(self) -> None:
        self.engine = TradingEngine(EngineConfig(position_size_percent=2.0))
        self.paused = False
        self.calls: list[tuple[str, ...]] = []
        self._subscribers: list[Callable[[Update], None]] = []
        self._stop = asyncio.Event()

    symbols: Sequence[str] = tuple(MARKS)
    where = "ATTACHED fake:engine"
    fatal = None

    @property
    def trading_off(self) -> bool:
        return self.paused

    def now(self) -> float:
        return NOW

    def status(self) -> Status:
        return Status("SIM", "", ("fake/one", "fake/two"), True, self.paused, "", NOW + 300,
                      NOW, NOW, link=self.where)

    def account(self) -> AccountView:
        return AccountView.of(self.engine, MARKS)

    def subscribe(self, callback: Callable[[Update], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def publish(self, update: Update) -> None:
        for cb in list(self._subscribers):
            cb(update)

    async def run(self) -> None:
        await self._stop.wait()

    def stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        self.calls.append(("close",))

    async def history(self, limit: int = 200) -> History:
        return History([decision("ETH/USDT", Action.HOLD)], [], [], [(NOW - 60, 100_000.0)])

    async def candles(self, symbol: str, timeframe: str, limit: int) -> list[Candle]:
        p = MARKS[symbol]
        return [Candle(NOW - 300 * (limit - i), p, p * 1.001, p * 0.999, p, 1.0)
                for i in range(limit)]

    async def preview(self, kind: str, symbol: str) -> OrderPreview:
        self.calls.append(("preview", kind, symbol))
        return preview(self.engine, kind, symbol, MARKS)

    async def order(self, kind: str, symbol: str) -> str:
        self.calls.append(("order", kind, symbol))
        if kind not in ("long", "short"):
            raise Rejected("the fake only opens")
        side = Side.LONG if kind == "long" else Side.SHORT
        action = Action.BUY if side is Side.LONG else Action.SELL
        ex = self.engine.execute(action, symbol, MARKS[symbol], NOW, TradeSource.MANUAL)
        for t in ex.trades:
            self.publish(TradeExecuted(t))
        self.publish(AccountUpdated(self.account()))
        return f"{kind} {symbol}"

    async def toggle_pause(self) -> None:
        self.paused = not self.paused
        self.publish(StatusChanged(self.status()))

    async def decide_now(self, symbol: str) -> DecisionRecorded | None:
        self.calls.append(("decide", symbol))
        rec = decision(symbol, Action.HOLD)
        self.publish(rec)
        return rec


def decision(symbol: str, action: Action) -> DecisionRecorded:
    votes = (ModelVote("fake/one", action, 0.4, "flat"), ModelVote("fake/two", action, 0.4, ""))
    return DecisionRecorded(1, NOW, symbol, MARKS[symbol], votes,
                            VoteResult(action, 0.4, "both HOLD", 0.6), False, "HOLD", "manual")


def test_the_fake_is_an_engine_link() -> None:
    link: EngineLink = FakeLink()  # mypy checks the Protocol; the test that it is complete
    assert {n for n in dir(EngineLink) if not n.startswith("_")} <= set(dir(link))


async def test_the_cockpit_runs_on_the_interface_alone(tmp_path: Path) -> None:
    fake = FakeLink()

    async def factory(_settings: Any) -> FakeLink:
        return fake

    app = AutotradeApp(defaults(database_url=str(tmp_path / "unused.db")),
                       runtime_factory=factory)
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(pilot, lambda: "ATTACHED fake:engine" in screen_text(app), "the header")
        assert "AUTO ON" in screen_text(app) and "100,000.00" in screen_text(app)
        await wait_for(pilot, lambda: any(d.decisions for d in app.cockpit.query(DecisionList)),
                       "the history's decision")
        # b: the preview the link gave, confirmed, then the order through the link
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the dialog")
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.text.startswith("Open LONG BTC/USDT at ~80,000.00 with 2 % of free")
        await pilot.press("y")
        await wait_for(pilot, lambda: ("order", "long", "BTC/USDT") in fake.calls, "the order")
        await wait_for(pilot, lambda: "BTC/USDT LONG" in " ".join(screen_text(app).split()),
                       "the position row")
        # x on ETH (no position): the link's NothingToDo, said, nothing asked
        await pilot.press("2", "x")
        await wait_for(pilot, lambda: any("no open position on ETH/USDT" in n.message
                                          for n in app._notifications), "the warning")
        assert not isinstance(app.screen, ConfirmScreen)
        # p: paused through the link, shown from its status
        await pilot.press("p")
        await wait_for(pilot, lambda: "AUTO PAUSED" in screen_text(app), "AUTO PAUSED")
        # d: asks, then decides through the link
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "decide's dialog")
        await pilot.press("y")
        await wait_for(pilot, lambda: ("decide", "ETH/USDT") in fake.calls, "the decision")
        await pilot.press("q")
        await wait_for(pilot, lambda: app._exit, "the exit")
    assert fake.calls[-1] == ("close",) and app.return_code == 0

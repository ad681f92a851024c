"""The user's commands to the runtime (the cockpit's keys, any front end through
runtime.link): manual orders, pause/resume, a decision now. Each goes through the engine's
own path and `engine_change`, like the automatic ones."""

from __future__ import annotations

from autotrade_tui.core.engine import Rejected
from autotrade_tui.core.models import Action, Side, TradeSource
from autotrade_tui.runtime.ticks import Ticks
from autotrade_tui.runtime.updates import DecisionRecorded, Notice, StatusChanged


class Commands(Ticks):
    async def manual_open(self, symbol: str, side: Side) -> str:
        """`b`/`s`: open or add; an opposite position is closed first (like BUY/SELL)."""
        price = self._fresh_price(symbol)
        action = Action.BUY if side is Side.LONG else Action.SELL
        async with self.engine_change() as change:
            now = self.clock.now()
            ex = self.engine.execute(action, symbol, price, now, TradeSource.MANUAL,
                                     f"manual {side.value.lower()}")
            await change.save(ex.trades, prices={symbol: price}, ts=now)
        self._publish_account()
        if ex.rejected:
            raise Rejected(ex.rejected)
        return "; ".join(f"{t.order_type.value} {t.side.value} {symbol} {t.amount:.6g} @ "
                         f"{t.price:,.2f}" for t in ex.trades)

    async def manual_close(self, symbol: str) -> str:
        price = self._fresh_price(symbol)
        async with self.engine_change() as change:
            now = self.clock.now()
            t = self.engine.close(symbol, price, now, TradeSource.MANUAL, "manual close")
            await change.save([t], prices={symbol: price}, ts=now)
        self._publish_account()
        return f"closed {t.side.value} {symbol} @ {t.price:,.2f}: P&L {t.pnl - t.fee:+,.2f}"

    async def manual_close_all(self) -> str:
        if not self.engine.positions:
            raise Rejected("no open positions")
        for sym in self.engine.positions:
            self._fresh_price(sym)
        async with self.engine_change() as change:
            now, prices = self.clock.now(), self.prices()
            trades = self.engine.close_all(prices, now, TradeSource.MANUAL, "manual close all")
            await change.save(trades, prices=prices, ts=now)
        self._publish_account()
        return f"closed {len(trades)} position(s): P&L {sum(t.pnl - t.fee for t in trades):+,.2f}"

    async def toggle_pause(self) -> None:
        """Pause, or resume (a drawdown halt included: resuming clears it)."""
        await self.set_paused(not self.trading_off)

    async def set_paused(self, paused: bool) -> None:
        async with self.engine_change() as change:
            if not paused and self.engine.ledger.halted_reason:
                self.engine.resume()
            self.paused = paused
            # if the write fails, the change puts the engine and the flag back
            await change.write(lambda state: self.store.save_state(state, paused=paused))
        self.publish(Notice("info", "automatic trading paused" if paused
                            else "automatic trading resumed"))
        self.publish(StatusChanged(self.status()))

    async def decide_now(self, symbol: str) -> DecisionRecorded | None:
        recs = await self.decision_cycle([symbol], TradeSource.MANUAL)
        return recs[0] if recs else None

    def _fresh_price(self, symbol: str) -> float:
        t = self.tickers.get(symbol)
        if t is None or self._is_stale(symbol, self.clock.now()):
            raise Rejected(f"no fresh price for {symbol}: not trading on stale data")
        return t.last

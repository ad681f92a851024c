"""A restarted sim goes on where its account stopped (SPEC §5.2 Restarts, issue 21 point 2): its
clock never goes behind the newest record in the database, and its prices continue from the
last marks, so a restart is never a jump in equity without a trade."""

from __future__ import annotations

import time
from pathlib import Path

from autotrade_tui.config import defaults
from autotrade_tui.core.clock import ScaledClock, VirtualClock
from autotrade_tui.core.models import Side
from autotrade_tui.market.sim import SimMarket
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.store.store import Store

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


async def test_a_restarted_sim_goes_on_from_its_newest_record_and_last_marks(
        tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    settings = defaults(market_source="sim", symbols=SYMBOLS, database_url=str(db), speed=60.0,
                        offline_models=True)
    # A first run at --speed 60 got three hours ahead of the wall clock.
    ahead = time.time() + 3 * 3600
    clock = VirtualClock(ahead)
    first = await Runtime.open(settings, clock=clock, feed=SimMarket(SYMBOLS, clock, 42),
                               store=Store(db, writer=True))
    await first.monitor_tick()
    await first.manual_open("BTC/USDT", Side.LONG)
    await first.manual_open("SOL/USDT", Side.SHORT)
    clock.advance(4 * 3600)  # four hours of prices moving away from where they opened
    await first.monitor_tick()
    marks, equity = first.prices(), first.engine.equity(first.prices())
    await first.close()

    # The restart builds its own clock and sim from the settings, as the command line does.
    again = await Runtime.open(settings)
    try:
        assert isinstance(again.clock, ScaledClock)
        assert again.clock.now() >= ahead + 4 * 3600  # not the wall clock, seven hours earlier
        await again.monitor_tick()
        for symbol, last in marks.items():
            assert abs(again.prices()[symbol] / last - 1) < 0.003, symbol  # seconds of drift
        # 60,000 of open notional: a new price path would move equity by thousands
        assert abs(again.engine.equity(again.prices()) - equity) < 120
    finally:
        await again.close()

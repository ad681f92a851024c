"""Trades through the engine and the store in a loop until killed (used by test_crash.py).

Every step is a deterministic function of the engine state, so the test can tell exactly
which state must be on disk after a kill: the last one printed, or the one after it.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from autotrade_tui.core.engine import EngineConfig, EngineState, TradingEngine
from autotrade_tui.core.models import Action, Trade
from autotrade_tui.store.store import Store

SYMBOLS = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0, "SOL/USDT": 150.0}
# 5x: a ±7 % price never liquidates, so the account never runs dry and every step trades.
CONFIG = EngineConfig(leverage=5, position_size_percent=20, max_positions=3)
TS = 1_700_000_000.0


def digest(state: EngineState) -> dict[str, Any]:
    lg = state.ledger
    return {
        "ledger": [lg.initial_capital, lg.capital, lg.realized_pnl, lg.total_fees,
                   lg.total_trades, lg.winning_trades, lg.losing_trades, lg.liquidations],
        "positions": {s: [p.side.value, [[e.price, e.quantity, e.margin, e.fee]
                                         for e in p.entries]]
                      for s, p in sorted(state.positions.items())},
    }


def step(engine: TradingEngine) -> list[Trade]:
    """The next fills: a function of the state alone (tries again until something happens)."""
    lg = engine.ledger
    for attempt in range(1000):
        rng = random.Random(repr((lg.capital, lg.total_fees, len(engine.positions), attempt)))
        sym = rng.choice(sorted(SYMBOLS))
        price = SYMBOLS[sym] * rng.uniform(0.93, 1.07)
        r = rng.random()
        if r < 0.6:
            trades = engine.execute(rng.choice([Action.BUY, Action.SELL]), sym, price, TS).trades
        elif r < 0.8 and sym in engine.positions:
            trades = [engine.close(sym, price, TS)]
        else:
            trades = engine.mark({sym: price}, TS)
        if trades:
            return trades
    raise RuntimeError("no step makes progress")


def main(db: str) -> None:
    """`db`: an SQLite path or a postgresql:// URL."""
    with Store(db, writer=True) as store:
        loaded = store.load_state()
        engine = TradingEngine(CONFIG, loaded[0] if loaded else None)
        if loaded is None:
            store.save_state(engine.state)
        while True:
            store.record_trades(step(engine), engine.state)
            print(json.dumps(digest(engine.state)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

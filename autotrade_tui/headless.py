"""`autotrade-tui --headless`: the runtime with no UI, one log line per decision, trade,
liquidation and event; SIGINT/SIGTERM stop it cleanly (for systemd and tmux)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from autotrade_tui.core.models import OrderType
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.runtime.updates import (
    DecisionRecorded,
    EventRaised,
    Notice,
    TradeExecuted,
    Update,
)


class LogLines:
    """Formats updates as single readable lines, timestamped with the runtime's clock."""

    def __init__(self, runtime: Runtime, out: TextIO = sys.stdout) -> None:
        self.runtime, self.out = runtime, out

    def __call__(self, update: Update) -> None:
        line = self.format(update)
        if line:
            stamp = datetime.fromtimestamp(self.runtime.clock.now(), UTC).strftime("%H:%M:%S")
            print(f"{stamp} {line}", file=self.out, flush=True)

    @staticmethod
    def format(u: Update) -> str | None:
        if isinstance(u, DecisionRecorded):
            v1, v2 = u.votes
            return (f"DECISION {u.symbol} @ {u.price:,.2f}  {_vote(v1)} | {_vote(v2)}  → "
                    f"{u.result.decision.value} {u.result.confidence:.2f}  "
                    f"[{u.source}] {u.note}")
        if isinstance(u, TradeExecuted):
            t = u.trade
            kind = "LIQUIDATION" if t.order_type is OrderType.LIQUIDATION else "TRADE"
            pnl = f"  pnl {t.pnl:+,.2f}" if t.order_type in (OrderType.CLOSE,
                                                             OrderType.LIQUIDATION) else ""
            return (f"{kind} {t.order_type.value} {t.side.value} {t.symbol} {t.amount:.6g} @ "
                    f"{t.price:,.2f}  margin {t.margin:,.2f}  fee {t.fee:,.2f}{pnl}  "
                    f"[{t.source.value}]")
        if isinstance(u, EventRaised):
            e = u.event
            return f"EVENT {e.severity.value} {e.event_type.value} {e.symbol}: {e.description}"
        if isinstance(u, Notice):
            return f"{u.level.upper()} {u.text}"
        return None


def _vote(v: Any) -> str:
    if not v.ok:
        return f"{v.model}: ERROR ({v.error})"
    return f"{v.model}: {v.decision.value} {v.confidence:.2f}"


async def _main(settings: Any) -> int:
    runtime = await Runtime.open(settings)
    runtime.subscribe(LogLines(runtime))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.stop)
    try:
        await runtime.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        acc = runtime.account()
        await runtime.close()
        print(f"stopped: equity {acc['equity']:,.2f} USDT, {len(acc['positions'])} open "
              f"position(s); state saved", flush=True)
    if runtime.fatal is not None:
        print(f"autotrade-tui: {runtime.fatal}", file=sys.stderr)
        return 3
    return 0


def run_headless(settings: Any) -> int:
    logging.basicConfig(level=getattr(logging, settings.log_level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_main(settings))

"""`autotrade-tui --headless`: the runtime with no UI, one log line per decision, trade,
liquidation, event and warning on stdout; SIGINT/SIGTERM stop it cleanly (for systemd and
tmux), and so does the reader of stdout going away (`| head`)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from autotrade_tui.core.clock import Clock
from autotrade_tui.core.models import OrderType
from autotrade_tui.core.text import clean
from autotrade_tui.errors import EngineLockedError
from autotrade_tui.market.factory import check_settings
from autotrade_tui.runtime.trader import Runtime, make_clock
from autotrade_tui.runtime.updates import (
    DecisionRecorded,
    EventRaised,
    Notice,
    TradeExecuted,
    Update,
)
from autotrade_tui.services import open_engine
from autotrade_tui.stdio import detach_stdout
from autotrade_tui.tui.format import money

if TYPE_CHECKING:
    from autotrade_tui.config import Settings


class LogLines:
    """Formats updates as single readable lines, timestamped with the runtime's clock.

    When the reader of `out` has gone (BrokenPipeError), the rest of stdout goes to
    os.devnull, later lines are dropped and `on_closed` asks the runtime to stop."""

    def __init__(self, clock: Clock, out: TextIO | None = None) -> None:
        self.clock, self._out = clock, out
        self.on_closed: Callable[[], None] = lambda: None
        self.closed = False
        self._lock = threading.Lock()  # log records may come from worker threads (store)

    def __call__(self, update: Update) -> None:
        line = self.format(update)
        if line:
            self.write(line)

    def write(self, line: str) -> None:
        """One stamped line; its text is cleaned (core.text): it may quote a server, an
        exchange or a model, and stdout is often a terminal."""
        line = clean(line)
        stamp = datetime.fromtimestamp(self.clock.now(), UTC).strftime("%H:%M:%S")
        with self._lock:
            if self.closed:
                return
            try:
                out = sys.stdout if self._out is None else self._out  # late: may be replaced
                out.write(f"{stamp} {line}\n")
                out.flush()
                return
            except BrokenPipeError:
                self.closed = True
                detach_stdout()
        self.on_closed()  # outside the lock: stopping may log

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
            # P&L after fees, the fee beside it (SPEC §11: one vocabulary on every screen)
            pnl = (f"  P&L {money(t.pnl - t.fee, signed=True)} after fee" if t.order_type in (
                OrderType.CLOSE, OrderType.LIQUIDATION) else "")
            return (f"{kind} {t.order_type.value} {t.side.value} {t.symbol} {t.amount:.6g} @ "
                    f"{t.price:,.2f}  margin {t.margin:,.2f}  fee {t.fee:,.2f}{pnl}  "
                    f"[{t.source.value}]")
        if isinstance(u, EventRaised):
            e = u.event
            return f"EVENT {e.severity.value} {e.event_type.value} {e.symbol}: {e.description}"
        if isinstance(u, Notice):
            return f"{u.level.upper()} {u.text}"
        return None


class LogRecords(logging.Handler):
    """Log records (market fallback, model retries, database reconnects) as headless lines:
    the same stream, stamp and shape as the updates ("12:00:05 WARNING ..."), so a user who
    reads or redirects stdout sees everything in one place (SPEC §2)."""

    def __init__(self, lines: LogLines, level: int) -> None:
        super().__init__(level)
        self.lines = lines
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))

    def filter(self, record: logging.LogRecord) -> bool:
        # Libraries' routine chatter (httpx logs every request at INFO) only at DEBUG.
        return (self.level <= logging.DEBUG or record.levelno >= logging.WARNING
                or record.name.startswith("autotrade_tui"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.write(self.format(record))
        except Exception:
            self.handleError(record)


def _vote(v: Any) -> str:
    if not v.ok:
        return f"{v.model}: ERROR ({v.error})"
    return f"{v.model}: {v.decision.value} {v.confidence:.2f}"


def _say(text: str) -> None:
    try:
        print(text, flush=True)
    except BrokenPipeError:  # the reader left at the very end: the state is saved anyway
        detach_stdout()


def _stop_soon(runtime: Runtime, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """runtime.stop, callable from any thread (a log record may come from a worker)."""

    def stop() -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(runtime.stop)

    return stop


async def _main(settings: Settings, lines: LogLines) -> int:
    link = await open_engine(settings, clock=lines.clock)
    runtime = link.runtime
    loop = asyncio.get_running_loop()
    lines.on_closed = _stop_soon(runtime, loop)
    if lines.closed:  # the reader left while we were starting
        runtime.stop()
    runtime.subscribe(lines)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.stop)
    try:
        await runtime.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        acc = runtime.account_view()
        await runtime.close()
        # "state saved" only when it is: never after "final snapshot not saved"
        saved = f"NOT all saved ({runtime.unsaved})" if runtime.unsaved else "state saved"
        _say(f"stopped: equity {acc.equity:,.2f} USDT, {len(acc.positions)} open "
             f"position(s); {saved}")
        await link.close_extras()  # what is queued (a "stopped" alert) gets a few seconds
    if isinstance(runtime.fatal, EngineLockedError):
        print(f"autotrade-tui: {runtime.fatal}", file=sys.stderr)
        return 3
    if runtime.fatal is not None:  # the database file deleted or replaced under us
        print(f"autotrade-tui: error: {runtime.fatal}", file=sys.stderr)
        return 1
    return 0


def run_headless(settings: Settings) -> int:
    check_settings(settings)  # a bad exchange id: exit 2 before the database is created
    # The clock exists before the runtime so that start-up warnings carry its stamp too.
    lines = LogLines(make_clock(settings))
    handler = LogRecords(lines, getattr(logging, settings.log_level))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(handler.level)
    try:
        return asyncio.run(_main(settings, lines))
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)

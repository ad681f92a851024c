"""What an alert says (SPEC §14): the runtime's updates turned into short, specific messages,
one kind each ("LIQUIDATION BTC/USDT LONG 2.4 @ 79,314: margin 10,000 lost").

`Composer` is pure (no I/O, no clock of its own): it reads the updates in the order the
runtime published them and keeps what some kinds need to remember (whether the drawdown
halt was already on, how many decisions in a row both models failed, the day's figures for
the daily summary). Text from outside (model errors, exchange errors, the reasons the engine
quotes) passes `core.text.one_line` before it enters a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from autotrade_tui.core.account import AccountView
from autotrade_tui.core.models import MarketEvent, ModelVote, OrderType, Severity, Trade
from autotrade_tui.core.text import one_line
from autotrade_tui.runtime.updates import (
    AccountUpdated,
    DecisionRecorded,
    EventRaised,
    Notice,
    TradeExecuted,
    Update,
)
from autotrade_tui.tui.format import money, pct, price, qty

MODEL_ERROR_STREAK = 3  # decisions in a row both models failed before `model_errors` fires
WHY_LIMIT = 160  # characters of a quoted reason in one message
# Most urgent first: what a coalesced "+N more" message lists when it cannot list all.
PRIORITY = ("halt", "liquidation", "critical_event", "model_errors", "trade", "high_event",
            "daily_summary", "decision", "test")


@dataclass(frozen=True, slots=True)
class Alert:
    """One message: its kind (a `notify_on` word), a one-line title and a short body.
    `level` is Apprise's notification type: info, success, warning or failure."""

    kind: str
    title: str
    body: str = ""
    level: str = "info"

    @property
    def rank(self) -> int:
        return PRIORITY.index(self.kind) if self.kind in PRIORITY else len(PRIORITY)


def _why(text: str) -> str:
    return one_line(text, WHY_LIMIT)


def trade_alert(t: Trade) -> Alert:
    """A fill; a liquidation is its own kind. P&L is after fees (pnl − fee), as everywhere."""
    net = money(t.pnl - t.fee, signed=True)
    size = f"{t.symbol} {t.side.value} {qty(t.amount)} @ {price(t.price)}"
    if t.order_type is OrderType.LIQUIDATION:
        return Alert("liquidation", f"LIQUIDATION {size}: margin {money(t.margin)} lost",
                     f"P&L {net} after fees (fee {money(t.fee)}), leverage {t.leverage:.0f}x"
                     + (f" — {_why(t.reason)}" if t.reason else ""), "failure")
    title = f"{t.order_type.value} {size}"
    if t.order_type is OrderType.CLOSE:
        title += f": P&L {net} after fees"
    body = (f"P&L {net} after fees (fee {money(t.fee)}), margin {money(t.margin)}, "
            f"leverage {t.leverage:.0f}x, source {t.source.value}")
    if t.reason:
        body += f" — why: {_why(t.reason)}"
    good = t.order_type is not OrderType.CLOSE or t.pnl - t.fee >= 0
    return Alert("trade", title, body, "success" if good else "warning")


def event_alert(e: MarketEvent) -> Alert | None:
    """A CRITICAL event is `critical_event`, a HIGH one `high_event`; MEDIUM ones never."""
    kind = {Severity.CRITICAL: "critical_event", Severity.HIGH: "high_event"}.get(e.severity)
    if kind is None:
        return None
    return Alert(kind, f"{e.severity.value} {e.event_type.value} {e.symbol}: "
                       f"{_why(e.description)}",
                 f"suggested: {_why(e.suggested_action)}" if e.suggested_action else "",
                 "failure" if e.severity is Severity.CRITICAL else "warning")


def decision_alert(d: DecisionRecorded) -> Alert:
    r = d.result
    done = "executed" if d.executed else "not executed"
    return Alert("decision", f"DECISION {d.symbol} {r.decision.value} {r.confidence:.2f} @ "
                             f"{price(d.price)}: {done}",
                 f"{_vote(d.votes[0])} | {_vote(d.votes[1])} — {_why(d.note)} [{d.source}]")


def _vote(v: ModelVote) -> str:
    if not v.ok:
        return f"{_why(v.model)}: error ({_why(v.error or 'no answer')})"
    return f"{_why(v.model)}: {v.decision.value if v.decision else '?'} {v.confidence:.2f}"


def _both_failed(d: DecisionRecorded) -> bool:
    return not d.votes[0].ok and not d.votes[1].ok


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


@dataclass(slots=True)
class DayFigures:
    """What the daily summary adds up since the last one (or since the start)."""

    since: float
    start_equity: float | None = None
    fills: int = 0
    closes: int = 0
    fees: float = 0.0
    tokens: int = 0
    cost: float = 0.0


class Composer:
    """Updates in, alerts out. `is_stop` tells whether an error Notice means trading stopped
    or waits (the runtime's fatal stop, a storage fault): then it is a `halt`."""

    def __init__(self, start: float, is_stop: Callable[[], bool] = lambda: False) -> None:
        self.is_stop = is_stop
        self.day = DayFigures(start)
        self.equity: float | None = None
        self._halted: str | None = None  # None: not seen yet (a restored halt is not news)
        self._waiting = False  # a "TRADING STOPPED" went out and nothing said it is over
        self._streaks: dict[str, int] = {}
        self._models_alerted = False

    def compose(self, u: Update) -> list[Alert]:
        if isinstance(u, TradeExecuted):
            self._count(u.trade)
            return [trade_alert(u.trade)]
        if isinstance(u, EventRaised):
            alert = event_alert(u.event)
            return [alert] if alert else []
        if isinstance(u, DecisionRecorded):
            return self._decision(u)
        if isinstance(u, AccountUpdated):
            return self._account(u.account)
        if isinstance(u, Notice):
            return self._notice(u)
        return []

    def _notice(self, u: Notice) -> list[Alert]:
        """An error while trading is stopped or waits is a `halt`; the info notice that ends
        a wait (the database works again) says so to whoever was told it stopped."""
        if u.level == "error" and self.is_stop():
            self._waiting = True
            return [Alert("halt", f"TRADING STOPPED: {_why(u.text)}", level="failure")]
        if u.level == "info" and self._waiting and not self.is_stop():
            self._waiting = False
            return [Alert("halt", f"TRADING RESUMED: {_why(u.text)}", level="success")]
        return []

    def _count(self, t: Trade) -> None:
        self.day.fills += 1
        self.day.closes += t.order_type in (OrderType.CLOSE, OrderType.LIQUIDATION)
        self.day.fees += t.fee

    def _decision(self, d: DecisionRecorded) -> list[Alert]:
        self.day.tokens += sum(v.prompt_tokens + v.completion_tokens for v in d.votes)
        self.day.cost += sum(v.cost for v in d.votes)
        out = [decision_alert(d)]
        self._streaks[d.symbol] = self._streaks.get(d.symbol, 0) + 1 if _both_failed(d) else 0
        if not any(self._streaks.values()):
            self._models_alerted = False  # they answer again: the next streak is news
        elif self._streaks[d.symbol] >= MODEL_ERROR_STREAK and not self._models_alerted:
            self._models_alerted = True
            out.append(Alert(
                "model_errors", f"MODEL ERRORS: both models failed {self._streaks[d.symbol]} "
                                f"decisions in a row on {d.symbol}",
                f"{_vote(d.votes[0])} | {_vote(d.votes[1])} — no automatic trades until a "
                "model answers", "failure"))
        return out

    def _account(self, acc: AccountView) -> list[Alert]:
        self.equity = acc.equity
        if self.day.start_equity is None:
            self.day.start_equity = self.equity
        reason = acc.halted_reason
        was, self._halted = self._halted, reason
        if was is None or not reason or reason == was:
            return []
        return [Alert("halt", f"HALT: {_why(reason)}",
                      f"equity {money(self.equity)}, {len(acc.positions)} open "
                      "position(s); resume with p in the cockpit", "failure")]

    def daily(self, now: float) -> Alert:
        """The summary of the day that ended at `now` (00:00 UTC); the next day starts."""
        d, eq = self.day, self.equity
        start = d.start_equity
        change = (f"day's P&L {money(eq - start, signed=True)} after fees "
                  f"({pct((eq / start - 1) * 100 if start else 0.0, signed=True)})"
                  if eq is not None and start is not None else "day's P&L unknown")
        since = "" if now - d.since >= 86_400 - 1 else \
            f" (since {datetime.fromtimestamp(d.since, UTC):%H:%M} UTC)"
        alert = Alert("daily_summary", f"DAILY {_day(now - 1)}: equity "
                                       f"{money(eq) if eq is not None else '—'}, {change}",
                      f"{d.fills} fill(s), {d.closes} closed, fees {money(d.fees)}, model "
                      f"tokens {d.tokens:,}, model cost {d.cost:,.4f} USD{since}")
        self.day = DayFigures(now, eq)
        return alert

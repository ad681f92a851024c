"""Alerts through Apprise (SPEC §14), against a real loopback webhook server receiving
Apprise's `json://` posts (no mock of Apprise): what each kind says, the rate limit and its
"+N more" message, failure reports once per service per 10 minutes, a hanging service,
bounded queues, and URLs never shown."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from autotrade_tui.core.models import (
    Action,
    EventType,
    MarketEvent,
    ModelVote,
    OrderType,
    Severity,
    Side,
    Trade,
    TradeSource,
    VoteResult,
)
from autotrade_tui.notify.delivery import Delivery, _Held
from autotrade_tui.notify.messages import Alert, Composer, trade_alert
from autotrade_tui.notify.urls import label, masked, scrub, why_bad
from autotrade_tui.runtime.updates import (
    AccountUpdated,
    DecisionRecorded,
    EventRaised,
    Notice,
    TradeExecuted,
)
from tests.account_fixtures import view

HANG_S = 30.0  # how long /hang sleeps (released at teardown)


@dataclass
class Post:
    path: str
    body: dict[str, Any]


class Webhook:
    """A loopback HTTP server: POST /ok/... answers 200, /fail/... 500, /hang/... sleeps 30 s
    (until `release`), anything is recorded. Runs in its own threads: a hanging answer never
    touches the test's event loop."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.cond = threading.Condition()
        self.released = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                with hook.cond:
                    hook.posts.append(Post(self.path, json.loads(raw or b"{}")))
                    hook.cond.notify_all()
                if self.path.startswith("/hang"):
                    hook.released.wait(HANG_S)
                status = 500 if self.path.startswith("/fail") else 200
                try:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:  # the client gave up first
                    pass

            def log_message(self, *_args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def wait(self, n: int, path: str = "", timeout: float = 10.0) -> list[Post]:
        """Block until `n` posts to paths starting with `/path` arrived; they."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(got := [p for p in self.posts if p.path.startswith("/" + path)]) < n:
                left = deadline - time.monotonic()
                assert left > 0, f"only {len(got)} of {n} posts to /{path} arrived"
                self.cond.wait(left)
            return got

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    server = Webhook()
    yield server
    server.close()


async def await_posts(hook: Webhook, n: int, path: str = "") -> list[Post]:
    """`hook.wait` off the loop (the senders run on it)."""
    return await asyncio.to_thread(hook.wait, n, path)


def trade(order: OrderType = OrderType.CLOSE, pnl: float = 120.0, fee: float = 8.5,
          source: TradeSource = TradeSource.AUTO, reason: str = "both BUY") -> Trade:
    return Trade(1_750_000_000.0, "BTC/USDT", order, Side.LONG, 2.4, 79_314.0, pnl, fee,
                 10_000.0, 20.0, source, reason)


def decision(symbol: str = "BTC/USDT", failed: bool = False, tokens: int = 0,
             cost: float = 0.0) -> DecisionRecorded:
    def vote(name: str) -> ModelVote:
        if failed:
            return ModelVote(name, None, error="HTTP 401: bad key\x1b[2J")
        return ModelVote(name, Action.BUY, 0.8, "up", prompt_tokens=tokens, cost=cost)

    return DecisionRecorded(1, 1_750_000_000.0, symbol, 79_314.0, (vote("m1"), vote("m2")),
                            VoteResult(Action.HOLD if failed else Action.BUY, 0.8, "both BUY",
                                       0.6), not failed, "executed: OPEN LONG", "auto")


# ---------------------------------------------------------------- what each kind says
def test_liquidation_says_what_size_price_margin_and_pnl_after_fees() -> None:
    t = Trade(1.0, "BTC/USDT", OrderType.LIQUIDATION, Side.LONG, 2.4, 79_314.0, -10_000.0,
              0.0, 10_000.0, 20.0, TradeSource.LIQUIDATION, "liquidated at 79,314.00")
    a = trade_alert(t)
    assert a.kind == "liquidation"
    assert a.title == "LIQUIDATION BTC/USDT LONG 2.4 @ 79,314.00: margin 10,000.00 lost"
    assert "P&L −10,000.00 after fees (fee 0.00)" in a.body
    assert a.level == "failure"


def test_trade_close_carries_pnl_after_fees_and_why() -> None:
    a = trade_alert(trade(pnl=120.0, fee=8.5, source=TradeSource.GUARD,
                          reason="stop-loss\nhit"))
    assert a.kind == "trade"
    assert a.title == "CLOSE BTC/USDT LONG 2.4 @ 79,314.00: P&L +111.50 after fees"
    assert "fee 8.50" in a.body and "source guard" in a.body
    assert a.body.endswith("why: stop-loss hit")  # one line
    losing = trade_alert(trade(pnl=-20.0, fee=8.5))
    assert "P&L −28.50 after fees" in losing.title and losing.level == "warning"


def test_open_trade_names_side_size_price_and_its_fee() -> None:
    a = trade_alert(trade(OrderType.OPEN, pnl=0.0, fee=9.52))
    assert a.title == "OPEN BTC/USDT LONG 2.4 @ 79,314.00"
    assert a.body.startswith("P&L −9.52 after fees (fee 9.52), margin 10,000.00")


def test_events_by_severity_and_foreign_text_cleaned() -> None:
    c = Composer(0.0)

    def event(sev: Severity) -> MarketEvent:
        return MarketEvent(1.0, "ETH/USDT", EventType.FLASH_CRASH, sev,
                           "price −6.1 % in 5 min\x1b]52;c;evil\x07", "close longs")

    crit = c.compose(EventRaised(event(Severity.CRITICAL)))
    assert [a.kind for a in crit] == ["critical_event"]
    assert crit[0].title.startswith("CRITICAL FLASH_CRASH ETH/USDT: price −6.1 % in 5 min")
    assert "\x1b" not in crit[0].title and "\x07" not in crit[0].title
    assert crit[0].body == "suggested: close longs"
    assert [a.kind for a in c.compose(EventRaised(event(Severity.HIGH)))] == ["high_event"]
    assert c.compose(EventRaised(event(Severity.MEDIUM))) == []


def test_halt_fires_on_the_drawdown_switch_turning_on_not_on_a_restored_one() -> None:
    c = Composer(0.0)
    acc = view(equity=85_000.0, halted_reason="max drawdown 15.0 % ≥ 15 %")
    assert c.compose(AccountUpdated(acc)) == []  # already halted at start: not news
    c = Composer(0.0)
    assert c.compose(AccountUpdated(replace(acc, halted_reason=""))) == []
    (a,) = c.compose(AccountUpdated(acc))
    assert a.kind == "halt" and a.title == "HALT: max drawdown 15.0 % ≥ 15 %"
    assert "equity 85,000.00" in a.body
    assert c.compose(AccountUpdated(acc)) == []  # said once


def test_error_notice_is_a_halt_only_when_trading_stopped() -> None:
    stopped = [False]
    c = Composer(0.0, lambda: stopped[0])
    assert c.compose(Notice("error", "decision for BTC/USDT failed")) == []
    stopped[0] = True
    (a,) = c.compose(Notice("error", "stopping: database file deleted"))
    assert a.kind == "halt" and a.title == "TRADING STOPPED: stopping: database file deleted"
    assert c.compose(Notice("warning", "stale prices")) == []
    assert c.compose(Notice("info", "market data is back")) == []  # still stopped
    stopped[0] = False  # e.g. a full disk freed: the store's next write worked
    (b,) = c.compose(Notice("info", "the database works again (disk full is over)"))
    assert b.kind == "halt" and b.level == "success"
    assert b.title == "TRADING RESUMED: the database works again (disk full is over)"
    assert c.compose(Notice("info", "automatic trading resumed")) == []  # said once


def test_model_errors_after_three_failed_decisions_in_a_row_once() -> None:
    c = Composer(0.0)
    kinds = [[a.kind for a in c.compose(decision(failed=True))] for _ in range(4)]
    assert kinds == [["decision"], ["decision"], ["decision", "model_errors"], ["decision"]]
    c2 = Composer(0.0)
    for _ in range(2):
        c2.compose(decision(failed=True))
    c2.compose(decision())  # one good answer resets the streak
    assert [a.kind for a in c2.compose(decision(failed=True))] == ["decision"]
    c3 = Composer(0.0)
    alerts = [a for _ in range(3) for a in c3.compose(decision(failed=True))]
    me = alerts[-1]
    assert me.title == "MODEL ERRORS: both models failed 3 decisions in a row on BTC/USDT"
    assert "m1: error (HTTP 401: bad key␛[2J)" in me.body  # the model's error, made inert


def test_daily_summary_adds_up_the_day_then_starts_a_new_one() -> None:
    midnight = 1_750_032_000.0  # 2025-06-16 00:00 UTC
    c = Composer(midnight - 86_400)
    c.compose(AccountUpdated(view(equity=100_000.0)))
    c.compose(TradeExecuted(trade(OrderType.OPEN, pnl=0.0, fee=10.0)))
    c.compose(TradeExecuted(trade(pnl=500.0, fee=12.5)))
    c.compose(decision(tokens=1_000, cost=0.01))
    c.compose(AccountUpdated(view(equity=101_234.5)))
    a = c.daily(midnight)
    assert a.kind == "daily_summary"
    assert a.title == ("DAILY 2025-06-15: equity 101,234.50, day's P&L +1,234.50 after fees "
                       "(+1.23 %)")
    assert a.body == ("2 fill(s), 1 closed, fees 22.50, model tokens 2,000, model cost "
                      "0.0200 USD")
    b = c.daily(midnight + 86_400)  # a quiet day
    assert b.title.endswith("day's P&L +0.00 after fees (+0.00 %)")
    assert b.body.startswith("0 fill(s), 0 closed, fees 0.00")


def test_daily_summary_of_a_day_started_late_says_since_when() -> None:
    midnight = 1_750_032_000.0
    c = Composer(midnight - 3_600)
    c.compose(AccountUpdated(view(equity=100_000.0)))
    assert c.daily(midnight).body.endswith("(since 23:00 UTC)")


# ---------------------------------------------------------------- URLs are secrets
def test_urls_masked_to_their_scheme_and_scrubbed_from_error_texts() -> None:
    url = "tgram://123456:ABCdefSECRET/987654"
    assert masked(url) == "tgram://****" and label(1, url) == "#2 tgram://****"
    assert masked("no-scheme-secret") == "****"
    text = scrub("Failed to send to 987654 with bot 123456:ABCdefSECRET", [url])
    assert "ABCdefSECRET" not in text and "987654" not in text and "123456" not in text


def test_why_bad_never_quotes_the_url() -> None:
    for url in ("bogus://topsecret", "json://", "topsecret"):
        why = why_bad(url)
        assert why and "topsecret" not in why
    assert why_bad("json://127.0.0.1:9/x") is None
    assert why_bad("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12345") is None


# ---------------------------------------------------------------- delivery
class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def test_each_alert_reaches_every_service_as_apprise_json(hook: Webhook) -> None:
    d = Delivery([hook.url("ok/a"), hook.url("ok/b")])
    await d.start()
    try:
        d.post(Alert("trade", "OPEN BTC/USDT LONG 2.4 @ 79,314.00", "P&L −9.52 after fees"))
        a, = await await_posts(hook, 1, "ok/a")
        b, = await await_posts(hook, 1, "ok/b")
    finally:
        await d.close()
    assert a.body["title"] == "OPEN BTC/USDT LONG 2.4 @ 79,314.00"
    assert a.body["message"] == "P&L −9.52 after fees" and a.body["type"] == "info"
    assert b.body == a.body
    assert d.services[0].sent == d.services[1].sent == 1


async def test_burst_over_the_limit_goes_out_as_one_plus_n_more(hook: Webhook) -> None:
    d = Delivery([hook.url("ok")], per_minute=3, window_s=0.5)
    await d.start()
    try:
        for i in range(10):
            d.post(Alert("trade", f"trade {i}"))
        d.post(Alert("liquidation", "LIQUIDATION SOL/USDT", level="failure"))
        posts = await await_posts(hook, 4, "ok")
        await asyncio.sleep(0.8)  # a second window: nothing else was held
    finally:
        await d.close()
    assert [p.body["title"] for p in posts[:3]] == ["trade 0", "trade 1", "trade 2"]
    merged = posts[3].body
    assert merged["title"] == "+8 more alerts (over the rate limit)"
    lines = merged["message"].split("\n")
    assert lines[0] == "LIQUIDATION SOL/USDT"  # the most urgent first
    assert lines[1:5] == ["trade 3", "trade 4", "trade 5", "trade 6"]
    assert lines[5] == "… and 3 more (3 trade)"
    assert merged["type"] == "failure"
    assert len(hook.posts) == 4 and d.coalesced == 8


def test_held_messages_stay_bounded_however_long_the_burst() -> None:
    held = _Held()
    for i in range(100_000):
        held.add(Alert("decision", f"d{i}"))
    assert held.count == 100_000 and len(held.kept) == 5
    assert held.merged().body.endswith("… and 99995 more (99995 decision)")


async def test_failures_reported_once_per_service_per_ten_minutes(hook: Webhook) -> None:
    secret = "fail/TOKEN-abc123"
    said: list[str] = []
    clock = FakeTime()
    d = Delivery([hook.url("ok"), hook.url(secret)], report=said.append, now=clock)
    await d.start()
    try:
        for i in range(3):
            d.post(Alert("trade", f"t{i}"))
        await await_posts(hook, 3, "fail")
        await _until(lambda: d.services[1].failed == 3)
        clock.t += 599
        d.post(Alert("trade", "t3"))
        await _until(lambda: d.services[1].failed == 4)
        assert len(said) == 1
        clock.t += 2  # 10 minutes after the first report
        d.post(Alert("trade", "t4"))
        await _until(lambda: d.services[1].failed == 5)
    finally:
        await d.close()
    assert len(said) == 2 and d.services[0].sent == 5 and d.services[0].failed == 0
    assert said[0].startswith("alerts to #2 json://**** failed: ")
    assert "500" in said[0] or "Internal Server Error" in said[0]
    assert "(3 more failures since the last report)" in said[1]
    for text in said:
        assert "TOKEN" not in text and "abc123" not in text and str(hook.port) not in text


async def test_hanging_service_delays_only_itself_and_is_reported(hook: Webhook) -> None:
    said: list[str] = []
    d = Delivery([hook.url("hang"), hook.url("ok")], timeout_s=0.5, report=said.append)
    await d.start()
    try:
        t0 = time.monotonic()
        d.post(Alert("halt", "HALT one"))
        d.post(Alert("halt", "HALT two"))
        ok = await await_posts(hook, 2, "ok")
        assert time.monotonic() - t0 < 3.0  # the healthy service is not held up
        assert [p.body["title"] for p in ok] == ["HALT one", "HALT two"]
        await _until(lambda: d.services[0].failed >= 1)
        assert said and "#1 json://**** failed: no answer in 0.5 s" in said[0]
    finally:
        t1 = time.monotonic()
        await d.close(grace_s=0.2)
        assert time.monotonic() - t1 < 1.0  # closing never waits for the hanging service


async def test_a_full_service_queue_drops_its_oldest_counts_and_says_it(hook: Webhook) -> None:
    said: list[str] = []
    d = Delivery([hook.url("hang/" + "tok")], per_minute=1000, report=said.append)
    for i in range(60):  # not started: nothing is sent, the queue only fills
        d.post(Alert("decision", f"d{i}"))
    svc = d.services[0]
    assert len(svc.queue) == 50 and svc.dropped == 10 and svc.queue[0].title == "d10"
    assert said == ["alerts to #1 json://****: 1 dropped so far, its queue of 50 is full (the "
                    "service is slower than the alerts)"]  # once: then quiet for 10 minutes
    await d.close(grace_s=0.0)


async def _until(cond: Any) -> None:
    deadline = time.monotonic() + 10.0
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)

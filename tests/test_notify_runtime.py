"""The notifier beside a real runtime (sim market, virtual clock, SQLite store) posting to a
loopback `json://` webhook: trades and their P&L, a liquidation, a critical event and the
drawdown halt, model errors, a fatal stop, the daily
summary at 00:00 UTC on the runtime's clock, a hanging service that never moves the event
tick, and the URLs' tokens nowhere (notices, logs, database); `notify test` on the CLI."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from autotrade_tui import cli
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.core.models import OrderType, Side, Trade
from autotrade_tui.notify.service import Notifier, attach, next_midnight
from autotrade_tui.notify.urls import KINDS
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.runtime.updates import Notice, TradeExecuted, Update
from autotrade_tui.tui.format import money, price, qty
from tests.runtime_fixtures import START, ScriptedModel, make_runtime
from tests.test_notify import Webhook, await_posts, hook  # noqa: F401 - the fixture

TOKEN = "TOKEN-s3cr3t-abcdef"


Wired = tuple[Runtime, Notifier]


@pytest.fixture
async def wire(tmp_path: Path, hook: Webhook  # noqa: F811 - the fixture
               ) -> AsyncIterator[Callable[..., Awaitable[Wired]]]:
    """`await wire(paths=[...], on=[...], models=...)`: a runtime posting to `hook` through
    a notifier; both closed at teardown."""
    made: list[Wired] = []

    async def build(paths: tuple[str, ...] = ("ok/" + TOKEN,),
                    on: tuple[str, ...] = ("trade", "liquidation", "halt"),
                    models: Any = None, **overrides: Any) -> Wired:
        rt = await make_runtime(tmp_path, notify_urls=[hook.url(p) for p in paths],
                                notify_on=list(on), models=models, **overrides)
        made.append((rt, attach(rt)))
        return made[-1]

    yield build
    for rt, notifier in made:
        await notifier.close(grace_s=0.0)
        await rt.close()


def titles(posts: list[Any]) -> list[str]:
    return [p.body["title"] for p in posts]


async def test_manual_trades_arrive_with_size_price_and_pnl_after_fees(
        wire: Any, hook: Webhook) -> None:  # noqa: F811
    rt, _ = await wire()
    await rt.monitor_tick()
    await rt.manual_open("BTC/USDT", Side.LONG)
    opened, = await await_posts(hook, 1)
    assert opened.body["title"].startswith("OPEN BTC/USDT LONG ")
    assert "after fees (fee " in opened.body["message"] and "source manual" in \
        opened.body["message"]
    await rt.manual_close("BTC/USDT")
    _, closed = await await_posts(hook, 2)
    assert closed.body["title"].startswith("CLOSE BTC/USDT LONG ")
    assert " after fees" in closed.body["title"] and "why: manual close" in \
        closed.body["message"]


async def test_a_liquidation_and_the_drawdown_halt_arrive_through_apprise(
        wire: Any, hook: Webhook) -> None:  # noqa: F811
    """A short at 125x on the eventful sim: first a CRITICAL liquidation risk, then the
    liquidation, whose loss trips a 1 % drawdown guard on the same tick. Each reaches the
    loopback server through Apprise saying what, symbol, side, size, price, P&L after fees
    and why."""
    rt, _ = await wire(on=("liquidation", "halt", "critical_event"), symbols=["SOL/USDT"],
                       leverage=125.0, position_size_percent=10.0, max_drawdown_percent=1.0,
                       drawdown_action="pause", stop_loss_percent=0.0,
                       take_profit_percent=0.0, notify_max_per_minute=1000)
    trades: list[Trade] = []
    rt.subscribe(lambda u: trades.append(u.trade) if isinstance(u, TradeExecuted) else None)
    clock = rt.clock
    assert isinstance(clock, VirtualClock)
    await rt.monitor_tick()
    await rt.manual_open("SOL/USDT", Side.SHORT)
    for _ in range(2000):  # at 125x a ~0.3 % move liquidates; the sim gets there quickly
        clock.advance(5)
        await rt.monitor_tick()
        if rt.engine.ledger.liquidations:
            break
    liq, = [t for t in trades if t.order_type is OrderType.LIQUIDATION]
    halt = rt.engine.ledger.halted_reason
    assert halt.startswith("max drawdown ") and "≥ 1 %" in halt
    posts = await await_posts(hook, 3)
    assert len(hook.posts) == 3  # the manual open is a `trade`: not asked for
    crit, gone, halted = (p.body for p in posts)
    assert crit["title"].startswith("CRITICAL LIQUIDATION_RISK SOL/USDT: ")
    assert "SHORT is " in crit["title"] and "from liquidation" in crit["title"]
    assert crit["type"] == "failure"
    assert crit["message"].startswith("suggested: ")
    assert gone["title"] == (f"LIQUIDATION SOL/USDT SHORT {qty(liq.amount)} @ "
                             f"{price(liq.price)}: margin {money(liq.margin)} lost")
    assert gone["message"] == (f"P&L {money(-liq.margin, signed=True)} after fees (fee 0.00), "
                               f"leverage 125x — {liq.reason}")
    assert liq.reason.startswith("liquidated at ")  # the why
    assert gone["type"] == "failure"
    assert halted["title"] == f"HALT: {halt}" and halted["type"] == "failure"
    assert halted["message"] == (f"equity {money(rt.engine.ledger.capital)}, 0 open "
                                 "position(s); resume with p in the cockpit")


async def test_model_errors_after_three_cycles_both_failed(
        wire: Any, hook: Webhook) -> None:  # noqa: F811
    failing = (ScriptedModel("m1", (None, 0.0)), ScriptedModel("m2", (None, 0.0)))
    rt, _ = await wire(on=("model_errors",), models=failing)
    await rt.monitor_tick()
    for _ in range(3):
        await rt.decision_cycle(["BTC/USDT"])
    post, = await await_posts(hook, 1)
    assert post.body["title"] == ("MODEL ERRORS: both models failed 3 decisions in a row on "
                                  "BTC/USDT")
    assert "m1: error (scripted failure)" in post.body["message"]
    await rt.decision_cycle(["BTC/USDT"])
    await asyncio.sleep(0.3)
    assert len(hook.posts) == 1  # said once per streak


async def test_a_fatal_stop_is_a_halt_alert(wire: Any, hook: Webhook,  # noqa: F811
                                            tmp_path: Path) -> None:
    rt, _ = await wire()
    await rt.monitor_tick()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"rt.db{suffix}").unlink(missing_ok=True)
    await rt._guarded(rt.monitor_tick(), "event monitor")
    assert rt.fatal is not None
    post, = await await_posts(hook, 1)
    assert post.body["title"].startswith("TRADING STOPPED: stopping: ")
    assert post.body["type"] == "failure"


async def test_daily_summary_at_midnight_utc_on_the_virtual_clock(
        wire: Any, hook: Webhook) -> None:  # noqa: F811
    rt, _ = await wire(on=("daily_summary",))
    clock = rt.clock
    assert isinstance(clock, VirtualClock)
    await rt.monitor_tick()
    midnight = next_midnight(START)  # START is 2025-06-15 15:07 UTC
    clock.set(midnight - 1)
    await asyncio.sleep(0.2)
    assert hook.posts == []  # not a second early
    clock.set(midnight)
    post, = await await_posts(hook, 1)
    assert post.body["title"] == ("DAILY 2025-06-15: equity 100,000.00, day's P&L +0.00 after "
                                  "fees (+0.00 %)")
    assert post.body["message"] == ("0 fill(s), 0 closed, fees 0.00, model tokens 0, model "
                                    "cost 0.0000 USD (since 15:07 UTC)")
    clock.set(midnight + 86_400)
    _, second = await await_posts(hook, 2)
    assert second.body["title"].startswith("DAILY 2025-06-16: ")
    assert "since" not in second.body["message"]  # a whole day


async def test_hanging_services_never_move_the_event_tick(
        wire: Any, hook: Webhook) -> None:  # noqa: F811
    """Eight services that sleep 30 s (more than the loop's default executor has threads:
    the runtime's database writes go through it) while decisions and ticks go on."""
    rt, notifier = await wire(on=("decision",), paths=tuple(f"hang/{i}" for i in range(8)))
    clock = rt.clock
    assert isinstance(clock, VirtualClock)

    async def tick() -> float:
        clock.advance(5.0)
        t0 = time.perf_counter()
        await rt.monitor_tick()
        return time.perf_counter() - t0

    before = [await tick() for _ in range(3)]
    t0 = time.perf_counter()
    await rt.decision_cycle()
    decided = time.perf_counter() - t0
    await await_posts(hook, 8, "hang")  # every service is hanging on its first alert now
    during = [await tick() for _ in range(5)]
    await rt.decision_cycle()
    assert all(s.busy for s in notifier.delivery.services)
    assert decided < 5.0
    assert max(during) < max(before) * 3 + 0.25, (before, during)


async def test_tokens_never_reach_notices_logs_or_the_database(
        tmp_path: Path, hook: Webhook, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)
    rt = await make_runtime(tmp_path, notify_urls=[hook.url("fail/" + TOKEN)],
                            notify_on=["trade"])
    seen: list[Update] = []
    rt.subscribe(seen.append)
    notifier = attach(rt)
    try:
        await rt.monitor_tick()
        await rt.manual_open("ETH/USDT", Side.SHORT)
        await await_posts(hook, 1, "fail")
        for _ in range(200):
            if any(isinstance(u, Notice) and "alerts to" in u.text for u in seen):
                break
            await asyncio.sleep(0.02)
    finally:
        await notifier.close(grace_s=0.0)
        await rt.close()
    notices = [u.text for u in seen if isinstance(u, Notice)]
    failure = [t for t in notices if t.startswith("alerts to #1 json://**** failed: ")]
    assert len(failure) == 1, notices
    assert TOKEN not in " ".join(notices) + caplog.text + repr(rt.settings)
    assert TOKEN.encode() not in _files_bytes(tmp_path, "rt.db*")


def _files_bytes(folder: Path, pattern: str) -> bytes:
    return b"".join(f.read_bytes() for f in sorted(folder.glob(pattern)))


# ---------------------------------------------------------------- the CLI
def _cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, urls: str | None) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("AUTOTRADE_CONFIG", raising=False)
    if urls is None:
        monkeypatch.delenv("NOTIFY_URLS", raising=False)
    else:
        monkeypatch.setenv("NOTIFY_URLS", urls)


def test_notify_test_says_per_url_whether_it_went_through(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hook: Webhook,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    _cli_env(monkeypatch, tmp_path, f"{hook.url('ok/' + TOKEN)},{hook.url('fail/' + TOKEN)}")
    assert cli.main(["notify", "test"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "#1 json://****: ok"
    assert lines[1].startswith("#2 json://****: FAILED: ")
    assert len(lines) == 2 and TOKEN not in out
    assert titles(hook.posts) == ["autotrade-tui: test alert"] * 2

    _cli_env(monkeypatch, tmp_path, hook.url("ok/" + TOKEN))
    assert cli.main(["notify", "test"]) == 0
    assert capsys.readouterr().out == "#1 json://****: ok\n"


def test_notify_test_without_urls_exits_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _cli_env(monkeypatch, tmp_path, None)
    assert cli.main(["notify", "test"]) == 2
    assert "no alert URLs configured" in capsys.readouterr().err


def test_config_show_and_a_bad_url_keep_the_token_masked(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _cli_env(monkeypatch, tmp_path, f"json://127.0.0.1:9/{TOKEN}")
    assert cli.main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert 'notify_urls = ["json://****"]' in out and TOKEN not in out
    _cli_env(monkeypatch, tmp_path, f"json://127.0.0.1:9/{TOKEN},nosuch://{TOKEN}")
    assert cli.main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "config key 'notify_urls'" in err and "item 2 ('nosuch://****')" in err
    assert TOKEN not in err


# ---------------------------------------------------------------- headless, end to end
def _headless(tmp_path: Path, url: str) -> subprocess.Popen[str]:
    """The real `--headless` process (sim at speed 600, DEBUG log level) alerting on every
    decision to `url`."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENROUTER_API_KEY", "DATABASE_URL", "AUTOTRADE_CONFIG")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               NOTIFY_URLS=url, NOTIFY_ON="decision", AUTOTRADE_LOG_LEVEL="DEBUG",
               PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "autotrade_tui", "--headless", "--market",
                             "sim", "--speed", "600", "--symbols", "BTC/USDT"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_headless_sends_alerts_and_never_prints_a_token(tmp_path: Path,
                                                         hook: Webhook) -> None:  # noqa: F811
    proc = _headless(tmp_path, hook.url("ok/" + TOKEN))
    try:
        posts = hook.wait(2, "ok", timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert all(t.startswith("DECISION BTC/USDT ") for t in titles(posts))
    assert "DECISION BTC/USDT" in out and "state saved" in out
    assert TOKEN not in out + err


# ---------------------------------------------------------------- the cockpit
async def test_cockpit_sends_alerts_and_closes_its_notifier(tmp_path: Path,
                                                            hook: Webhook) -> None:  # noqa: F811
    from autotrade_tui.runtime.link import LocalLink
    from tests.tui_fixtures import running

    async with running(tmp_path, notify_urls=[hook.url("ok/" + TOKEN)],
                       notify_on=["decision"]) as (app, pilot):
        posts = await await_posts(hook, 3)  # the first cycle: one decision per symbol
        link = app.runtime
        assert isinstance(link, LocalLink)
        notifier = link.extras[0]
        assert isinstance(notifier, Notifier) and notifier.active
        await pilot.press("q")
    assert {p.body["title"].split(" ")[1] for p in posts} == {"BTC/USDT", "ETH/USDT",
                                                               "SOL/USDT"}
    senders = notifier.delivery._tasks
    assert senders and all(t.done() for t in senders)  # closed with the runtime


def test_headless_stops_soon_though_a_service_hangs(tmp_path: Path,
                                                    hook: Webhook) -> None:  # noqa: F811
    """A send stuck on a dead service never keeps the process alive: the queue gets its
    3 s of grace, and no thread is waited for at exit (a send in Apprise's shared pool
    would be, here until its 20 s read timeout)."""
    proc = _headless(tmp_path, hook.url("hang/" + TOKEN) + "?rto=20")
    try:
        hook.wait(1, "hang", timeout=60)
    finally:
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    took = time.monotonic() - t0
    assert proc.returncode == 0, err
    assert "state saved" in out and TOKEN not in out
    assert err == ""  # the abandoned daemon thread dies quietly with the process
    assert took < 10.0, f"stopping took {took:.1f} s"


def test_a_backtest_sends_no_alert(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   hook: Webhook, capsys: pytest.CaptureFixture[str]  # noqa: F811
                                   ) -> None:
    """A replay of history is not the trader's account: nothing leaves the terminal."""
    _cli_env(monkeypatch, tmp_path, hook.url("ok/" + TOKEN))
    monkeypatch.setenv("NOTIFY_ON", ",".join(KINDS))
    rc = cli.main(["backtest", "--market", "sim", "--symbols", "BTC/USDT", "--from",
                   "2025-03-01", "--to", "2025-03-02", "--results-db",
                   str(tmp_path / "bt.db"), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert json.loads(out)["decisions"] > 0  # each one would be an alert in a live engine
    time.sleep(0.3)
    assert hook.posts == []

"""`autotrade-tui attach` (SPEC §13): the same cockpit, fed by the API of an engine running in
another process (here a real `--headless` engine on the simulated market, in a subprocess).
Keys, confirmations and panes work as they do on an engine of its own; `q` detaches and the
engine trades on; a killed engine shows DISCONNECTED, and a restarted one is found again.
Alerts (SPEC §14) come from the engine's process only, never from a viewer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autotrade_tui.api.service import engine_listening, socket_path
from autotrade_tui.attach.client import RemoteLink, Target
from autotrade_tui.cli import main
from autotrade_tui.config import defaults
from autotrade_tui.tui.app import AutotradeApp
from autotrade_tui.tui.widgets.trade_history import TradeHistory
from tests.test_notify import Webhook, hook  # noqa: F401 - the fixture
from tests.tui_fixtures import NARROW, rows, screen_text, settle, wait_for

SYMBOLS = "BTC/USDT,ETH/USDT"


class Engine:
    """`autotrade-tui --headless` on `db`, in a subprocess (`env`: more of its environment);
    `start()` again after `kill()`."""

    def __init__(self, db: Path, env: dict[str, str] | None = None) -> None:
        self.db, self.proc, self.env = db, None, env or {}
        self.settings = defaults(database_url=str(db))
        self.socket = socket_path(self.settings)

    def start(self) -> None:
        cmd = [sys.executable, "-m", "autotrade_tui", "--headless", "--market", "sim",
               "--speed", "600", "--symbols", SYMBOLS, "--db", str(self.db)]
        env = {**os.environ, "SIM_PROFILE": "eventful", "PYTHONUNBUFFERED": "1", **self.env}
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while not engine_listening(self.socket):
            assert self.proc.poll() is None, self.proc.stdout.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the engine's API did not come up"
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)

    def stop(self) -> str:
        """SIGTERM, as systemd stops it; its output."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        return out

    def decisions(self) -> int:
        return rows(self.db, "SELECT COUNT(*) FROM ai_decisions")[0][0]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path / "e.db")
    eng.start()
    try:
        yield eng
    finally:
        if eng.proc is not None and eng.proc.poll() is None:
            eng.stop()


class Spy:
    """Counts the notifiers (and their deliveries) built in this process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from autotrade_tui.notify import delivery, service

        self.built: list[str] = []
        for cls in (service.Notifier, delivery.Delivery):
            real = cls.__init__

            def init(obj: Any, *args: Any, _real: Any = real, **kwargs: Any) -> None:
                self.built.append(type(obj).__name__)
                _real(obj, *args, **kwargs)

            monkeypatch.setattr(cls, "__init__", init)


def viewer(engine: Engine) -> AutotradeApp:
    async def factory(_settings: Any) -> RemoteLink:
        return await RemoteLink.open(Target(socket=str(engine.socket)))

    return AutotradeApp(defaults(database_url=str(engine.db)), runtime_factory=factory)


def header(app: AutotradeApp) -> str:
    return "\n".join(screen_text(app).splitlines()[:2])


async def confirm(pilot: Any, key: str, title: str) -> str:
    from autotrade_tui.tui.screens.confirm import ConfirmScreen

    app = pilot.app
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), f"the {title} dialog")
    screen = app.screen
    assert isinstance(screen, ConfirmScreen)
    text = screen.text
    await pilot.press("y")
    await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the answer")
    return text


async def test_the_attached_cockpit_trades_pauses_decides_and_detaches(engine: Engine) -> None:
    app = viewer(engine)
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(pilot, lambda: "ATTACHED unix:" in header(app), "the ATTACHED header")
        await wait_for(pilot, lambda: "SIM" in header(app) and "AUTO ON" in header(app),
                       "the engine's status")
        # b: the engine's own preview in the confirmation, then the order through the API
        text = await confirm(pilot, "b", "open long")
        assert "Open LONG BTC/USDT at ~" in text and "liquidation ~" in text
        await wait_for(pilot, lambda: rows(engine.db, "SELECT id FROM trades "
                                           "WHERE source = 'manual'") != [], "the trade")
        assert rows(engine.db, "SELECT order_type, side FROM trades WHERE source = 'manual'"
                    ) == [("OPEN", "LONG")]
        await wait_for(pilot, lambda: any(t.row_count >= 1
                                          for t in app.cockpit.query(TradeHistory)),
                       "the trade in the cockpit (from the stream)")
        # p: the engine pauses; its header says so
        await pilot.press("p")
        await wait_for(pilot, lambda: "AUTO PAUSED" in header(app), "AUTO PAUSED")
        # d: a decision now, recorded as manual by the engine
        await confirm(pilot, "d", "decide now")
        await wait_for(pilot, lambda: rows(engine.db, "SELECT COUNT(*) FROM ai_decisions "
                                           "WHERE source = 'manual'")[0][0] == 1, "the decision")
        await pilot.press("p")  # resume
        await wait_for(pilot, lambda: "AUTO ON" in header(app), "AUTO ON again")
        await settle(pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: app._exit, "the detach")
    assert app.return_code == 0
    # the engine trades on without its viewer
    assert engine.proc is not None and engine.proc.poll() is None
    seen = engine.decisions()
    deadline = time.monotonic() + 60
    while engine.decisions() == seen:
        assert time.monotonic() < deadline, "the engine stopped deciding after the detach"
        await asyncio.sleep(0.1)
    # a second viewer sees what the first one did
    again = viewer(engine)
    async with again.run_test(size=NARROW) as pilot:
        await wait_for(pilot, lambda: any(t.row_count >= 1
                                          for t in again.cockpit.query(TradeHistory)),
                       "the manual trade in the re-attached cockpit")
        await pilot.press("q")


async def test_a_killed_engine_shows_disconnected_then_reconnects(engine: Engine) -> None:
    app = viewer(engine)
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(pilot, lambda: "ATTACHED unix:" in header(app), "the ATTACHED header")
        engine.kill()
        await wait_for(pilot, lambda: "DISCONNECTED" in header(app), "DISCONNECTED")
        seen = engine.decisions()
        engine.start()  # same database: it restarts from what it saved
        await wait_for(pilot, lambda: "ATTACHED unix:" in header(app), "ATTACHED again", 60)
        await wait_for(pilot, lambda: engine.decisions() > seen, "new decisions", 60)
        await pilot.press("q")
    assert app.return_code == 0


async def test_a_second_cockpit_on_the_same_database_attaches(
        engine: Engine, hook: Webhook, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Instead of exiting 3 (another engine trades there), it attaches to that engine; its
    alert URLs stay unused (the engine's process alerts: SPEC §14)."""
    from autotrade_tui.tui.startup import open_runtime

    spy = Spy(monkeypatch)
    settings = defaults(database_url=str(engine.db), market_source="sim",
                        notify_urls=[hook.url("viewer/tok")], notify_on=["decision", "trade"])
    app = AutotradeApp(settings, runtime_factory=open_runtime)
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(pilot, lambda: "ATTACHED unix:" in header(app), "the ATTACHED header",
                       60)
        await pilot.press("q")
    assert app.return_code == 0
    assert engine.proc is not None and engine.proc.poll() is None  # still trading
    assert spy.built == [] and hook.posts == []


def test_headless_on_a_database_in_use_still_exits_3(engine: Engine,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--headless", "--market", "sim", "--db", str(engine.db)])
    assert code == 3
    err = capsys.readouterr().err
    assert "another autotrade-tui engine" in err and "already trading" in err


def test_attach_to_nothing_says_so_in_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["attach", "--socket", str(tmp_path / "none.sock")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "no engine is listening on" in err
    assert main(["attach", "--url", "ftp://example"]) == 2


# ---------------------------------------------------------------- alerts (SPEC §14)
def test_alerts_come_from_the_engine_never_from_an_attached_viewer(
        tmp_path: Path, hook: Webhook,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine (headless, its own process) alerts to /engine; `autotrade-tui attach`, run
    here with a config of its own naming /viewer and every kind of alert, opens a long through
    the engine: the engine sends that one trade alert, the viewer builds no notifier and sends
    nothing (else every viewer would repeat each alert)."""
    from autotrade_tui.notify.urls import KINDS

    quiet = {"CONFIDENCE_THRESHOLD": "1", "SINGLE_MODEL_THRESHOLD": "1",  # no automatic
             "STOP_LOSS_PERCENT": "0", "TAKE_PROFIT_PERCENT": "0"}      # trade, as a rule
    eng = Engine(tmp_path / "e.db", env={"NOTIFY_URLS": hook.url("engine/tok"),
                                         "NOTIFY_ON": "trade", "NOTIFY_MAX_PER_MINUTE": "1000",
                                         **quiet})
    eng.start()
    try:
        cfg = tmp_path / "viewer.toml"
        cfg.write_text(f'[notify]\nnotify_urls = ["{hook.url("viewer/tok")}"]\n'
                       f"notify_on = {list(KINDS)!r}\n".replace("'", '"'))
        monkeypatch.delenv("NOTIFY_URLS", raising=False)
        spy = Spy(monkeypatch)

        async def drive(app: AutotradeApp) -> None:
            async with app.run_test(size=NARROW) as pilot:
                await wait_for(pilot, lambda: "ATTACHED unix:" in header(app), "ATTACHED", 30)
                await confirm(pilot, "b", "open long")
                await wait_for(pilot, lambda: any(t.row_count >= 1 for t in
                                                  app.cockpit.query(TradeHistory)),
                               "the trade in the viewer (its TradeExecuted update)")
                await pilot.press("q")

        def run(app: AutotradeApp, *_a: Any, **_k: Any) -> None:  # the terminal, headless
            assert [u.get() for u in app.settings.notify_urls] == [hook.url("viewer/tok")]
            asyncio.run(drive(app))

        monkeypatch.setattr(AutotradeApp, "run", run)
        assert main(["attach", "--config", str(cfg), "--db", str(eng.db)]) == 0
        opened, = hook.wait(1, "engine", timeout=20)
        assert opened.body["title"].startswith("OPEN BTC/USDT LONG ")
        assert "source manual" in opened.body["message"]
    finally:
        out = eng.stop()
    assert eng.proc is not None and eng.proc.returncode == 0, out
    trades = rows(eng.db, "SELECT COUNT(*) FROM trades")[0][0]
    assert len([p for p in hook.posts if p.path.startswith("/engine")]) == trades  # each once
    assert [p for p in hook.posts if not p.path.startswith("/engine")] == []
    assert spy.built == []  # no notifier in the viewer's process at all

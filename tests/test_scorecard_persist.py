"""The scorecard survives a restart (SPEC §16): saved as the shadows change, restored
bit-exactly, also after `kill -9`; a version-2 database is upgraded to hold it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from autotrade_tui.config import defaults
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.core.engine import EngineConfig
from autotrade_tui.core.scorecard import Scorecard
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.store.store import Store
from autotrade_tui.store.tables import SCHEMA_VERSION
from tests.runtime_fixtures import ScriptedModel, make_runtime

ROOT = Path(__file__).resolve().parents[1]


async def cycles(rt: Runtime, n: int) -> None:
    """`n` five-minute steps of the runtime's virtual clock: a tick, then a decision cycle."""
    clock = rt.clock
    assert isinstance(clock, VirtualClock)
    for _ in range(n):
        clock.advance(300)
        await rt.monitor_tick()
        await rt.decision_cycle()


async def test_a_restart_resumes_the_shadows_where_they_were(tmp_path: Path) -> None:
    def models() -> list[ScriptedModel]:
        return [ScriptedModel("A", ("BUY", 0.9)), ScriptedModel("B", ("SELL", 0.7))]

    rt = await make_runtime(tmp_path, models=models(), symbols=["BTC/USDT", "SOL/USDT"])
    await cycles(rt, 4)
    await rt.close()  # (its last equity point is a point of the curves too)
    before = rt.scorecard.card.to_dict()
    assert before["A"]["positions"] and before["B"]["positions"]  # each traded its answers
    assert before["A"]["tally"][1] >= 2  # and was judged after an interval
    again = await make_runtime(tmp_path, models=models(), symbols=["BTC/USDT", "SOL/USDT"])
    assert again.scorecard.card.to_dict() == before
    await again.close()


def test_after_kill_9_the_saved_scorecard_restores_exactly(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": str(tmp_path / "d"),
           "XDG_CONFIG_HOME": str(tmp_path / "c"), "POSITION_SIZE_PERCENT": "10",
           "REENTRY_COOLDOWN_MINUTES": "0", "SIM_PROFILE": "eventful"}
    proc = subprocess.Popen([sys.executable, "-m", "autotrade_tui", "--headless", "--market",
                             "sim", "--speed", "600", "--db", str(db)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    rows = 0
    while time.monotonic() < deadline and rows < 2:
        time.sleep(0.5)
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    rows = con.execute("SELECT count(*) FROM model_scorecard").fetchone()[0]
            except sqlite3.Error:
                rows = 0
    time.sleep(2.0)  # some cycles more, then the kill lands wherever it lands
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert rows == 2, proc.stderr.read().decode() if proc.stderr else ""
    with Store(db, read_only=True) as store:
        saved = store.load_scorecard()
    settings = defaults(position_size_percent=10.0, reentry_cooldown_minutes=0.0)
    card = Scorecard(EngineConfig.from_settings(settings), list(saved), 0.55, 300.0)
    card.restore(saved)
    assert json.loads(json.dumps(card.to_dict())) == saved  # exactly what was written
    for shadow in card.shadows.values():
        assert shadow.engine.invariant_error() < 1e-6


def test_a_version_2_database_is_upgraded_to_hold_the_scorecard(tmp_path: Path) -> None:
    db = tmp_path / "v2.db"
    with Store(db, writer=True):
        pass
    con = sqlite3.connect(db)
    con.execute("DROP TABLE model_scorecard")
    con.execute("UPDATE schema_meta SET value = '2' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with Store(db, writer=True) as store:
        store.save_scorecard({"m": {"x": [1.5, 0.1 + 0.2]}}, 10.0)
        assert store.load_scorecard() == {"m": {"x": [1.5, 0.1 + 0.2]}}  # floats exact
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM schema_meta WHERE key = 'schema_version'"
                       ).fetchone() == (str(SCHEMA_VERSION),)
    con.close()


async def test_report_json_has_the_scorecard_the_engine_left(tmp_path: Path,
                                                             capsys: object) -> None:
    from autotrade_tui.cli import main

    rt = await make_runtime(tmp_path, models=[ScriptedModel("A", ("BUY", 0.9)),
                                              ScriptedModel("B", ("HOLD", 0.5))],
                            symbols=["BTC/USDT"])
    await cycles(rt, 3)
    await rt.close()
    live = {r["model"]: r for r in rt.account()["scorecard"]}
    assert main(["report", "--json", "--db", str(tmp_path / "rt.db")]) == 0
    rep = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    rows = {r["model"]: r for r in rep["scorecard"]}
    assert list(rows) == ["A", "B", "ensemble"]
    keys = ("model", "equity", "return_pct", "trades", "win_rate", "max_drawdown",
            "accuracy_1", "accuracy_1h", "errors", "tokens", "cost")
    for name in ("A", "B"):
        assert all(k in rows[name] for k in keys)
        assert rows[name]["trades"] == live[name]["trades"]
        assert rows[name]["accuracy_1"] == live[name]["accuracy_1"]
    assert rows["B"]["equity"] == 100_000.0  # a model that only HOLDs never trades
    assert rows["A"]["equity"] != 100_000.0
    assert rows["ensemble"]["equity"] == rep["equity"]


def test_a_guard_tripped_at_a_mark_alone_is_saved(tmp_path: Path) -> None:
    """A shadow's drawdown guard that pauses it at a mark (no trade, no judgement: the
    position stays) makes the live scorecard dirty, so the pause is saved."""
    from autotrade_tui.core.models import Action
    from autotrade_tui.runtime.scorecard import ScorecardKeeper

    cfg = EngineConfig(leverage=10.0, position_size_percent=10.0, max_drawdown_percent=5.0,
                       drawdown_action="pause", stop_loss_percent=0.0)
    with Store(tmp_path / "k.db", writer=True) as store:
        keeper = ScorecardKeeper(cfg, ["a"], 0.55, 3600.0, store)
        keeper.card.on_answers("BTC/USDT", 100.0, 0.0, [(Action.BUY, 0.9)])
        keeper.mark({"BTC/USDT": 100.0}, 5.0)
        keeper.dirty = False  # (saved)
        keeper.mark({"BTC/USDT": 99.0}, 10.0)  # a 1 % drawdown: nothing to save
        assert not keeper.dirty
        keeper.mark({"BTC/USDT": 94.0}, 15.0)  # 6 %: paused, the position kept
        shadow = keeper.card.shadows["a"]
        assert shadow.engine.ledger.halted_reason and shadow.engine.positions
        assert keeper.dirty

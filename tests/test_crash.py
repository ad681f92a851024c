"""kill -9 at random moments: the restored state is always the last committed one (SPEC §10).
Runs on an SQLite file, and on PostgreSQL when TEST_DATABASE_URL is set (`db_url`)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from autotrade_tui.core.engine import TradingEngine, copy_state
from autotrade_tui.store.store import Store
from tests.crash_worker import CONFIG, digest, step

KILLS = 25


def _restored(db: str) -> TradingEngine:
    with Store(db) as store:
        loaded = store.load_state()
    assert loaded is not None
    return TradingEngine(CONFIG, loaded[0])


def test_sigkill_never_loses_or_corrupts_the_ledger(db_url: str) -> None:
    db = db_url
    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    total_lines = 0
    for kill in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-m", "tests.crash_worker", db],
                                stdout=subprocess.PIPE, env=env, text=True,
                                cwd=Path(__file__).resolve().parents[1])
        assert proc.stdout is not None
        watchdog = threading.Timer(60, proc.kill)  # a hung worker fails the test, not CI
        watchdog.start()
        first = proc.stdout.readline()  # trading has started
        assert first, f"worker died before trading (kill {kill})"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read()
        proc.wait()
        watchdog.cancel()
        lines = [first, *rest.splitlines()]
        total_lines += len(lines)
        last = json.loads(lines[-1])

        engine = _restored(db)
        assert engine.invariant_error() <= 1e-9 * engine.ledger.initial_capital
        got = digest(engine.state)
        if got != last:
            # Killed between the commit and the print: then it is exactly the next step.
            replay = TradingEngine(CONFIG, copy_state(_from_digest_engine(last).state))
            step(replay)
            assert got == digest(replay.state), f"kill {kill}: restored state is neither"
    assert total_lines > KILLS * 2  # it really traded between kills


def _from_digest_engine(want: dict) -> TradingEngine:
    """Rebuild the engine of a printed digest by replaying steps from a fresh account."""
    engine = TradingEngine(CONFIG)
    for _ in range(1_000_000):
        if digest(engine.state) == want:
            return engine
        step(engine)
    raise AssertionError("printed state is unreachable")

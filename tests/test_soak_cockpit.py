"""The cockpit never starves the engine and stops cleanly (SPEC §11): decisions keep their
pace whatever a cycle costs; SIGTERM and SIGHUP to the real cockpit (in a pseudo-terminal)
save the state, exit 0 and give the terminal back."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from tests.runtime_fixtures import make_runtime

ROOT = Path(__file__).resolve().parents[1]


async def test_a_slow_cycle_does_not_push_the_next_ones_back(tmp_path: Path) -> None:
    rt = await make_runtime(tmp_path, trading_interval_minutes=5)
    started: list[float] = []

    async def slow_cycle() -> list[Any]:  # each cycle takes 2 minutes of the clock
        started.append(rt.clock.now() - t0)
        rt.clock.advance(120.0)  # type: ignore[attr-defined]
        if len(started) == 3:
            rt.clock.advance(600.0)  # type: ignore[attr-defined]  # one overruns 2 intervals
        if len(started) == 5:
            rt.stop()
        return []

    async def jump(t: float) -> None:
        rt.clock.set(max(t, rt.clock.now()))  # type: ignore[attr-defined]

    rt.decision_cycle = slow_cycle  # type: ignore[method-assign]
    rt.sleep_until = jump  # type: ignore[method-assign]
    t0 = rt.clock.now()
    await rt._decision_loop()
    await rt.close()
    # every 300 s from when each was due; after the overrun, at once, then on from there
    assert started == [0.0, 300.0, 600.0, 1320.0, 1620.0]


def _spawn(db: Path) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOTRADE_CONFIG",
                                                             "DATABASE_URL")}
    env.update(TERM="xterm-256color", XDG_CONFIG_HOME=str(db.parent / "cfg"),
               XDG_DATA_HOME=str(db.parent / "data"))
    proc = subprocess.Popen([sys.executable, "-m", "autotrade_tui", "--market", "sim", "--db",
                             str(db), "--speed", "60", "--offline-models"], cwd=ROOT, env=env,
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    return proc, master


def _read_all(fd: int, out: bytearray, until: float) -> None:
    import select

    while time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            return
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        out += chunk


def _decided(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM ai_decisions").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_saves_the_state_and_exits_0(tmp_path: Path, sig: signal.Signals) -> None:
    db = tmp_path / "c.db"
    proc, master = _spawn(db)
    screen = bytearray()
    try:
        deadline = time.monotonic() + 90
        while _decided(db) < 3 and time.monotonic() < deadline and proc.poll() is None:
            _read_all(master, screen, time.monotonic() + 0.5)
        assert _decided(db) >= 3, screen[-2000:].decode(errors="replace")
        proc.send_signal(sig)
        end = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < end:
            _read_all(master, screen, time.monotonic() + 0.5)
        _read_all(master, screen, time.monotonic() + 1)
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"\x1b[?1049l" in screen  # the alternate screen left: the terminal is back
    con = sqlite3.connect(db)
    final = con.execute("SELECT max(ts) FROM account_snapshots").fetchone()[0]
    newest = con.execute("SELECT max(ts) FROM ai_decisions").fetchone()[0]
    prices = con.execute("SELECT last_prices FROM account_state").fetchone()
    con.close()
    assert final >= newest  # the final equity point, written at the stop
    assert prices is not None and "BTC/USDT" in prices[0]  # the marks a restart goes on from
    assert not Path(f"{db}.lock").exists() or _unlocked(db)


def _unlocked(db: Path) -> bool:
    """The engine's lock was released: a writer can take it now."""
    from autotrade_tui.store.store import Store

    Store(db, writer=True).close()
    return True

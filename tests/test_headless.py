"""`autotrade-tui --headless` as systemd would run it: log lines, a clean stop on SIGTERM and
SIGINT (exit 0, no traceback), and a consistent database afterwards; the same when the reader
of stdout goes away (`| head`); warnings are log lines on stdout like the rest."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.headless import LogLines, LogRecords
from tests.kraken_server import closed_port_url

LINE = re.compile(r"^\d\d:\d\d:\d\d [A-Z]+ ")  # "12:00:05 DECISION ...", "... WARNING ..."


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENROUTER_API_KEY", "DATABASE_URL", "AUTOTRADE_CONFIG")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               PYTHONUNBUFFERED="1")
    return env


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_headless_runs_logs_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    env = _env(tmp_path)
    cmd = [sys.executable, "-m", "autotrade_tui", "--headless", "--market", "sim",
           "--speed", "600", "--symbols", "BTC/USDT,ETH/USDT"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if sum("DECISION" in x for x in lines) >= 6:
            break
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    text = "".join(lines) + out
    assert proc.returncode == 0, err
    assert "Traceback" not in err + text
    assert "SIM: simulated market" in text and "offline/trend-follower" in text
    assert sum("DECISION" in x for x in text.splitlines()) >= 6
    assert "state saved" in text

    report = subprocess.run([sys.executable, "-m", "autotrade_tui", "report", "--json"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr
    rep = json.loads(report.stdout)
    margin = sum(p["margin"] for p in rep["positions"])
    left = rep["initial_capital"] + rep["realized_pnl"] - rep["total_fees"]
    assert left == pytest.approx(rep["capital"] + margin, rel=1e-12, abs=1e-6)
    # report values the account at the prices the engine last saw, as the last line said
    stopped = next(x for x in text.splitlines() if x.startswith("stopped: equity"))
    said = float(stopped.split()[2].replace(",", ""))
    assert rep["equity"] == pytest.approx(said, abs=0.006)


def _report(env: dict[str, str], db: Path) -> dict:
    res = subprocess.run([sys.executable, "-m", "autotrade_tui", "report", "--json", "--db",
                          str(db)], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_headless_stops_quietly_when_its_reader_goes(tmp_path: Path) -> None:
    """`autotrade-tui --headless | head -2`: the runtime stops as on SIGTERM (state saved,
    database closed), exit 0, and not a word on stderr."""
    env, db = _env(tmp_path), tmp_path / "pipe.db"
    cmd = [sys.executable, "-m", "autotrade_tui", "--headless", "--market", "sim", "--speed",
           "600", "--symbols", "BTC/USDT,ETH/USDT", "--db", str(db)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stderr is not None
    first = [proc.stdout.readline() for _ in range(2)]
    assert all(LINE.match(x) for x in first), first
    proc.stdout.close()  # the reader goes; the next line written meets a broken pipe
    try:
        proc.wait(timeout=15)
    finally:
        if proc.returncode is None:
            proc.kill()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.returncode == 0, err
    assert err == ""  # no Traceback, no BrokenPipeError, no "Exception ignored"
    assert not Path(f"{db}-wal").exists()  # the database was closed, not abandoned
    rep = _report(env, db)
    margin = sum(p["margin"] for p in rep["positions"])
    left = rep["initial_capital"] + rep["realized_pnl"] - rep["total_fees"]
    assert left == pytest.approx(rep["capital"] + margin, rel=1e-12, abs=1e-6)


def test_headless_warnings_are_log_lines_on_stdout(tmp_path: Path) -> None:
    """market=auto falling back to the sim warns in the same stream and shape as the rest."""
    env = _env(tmp_path)
    env.update(EXCHANGE_API_URL=closed_port_url())
    cmd = [sys.executable, "-m", "autotrade_tui", "--headless", "--speed", "600",
           "--symbols", "BTC/USDT"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(" INFO SIM: " in x for x in lines):
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert err == ""
    warning = next(x for x in lines if "Kraken unreachable" in x and "WARNING" in x)
    assert LINE.match(warning) and " WARNING market=auto: Kraken unreachable; using the " \
        "simulated market" in warning
    assert "SIM: Kraken unreachable — simulated market" in "".join(lines)
    assert "state saved" in out


def test_log_records_keep_library_chatter_for_debug() -> None:
    class Out(list[str]):
        def write(self, text: str) -> None:
            self.append(text)

        def flush(self) -> None:
            pass

    out = Out()
    lines = LogLines(VirtualClock(1_700_000_000.0), out)  # type: ignore[arg-type]

    def record(name: str, level: int, msg: str) -> logging.LogRecord:
        return logging.makeLogRecord({"name": name, "levelno": level, "msg": msg,
                                      "levelname": logging.getLevelName(level)})

    handler = LogRecords(lines, logging.INFO)
    handler.handle(record("httpx", logging.INFO, "HTTP Request: POST ... 200 OK"))
    handler.handle(record("autotrade_tui.ai.openai_compat", logging.INFO, "model m: retrying"))
    handler.handle(record("httpx", logging.WARNING, "odd"))
    assert out == ["22:13:20 INFO model m: retrying\n", "22:13:20 WARNING odd\n"]
    LogRecords(lines, logging.DEBUG).handle(record("httpx", logging.INFO, "HTTP Request"))
    assert out[-1] == "22:13:20 INFO HTTP Request\n"

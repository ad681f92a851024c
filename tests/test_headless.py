"""`autotrade-tui --headless` as systemd would run it: log lines, a clean stop on SIGTERM and
SIGINT (exit 0, no traceback), and a consistent database afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


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

"""deploy/autotrade-tui.service: a systemd user unit that runs the engine headless, restarts
it on failure but not on a configuration mistake (exit 2) or a taken database (exit 3), and
reads the model key from an environment file (SPEC §13)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

UNIT = Path(__file__).parents[1] / "deploy" / "autotrade-tui.service"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_the_unit_runs_headless_and_restarts_on_failure_only() -> None:
    unit = _unit()
    service = unit["Service"]
    assert service["ExecStart"].split()[-1] == "--headless"
    assert service["ExecStart"].split()[0].endswith("/autotrade-tui")
    assert service["Restart"] == "on-failure"
    assert set(service["RestartPreventExitStatus"].split()) == {"2", "3"}
    assert service["EnvironmentFile"].startswith("-%h/")  # optional, in the user's home
    assert unit["Install"]["WantedBy"] == "default.target"  # a user unit


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` where systemd is installed; the program path is pointed at
    this environment's entry point (the unit's own is where `pip install --user` puts it)."""
    analyze = shutil.which("systemd-analyze")
    program = Path(sys.executable).with_name("autotrade-tui")
    text = UNIT.read_text(encoding="utf-8").replace("%h/.local/bin/autotrade-tui", str(program))
    copy = tmp_path / "autotrade-tui.service"
    copy.write_text(text, encoding="utf-8")
    if analyze is None or not program.exists():  # the structure test above still holds
        assert "ExecStart=" in text
        return
    done = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""

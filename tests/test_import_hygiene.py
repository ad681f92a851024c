"""core/ is pure: importing it loads no UI, exchange, HTTP or database library, and its source
reads no clock, opens no file and imports nothing from the adapter layers (ARCHITECTURE.md).
The cockpit's import path is cheap: the first frame waits for no heavy library."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import autotrade_tui.core

CORE = Path(autotrade_tui.core.__file__).parent
FOREIGN = ("textual", "ccxt", "httpx", "sqlmodel", "sqlalchemy")
LAYERS = ("market", "ai", "store", "runtime", "tui")


CORE_DOMAIN = ("import autotrade_tui.core.engine, autotrade_tui.core.models, "
               "autotrade_tui.core.voting, autotrade_tui.core.events, autotrade_tui.core.clock")


def loaded_modules(code: str) -> list[str]:
    """Every module name in sys.modules after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def loaded_after(code: str) -> set[str]:
    """Top-level module names in sys.modules after running `code` in a fresh interpreter."""
    return {name.split(".")[0] for name in loaded_modules(code)}


def test_core_domain_modules_load_no_foreign_library_and_no_asyncio() -> None:
    mods = loaded_after(CORE_DOMAIN)
    assert "autotrade_tui" in mods  # the probe did import something
    # asyncio is not pulled in by the stdlib modules core uses either, so assert it too
    assert sorted(mods & {*FOREIGN, "asyncio", "pandas", "numpy"}) == []


def test_core_imports_no_adapter_layer_of_the_package() -> None:
    ours = [m for m in loaded_modules(CORE_DOMAIN) if m.startswith("autotrade_tui")]
    assert "autotrade_tui.core.engine" in ours
    # only the package root and core itself: no layer, not even config/errors
    assert [m for m in ours if m != "autotrade_tui" and not m.startswith("autotrade_tui.core")] \
        == []


def test_indicators_load_no_ui_exchange_http_or_database_library() -> None:
    mods = loaded_after("import autotrade_tui.core.indicators")
    assert "talib" in mods  # the probe really imported the indicator stack
    assert sorted(mods & {"textual", "ccxt", "httpx", "sqlmodel", "sqlalchemy"}) == []


def test_importing_the_app_loads_nothing_heavy() -> None:
    mods = loaded_after("import autotrade_tui.tui.app, autotrade_tui.cli")
    heavy = ["ccxt", "pandas", "talib", "ta", "sqlmodel", "sqlalchemy", "plotext",
             "textual_plotext", "httpx", "numpy"]
    assert [h for h in heavy if h in mods] == []


def _core_sources() -> list[Path]:
    files = sorted(CORE.rglob("*.py"))
    assert CORE / "engine.py" in files and CORE / "clock.py" in files
    return files


def _violations(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    found: list[str] = []
    if "import asyncio" in text:
        found.append("import asyncio")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found += _bad_module(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += _bad_module(node.module, node.lineno)
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id == "open":
                found.append(f"open( at line {node.lineno}")
            if (path.name != "clock.py" and isinstance(f, ast.Attribute)
                    and isinstance(f.value, ast.Name)
                    and (f.value.id, f.attr) in {("time", "time"), ("time", "monotonic"),
                                                 ("time", "sleep"), ("datetime", "now"),
                                                 ("datetime", "utcnow")}):
                found.append(f"{f.value.id}.{f.attr}() at line {node.lineno}")
    return found


def _bad_module(name: str, line: int) -> list[str]:
    parts = name.split(".")
    if parts[0] == "asyncio":
        return [f"import asyncio at line {line}"]
    if parts[0] == "autotrade_tui" and len(parts) > 1 and parts[1] in LAYERS:
        return [f"import {name} at line {line}"]
    return []


@pytest.mark.parametrize("path", _core_sources(), ids=lambda p: p.name)
def test_core_source_is_pure(path: Path) -> None:
    assert _violations(path) == []


def test_the_purity_check_itself_catches_violations(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import asyncio\nimport time\nfrom autotrade_tui.store.store import Store\n"
                   "from autotrade_tui.market import sim\n"
                   "def f():\n    open('x')\n    return time.time()\n", encoding="utf-8")
    found = _violations(bad)
    assert any("asyncio" in v for v in found)
    assert any("autotrade_tui.store.store" in v for v in found)
    assert any("autotrade_tui.market" in v for v in found)
    assert any(v.startswith("open(") for v in found)
    assert any(v.startswith("time.time()") for v in found)
    ok = tmp_path / "ok.py"  # a method named open (TradingEngine.open) is not the builtin
    ok.write_text("class E:\n    def open(self):\n        return self.open()\n", encoding="utf-8")
    assert _violations(ok) == []


# ---- the arrows between packages point one way (issue 19): runtime never imports a front
# end or a subscriber of its own (api, attach, notify, tui, the CLI), nor report
UP_FROM_RUNTIME = ("autotrade_tui.api", "autotrade_tui.attach", "autotrade_tui.notify",
                   "autotrade_tui.tui", "autotrade_tui.cli", "autotrade_tui.headless",
                   "autotrade_tui.report", "autotrade_tui.services")


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):  # function-level (lazy) imports count too
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((CORE.parent / "runtime").glob("*.py")),
                         ids=lambda p: p.name)
def test_runtime_imports_nothing_above_it(path: Path) -> None:
    up = {n for n in _imported(path) if n.startswith(UP_FROM_RUNTIME)}
    assert up == set(), f"{path.name} imports {sorted(up)}"

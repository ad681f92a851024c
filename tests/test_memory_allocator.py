"""The long-running modes fix glibc's mmap threshold (autotrade_tui.memory): a big block freed
once no longer moves the later ones onto the heap, where what is freed cannot go back to the
system (RSS grew in steps over a 20-day soak). Checked with glibc's own account of its
mmapped bytes (`mallinfo2`), in fresh processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from autotrade_tui import cli
from autotrade_tui.memory import fix_mmap_threshold

PROBE = textwrap.dedent("""
    import ctypes, sys
    import numpy as np
    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                    "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Info
    if sys.argv[1] == "fix":
        from autotrade_tui.memory import fix_mmap_threshold
        assert fix_mmap_threshold()
    big = np.ones(4 << 20 >> 3)
    del big  # a 4 MB block freed: glibc would raise its threshold to it
    before = libc.mallinfo2().hblkhd
    one = np.ones(1 << 20 >> 3)
    print(libc.mallinfo2().hblkhd - before)
""")


def _glibc() -> bool:
    import ctypes

    try:
        return hasattr(ctypes.CDLL(None), "mallinfo2")
    except OSError:
        return False


def mmapped_by_a_megabyte(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True, timeout=60)
    return int(out.stdout.strip())


def test_a_freed_big_block_keeps_later_blocks_in_mmap() -> None:
    if not _glibc():
        assert fix_mmap_threshold() is False or sys.platform.startswith("linux")
        return
    assert mmapped_by_a_megabyte("default") == 0  # glibc's dynamic threshold: on the heap
    assert mmapped_by_a_megabyte("fix") >= 1 << 20  # its own mapping, returned when freed


@pytest.mark.parametrize("argv", [["--headless"], []])
def test_the_long_running_modes_fix_it(monkeypatch: pytest.MonkeyPatch,
                                       argv: list[str]) -> None:
    """Headless and the cockpit ask for it before they start."""
    calls: list[str] = []
    monkeypatch.setattr("autotrade_tui.memory.fix_mmap_threshold",
                        lambda: calls.append("fix") or True)
    monkeypatch.setattr("autotrade_tui.headless.run_headless", lambda s: calls.append("run") or 0)
    monkeypatch.setattr("autotrade_tui.tui.startup.begin_check", lambda s: None)
    monkeypatch.setattr("autotrade_tui.tui.app.run_tui", lambda s: calls.append("run") or 0)
    assert cli.main([*argv, "--market", "sim"]) == 0
    assert calls == ["fix", "run"]

"""The allocator of a long-running engine (SPEC §10 "Runs for a year": RSS flat).

glibc's malloc gives blocks of 128 KiB and more their own mmap, returned to the system when
freed, but after the first such block is freed it raises that threshold to the block's size
(its "dynamic mmap threshold"). From then on the arrays a running engine makes and drops every
simulated day (the simulated market's day of bars, ~0.1–0.6 MB a column, and the like) come
from the heap, whose top cannot shrink below a block still alive: a 20-day soak at 1000×
showed RSS growing in ~3.7 MB steps every few simulated days, headless and cockpit alike,
with the Python heap itself flat. Fixing the threshold at its default keeps those blocks in
mmap, so what is freed goes back. Only the long-running modes ask for it (a backtest's
arrays live as long as the run)."""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # glibc <malloc.h>: setting it also turns its dynamic adjustment off
DEFAULT_THRESHOLD = 128 * 1024


def fix_mmap_threshold(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Whether glibc's mmap threshold is now fixed at `threshold` (False elsewhere: another
    C library or platform keeps its own behaviour)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on
    except (OSError, AttributeError):  # no mallopt (musl, a static build): nothing to do
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))

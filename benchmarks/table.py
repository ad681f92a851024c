"""A benchmark's timings as a table: per case the median and the best of its runs, and the
median's ratio to one case's (the scripts run their cases round-robin, so load hits all)."""

from __future__ import annotations

import statistics


def print_ratios(times: dict[str, list[float]], base: str, width: int, ratio_label: str) -> None:
    """One row per case of `times` (seconds), its median divided by `base`'s median."""
    ref = statistics.median(times[base])
    print(f"{'':{width}} {'median s':>9} {'best s':>8} {ratio_label:>12}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:{width}} {med:9.3f} {min(ts):8.3f} {med / ref:12.2f}")

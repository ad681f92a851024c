"""Clocks: the only place the program asks what time it is.

Logic calls `clock.now()` (epoch seconds). Waiting is the runtime's job: it asks the clock how
many wall seconds `dt` clock seconds take (`wall_seconds`), or, for a `VirtualClock` that only
moves when told, subscribes to its advances. No asyncio here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float:
        """Current time, epoch seconds."""
        ...

    def wall_seconds(self, clock_seconds: float) -> float | None:
        """Wall time that `clock_seconds` of this clock take; None when it only moves when told."""
        ...


class RealClock:
    """Wall time."""

    speed = 1.0

    def now(self) -> float:
        return time.time()

    def wall_seconds(self, clock_seconds: float) -> float | None:
        return max(clock_seconds, 0.0)


class ScaledClock:
    """Wall time sped up `speed` times from `start` (sim and replay at `--speed N`)."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self._start = time.time() if start is None else start
        self._mono0 = time.monotonic()
        self.floor: float | None = None  # the newest record it resumed from (not_before)

    def now(self) -> float:
        return self._start + (time.monotonic() - self._mono0) * self.speed

    def wall_seconds(self, clock_seconds: float) -> float | None:
        return max(clock_seconds, 0.0) / self.speed

    def not_before(self, t: float) -> None:
        """Read at least `t` from now on (a restarted sim/replay goes on from its newest
        record, never back to the wall clock's earlier time: SPEC §5.2 Restarts)."""
        self.floor = t if self.floor is None else max(self.floor, t)
        behind = t - self.now()
        if behind > 0:
            self._start += behind

    def start_at(self, t: float) -> None:
        """Read `t` now, running on from there at its speed, but never less than what
        `not_before` asked for (a replay plays its data's own time, and a restarted one goes
        on from its newest record, not from the data's start)."""
        self._start = t if self.floor is None else max(t, self.floor)
        self._mono0 = time.monotonic()

    def make_real(self) -> None:
        """Become wall time from now on (market=auto found live data: no speed-up on it)."""
        self.speed = 1.0
        self._start = time.time()
        self._mono0 = time.monotonic()


class VirtualClock:
    """Time that moves only by `advance`/`set` (backtests, tests). Listeners hear every move."""

    speed = 0.0

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._listeners: list[Callable[[float], None]] = []

    def now(self) -> float:
        return self._now

    def wall_seconds(self, clock_seconds: float) -> float | None:
        return None

    def set(self, t: float) -> None:
        if t < self._now:
            raise ValueError("a virtual clock never goes back")
        self._now = float(t)
        for listener in list(self._listeners):
            listener(self._now)

    def advance(self, seconds: float) -> None:
        self.set(self._now + seconds)

    def subscribe(self, listener: Callable[[float], None]) -> Callable[[], None]:
        """Call `listener(now)` after every move; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

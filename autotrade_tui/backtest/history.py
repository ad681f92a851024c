"""The candles a backtest replays: per-symbol float arrays from a validated file, aggregated
to the requested timeframe, with the file's gaps and the range to trade."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autotrade_tui.backtest.request import Request, iso
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.errors import MarketDataError, UserError
from autotrade_tui.market.base import TIMEFRAME_SECONDS

COLUMNS = ("ts", "open", "high", "low", "close", "volume")


@dataclass
class Series:
    """One symbol's bars, oldest first; `ts` is each bar's open time (epoch seconds)."""

    symbol: str
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def window(self, lo: float, hi: float) -> Series:
        """The bars with lo ≤ ts < hi."""
        a, b = np.searchsorted(self.ts, [lo, hi], side="left")
        return Series(self.symbol, *(getattr(self, c)[a:b] for c in COLUMNS))


@dataclass
class History:
    """Everything the replay needs to know about its data."""

    series: dict[str, Series]
    bar_seconds: int
    start: float  # first decision time (bars before it are warm-up: indicators, levels)
    end: float  # exclusive
    source: str  # what the data is, for the summary ("file x.csv", "kraken")
    gaps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def symbols(self) -> list[str]:
        return list(self.series)

    def candles(self) -> int:
        """Bars inside [start, end) over all symbols: what the backtest replays."""
        return sum(int(np.count_nonzero((s.ts >= self.start) & (s.ts < self.end)))
                   for s in self.series.values())


def timeframe_name(seconds: float) -> str:
    for name, secs in TIMEFRAME_SECONDS.items():
        if secs == seconds:
            return name
    return f"{seconds:g} s"


def aggregate(s: Series, width: int) -> Series:
    """Bars of `s` merged into epoch-aligned `width`-second bars by the replay feed's own
    `aggregate`: what a replay feed serves for `width`."""
    from autotrade_tui.market.replay import aggregate as merge

    if len(s) == 0:
        return s
    _, cols = merge(s.ts, s.open, s.high, s.low, s.close, s.volume, width)
    return Series(s.symbol, *cols)


def from_frame(symbol: str, frame: object) -> Series:
    cols = [np.ascontiguousarray(frame[c].to_numpy(dtype=np.float64))  # type: ignore[index]
            for c in COLUMNS]
    return Series(symbol, *cols)


def from_rows(symbol: str, rows: Sequence[Sequence[float]]) -> Series:
    """Rows of (ts, open, high, low, close, volume) as a Series."""
    a = np.asarray(rows, dtype=np.float64).reshape(-1, len(COLUMNS))
    return Series(symbol, *(np.ascontiguousarray(a[:, k]) for k in range(len(COLUMNS))))


def load_file(req: Request) -> History:
    """Read and validate `req.data` (a file in any of `datafiles`' forms, or a freqtrade data
    folder: one file per symbol) through the replay feed (DataFileError names file and row).

    A file without a symbol column is one series: traded under the first configured symbol,
    or under every symbol the user named. A file with a symbol column: the named symbols
    (each must be in it), else those of the configured symbols it has.
    """
    from autotrade_tui.market.replay import ReplayFeed

    feed = ReplayFeed(req.data, VirtualClock(0.0), req.symbols, log_gaps=False,
                      timeframe=req.timeframe)
    path = Path(req.data).expanduser()
    name = path.name
    found: dict[str, Series] = {}
    missing: list[str] = []
    for sym in req.symbols:
        try:
            found[sym] = from_frame(sym, feed.frame(sym))
        except MarketDataError:
            missing.append(sym)
    if missing and (req.symbols_given or not found):
        raise UserError(f"{req.data}: no data for {', '.join(missing)} (its symbol column has "
                        "other symbols: pass --symbols with some of them)")
    series = list(found.values())
    if not req.symbols_given and len(series) > 1 and _one_series(series):
        found = {series[0].symbol: series[0]}  # one series served under every default symbol
    native = int(feed.timeframe_seconds)
    width = req.bar_seconds
    if width != native:
        if width < native or width % native:
            raise UserError(_no_timeframe(req, native))
        found = {sym: aggregate(s, width) for sym, s in found.items()}
    gaps = [str(g) for g in feed.gaps]
    kind = "folder" if path.is_dir() else "file"
    return _ranged(found, req, width, f"{kind} {name}", gaps)


def _no_timeframe(req: Request, native: int) -> str:
    """Why the file cannot give --timeframe candles, naming only values the flag takes."""
    fits = [name for name, secs in TIMEFRAME_SECONDS.items() if secs % native == 0]
    if fits:
        choices = ", ".join(fits[:-1]) + " or " + fits[-1] if len(fits) > 1 else fits[0]
        return (f"{req.data} has {timeframe_name(native)} bars: it cannot give "
                f"{req.timeframe} candles (use --timeframe {choices})")
    return (f"{req.data} has bars {native} s apart: it cannot give {req.timeframe} candles, "
            f"and no --timeframe ({', '.join(TIMEFRAME_SECONDS)}) is a multiple of {native} s")


def _one_series(series: list[Series]) -> bool:
    first = series[0]
    return all(len(s) == len(first) and np.array_equal(s.ts, first.ts)
               and np.array_equal(s.close, first.close) for s in series[1:])


def _ranged(found: dict[str, Series], req: Request, width: int, source: str,
            gaps: list[str]) -> History:
    """Cut at --to; the range starts at --from (earlier bars stay as warm-up history)."""
    lo = min(float(s.ts[0]) for s in found.values())
    hi = max(float(s.ts[-1]) for s in found.values()) + width
    start = req.date_from if req.date_from is not None else lo
    end = req.date_to if req.date_to is not None else hi
    covers = f"{source} covers {iso(lo)} .. {iso(hi)}"
    # Named one side at a time: a range cut by one flag only would print backwards.
    if start >= hi:
        raise UserError(f"--from starts the range at {iso(start)}, after the data ends: "
                        f"{covers}")
    if end <= lo:
        raise UserError(f"--to ends the range at {iso(end)}, before the data starts: "
                        f"{covers}")
    if not any(np.any((s.ts >= start) & (s.ts < end)) for s in found.values()):
        raise UserError(f"no candles in {iso(start)} .. {iso(end)}: {covers}")
    cut = {sym: s.window(-np.inf, end) for sym, s in found.items()}
    return History(cut, width, start, end, source, gaps)

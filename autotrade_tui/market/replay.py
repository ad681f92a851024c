"""Replay feed (SPEC §5.3): OHLCV from a file, a freqtrade data folder or a DataFrame,
validated, played on the clock.

Files are read by `datafiles.read_table` (CSV, JSON, Parquet, Feather, each also gzip; the
format told by content), with columns timestamp, open, high, low, close, volume (names
case-insensitive; `time`, `ts`, `date` and `datetime` are accepted for timestamp). Timestamps
are bar open times as epoch seconds, epoch milliseconds (also µs/ns, told apart by size),
ISO-8601 text (naive = UTC) or datetimes (Parquet/Feather).

Symbols: an optional `symbol` column (or the keys of a JSON object) holds several series;
without one, the single series is served under every symbol the feed is given (default
"BTC/USDT") — handy for backtesting one file against the configured symbol. A folder gives
each symbol its own file (`datafiles.folder_files`).

Validation raises `DataFileError` naming the file and the row (`datafiles`: a CSV's own line
number, header = line 1; a JSON item's or a table row's number): a CSV row with more fields than
the header, missing columns, empty/NaN or non-numeric values (booleans too: JSON `true` is not
1), unreadable timestamps, non-positive prices, negative volume, high below low/open/close, low
above open/close, timestamps out of order or duplicated (per symbol). Gaps (missing bars) are
not errors: they are listed in `gaps` as `Gap` objects and logged as a warning (unless the
caller reports them itself: `log_gaps=False`).

Playback: a bar is known when it closes (SPEC §5.3): the bar that opens at T is visible once
T + bar length ≤ clock.now(). A ticker is the last visible bar's close, timestamped at that
bar's close, so it goes stale `stale_after_seconds` after it when no newer bar follows (the
file ended, or a hole). Candles keep their open times (charts draw a candle where it opened).
Coarser timeframes are aggregated from the file's bars; the current coarse bar only from bars
already visible (no look-ahead).

Played live (`--market replay`, the cockpit or headless at `--speed N`): the clock reads the
data's own time, `WARMUP_BARS` bars in, and runs on at its speed (`cued`); a restart goes on
from the newest record in the database, where the same file gives the prices the account was
last marked at (SPEC §5.2 Restarts; `continue_from` says so when they differ: another file).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from autotrade_tui.core.clock import Clock
from autotrade_tui.core.models import Candle, Ticker
from autotrade_tui.errors import DataFileError, MarketDataError
from autotrade_tui.market.base import TIMEFRAME_SECONDS
from autotrade_tui.market.datafiles import folder_files, read_table

log = logging.getLogger(__name__)

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
ALIASES = {"time": "timestamp", "ts": "timestamp", "date": "timestamp", "datetime": "timestamp"}
DEFAULT_SYMBOLS = ("BTC/USDT",)
WARMUP_BARS = 200  # bars a live replay has seen when it starts: the decisions' candle window
CONTINUITY = 0.005  # a last mark this far from the file's price at the restart: another file
TIMESTAMP_FORMATS = "timestamp {value!r} is not epoch seconds, epoch milliseconds or ISO-8601"


@dataclass(frozen=True)
class Gap:
    """Bars missing between two consecutive rows of one symbol (a warning, not an error)."""

    symbol: str
    row: int  # the row of the bar after the gap (a CSV's line number)
    after_ts: float
    before_ts: float
    missing_bars: int

    def __str__(self) -> str:
        return (f"{self.symbol}: {self.missing_bars} bar(s) missing between {_iso(self.after_ts)}"
                f" and {_iso(self.before_ts)} (before row {self.row})")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- validation ------------------------------------------------------------------------------

class _Checker:
    """Validates a raw table; every problem names the file and the 1-based data row."""

    def __init__(self, name: str, df: pd.DataFrame) -> None:
        self.name = name
        self.df = df
        # Rows of {symbol: [...]} JSON are numbered within their symbol's list.
        self.by_symbol_rows = "symbol" in df.columns and bool(
            df["_row"].duplicated().any())

    def where(self, i: int) -> str:
        row = int(self.df["_row"].iat[i])
        if self.by_symbol_rows:
            return f"{self.df['symbol'].iat[i]} row {row}"
        return f"row {row}"

    def fail(self, mask: np.ndarray, problem: str) -> None:
        """Raise for the first row where `mask` is true; `problem` may use {value} and {col}."""
        bad = np.flatnonzero(mask)
        if len(bad):
            more = f" (and {len(bad) - 1} more row(s))" if len(bad) > 1 else ""
            raise DataFileError(f"{self.name}: {self.where(int(bad[0]))}: {problem}{more}")

    def run(self) -> pd.DataFrame:
        df = self.df
        df.columns = [ALIASES.get(str(c).strip().lower(), str(c).strip().lower())
                      if c != "_row" else c for c in df.columns]
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            have = ", ".join(str(c) for c in df.columns if c != "_row") or "none"
            raise DataFileError(f"{self.name}: missing column(s) {', '.join(missing)} "
                                f"(found: {have})")
        if len(df) == 0:
            raise DataFileError(f"{self.name}: has a header but no data rows")
        for col in COLUMNS:
            raw = df[col]
            empty = raw.isna().to_numpy()
            if raw.dtype.kind == "O":  # text: blank counts as empty (numbers cannot be blank)
                empty = empty | (raw.astype(str).str.strip() == "").to_numpy()
            self.fail(empty, f"{col} is empty")
            self._booleans(raw, col)
        out = pd.DataFrame({"ts": self._timestamps(df["timestamp"])})
        for col in COLUMNS[1:]:
            raw = df[col]
            values = (raw.to_numpy(dtype=np.float64) if raw.dtype.kind in "iuf" else
                      pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64))
            bad = ~np.isfinite(values)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                self.fail(bad, f"{col} {df[col].iat[i]!r} is not a number")
            out[col] = values
        self._prices(out)
        out["_row"] = df["_row"].to_numpy()
        if "symbol" in df.columns:
            sym = df["symbol"]
            self.fail((sym.isna() | (sym.astype(str).str.strip() == "")).to_numpy(),
                      "symbol is empty")
            out["symbol"] = sym.astype(str).str.strip().str.upper().to_numpy()
        return out

    def _booleans(self, raw: pd.Series, col: str) -> None:
        """JSON true/false would pass as 1/0 (pandas counts a bool as a number): refuse them."""
        if raw.dtype.kind in "iufM" or pd.api.types.infer_dtype(raw, skipna=True) not in (
                "boolean", "mixed", "mixed-integer"):
            return  # no bool in the column (the usual case, told in C without a Python loop)
        mask = np.fromiter((isinstance(x, (bool, np.bool_)) for x in raw.to_numpy()), bool,
                           len(raw))
        if mask.any():
            value = bool(raw.iat[int(np.flatnonzero(mask)[0])])  # True, not np.True_
            self.fail(mask, TIMESTAMP_FORMATS.format(value=value) if col == "timestamp"
                      else f"{col} {value!r} is not a number")

    def _timestamps(self, raw: pd.Series) -> np.ndarray:
        if raw.dtype.kind == "M":  # datetimes (freqtrade's `date`): their own resolution
            zone = getattr(raw.dt, "tz", None)
            return ((raw - pd.Timestamp(0, tz=zone)) / pd.Timedelta(seconds=1)).to_numpy(
                dtype=np.float64)
        num = (raw.to_numpy(dtype=np.float64, copy=True) if raw.dtype.kind in "iuf" else
               pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, copy=True))
        text = ~np.isfinite(num)
        if text.any():
            parsed = pd.to_datetime(raw[text].astype(str).str.strip(), format="ISO8601",
                                    utc=True, errors="coerce")
            bad = parsed.isna().to_numpy()
            if bad.any():
                rows = np.flatnonzero(text)[bad]
                mask = np.zeros(len(raw), dtype=bool)
                mask[rows] = True
                self.fail(mask, TIMESTAMP_FORMATS.format(value=raw.iat[int(rows[0])]))
            num[text] = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        self.fail(num < 0, "timestamp is negative")
        # Epoch seconds are ~1e9 now; ms ~1e12, µs ~1e15, ns ~1e18.
        scale = np.select([num >= 1e17, num >= 1e14, num >= 1e11], [1e9, 1e6, 1e3], 1.0)
        return num / scale

    def _prices(self, out: pd.DataFrame) -> None:
        o, h, lo, c, v = (out[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
        for name, values in (("open", o), ("high", h), ("low", lo), ("close", c)):
            self.fail(values <= 0, f"{name} must be > 0")
        self.fail(v < 0, "volume must be ≥ 0")
        self.fail(h < lo, "high is below low")
        self.fail(h < np.maximum(o, c), "high is below open or close")
        self.fail(lo > np.minimum(o, c), "low is above open or close")

    def order(self, ts: np.ndarray, index: np.ndarray) -> None:
        """Per symbol: timestamps strictly increasing in file order."""
        d = np.diff(ts)
        mask = np.zeros(len(self.df), dtype=bool)
        mask[index[1:][d == 0]] = True
        self.fail(mask, "duplicate timestamp (the same as the row before)")
        mask[:] = False
        mask[index[1:][d < 0]] = True
        self.fail(mask, "timestamp is earlier than the row before (rows must be sorted)")


def _timeframe(frames: dict[str, pd.DataFrame]) -> int:
    """The bar length: the most common step between consecutive bars, in whole seconds."""
    steps = np.concatenate([np.diff(f["ts"].to_numpy()) for f in frames.values()])
    steps = np.round(steps).astype(np.int64)
    if len(steps) == 0:
        return 60
    values, counts = np.unique(steps, return_counts=True)
    return max(1, int(values[np.argmax(counts)]))  # sub-second steps round to 0: not a length


# --- the feed --------------------------------------------------------------------------------

class ReplayFeed:
    """`MarketFeed` over validated historical bars ("REPLAY"); see the module doc."""

    mode = "REPLAY"

    def __init__(self, source: str | Path | pd.DataFrame, clock: Clock,
                 symbols: Sequence[str] | None = None, *, log_gaps: bool = True,
                 timeframe: str = "5m") -> None:
        """`timeframe` matters for a folder only: its files are chosen to build it."""
        self.clock = clock
        self._frames: dict[str, pd.DataFrame] = {}
        path = None if isinstance(source, pd.DataFrame) else Path(source).expanduser()
        if path is not None and path.is_dir():
            self.name = str(path)
            self.symbols = list(symbols or DEFAULT_SYMBOLS)
            files, _ = folder_files(path, self.symbols, TIMEFRAME_SECONDS[timeframe])
            for sym, file in files.items():
                table, checker = _validated(str(file), read_table(file))
                checker.order(table["ts"].to_numpy(), np.arange(len(table)))
                self._frames[sym] = _clean(table)
            labelled = True
        else:
            if path is None:
                self.name = "<DataFrame>"
                raw = source.copy()  # type: ignore[union-attr]
                raw["_row"] = np.arange(1, len(raw) + 1)
            else:
                self.name = str(path)
                raw = read_table(path)
            table, checker = _validated(self.name, raw)
            labelled = "symbol" in table.columns
            if labelled:
                for sym, idx in table.groupby("symbol", sort=False).indices.items():
                    checker.order(table["ts"].to_numpy()[idx], idx)
                    self._frames[str(sym)] = _clean(table.iloc[idx])
                self.symbols = list(symbols) if symbols else list(self._frames)
            else:
                checker.order(table["ts"].to_numpy(), np.arange(len(table)))
                series = _clean(table)
                self.symbols = list(symbols) if symbols else list(DEFAULT_SYMBOLS)
                self._frames = dict.fromkeys(self.symbols, series)
        self.timeframe_seconds = _timeframe(self._frames)
        self.gaps: list[Gap] = self._find_gaps(labelled)
        if self.gaps and log_gaps:  # off for the backtest: it prints its own warning
            log.warning("%s: %d gap(s) in the data, first: %s", self.name, len(self.gaps),
                        self.gaps[0])
        served = [s for s in self.symbols if s in self._frames]
        self.note = (f"replay of {Path(self.name).name}: {', '.join(served) or 'no symbols'}, "
                     f"{len(next(iter(self._frames.values())))} bars of "
                     f"{self.timeframe_seconds}s" + (f", {len(self.gaps)} gap(s)" if self.gaps
                                                     else ""))
        self._agg: dict[tuple[str, int], _Agg] = {}

    # --- whole data (backtests)
    def frame(self, symbol: str | None = None) -> pd.DataFrame:
        """The whole validated series of `symbol` (default: the first): ts, open, high, low,
        close, volume as float64, ts in epoch seconds, sorted. A copy."""
        key = symbol or next(iter(self._frames))
        if key not in self._frames:
            raise MarketDataError(f"replay file {self.name} has no data for {key}")
        return self._frames[key].copy()

    @property
    def start_ts(self) -> float:
        return min(float(f["ts"].iat[0]) for f in self._frames.values())

    @property
    def end_ts(self) -> float:
        """Open time of the last bar of any symbol."""
        return max(float(f["ts"].iat[-1]) for f in self._frames.values())

    def _find_gaps(self, labelled: bool) -> list[Gap]:
        tf = self.timeframe_seconds
        gaps: list[Gap] = []
        seen: set[int] = set()
        for sym, f in self._frames.items():
            if id(f) in seen:
                continue  # one series served under several symbols: report it once
            seen.add(id(f))
            ts = f["ts"].to_numpy()
            steps = np.diff(ts)
            for i in np.flatnonzero(steps > tf * 1.5):  # a few gaps at most, not per bar
                gaps.append(Gap(sym if labelled else self.name,
                                int(f["_row"].iat[i + 1]), float(ts[i]), float(ts[i + 1]),
                                round(steps[i] / tf) - 1))
        return gaps

    # --- played live
    @property
    def first_live_ts(self) -> float:
        """When a live replay starts: once `WARMUP_BARS` bars of its earliest series have closed
        (of a short file, half of them), so charts and indicators have a history at once."""
        ts = min(self._frames.values(), key=lambda f: float(f["ts"].iat[0]))["ts"].to_numpy()
        seen = max(1, min(WARMUP_BARS, len(ts) // 2))
        return float(ts[seen - 1]) + self.timeframe_seconds

    def cued(self) -> ReplayFeed:
        """This feed, ready to be played live: a clock that runs by itself at `--speed`
        (`ScaledClock.start_at`) is set to `first_live_ts`, or, on a restart, to the newest
        record in the database (the clock's floor), whichever is later. A clock that moves
        only when told (backtests, tests) is left as it is."""
        start_at = getattr(self.clock, "start_at", None)
        if start_at is not None:
            start_at(self.first_live_ts)
        return self

    def continue_from(self, prices: Mapping[str, float]) -> None:
        """A restart's last marks: the replay goes on from them by its clock alone (the file's
        prices at the newest record are the ones the account was marked at), so nothing is
        changed here; a mark far from the file's price now is said once (another file, or
        the database of another market), as the equity will move by it."""
        now = self.clock.now()
        for symbol, mark in sorted(prices.items()):
            if symbol not in self._frames or not mark > 0:
                continue
            f, n = self._visible(symbol, now)
            if n and abs(float(f["close"].iat[n - 1]) / mark - 1.0) > CONTINUITY:
                log.warning("%s: %s was last marked at %s, the file says %s at %s: is it the "
                            "file this database was replaying?", self.name, symbol, f"{mark:g}",
                            f"{float(f['close'].iat[n - 1]):g}", _iso(now))

    # --- MarketFeed
    def _visible(self, symbol: str, now: float) -> tuple[pd.DataFrame, int]:
        """The symbol's bars and how many of them are visible (closed) at `now`."""
        f = self._frames[symbol]
        return f, int(np.searchsorted(f["ts"].to_numpy(), now - self.timeframe_seconds,
                                      side="right"))

    async def fetch_tickers(self, symbols: list[str]) -> dict[str, Ticker]:
        now = self.clock.now()
        out: dict[str, Ticker] = {}
        for s in symbols:
            if s not in self._frames:
                continue
            f, n = self._visible(s, now)
            if n == 0:
                continue  # before the data starts: no price yet
            ts, bar = f["ts"].to_numpy(), self.timeframe_seconds
            day = int(np.searchsorted(ts, now - 86_400 - bar, side="right"))  # closed in 24 h
            out[s] = Ticker(s, float(f["close"].iat[n - 1]), float(ts[n - 1]) + bar,
                            volume_24h=float(f["volume"].to_numpy()[day:n].sum()))
        return out

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "5m", limit: int = 200,
                          since: float | None = None) -> list[Candle]:
        return self.candles(symbol, timeframe, limit, since)

    def candles(self, symbol: str, timeframe: str = "5m", limit: int = 200,
                since: float | None = None) -> list[Candle]:
        """Synchronous `fetch_ohlcv` (replay does no I/O)."""
        if symbol not in self._frames:
            raise MarketDataError(f"replay file {self.name} has no data for {symbol}")
        want = TIMEFRAME_SECONDS.get(timeframe)
        native = self.timeframe_seconds
        if want is None or want < native or want % native:
            raise MarketDataError(f"replay file {self.name} has {native}s bars: it cannot give "
                                  f"{timeframe} candles")
        f, n = self._visible(symbol, self.clock.now())
        if want == native:
            cols = [f[k].to_numpy()[:n] for k in ("ts", "open", "high", "low", "close", "volume")]
        else:
            cols = self._aggregate(symbol, want, n)
        ts = cols[0]
        if since is not None:
            lo = int(np.searchsorted(ts, since, side="left"))
            sel = slice(lo, lo + max(limit, 0))
        else:
            sel = slice(max(0, len(ts) - max(limit, 0)), len(ts))
        return [Candle(*map(float, row)) for row in zip(*(c[sel] for c in cols), strict=True)]

    def _aggregate(self, symbol: str, width: int, n: int) -> list[np.ndarray]:
        key = (symbol, width)
        agg = self._agg.get(key)
        if agg is None:
            agg = self._agg[key] = _Agg(self._frames[symbol], width)
        return agg.visible(n)

    def latest_ts(self) -> float | None:
        now = self.clock.now()
        latest = [float(f["ts"].iat[n - 1]) + self.timeframe_seconds
                  for f, n in (self._visible(s, now) for s in self._frames) if n]
        return max(latest) if latest else None

    async def close(self) -> None:
        return None


def _validated(name: str, raw: pd.DataFrame) -> tuple[pd.DataFrame, _Checker]:
    checker = _Checker(name, raw)
    return checker.run(), checker


def _clean(table: pd.DataFrame) -> pd.DataFrame:
    cols = ["ts", "open", "high", "low", "close", "volume", "_row"]
    return table[cols].reset_index(drop=True)


def aggregate(ts: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
              v: np.ndarray, width: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Bars (at least one) merged into epoch-aligned `width`-second bars: the index of each
    merged bar's first bar, and [open time, open, high, low, close, volume] of the merged
    bars (open of the first, high/low extremes, close of the last, volume summed)."""
    starts, first = np.unique(np.floor(ts / width) * width, return_index=True)
    last = np.append(first[1:], len(ts)) - 1
    return first, [starts, o[first], np.maximum.reduceat(h, first),
                   np.minimum.reduceat(lo, first), c[last], np.add.reduceat(v, first)]


class _Agg:
    """Bars of one symbol aggregated to `width` seconds (epoch-aligned), computed once."""

    def __init__(self, f: pd.DataFrame, width: int) -> None:
        self.ts = f["ts"].to_numpy()
        self.o, self.h, self.lo, self.c, self.v = (f[k].to_numpy() for k in
                                                   ("open", "high", "low", "close", "volume"))
        self.first, self.full = aggregate(self.ts, self.o, self.h, self.lo, self.c, self.v,
                                          width)

    def visible(self, n: int) -> list[np.ndarray]:
        """Buckets with a visible bar; the last one built only from the visible bars."""
        if n == 0:
            return [a[:0] for a in self.full]
        j = int(np.searchsorted(self.first, n - 1, side="right")) - 1  # bucket of bar n − 1
        out = [a[: j + 1].copy() for a in self.full]
        a = int(self.first[j])
        out[2][-1] = self.h[a:n].max()
        out[3][-1] = self.lo[a:n].min()
        out[4][-1] = self.c[n - 1]
        out[5][-1] = self.v[a:n].sum()
        return out


__all__ = ["Gap", "ReplayFeed", "aggregate"]

"""Market-event detection (SPEC §9): rolling candle windows, snapshots, detectors, cooldowns.

Pure and cheap: no I/O, no clock of its own (time is whatever `now`/`snap.ts` the caller passes),
plain floats so that a 5-second tick over 100 symbols costs a few milliseconds.

Definitions (the SPEC names the measures; these are the exact ones used):

* A `CandleWindow` holds 1-minute bars of one symbol. The last bar is the *live* bar (still
  growing); every earlier bar is *sealed*. Volume and ATR statistics use sealed bars only, so a
  half-formed minute never looks like a volume drought or a calm market; the cost is that a
  bar counts about one minute late, which the 5-minute cooldowns dwarf.
* Volume ratio = volume of the latest sealed bar / mean volume of the sealed bars of the 24 h
  before it (at most 1440 bars, the reference bar itself excluded, so a spike does not inflate
  its own baseline). Needs `min_baseline_bars` (60) bars of baseline, else None.
* Short ATR = Wilder's ATR(14) over 1-minute true ranges: the ATR traders know (TA-Lib's), which
  reacts within ~15 minutes. Long ATR = simple mean of the 1-minute true ranges over the trailing
  24 h (the latest sealed bar included): the normal one-minute range, taken over exactly the bars
  the window stores and kept with a running sum. A Wilder ATR(1440) instead would need ~3000
  bars of memory to settle, more than the window keeps. Both are O(1) per bar.
* Price N minutes ago = close of the latest bar that had *closed* at or before now − N min, so a
  "1 min" move always spans at least one minute (between N and N + 1 minutes). None when that
  bar is 2+ bars older than now − N min (a hole in the data) or there is no such bar.
* `snapshot` leaves volume and ATR out (None) when the live bar is 3+ bars old: a stalled
  candle feed says nothing about now, and would otherwise repeat the same event every cooldown.

Severities (SPEC §9 for flash moves and liquidation; the others are chosen here, scaled from the
configured threshold T so a changed threshold keeps its bands):

* FLASH_CRASH / FLASH_RALLY, |move| %: MEDIUM [2, 3), HIGH [3, 5], CRITICAL > 5.
* VOLUME_SPIKE, ratio: MEDIUM [2, 3), HIGH [3, 5], CRITICAL > 5  (1.5·T and 2.5·T).
* VOLUME_DRY, ratio: MEDIUM ≤ 0.2, HIGH ≤ 0.05 (T/4). Never CRITICAL: a quiet market moves
  nothing by itself, and CRITICAL may trigger an out-of-cycle trade decision.
* VOLATILITY_SPIKE, short/long ATR: MEDIUM [1.5, 2), HIGH [2, 3], CRITICAL > 3  (4/3·T, 2·T).
* LIQUIDATION_RISK, distance %: MEDIUM (5, 10], HIGH [2, 5], CRITICAL < 2.

Percentages and ratios are rounded to 9 decimals before any comparison, so 100 → 98 is exactly a
2.0 % move despite binary floating point.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autotrade_tui.core.models import (
    SEVERITY_RANK,
    Candle,
    EventType,
    MarketEvent,
    Position,
    Severity,
    Side,
)

if TYPE_CHECKING:
    from autotrade_tui.config import Settings

FLASH_WINDOWS_MIN: tuple[int, ...] = (1, 5, 15)
_DIGITS = 9  # rounding before comparisons: absorbs float error, far below any real threshold
_EDGE = 1e-6  # farther than this from a threshold, rounding to _DIGITS cannot cross it
# A position's liquidation price, side, liquidation price text, entry price, quantity, leverage
# and margin (`EventDetector._position_facts`)
Facts = tuple[float, str, str, float, float, float, float]
# (distance %, severity, facts): what the liquidation rule found, before it is worded (the
# distance rounded to _DIGITS where that could matter: within _EDGE of a band's edge, with
# several positions, and once worded; elsewhere rounding cannot change the severity)
LiquidationLevel = tuple[float, Severity, Facts]

# Severity bands of the measures the SPEC leaves open, as multiples of the configured threshold.
_SPIKE_HIGH, _SPIKE_CRITICAL = 1.5, 2.5
_DRY_HIGH = 0.25
_VOLATILITY_HIGH, _VOLATILITY_CRITICAL = 4.0 / 3.0, 2.0
# Enum members read as module constants in the rules a backtest runs every candle (an enum
# class attribute costs ~60 ns a read in Python 3.11, a module global ~7)
_LIQUIDATION = EventType.LIQUIDATION_RISK
_LONG = Side.LONG
_CRITICAL, _HIGH, _MEDIUM = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM
_CRITICAL_RANK = SEVERITY_RANK[Severity.CRITICAL]


@dataclass(frozen=True, slots=True)
class EventThresholds:
    """Thresholds, severity bands and cooldowns of every event type (defaults: SPEC §9)."""

    flash_move_percent: float = 2.0
    flash_high_percent: float = 3.0
    flash_critical_percent: float = 5.0
    volume_spike_ratio: float = 2.0
    volume_spike_high_ratio: float = 3.0
    volume_spike_critical_ratio: float = 5.0
    volume_dry_ratio: float = 0.2
    volume_dry_high_ratio: float = 0.05
    volatility_spike_ratio: float = 1.5
    volatility_high_ratio: float = 2.0
    volatility_critical_ratio: float = 3.0
    liquidation_risk_percent: float = 10.0
    liquidation_high_percent: float = 5.0
    liquidation_critical_percent: float = 2.0
    flash_cooldown_seconds: float = 300.0
    volume_spike_cooldown_seconds: float = 300.0
    volume_dry_cooldown_seconds: float = 600.0
    volatility_cooldown_seconds: float = 300.0
    liquidation_cooldown_seconds: float = 120.0
    event_repeat_seconds: float = 1800.0  # a lasting condition is raised again after this

    @classmethod
    def from_settings(cls, settings: Settings) -> EventThresholds:
        """The configured thresholds; the bands not in the config scale with their threshold."""
        spike = float(settings.volume_spike_ratio)
        dry = float(settings.volume_dry_ratio)
        vol = float(settings.volatility_spike_ratio)
        return cls(
            flash_move_percent=float(settings.flash_move_percent),
            flash_high_percent=float(settings.flash_high_percent),
            flash_critical_percent=float(settings.flash_critical_percent),
            volume_spike_ratio=spike,
            volume_spike_high_ratio=spike * _SPIKE_HIGH,
            volume_spike_critical_ratio=spike * _SPIKE_CRITICAL,
            volume_dry_ratio=dry,
            volume_dry_high_ratio=dry * _DRY_HIGH,
            volatility_spike_ratio=vol,
            volatility_high_ratio=vol * _VOLATILITY_HIGH,
            volatility_critical_ratio=vol * _VOLATILITY_CRITICAL,
            liquidation_risk_percent=float(settings.liquidation_risk_percent),
            liquidation_high_percent=float(settings.liquidation_high_percent),
            liquidation_critical_percent=float(settings.liquidation_critical_percent),
            flash_cooldown_seconds=float(settings.flash_cooldown_seconds),
            volume_spike_cooldown_seconds=float(settings.volume_spike_cooldown_seconds),
            volume_dry_cooldown_seconds=float(settings.volume_dry_cooldown_seconds),
            volatility_cooldown_seconds=float(settings.volatility_cooldown_seconds),
            liquidation_cooldown_seconds=float(settings.liquidation_cooldown_seconds),
            event_repeat_seconds=float(settings.event_repeat_minutes) * 60.0,
        )

    def cooldown_seconds(self, event_type: EventType) -> float:
        if event_type is EventType.VOLUME_SPIKE:
            return self.volume_spike_cooldown_seconds
        if event_type is EventType.VOLUME_DRY:
            return self.volume_dry_cooldown_seconds
        if event_type is EventType.VOLATILITY_SPIKE:
            return self.volatility_cooldown_seconds
        if event_type is EventType.LIQUIDATION_RISK:
            return self.liquidation_cooldown_seconds
        return self.flash_cooldown_seconds  # FLASH_CRASH and FLASH_RALLY


class CandleWindow:
    """Rolling window of one symbol's 1-minute bars with O(1) volume and ATR statistics.

    Feed it bars in time order with `update`/`extend`: a bar with a newer `ts` is appended (the
    previous live bar becomes sealed), a bar with the live bar's `ts` replaces it (the live bar
    grows), a bar with the `ts` of a stored sealed bar revises it (costs O(bars after it)).
    Anything else (older than the window, inside a hole, non-finite values, negative volume) is
    ignored and `update` returns False. Keeps about `baseline_seconds` of bars (24 h + a bit).
    The bars are kept as columns (a backtest appends closed bars in runs: `extend_closed`).
    """

    _KEEP = 34  # bars always retained: price_ago lookbacks up to ~30 minutes with tiny baselines
    _COMPACT_SLACK = 64  # dead prefix length that triggers a compaction (amortised O(1))

    def __init__(
        self,
        bar_seconds: float = 60.0,
        baseline_seconds: float = 86_400.0,
        atr_period: int = 14,
        min_baseline_bars: int = 60,
        resync_every: int = 2048,
    ) -> None:
        if bar_seconds <= 0 or baseline_seconds < bar_seconds:
            raise ValueError("need bar_seconds > 0 and baseline_seconds >= bar_seconds")
        if atr_period < 1 or min_baseline_bars < 1 or resync_every < 1:
            raise ValueError("atr_period, min_baseline_bars and resync_every must be >= 1")
        self.bar_seconds = float(bar_seconds)
        self.baseline_seconds = float(baseline_seconds)
        self.atr_period = atr_period
        self.min_baseline_bars = min_baseline_bars
        self._cap = max(1, int(baseline_seconds // bar_seconds))  # bars in a full baseline
        self._resync_every = resync_every
        # the bars, a column each (bisect on _ts; resync sums a _vol slice at C speed)
        self._ts: list[float] = []
        self._open: list[float] = []
        self._high: list[float] = []
        self._low: list[float] = []
        self._close: list[float] = []
        self._vol: list[float] = []
        self._tr: list[float] = []  # true range of each sealed bar (len = len(_ts) - 1)
        self._atr: list[float] = []  # Wilder ATR after each sealed bar
        self._dropped = 0  # bars compacted away, so global bar numbers stay known
        self._fv = 0  # first bar of the volume baseline [_fv, last sealed)
        self._sum_v = 0.0
        self._ft = 0  # first bar of the long-ATR window [_ft, last sealed]
        self._sum_tr = 0.0
        self._since_resync = 0

    # --- feeding
    def update(self, candle: Candle) -> bool:
        """Append, replace the live bar, or revise a stored bar; False when ignored."""
        if not _is_sane(candle):
            return False
        ts = self._ts
        if not ts or candle.ts > ts[-1]:
            self._append(candle)
            if len(ts) > 1:
                self._seal_run(len(ts) - 2, len(ts) - 1)
            return True
        if candle.ts == ts[-1]:
            # the live bar is in no statistic: nothing else to do
            self._open[-1], self._high[-1], self._low[-1], self._close[-1], self._vol[-1] = (
                candle.open, candle.high, candle.low, candle.close, candle.volume)
            return True
        i = bisect_right(ts, candle.ts) - 1
        if i < 0 or ts[i] != candle.ts or (i == 0 and self._dropped):
            return False  # unknown bar, or the oldest one whose previous close is gone
        self._revise(i, candle)
        return True

    def extend(self, candles: Iterable[Candle]) -> int:
        """`update` each candle (initial history); returns how many were used."""
        return sum(1 for c in candles if self.update(c))

    def extend_closed(self, ts: Sequence[float], open_: Sequence[float],
                      high: Sequence[float], low: Sequence[float], close: Sequence[float],
                      volume: Sequence[float]) -> None:
        """`update` with each of these closed bars, checked already (sane, in order, the first
        the live bar's or newer: a backtest's, checked when read), then the next bar opened
        empty at the last one's close (as `EventMonitor.add_bars` does for bars that have
        closed): the same state, appended at once and sealed in one run (a backtest on real
        5-minute data feeds a few bars at a time, tens of thousands of times)."""
        own = self._ts
        if not len(ts):
            return
        skip = 0
        if own and ts[0] == own[-1]:  # the live bar, grown: replaced (it is in no statistic)
            (self._open[-1], self._high[-1], self._low[-1], self._close[-1],
             self._vol[-1]) = open_[0], high[0], low[0], close[0], volume[0]
            skip = 1
        first = len(own)
        for mine, theirs in zip(self._columns(), (ts, open_, high, low, close, volume),
                                strict=True):
            mine.extend(theirs[skip:] if skip else theirs)
        last = close[-1]
        self._append(Candle(ts[-1] + self.bar_seconds, last, last, last, last, 0.0))
        self._seal_run(first - 1, len(own) - 1)

    # --- reading
    @property
    def cap(self) -> int:
        """Bars in a full baseline."""
        return self._cap

    @property
    def resync_every(self) -> int:
        """Seals between two re-sums of the running sums."""
        return self._resync_every

    def __len__(self) -> int:
        return len(self._ts)

    @property
    def last(self) -> Candle | None:
        if not self._ts:
            return None
        return Candle(self._ts[-1], self._open[-1], self._high[-1], self._low[-1],
                      self._close[-1], self._vol[-1])

    def candles(self) -> list[Candle]:
        """The stored bars, oldest first (a copy)."""
        return list(map(Candle, *self._columns()))

    def is_fresh(self, now: float) -> bool:
        """Whether the live bar is recent enough for its statistics to describe `now`."""
        return bool(self._ts) and now - self._ts[-1] < 3 * self.bar_seconds

    def price_ago(self, minutes: float, now: float) -> float | None:
        """Close of the latest bar that had closed by `now − minutes`; None without such data."""
        target = now - minutes * 60.0
        i = bisect_right(self._ts, target - self.bar_seconds) - 1
        if i < 0 or target - (self._ts[i] + self.bar_seconds) >= 2 * self.bar_seconds:
            return None
        return self._close[i]

    def reference_volume(self) -> float | None:
        """Volume of the latest sealed bar (the numerator of `volume_ratio`)."""
        return self._vol[-2] if len(self._vol) > 1 else None

    def average_volume(self) -> float | None:
        """Mean volume of the 24 h of sealed bars before the reference bar."""
        count = len(self._ts) - 2 - self._fv
        if count < self.min_baseline_bars:
            return None
        return max(self._sum_v, 0.0) / count

    def volume_ratio(self) -> float | None:
        avg, ref = self.average_volume(), self.reference_volume()
        if avg is None or ref is None or avg <= 0:
            return None
        return ref / avg

    def atr_short(self) -> float | None:
        """Wilder ATR(atr_period) over sealed bars; None before `atr_period` bars."""
        if self._dropped + len(self._atr) < self.atr_period:
            return None
        return self._atr[-1]

    def atr_long(self) -> float | None:
        """Mean true range of the sealed bars of the trailing 24 h."""
        count = len(self._tr) - self._ft
        if count < self.min_baseline_bars:
            return None
        return max(self._sum_tr, 0.0) / count

    def atr_ratio(self) -> float | None:
        short, long = self.atr_short(), self.atr_long()
        if short is None or long is None or long <= 0:
            return None
        return short / long

    # --- internals
    def _columns(self) -> tuple[list[float], ...]:
        return self._ts, self._open, self._high, self._low, self._close, self._vol

    def _append(self, c: Candle) -> None:
        self._ts.append(c.ts)
        self._open.append(c.open)
        self._high.append(c.high)
        self._low.append(c.low)
        self._close.append(c.close)
        self._vol.append(c.volume)

    def _true_range(self, j: int) -> float:
        high, low = self._high[j], self._low[j]
        if j == 0:
            return high - low
        prev = self._close[j - 1]
        return max(high - low, abs(high - prev), abs(low - prev))

    def _wilder(self, j: int, tr: float) -> float:
        """ATR after sealed bar j: the running mean for the first `period` bars, then Wilder."""
        k = self._dropped + j + 1  # how many bars have been sealed, this one included
        if k == 1:
            return tr
        prev = self._atr[j - 1]
        return prev + (tr - prev) / min(k, self.atr_period)

    def _seal_run(self, first: int, stop: int) -> None:
        """Bars first … stop − 1 stopped being live, each when the next was appended: fold
        each into the statistics, then compact as its append would have. (On locals, in one
        loop: it runs for every bar, live and in every backtest. `_true_range` and
        `_wilder` are written out: the float operations are the same, in order. The
        compactions only drop a prefix and nothing here depends on where the lists start,
        so the run drops that prefix once, at its end.)"""
        ts, vol, trs, atrs = self._ts, self._vol, self._tr, self._atr
        high, low, close = self._high, self._low, self._close
        cap, period, baseline = self._cap, self.atr_period, self.baseline_seconds
        every, slack, keep = self._resync_every, self._COMPACT_SLACK, self._KEEP
        sum_v, fv, sum_tr, ft = self._sum_v, self._fv, self._sum_tr, self._ft
        since, done = self._since_resync, self._dropped
        drop = 0  # bars the run's compactions dropped (deleted at its end)
        for s in range(max(first, 0), stop):  # (the very first bar seals nothing)
            h, lo = high[s], low[s]
            if s > 0:
                prev = close[s - 1]
                tr = max(h - lo, abs(h - prev), abs(lo - prev))
            else:
                tr = h - lo
            k = done + s + 1  # how many bars have been sealed, this one included
            if k == 1:
                atrs.append(tr)
            else:
                last = atrs[s - 1]
                atrs.append(last + (tr - last) / min(k, period))
            trs.append(tr)
            cutoff = ts[s] - baseline
            if s > 0:
                sum_v += vol[s - 1]  # the previous reference bar joins the baseline
            while fv < s and (ts[fv] < cutoff or s - fv > cap):
                sum_v -= vol[fv]
                fv += 1
            sum_tr += tr
            while ft <= s and (ts[ft] <= cutoff or s + 1 - ft > cap):
                sum_tr -= trs[ft]
                ft += 1
            since += 1
            if since >= every:
                # re-sum from scratch: bounds the running sums' float drift (amortised
                # O(1)); plain `sum` is enough, the terms are never negative
                sum_v, sum_tr, since = sum(vol[fv:s]), sum(trs[ft:]), 0
            # The append's compaction: it drops the bars no statistic or lookback needs any
            # more (before the volume and ATR baselines, keeping `_KEEP`), in batches of at
            # least `_COMPACT_SLACK` (amortised O(1)).
            cut = min(fv, ft, s + 2 - keep)
            if cut - drop >= slack:
                drop = cut
        self._sum_v, self._fv, self._sum_tr, self._ft = sum_v, fv, sum_tr, ft
        self._since_resync = since
        if drop:
            self._drop(drop)

    def _drop(self, n: int) -> None:
        """Delete the first `n` bars (a compaction)."""
        for column in (*self._columns(), self._tr, self._atr):
            del column[:n]
        self._fv -= n
        self._ft -= n
        self._dropped += n

    def _revise(self, i: int, candle: Candle) -> None:
        """A sealed bar changed after the fact: patch the sums, redo TR/ATR from it on."""
        self._open[i], self._high[i], self._low[i], self._close[i] = (
            candle.open, candle.high, candle.low, candle.close)
        last_sealed = len(self._tr) - 1
        if self._fv <= i < last_sealed:
            self._sum_v += candle.volume - self._vol[i]
        self._vol[i] = candle.volume
        for j in range(i, last_sealed + 1):
            if j <= i + 1:  # only its own TR and the next bar's (via prev close) change
                tr = self._true_range(j)
                if j >= self._ft:
                    self._sum_tr += tr - self._tr[j]
                self._tr[j] = tr
            self._atr[j] = self._wilder(j, self._tr[j])


def _is_sane(c: Candle) -> bool:
    # spelt out, not all(...) over a generator: a third of update()'s cost, paid every bar
    finite = math.isfinite
    return (finite(c.ts) and finite(c.open) and finite(c.high) and finite(c.low)
            and finite(c.close) and finite(c.volume) and c.volume >= 0)


@dataclass(frozen=True, slots=True)
class SymbolSnapshot:
    """What the detector needs to know about one symbol at one tick.

    `price_ago` maps a lookback in minutes to the price then (missing lookbacks are absent);
    ratios and ATRs are None when there is not enough (or no fresh) history.
    """

    symbol: str
    ts: float
    price: float
    price_ago: dict[int, float] = field(default_factory=dict)
    volume_ratio: float | None = None
    atr_short: float | None = None
    atr_long: float | None = None
    bar_volume: float | None = None  # the numerator and denominator of volume_ratio, for texts
    average_volume: float | None = None
    bar: str = "1m"  # the window's bars, for texts ("5m" in a backtest on 5-minute candles)

    @property
    def atr_ratio(self) -> float | None:
        if self.atr_short is None or self.atr_long is None or self.atr_long <= 0:
            return None
        return self.atr_short / self.atr_long


def snapshot(
    window: CandleWindow,
    symbol: str,
    now: float,
    price: float,
    windows: Sequence[int] = FLASH_WINDOWS_MIN,
) -> SymbolSnapshot:
    """Read the window at `now` with the latest `price` (from the ticker)."""
    ago: dict[int, float] = {}
    if not window._ts:  # no bar: no lookback, no statistics (the backtest on 5m candles)
        return SymbolSnapshot(symbol, now, price, ago)
    for minutes in windows:
        p = window.price_ago(minutes, now)
        if p is not None and p > 0:
            ago[minutes] = p
    if not window.is_fresh(now):  # a stalled feed: its old statistics say nothing about now
        return SymbolSnapshot(symbol, now, price, ago)
    return SymbolSnapshot(
        symbol, now, price, ago,
        volume_ratio=window.volume_ratio(),
        atr_short=window.atr_short(),
        atr_long=window.atr_long(),
        bar_volume=window.reference_volume(),
        average_volume=window.average_volume(),
        bar=bar_label(window.bar_seconds),
    )


def bar_label(seconds: float) -> str:
    """A bar length as event texts name it: 1m, 5m, 1h."""
    minutes = seconds / 60.0
    return f"{minutes:g}m" if minutes < 60 else f"{minutes / 60.0:g}h"


def _rising_band(value: float, medium: float, high: float, critical: float) -> Severity | None:
    """MEDIUM [medium, high), HIGH [high, critical], CRITICAL > critical (as SPEC's flash)."""
    if value > critical:
        return _CRITICAL
    if value >= high:
        return _HIGH
    if value >= medium:
        return _MEDIUM
    return None


def fmt_price(p: float) -> str:
    """67,100 / 148.25 / 0.0001234: about four significant digits, never scientific notation."""
    if p >= 1000:
        return f"{p:,.0f}"
    if p >= 1:
        return f"{p:,.2f}"
    if p <= 0:
        return f"{p:g}"
    decimals = 3 - math.floor(math.log10(p))
    return f"{p:.{decimals}f}"


def _pct(x: float) -> str:
    return f"{x:.2f} %"


_CRASH_ACTIONS = {
    Side.LONG: "Your LONG is under pressure: tighten its stop or reduce it",
    Side.SHORT: "The move favours your SHORT: consider taking partial profit; beware a rebound",
    None: "Don't catch a falling knife: wait for the price to stabilise before buying",
}
_RALLY_ACTIONS = {
    Side.SHORT: "Your SHORT is under pressure: tighten its stop or reduce it",
    Side.LONG: "The move favours your LONG: consider taking partial profit; beware a pullback",
    None: "Don't chase the spike: wait for a pullback before buying",
}


class EventDetector:
    """Turns snapshots into MarketEvents, with a cooldown per (symbol, event type).

    Cooldowns run on `snap.ts` (the injected clock): an event is suppressed while less than
    its cooldown has passed since the last *emitted* event of the same symbol and type,
    unless it is more severe than that one: an escalation (MEDIUM grown to HIGH or CRITICAL)
    is raised at once and starts a new cooldown (SPEC §9). A timestamp earlier than the last
    emission (a restarted virtual clock) does not suppress.
    """

    def __init__(self, thresholds: EventThresholds | None = None) -> None:
        self.thresholds = thresholds or EventThresholds()
        # (symbol, type) → (ts, severity) of the last emitted event
        self._last: dict[tuple[str, EventType], tuple[float, Severity]] = {}
        # symbol → (position, its entries, the rate, what `_position_facts` gives)
        self._facts: dict[str, tuple[Position, int, float, Facts]] = {}

    def detect(
        self,
        snap: SymbolSnapshot,
        positions: Iterable[Position],
        maintenance_margin_rate: float,
        *,
        liquidation: bool = True,
    ) -> list[MarketEvent]:
        """All events of `snap.symbol` at `snap.ts` that are not cooling down.

        `positions` may hold other symbols' positions: they are skipped (the symbol's own
        position gives the flash rule its advice). `liquidation=False`: without the
        liquidation rule (a caller that asks it apart, `price_level`).
        """
        if not (math.isfinite(snap.price) and snap.price > 0):
            return []
        held = [p for p in positions if p.symbol == snap.symbol and p.quantity > 0]
        side = held[0].side if held else None
        # Each rule only where it can find something (each returns nothing without its data):
        # a snapshot of an empty window (a backtest on 5m candles) skips the first three.
        events = self._flash(snap, side) if snap.price_ago else []
        if snap.volume_ratio is not None:
            found = self._volume(snap)
            if found is not None:
                events.append(found)
        if snap.atr_short is not None:
            found = self._volatility(snap)
            if found is not None:
                events.append(found)
        if held and liquidation:
            found = self._liquidation(snap.symbol, snap.ts, snap.price, held,
                                      maintenance_margin_rate)
            if found is not None:
                events.append(found)
        for event in events:
            self._last[(event.symbol, event.event_type)] = (event.ts, event.severity)
        return events

    def detect_price(self, symbol: str, ts: float, price: float, position: Position | None,
                     maintenance_margin_rate: float) -> MarketEvent | None:
        """`detect` on the bare snapshot `SymbolSnapshot(symbol, ts, price)` (no window:
        only the liquidation rule can speak) with the symbol's open position, if any; the
        same event, without the snapshot and the lists (a backtest asks every candle)."""
        level = self.price_level(symbol, ts, price, position, maintenance_margin_rate)
        return None if level is None else self.liquidation_event(symbol, ts, price, level)

    def price_level(self, symbol: str, ts: float, price: float, position: Position | None,
                    maintenance_margin_rate: float) -> LiquidationLevel | None:
        """`detect_price`'s finding before it is worded (its cooldown started all the same):
        a caller that keeps only news words only what is."""
        if (position is None or not (math.isfinite(price) and price > 0)
                or not position.quantity > 0):
            return None
        level = self.liquidation_level(symbol, ts, price, [position], maintenance_margin_rate)
        if level is not None:
            self._last[(symbol, _LIQUIDATION)] = (ts, level[1])
        return level

    def remember(self, event: MarketEvent) -> None:
        """Start the cooldown of an event emitted earlier (e.g. restored from the database)."""
        key = (event.symbol, event.event_type)
        last = self._last.get(key)
        if last is None or last[0] <= event.ts:
            self._last[key] = (event.ts, event.severity)

    def reset(self) -> None:
        self._last.clear()

    def cooling_down(self, symbol: str, event_type: EventType, now: float,
                     severity: Severity | None = None) -> bool:
        """An event of this symbol and type was emitted less than its cooldown ago and, when
        `severity` is given, at that severity or a worse one (a worse one is an escalation:
        not held back)."""
        last = self._last.get((symbol, event_type))
        if last is None or not 0.0 <= now - last[0] < self.thresholds.cooldown_seconds(
                event_type):
            return False
        return severity is None or SEVERITY_RANK[severity] <= SEVERITY_RANK[last[1]]

    def liquidation_quiet(self, pos: Position, mmr: float) -> tuple[float, float]:
        """(low, high): at any price strictly between them `pos` cannot raise
        LIQUIDATION_RISK (its distance from liquidation is beyond the widest band, rounding
        included). The liquidation price moves only when the position changes, so a caller
        that checks every candle (the backtest) may keep this while `pos` and its entries
        stay the same, and skip the rule inside it."""
        liq = pos.liquidation_price(mmr) if 0.0 <= mmr < 1.0 and pos.quantity > 0 else 0.0
        if not (math.isfinite(liq) and liq > 0):
            return 0.0, math.inf  # it cannot be liquidated: never
        t = self.thresholds  # the widest band (config keeps risk ≥ high ≥ critical)
        widest = max(t.liquidation_risk_percent, t.liquidation_high_percent,
                     t.liquidation_critical_percent)
        band = (widest + 1e-6) / 100.0  # 1e-6 ≫ _DIGITS
        if pos.side is Side.LONG:  # distance (P − liq) / P > band  ⇔  P > liq / (1 − band)
            return (liq / (1.0 - band) if band < 1.0 else math.inf), math.inf
        return 0.0, liq / (1.0 + band)  # short: (liq − P) / P > band  ⇔  P < liq / (1 + band)

    # --- the rules
    def _flash(self, snap: SymbolSnapshot, side: Side | None) -> list[MarketEvent]:
        if not snap.price_ago:
            return []
        drop: tuple[float, int, float] | None = None
        rise: tuple[float, int, float] | None = None
        for minutes, then in sorted(snap.price_ago.items()):  # ties go to the shortest window
            if not (math.isfinite(then) and then > 0):
                continue
            change = round((snap.price - then) / then * 100.0, _DIGITS)
            if change < 0 and (drop is None or change < drop[0]):
                drop = (change, minutes, then)
            elif change > 0 and (rise is None or change > rise[0]):
                rise = (change, minutes, then)
        t = self.thresholds
        out: list[MarketEvent] = []
        for kind, move in ((EventType.FLASH_CRASH, drop), (EventType.FLASH_RALLY, rise)):
            if move is None:
                continue
            change, minutes, then = move
            severity = _rising_band(abs(change), t.flash_move_percent, t.flash_high_percent,
                                    t.flash_critical_percent)
            if severity is None or self.cooling_down(snap.symbol, kind, snap.ts, severity):
                continue
            verb = "fell" if kind is EventType.FLASH_CRASH else "rose"
            actions = _CRASH_ACTIONS if kind is EventType.FLASH_CRASH else _RALLY_ACTIONS
            out.append(MarketEvent(
                snap.ts, snap.symbol, kind, severity,
                f"{snap.symbol} {verb} {_pct(abs(change))} in {minutes} min "
                f"({fmt_price(then)} → {fmt_price(snap.price)})",
                actions[side],
                {"change_pct": round(change, 4), "window_min": minutes, "price_from": then,
                 "price": snap.price, "threshold_pct": t.flash_move_percent},
            ))
        return out

    def _volume(self, snap: SymbolSnapshot) -> MarketEvent | None:
        if snap.volume_ratio is None or not math.isfinite(snap.volume_ratio):
            return None
        t = self.thresholds
        ratio = round(snap.volume_ratio, _DIGITS)
        spike = ratio >= t.volume_spike_ratio
        if spike:
            kind = EventType.VOLUME_SPIKE
            severity = _rising_band(ratio, t.volume_spike_ratio, t.volume_spike_high_ratio,
                                    t.volume_spike_critical_ratio)
        elif ratio <= t.volume_dry_ratio:
            kind = EventType.VOLUME_DRY
            severity = Severity.HIGH if ratio <= t.volume_dry_high_ratio else Severity.MEDIUM
        else:
            return None
        if severity is None or self.cooling_down(snap.symbol, kind, snap.ts, severity):
            return None  # (nothing worded for an event not raised)
        amounts = ""
        if snap.bar_volume is not None and snap.average_volume is not None:
            amounts = (f" (last {snap.bar} bar {fmt_price(snap.bar_volume)} vs average "
                       f"{fmt_price(snap.average_volume)})")
        metrics: dict[str, Any] = {"ratio": round(ratio, 4), "bar_volume": snap.bar_volume,
                                   "average_volume": snap.average_volume, "price": snap.price}
        if spike:
            text = f"{snap.symbol} volume {ratio:.2f}× its 24 h average{amounts}"
            action = "Heavy activity: expect a breakout or a reversal; confirm the direction first"
            metrics["threshold"] = t.volume_spike_ratio
        else:
            text = f"{snap.symbol} volume only {ratio:.2f}× its 24 h average{amounts}"
            action = "Thin market: expect slippage and false moves; trade smaller or wait"
            metrics["threshold"] = t.volume_dry_ratio
        return MarketEvent(snap.ts, snap.symbol, kind, severity, text, action, metrics)

    def _volatility(self, snap: SymbolSnapshot) -> MarketEvent | None:
        raw = snap.atr_ratio
        if raw is None or not math.isfinite(raw):
            return None
        t = self.thresholds
        ratio = round(raw, _DIGITS)
        severity = _rising_band(ratio, t.volatility_spike_ratio, t.volatility_high_ratio,
                                t.volatility_critical_ratio)
        kind = EventType.VOLATILITY_SPIKE
        if severity is None or self.cooling_down(snap.symbol, kind, snap.ts, severity):
            return None
        assert snap.atr_short is not None and snap.atr_long is not None  # atr_ratio exists
        return MarketEvent(
            snap.ts, snap.symbol, kind, severity,
            f"{snap.symbol} volatility {ratio:.2f}× normal: ATR(14) {fmt_price(snap.atr_short)}"
            f" vs 24 h average range {fmt_price(snap.atr_long)} ({snap.bar} bars)",
            "Volatility is up: widen stops or cut size and leverage",
            {"ratio": round(ratio, 4), "atr_short": snap.atr_short, "atr_long": snap.atr_long,
             "price": snap.price, "threshold": t.volatility_spike_ratio},
        )

    def _position_facts(self, pos: Position, mmr: float) -> Facts:
        """What a LIQUIDATION_RISK event says of `pos` besides the price (kept while the
        position and its entries stay the same: the monitor asks every tick)."""
        n = len(pos.entries)
        kept = self._facts.get(pos.symbol)
        if kept is not None and kept[0] is pos and kept[1] == n and kept[2] == mmr:
            return kept[3]
        liq = pos.liquidation_price(mmr)
        q, notional, margin = pos.totals()  # Position's properties, read from one sum
        facts = (liq, str(pos.side), fmt_price(liq), notional / q if q else 0.0, q,
                 notional / margin if margin else 0.0, margin)
        self._facts[pos.symbol] = (pos, n, mmr, facts)
        return facts

    def _liquidation(
        self, symbol: str, ts: float, price: float, held: list[Position], mmr: float
    ) -> MarketEvent | None:
        level = self.liquidation_level(symbol, ts, price, held, mmr)
        return None if level is None else self.liquidation_event(symbol, ts, price, level)

    def liquidation_level(self, symbol: str, ts: float, price: float, held: list[Position],
                          mmr: float) -> LiquidationLevel | None:
        """The liquidation rule's finding without its words: the nearest position's distance
        (%), the severity and the position's facts; None where it raises nothing (far enough,
        or cooling down). A backtest asks this every candle and words only what is news."""
        t = self.thresholds
        # `cooling_down` spelt out, read once (asked every candle a backtest holds)
        last = self._last.get((symbol, _LIQUIDATION))
        cooled = -1  # the last one's rank while its cooldown runs: no worse is raised
        if last is not None and 0.0 <= ts - last[0] < t.liquidation_cooldown_seconds:
            cooled = SEVERITY_RANK[last[1]]
        if not held or not 0.0 <= mmr < 1.0 or cooled >= _CRITICAL_RANK:
            return None  # (cooling down after a CRITICAL: nothing is worse)
        nearest: tuple[float, Position, Facts] | None = None
        for pos in held:
            facts = self._position_facts(pos, mmr)
            liq = facts[0]
            if not (math.isfinite(liq) and liq > 0):
                continue  # a long at ≤ 1× leverage cannot be liquidated
            gap = price - liq if pos.side is _LONG else liq - price
            d = gap / price * 100.0
            # Rounded here only where rounding can change what follows (within _EDGE of a
            # band's edge, or two positions to compare); else once worded (round is slow:
            # a backtest holding a leveraged position asks every candle, words one in ~5).
            if (len(held) > 1 or abs(d) < _EDGE or abs(d - t.liquidation_critical_percent)
                    < _EDGE or abs(d - t.liquidation_high_percent) < _EDGE
                    or abs(d - t.liquidation_risk_percent) < _EDGE):
                d = round(d, _DIGITS)
            distance = max(d, 0.0)  # past it: 0
            if nearest is None or distance < nearest[0]:
                nearest = (distance, pos, facts)
        if nearest is None:
            return None
        distance, _pos, facts = nearest
        if distance < t.liquidation_critical_percent:
            severity = _CRITICAL
        elif distance <= t.liquidation_high_percent:
            severity = _HIGH
        elif distance <= t.liquidation_risk_percent:
            severity = _MEDIUM
        else:
            return None  # far from liquidation: no text, no metrics built
        if SEVERITY_RANK[severity] <= cooled:
            return None  # not worse than the last one, inside its cooldown
        return distance, severity, facts

    def liquidation_event(self, symbol: str, ts: float, price: float,
                          level: LiquidationLevel) -> MarketEvent:
        """The LIQUIDATION_RISK event of a `liquidation_level` finding, worded."""
        found, severity, (liq, side, liq_text, entry, q, leverage, margin) = level
        distance = max(round(found, _DIGITS), 0.0)  # (rounding twice changes nothing)
        t = self.thresholds
        kind = EventType.LIQUIDATION_RISK
        # Advice names what the app can do (x closes the position, X closes all)
        if severity is Severity.CRITICAL:
            action = f"Close the {side} now (x): it is liquidated at {liq_text}"
        elif severity is Severity.HIGH:
            action = f"Consider closing the {side} (x) before {liq_text}"
        else:
            action = f"Watch the {side}: liquidation at {liq_text} (x closes it)"
        where = (f"is {distance:.2f} % from liquidation" if distance > 0
                 else "is at or past its liquidation price")
        return MarketEvent(
            ts, symbol, kind, severity,
            f"{symbol} {side} {where} (price {fmt_price(price)}, liquidation {liq_text})",
            action,
            {"distance_pct": round(distance, 4), "liquidation_price": liq, "price": price,
             "side": side, "entry_price": entry, "quantity": q, "leverage": leverage,
             "margin": margin, "threshold_pct": t.liquidation_risk_percent},
        )


__all__ = [
    "FLASH_WINDOWS_MIN",
    "CandleWindow",
    "EventDetector",
    "EventThresholds",
    "SymbolSnapshot",
    "bar_label",
    "fmt_price",
    "snapshot",
]

"""The simulated market (SPEC §5.2): deterministic, realistic-looking prices on the app clock.

Two profiles (`sim_profile`). **realistic** (the default) is calibrated to crypto's stylized
facts, measured on Binance 5-minute candles of 2024 (../shared/data/binance-2024, 335 days;
`benchmarks/sim_stats.py` prints the same figures for real files and generated days):

| statistic (real 2024)                | BTC         | ETH         | SOL         |
|--------------------------------------|-------------|-------------|-------------|
| daily log-return σ                   | 2.75 %      | 3.33 %      | 4.23 %      |
| excess kurtosis of 5-min returns     | 31          | 57          | 101         |
| abs 5-min return autocorr. 5m/1h/1d | .34/.22/.12 | .32/.20/.10 | .31/.20/.12 |
| lag-1 autocorr. of 5-min returns     | −.01        | .01         | −.02        |
| 15-min high/low range ≥ 5 %, a month | 0.7         | 1.3         | 2.1         |

The daily σ targets are SPEC §5.2's bands (BTC 2.5–3.5 %, ETH 3.5–4.5 %, SOL 5–6 %; 2024 was
a calm year for BTC/SOL against 2021–2022, see e.g. CoinMetrics' realized-volatility series).
The path is a driftless random walk of Student-t (ν = 4) innovations scaled by a two-speed
stochastic volatility (log-volatility AR(1)s with hours and days of memory: the clustering),
with intraday seasonality, Poisson jumps (4–9 % over 1–15 minutes, either sign, no built-in
retrace: BTC ~1.5, ETH ~2.5, SOL ~4 a month) followed by a volatility burst and a volume
spike, and random volume spikes and droughts. Nothing in it rewards one strategy: no
regimes of drift, no pull that makes moves come back.

**eventful** keeps the first generator, dense in events for demos of the event monitor:
a random-walk level with trending and ranging regimes, a mean-reverting (OU) component,
stochastic volatility with clustering (a log-volatility AR(1), GARCH-like), intraday
seasonality, flash crashes/rallies about every 3 hours (2.4–4 %, 30 % of them 5.2–7.5 %,
within 1–15 minutes, with a volume spike and a volatility burst, then a 60–100 % retrace),
random volume spikes and droughts. So every event type of SPEC §9 occurs within a simulated
day (daily returns have a σ of ~3.5 %; daily high/low ranges ~11 % because of the flash wicks).

Determinism: the path depends only on the seed, the symbol and the minute at which the
SimMarket was created (10 days of history end there; later minutes come in 1-day chunks, each
from its own seeded generator), so the same seed and clock give the same data however often
and in whatever order it is read. Inside the current minute the price moves along a
deterministic path through the bar's high and low, one step per second.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from autotrade_tui.core.clock import Clock
from autotrade_tui.core.models import Candle, Ticker
from autotrade_tui.errors import MarketDataError
from autotrade_tui.market.base import TIMEFRAME_SECONDS
from autotrade_tui.market.symbols import FIAT, PROFILES, STABLES, UnknownSymbolError, unknown

HISTORY_MINUTES = 10 * 1440  # 1h gets 240 candles, 15m 960; the events' 24 h at once
CHUNK_MINUTES = 1440
# 1-minute bars kept per symbol (SPEC §10 "Runs for a year": RSS flat): at least the last 11
# days, so every candle the app asks for (1h × 240, 15m × 960, the events' 24 h) lies inside;
# older bars are dropped, so a year costs what twelve days do (~1.2 MB a symbol).
KEEP_MINUTES = HISTORY_MINUTES + CHUNK_MINUTES
KNOT_FRACTIONS = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])  # where a bar's path turns

@dataclass(frozen=True)
class Profile:
    low: float
    high: float
    sigma: float  # per-minute log-return volatility
    quote_volume: float  # per minute, in the quote currency


def profile(symbol: str) -> Profile:
    """Price range, volatility and volume of BASE/QUOTE (UnknownSymbolError for a market
    the table does not know)."""
    base, _, quote = symbol.partition("/")

    def usd(asset: str) -> tuple[float, float, float, float]:
        if asset in STABLES:
            return (1.0, 1.0, 0.0, 0.0)
        if asset in FIAT:
            return (FIAT[asset], FIAT[asset], 0.0001, 0.0)
        if asset in PROFILES:
            return PROFILES[asset]
        raise UnknownSymbolError(symbol)  # never an invented price (SPEC §5.2 Symbols)

    b, q = usd(base), usd(quote)
    quote_mid = math.sqrt(q[0] * q[1])
    return Profile(b[0] / quote_mid, b[1] / quote_mid, max(b[2], q[2], 0.0005),
                   max(b[3], 20_000.0) / quote_mid)


def _ar1(innov: np.ndarray, phi: float, x0: float) -> np.ndarray:
    """x_t = φ·x_{t−1} + e_t from x_{−1} = x0, vectorised per block.

    Within a block x_{s+j} = φ^j·(φ·carry + Σ_{i≤j} φ^{−i}·e_{s+i}); blocks keep φ^{−i} ≤ e^10
    so the cumulative sum loses no precision that matters.
    """
    n = len(innov)
    out = np.empty(n)
    if n == 0:
        return out
    block = max(1, min(n, int(10.0 / -math.log(phi))))
    k = np.arange(block)
    pw, inv = phi ** k, phi ** -k.astype(float)
    carry = x0
    for s in range(0, n, block):
        seg = innov[s: s + block]
        m = len(seg)
        x = pw[:m] * (phi * carry + np.cumsum(seg * inv[:m]))
        out[s: s + m] = x
        carry = float(x[-1])
    return out


@dataclass
class _State:
    """What a chunk hands to the next one so the path continues seamlessly."""

    level: float  # random-walk part of the log price
    ou: float = 0.0  # mean-reverting part of the log price
    h: float = 0.0  # log-volatility state
    h_slow: float = 0.0  # the realistic profile's slow log-volatility (days of memory)
    burst: float = 0.0  # volatility burst left over from a flash event
    regime_left: int = 0
    drift: float = 0.0
    rw_weight: float = 1.0
    next_event: int = 60  # minutes from the chunk start to the next flash event
    last_sign: float = 1.0


@dataclass
class _Bars:
    """1-minute bars of one symbol; index i opens at base_ts + 60·i."""

    open: np.ndarray = field(default_factory=lambda: np.empty(0))
    high: np.ndarray = field(default_factory=lambda: np.empty(0))
    low: np.ndarray = field(default_factory=lambda: np.empty(0))
    close: np.ndarray = field(default_factory=lambda: np.empty(0))
    volume: np.ndarray = field(default_factory=lambda: np.empty(0))
    knots: np.ndarray = field(default_factory=lambda: np.empty((0, 4)))

    def extend(self, other: _Bars) -> None:
        for name in ("open", "high", "low", "close", "volume", "knots"):
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))

    def drop_first(self, n: int) -> None:
        """Forget the oldest `n` bars (copies: a view would keep the whole array alive)."""
        for name in ("open", "high", "low", "close", "volume", "knots"):
            setattr(self, name, getattr(self, name)[n:].copy())


# Flash-event durations (minutes) and their weights: mostly a few minutes, sometimes 15.
FLASH_MINUTES = np.array([1, 2, 3, 4, 5, 6, 8, 10, 12, 15])
FLASH_WEIGHTS = np.array([4, 4, 4, 3, 3, 2, 2, 2, 1, 1], dtype=float) / 26.0
PULL_PER_DAY = 0.1  # fraction of the distance to the typical price recovered per day
BURST_TAU = 90.0  # minutes for a volatility burst to decay by e


def _burst_after(n: int, ends: np.ndarray, amps: np.ndarray, st: _State) -> np.ndarray:
    """The volatility burst that follows each flash move or jump (ending at `ends`, of
    relative size `amps`), decaying over BURST_TAU minutes; carried in `st` across chunks."""
    impulses = np.zeros(n)
    np.add.at(impulses, ends[ends < n], amps[ends < n])
    burst = _ar1(impulses, math.exp(-1 / BURST_TAU), st.burst)
    st.burst = float(burst[-1]) if n else st.burst
    return burst


class _Generator:
    """Makes chunks of 1-minute bars for one symbol."""

    def __init__(self, prof: Profile, base_volume: float) -> None:
        self.prof = prof
        self.base_volume = base_volume
        self.center = 0.5 * (math.log(prof.low) + math.log(prof.high))

    def chunk(self, rng: np.random.Generator, n: int, st: _State,
              minute_of_day0: int) -> tuple[_Bars, _State]:
        sig0 = self.prof.sigma
        drift, rw_w = self._regimes(rng, n, st)
        mod = (minute_of_day0 + np.arange(n)) % 1440
        season = 1.0 + 0.25 * np.sin(2 * np.pi * mod / 1440 - 2.0)  # busier in EU/US hours
        phi_h, sd_h = math.exp(-1 / 360), 0.6  # volatility clusters over hours
        h = _ar1(rng.normal(0.0, sd_h * math.sqrt(1 - phi_h**2), n), phi_h, st.h)
        flash, burst, vol_mult = self._flash_events(rng, n, st)
        sigma = sig0 * np.exp(h - sd_h**2 / 2) * (1.0 + burst) * season

        start = st.level + st.ou
        # A weak daily pull toward the symbol's typical price keeps long sessions in range.
        pull = -PULL_PER_DAY * (st.level - self.center) / 1440
        level = st.level + np.cumsum(drift + flash + pull
                                     + 0.8 * sigma * rw_w * rng.standard_normal(n))
        ou = _ar1(0.6 * sigma * rng.standard_normal(n), math.exp(-1 / 60), st.ou)
        close = np.exp(level + ou)
        open_ = np.concatenate([[math.exp(start)], close[:-1]])
        wick = 0.6 * sigma * np.abs(rng.standard_normal((2, n)))
        high = np.maximum(open_, close) * np.exp(wick[0])
        low = np.minimum(open_, close) * np.exp(-wick[1])
        knots = self._knots(rng, high, low)

        activity = (sigma / (sig0 * season)) ** 0.6  # volume follows volatility
        volume = (self.base_volume * season * activity * vol_mult
                  * np.exp(0.35 * rng.standard_normal(n)) * self._volume_shocks(rng, n))
        st.level, st.ou, st.h = float(level[-1]), float(ou[-1]), float(h[-1])
        return _Bars(open_, high, low, close, volume, knots), st

    def _regimes(self, rng: np.random.Generator, n: int,
                 st: _State) -> tuple[np.ndarray, np.ndarray]:
        """Piecewise-constant drift: trending up, trending down, or ranging (no drift, and the
        random-walk part damped so the mean-reverting part dominates)."""
        drift, rw_w = np.empty(n), np.empty(n)
        pos = 0
        while pos < n:  # one iteration per regime (a few per day)
            if st.regime_left <= 0:
                st.regime_left = int(rng.integers(90, 600))
                kind = rng.random()
                strength = rng.uniform(0.02, 0.07) * self.prof.sigma
                if kind < 0.6:
                    st.drift, st.rw_weight = (strength if kind < 0.3 else -strength), 1.0
                else:
                    st.drift, st.rw_weight = 0.0, 0.45
            take = min(st.regime_left, n - pos)
            drift[pos: pos + take] = st.drift
            rw_w[pos: pos + take] = st.rw_weight
            pos += take
            st.regime_left -= take
        return drift, rw_w

    def _flash_events(self, rng: np.random.Generator, n: int,
                      st: _State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flash crashes/rallies: log-drift, the volatility burst after, volume multipliers.

        Events are 90 minutes + an exponential time (mean 110, capped at 300 minutes) apart;
        each moves the price 2.4–4 % (30 % of them 5.2–7.5 %) within 1–15 minutes, mostly
        opposite to the previous one, then retraces 60–100 % of it over 30–120 minutes.
        Built from difference arrays (cumsum) and AR(1) decays, so no loop over events.
        """
        m = n // 90 + 2  # more candidates than can fit: every step is > 90 minutes
        ks = rng.choice(FLASH_MINUTES, size=m, p=FLASH_WEIGHTS)
        # Irregular gaps, ~3 hours on average, never more than 6.5 hours (events every day).
        gaps = 90 + np.minimum(rng.exponential(110.0, m), 300.0).astype(int)
        starts = st.next_event + np.concatenate([[0], np.cumsum(ks + gaps)])
        starts = starts[:m]
        fits = starts + ks <= n
        count = int(np.argmin(fits)) if not fits.all() else m
        st.next_event = max(0, int(starts[count]) - n) if count < m else 0
        flips = np.cumsum(rng.random(m) < 0.75)  # mostly alternate crash / rally
        signs = st.last_sign * np.where(flips % 2 == 1, -1.0, 1.0)
        sizes = np.where(rng.random(m) < 0.3, rng.uniform(0.052, 0.075, m),
                         rng.uniform(0.024, 0.04, m))
        back = rng.integers(30, 120, m)
        retrace = rng.uniform(0.6, 1.0, m)
        amps = rng.uniform(0.4, 1.0, m)
        spikes = np.log(rng.uniform(3.0, 7.0, m))
        if count:
            st.last_sign = float(signs[count - 1])
        ks, starts, signs, sizes = ks[:count], starts[:count], signs[:count], sizes[:count]
        back, retrace, amps, spikes = back[:count], retrace[:count], amps[:count], spikes[:count]

        move = np.log1p(signs * sizes)
        ends = starts + ks
        rend = np.minimum(n, ends + back)
        diff = np.zeros(n + 1)
        np.add.at(diff, starts, move / ks)
        np.add.at(diff, ends, -move / ks - move * retrace / back)
        np.add.at(diff, rend, move * retrace / back)
        flash = np.cumsum(diff)[:n]

        after = ends[ends < n]
        burst = _burst_after(n, ends, amps, st)

        log_mult = np.zeros(n + 1)
        np.add.at(log_mult, starts, spikes)
        np.add.at(log_mult, ends, -spikes)
        tail = np.zeros(n)
        np.add.at(tail, after, 2.0)  # volume stays high for a while after the move
        vol_mult = np.exp(np.cumsum(log_mult)[:n]) * (1.0 + _ar1(tail, math.exp(-1 / 8), 0.0))
        return flash, burst, vol_mult

    @staticmethod
    def _volume_shocks(rng: np.random.Generator, n: int) -> np.ndarray:
        """Random volume spikes (×2.8–6 for 1–3 minutes) and droughts (×0.04–0.1, 20–90 min)."""
        days = n / 1440
        spikes, droughts = int(rng.poisson(6 * days)), int(rng.poisson(3 * days)) + 1
        starts = rng.integers(0, n, spikes + droughts)
        lengths = np.concatenate([rng.integers(1, 4, spikes), rng.integers(20, 90, droughts)])
        logs = np.log(np.concatenate([rng.uniform(2.8, 6.0, spikes),
                                      rng.uniform(0.04, 0.1, droughts)]))
        diff = np.zeros(n + 1)
        np.add.at(diff, starts, logs)
        np.add.at(diff, np.minimum(n, starts + lengths), -logs)
        return np.exp(np.cumsum(diff)[:n])

    @staticmethod
    def _knots(rng: np.random.Generator, high: np.ndarray, low: np.ndarray) -> np.ndarray:
        """Four turning points inside each bar: one is its high, one its low, two in between."""
        n = len(high)
        inner = low[:, None] + rng.random((n, 4)) * (high - low)[:, None]
        at_high = rng.integers(0, 4, n)
        at_low = (at_high + rng.integers(1, 4, n)) % 4  # a different knot
        rows = np.arange(n)
        inner[rows, at_high] = high
        inner[rows, at_low] = low
        return inner


SIM_PROFILES = ("realistic", "eventful")
# realistic: base asset → (daily log-return σ, jumps per 30 days); others get OTHER_ASSET.
REALISTIC: dict[str, tuple[float, float]] = {
    "BTC": (0.030, 1.5), "ETH": (0.040, 2.5), "SOL": (0.055, 4.0), "BNB": (0.035, 2.0),
    "XRP": (0.050, 3.0), "ADA": (0.050, 3.0), "DOGE": (0.060, 4.0), "AVAX": (0.055, 4.0),
    "LINK": (0.050, 3.0), "DOT": (0.050, 3.0), "LTC": (0.045, 2.5), "TRX": (0.035, 2.0),
}
OTHER_ASSET = (0.060, 4.0)
T_NU = 4.0  # Student-t degrees of freedom of the innovations: fat tails
JUMP_LOW, JUMP_HIGH = 0.04, 0.09  # jump sizes (fraction of price)
FAST_TAU, FAST_SD = 120.0, 0.45  # log-volatility with hours of memory
SLOW_TAU, SLOW_SD = 3 * 1440.0, 0.35  # and with days of memory
REALISTIC_PULL_PER_DAY = 0.003  # only keeps a year-long session near its price level


class _RealisticGenerator(_Generator):
    """The realistic profile's chunks (see the module doc)."""

    def __init__(self, prof: Profile, base_volume: float, base: str) -> None:
        super().__init__(prof, base_volume)
        self.daily_sigma, self.jumps_per_month = REALISTIC.get(base, OTHER_ASSET)

    def chunk(self, rng: np.random.Generator, n: int, st: _State,
              minute_of_day0: int) -> tuple[_Bars, _State]:
        rate = self.jumps_per_month / (30 * 1440)  # per minute
        mean_jump2 = (JUMP_HIGH**3 - JUMP_LOW**3) / (3 * (JUMP_HIGH - JUMP_LOW))  # E[J²]
        # the diffusion's share of the daily variance, the jumps bring the rest
        diffusive = max(self.daily_sigma**2 - rate * 1440 * mean_jump2,
                        0.25 * self.daily_sigma**2)
        sig0 = math.sqrt(diffusive / 1440)
        mod = (minute_of_day0 + np.arange(n)) % 1440
        season = 1.0 + 0.25 * np.sin(2 * np.pi * mod / 1440 - 2.0)
        phi_f, phi_s = math.exp(-1 / FAST_TAU), math.exp(-1 / SLOW_TAU)
        h = _ar1(rng.normal(0.0, FAST_SD * math.sqrt(1 - phi_f**2), n), phi_f, st.h)
        h_slow = _ar1(rng.normal(0.0, SLOW_SD * math.sqrt(1 - phi_s**2), n), phi_s, st.h_slow)
        var_h = FAST_SD**2 + SLOW_SD**2  # E[exp(2(h − var_h))] = exp(−2 var_h + 2 var_h) = 1
        jump, burst, vol_mult = self._jumps(rng, n, st, rate)
        sigma = sig0 * np.exp(h + h_slow - var_h) * (1.0 + burst) * season
        t = rng.standard_t(T_NU, n) / math.sqrt(T_NU / (T_NU - 2))
        start = st.level + st.ou
        pull = -REALISTIC_PULL_PER_DAY * (st.level - self.center) / 1440
        level = st.level + np.cumsum(jump + pull + sigma * t)
        close = np.exp(level)
        open_ = np.concatenate([[math.exp(start)], close[:-1]])
        wick = 0.5 * sigma * np.abs(rng.standard_normal((2, n)))
        high = np.maximum(open_, close) * np.exp(wick[0])
        low = np.minimum(open_, close) * np.exp(-wick[1])
        knots = self._knots(rng, high, low)
        activity = (sigma / (sig0 * season)) ** 0.6
        volume = (self.base_volume * season * activity * vol_mult
                  * np.exp(0.35 * rng.standard_normal(n)) * self._volume_shocks(rng, n))
        st.level, st.ou, st.h, st.h_slow = float(level[-1]), 0.0, float(h[-1]), float(h_slow[-1])
        return _Bars(open_, high, low, close, volume, knots), st

    def _jumps(self, rng: np.random.Generator, n: int, st: _State,
               rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Poisson jumps (log-drift spread over 1–15 minutes), the volatility burst after
        each, and the volume multiplier; no retrace."""
        count = int(rng.poisson(rate * n))
        starts = np.sort(rng.integers(0, n, count))
        ks = rng.choice(FLASH_MINUTES, size=count, p=FLASH_WEIGHTS)
        sizes = rng.uniform(JUMP_LOW, JUMP_HIGH, count) * rng.choice([-1.0, 1.0], count)
        spikes = np.log(rng.uniform(3.0, 7.0, count))
        amps = rng.uniform(0.5, 1.5, count)
        move = np.log1p(sizes)
        ends = np.minimum(starts + ks, n)
        diff = np.zeros(n + 1)
        np.add.at(diff, starts, move / ks)
        np.add.at(diff, ends, -move / ks)
        jump = np.cumsum(diff)[:n]  # (a jump cut by the chunk's end keeps what it moved)
        burst = _burst_after(n, ends, amps, st)
        log_mult = np.zeros(n + 1)
        np.add.at(log_mult, starts, spikes)
        np.add.at(log_mult, ends, -spikes)
        return jump, burst, np.exp(np.cumsum(log_mult)[:n])


class _Path:
    """One symbol's 1-minute bars from `base_ts` on, extended a day at a time as time passes."""

    def __init__(self, symbol: str, seed: int, base_ts: float,
                 kind: str = "realistic", last: float | None = None) -> None:
        """`last`: the price the history must end at (a restart goes on from its last mark);
        else one drawn from the symbol's range."""
        self.prof = profile(symbol)
        self.base_ts = base_ts
        self._key = [int(seed), zlib.crc32(symbol.encode())]
        rng = np.random.default_rng([*self._key, 0])
        target = math.exp(rng.uniform(math.log(self.prof.low), math.log(self.prof.high)))
        if last is not None and last > 0:
            target = last  # drawn above all the same: the rest of the path stays seeded
        volume = self.prof.quote_volume / target
        self._gen = (_RealisticGenerator(self.prof, volume, symbol.partition("/")[0])
                     if kind == "realistic" else _Generator(self.prof, volume))
        state = _State(level=math.log(target))
        bars, state = self._gen.chunk(rng, HISTORY_MINUTES, state, self._minute_of_day(0))
        # Shift the history so that it ends at the target price: "now" is in a realistic range.
        shift = math.log(target) - math.log(float(bars.close[-1]))
        for name in ("open", "high", "low", "close", "knots"):
            setattr(bars, name, getattr(bars, name) * math.exp(shift))
        state.level += shift
        self.bars, self._state, self._chunks = bars, state, 0
        self.offset = 0  # the index of bars[0]: older bars have been dropped (KEEP_MINUTES)

    def _minute_of_day(self, index: int) -> int:
        return int(((self.base_ts + 60 * index) // 60) % 1440)

    def ensure(self, index: int) -> None:
        """Generate bars up to and including `index`. Before growing, bars older than the
        newest KEEP_MINUTES are dropped: a running app keeps at most KEEP_MINUTES + a chunk,
        while one read after a jump of the clock (a backtest, a statistic over 90 days) still
        finds every bar up to `index`. Each chunk comes from its own seeded generator and the
        carried state, never from the bars kept, so dropping old ones changes no price."""
        if self.offset + len(self.bars.close) > index:
            return
        drop = len(self.bars.close) - KEEP_MINUTES
        if drop > 0:
            self.bars.drop_first(drop)
            self.offset += drop
        while self.offset + len(self.bars.close) <= index:
            self._chunks += 1
            rng = np.random.default_rng([*self._key, self._chunks])
            bars, self._state = self._gen.chunk(
                rng, CHUNK_MINUTES, self._state,
                self._minute_of_day(self.offset + len(self.bars.close)))
            self.bars.extend(bars)

    def partial(self, index: int, second: int) -> tuple[float, float, float, float, float]:
        """(open, high, low, close, volume) of bar `index` after `second` whole seconds."""
        b, i = self.bars, index - self.offset
        frac = second / 60.0
        path = np.concatenate([[b.open[i]], b.knots[i], [b.close[i]]])
        price = float(np.interp(frac, KNOT_FRACTIONS, path))
        seen = path[frac >= KNOT_FRACTIONS]
        return (float(b.open[i]), max(float(seen.max()), price), min(float(seen.min()), price),
                price, float(b.volume[i]) * frac)


class SimMarket:
    """`MarketFeed` of the simulated market ("SIM"); any BASE/QUOTE symbol can be priced."""

    mode = "SIM"

    def __init__(self, symbols: Sequence[str], clock: Clock, seed: int = 42,
                 profile: str = "realistic") -> None:
        if profile not in SIM_PROFILES:
            raise MarketDataError(f"simulated market: unknown profile '{profile}' "
                                  f"(one of {', '.join(SIM_PROFILES)})")
        self.clock = clock
        self.seed = int(seed)
        self.profile = profile
        self.symbols = list(symbols)
        bad = unknown(self.symbols)
        if bad:  # refused at start-up, never traded on an invented price (SPEC §5.2)
            raise UnknownSymbolError(*bad)
        # History ends at the minute the market opens; that minute is the first one "live".
        self._base_ts = (clock.now() // 60) * 60 - 60 * HISTORY_MINUTES
        self._paths: dict[str, _Path] = {}
        self.note = f"simulated market ({profile}, seed {self.seed})"
        self.fallback_reason: str | None = None  # set when market=auto fell back to the sim
        for s in self.symbols:
            self._path(s)

    def _path(self, symbol: str) -> _Path:
        path = self._paths.get(symbol)
        if path is None:
            base, sep, quote = symbol.partition("/")
            if not (sep and base and quote):
                raise MarketDataError(f"simulated market: '{symbol}' is not a BASE/QUOTE symbol")
            if unknown([symbol]):
                raise MarketDataError(f"simulated market: unknown symbol '{symbol}'")
            path = self._paths[symbol] = _Path(symbol, self.seed, self._base_ts, self.profile)
        return path

    def continue_from(self, prices: Mapping[str, float]) -> None:
        """Restart where a previous run stopped (SPEC §5.2 Restarts): the market opens now at
        the last price each symbol was marked at, so a restart never moves equity by itself.
        Call before the first tick; the paths' history is rebuilt to end at those prices."""
        for symbol, price in prices.items():
            if symbol in self._paths:
                self._paths[symbol] = _Path(symbol, self.seed, self._base_ts, self.profile,
                                            last=price)

    def _now_index(self, now: float) -> tuple[int, int]:
        """(index of the 1-minute bar at `now`, whole seconds into it)."""
        elapsed = max(0.0, now - self._base_ts)
        index = int(elapsed // 60)
        return index, int(elapsed - 60 * index)

    async def fetch_tickers(self, symbols: list[str]) -> dict[str, Ticker]:
        now = self.clock.now()
        index, second = self._now_index(now)
        out: dict[str, Ticker] = {}
        for s in symbols:
            try:
                path = self._path(s)
            except MarketDataError:
                continue  # not a symbol: absent, never a made-up price
            path.ensure(index)
            _o, _h, _l, price, vol = path.partial(index, second)
            half_spread = price * 0.00005
            lo = max(path.offset, index - 1439) - path.offset
            day = path.bars.volume[lo: index - path.offset].sum() + vol
            out[s] = Ticker(s, price, now, bid=price - half_spread, ask=price + half_spread,
                            volume_24h=float(day))
        return out

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "5m", limit: int = 200,
                          since: float | None = None) -> list[Candle]:
        return self.candles(symbol, timeframe, limit, since)

    def candles(self, symbol: str, timeframe: str = "5m", limit: int = 200,
                since: float | None = None) -> list[Candle]:
        """Synchronous `fetch_ohlcv` (the sim does no I/O)."""
        if timeframe not in TIMEFRAME_SECONDS:
            raise MarketDataError(f"simulated market: unknown timeframe '{timeframe}' "
                                  f"(one of {', '.join(TIMEFRAME_SECONDS)})")
        path = self._path(symbol)
        index, second = self._now_index(self.clock.now())
        path.ensure(index)
        width = TIMEFRAME_SECONDS[timeframe] // 60
        base_min = int(self._base_ts // 60)
        # Buckets are aligned to the epoch (a 1h candle opens on the hour); the first one is
        # dropped when the bars kept start inside it.
        kept = base_min + path.offset  # the minute of the oldest bar kept
        first = -(-kept // width) * width - base_min  # index of the first whole bucket
        current = (base_min + index) // width * width - base_min  # the current bucket
        if since is not None:
            aligned = -(-math.ceil(since / 60) // width) * width  # first bucket opening ≥ since
            start = max(first, aligned - base_min)
        else:
            start = max(first, current - (max(limit, 1) - 1) * width)
        if start > index or limit <= 0:
            return []
        stop = min(index + 1, start + limit * width)
        return self._aggregate(path, start, stop, width, index, second, base_min)

    def _aggregate(self, path: _Path, start: int, stop: int, width: int, index: int,
                   second: int, base_min: int) -> list[Candle]:
        b, a, z = path.bars, start - path.offset, stop - path.offset
        o, h, lo = b.open[a:z].copy(), b.high[a:z].copy(), b.low[a:z].copy()
        c, v = b.close[a:z].copy(), b.volume[a:z].copy()
        if stop == index + 1:  # the current bar is only partly formed
            o[-1], h[-1], lo[-1], c[-1], v[-1] = path.partial(index, second)
        edges = np.arange(0, stop - start, width)
        last = np.append(edges[1:], stop - start) - 1
        ts = (base_min + start + edges) * 60.0
        cols = zip(ts, o[edges], np.maximum.reduceat(h, edges), np.minimum.reduceat(lo, edges),
                   c[last], np.add.reduceat(v, edges), strict=True)
        return [Candle(float(t), float(a), float(hh), float(ll), float(cc), float(vv))
                for t, a, hh, ll, cc, vv in cols]

    def latest_ts(self) -> float | None:
        return self.clock.now()

    async def close(self) -> None:
        return None

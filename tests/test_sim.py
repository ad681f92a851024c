"""SimMarket: deterministic, realistic scales, history at once, every §9 event class in a day."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest
import talib

from autotrade_tui.core.clock import ScaledClock, VirtualClock
from autotrade_tui.core.models import Candle
from autotrade_tui.errors import MarketDataError
from autotrade_tui.market.base import TIMEFRAME_SECONDS, MarketFeed
from autotrade_tui.market.sim import SimMarket

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
T0 = 1_700_000_040.0  # a whole minute


def arrays(candles: list[Candle]) -> dict[str, np.ndarray]:
    return {k: np.array([getattr(c, k) for c in candles])
            for k in ("ts", "open", "high", "low", "close", "volume")}


async def test_same_seed_same_series_different_seed_different() -> None:
    a_clock, b_clock, c_clock = VirtualClock(T0), VirtualClock(T0), VirtualClock(T0)
    a = SimMarket(SYMBOLS, a_clock, seed=7)
    b = SimMarket(SYMBOLS, b_clock, seed=7)
    c = SimMarket(SYMBOLS, c_clock, seed=8)
    assert a.candles("BTC/USDT", "5m", 300) == b.candles("BTC/USDT", "5m", 300)
    assert a.candles("SOL/USDT", "1m", 300) != c.candles("SOL/USDT", "1m", 300)
    # Reading at different moments, or not at all, does not change what a moment shows.
    for dt in (17.0, 60.0, 3_600.0, 2 * 86_400.0 + 5.0):
        a_clock.advance(dt)
        await a.fetch_tickers(SYMBOLS)
    b_clock.set(a_clock.now())
    assert await a.fetch_tickers(SYMBOLS) == await b.fetch_tickers(SYMBOLS)
    assert a.candles("ETH/USDT", "15m", 500) == b.candles("ETH/USDT", "15m", 500)
    c_clock.set(a_clock.now())
    assert (await c.fetch_tickers(["BTC/USDT"]))["BTC/USDT"].last != \
        (await a.fetch_tickers(["BTC/USDT"]))["BTC/USDT"].last


async def test_realistic_scales_for_known_and_unknown_symbols() -> None:
    for seed in range(5):
        sim = SimMarket(SYMBOLS, VirtualClock(T0), seed)
        t = await sim.fetch_tickers([*SYMBOLS, "PEPE/USDT", "ETH/BTC", "nonsense"])
        assert 60_000 <= t["BTC/USDT"].last <= 100_000
        assert 2_000 <= t["ETH/USDT"].last <= 4_000
        assert 100 <= t["SOL/USDT"].last <= 250
        assert "PEPE/USDT" not in t  # a coin it does not know: never an invented price
        assert 0.02 <= t["ETH/BTC"].last <= 0.07  # a crypto quote: the ratio of the two
        assert "nonsense" not in t  # not a symbol: absent, never a made-up price
        btc = t["BTC/USDT"]
        assert btc.bid is not None and btc.ask is not None and btc.bid < btc.last < btc.ask
        assert btc.ts == T0 and btc.volume_24h and btc.volume_24h > 0
    assert sim.mode == "SIM" and isinstance(sim, MarketFeed)
    assert sim.latest_ts() == T0


def test_history_is_there_at_once_and_consistent() -> None:
    clock = VirtualClock(T0 + 37.0)
    sim = SimMarket(SYMBOLS, clock, 3)
    one = sim.candles("BTC/USDT", "1m", 2000)
    assert len(one) == 2000  # the event monitor's 24 h of 1m bars, and more
    for tf in ("1m", "5m", "15m", "1h"):
        candles = sim.candles("BTC/USDT", tf, 200)
        assert len(candles) == 200, tf
        step = TIMEFRAME_SECONDS[tf]
        a = arrays(candles)
        assert (a["ts"] % step == 0).all()
        assert (np.diff(a["ts"]) == step).all()
        assert a["ts"][-1] <= clock.now() < a["ts"][-1] + step  # the last one is current
        assert (a["high"] >= np.maximum(a["open"], a["close"])).all()
        assert (a["low"] <= np.minimum(a["open"], a["close"])).all()
        assert (a["volume"] >= 0).all()
    # 5m bars are exactly the 1m bars aggregated.
    five = sim.candles("BTC/USDT", "5m", 10)
    ones = [c for c in one if c.ts >= five[0].ts]
    groups = [ones[i: i + 5] for i in range(0, len(ones), 5)]
    for bar, group in zip(five, groups, strict=True):
        assert bar.open == group[0].open and bar.close == group[-1].close
        assert bar.high == max(c.high for c in group) and bar.low == min(c.low for c in group)
        assert bar.volume == pytest.approx(sum(c.volume for c in group))
    # Bars are continuous: each opens at the previous close.
    o = arrays(one)
    assert np.allclose(o["open"][1:], o["close"][:-1], rtol=1e-12)


async def test_price_moves_within_the_minute_and_matches_the_current_bar() -> None:
    clock = VirtualClock(T0)  # T0 is a whole minute: the bar just opened
    sim = SimMarket(["ETH/USDT"], clock, 11)
    prices, highs = [], []
    for _ in range(59):
        clock.advance(1.0)
        price = (await sim.fetch_tickers(["ETH/USDT"]))["ETH/USDT"].last
        bar = sim.candles("ETH/USDT", "1m", 1)[-1]
        assert bar.ts == T0 and bar.close == price
        assert bar.low <= price <= bar.high
        prices.append(price)
        highs.append(bar.high)
    assert len(set(prices)) > 20  # it moves second by second, not once a minute
    assert highs == sorted(highs)  # a forming bar's high never comes down
    clock.advance(1.0)
    done = sim.candles("ETH/USDT", "1m", 2)[0]  # the finished bar
    assert done.ts == T0 and min(prices) >= done.low and max(prices) <= done.high
    clock.advance(0.5)  # the same whole second: the same price
    assert (await sim.fetch_tickers(["ETH/USDT"]))["ETH/USDT"].last == done.close


def test_since_limit_and_bad_requests() -> None:
    clock = VirtualClock(T0)
    sim = SimMarket(SYMBOLS, clock, 1)
    last = sim.candles("SOL/USDT", "5m", 50)
    since = last[10].ts
    tail = sim.candles("SOL/USDT", "5m", 200, since=since)
    assert tail == last[10:]
    assert sim.candles("SOL/USDT", "5m", 5, since=since) == last[10:15]
    assert sim.candles("SOL/USDT", "5m", 5, since=since - 1)[0].ts == since  # opens at/after
    assert sim.candles("SOL/USDT", "5m", 10, since=T0 + 3_600) == []  # the future
    with pytest.raises(MarketDataError, match="unknown timeframe '7m'"):
        sim.candles("SOL/USDT", "7m")
    with pytest.raises(MarketDataError, match="not a BASE/QUOTE symbol"):
        sim.candles("SOLUSDT", "5m")


def test_advances_with_a_scaled_clock() -> None:
    clock = ScaledClock(speed=1200.0, start=T0)
    sim = SimMarket(["BTC/USDT"], clock, 5)
    before = sim.candles("BTC/USDT", "1m", 3)[-1].ts
    time.sleep(0.11)  # ≥ 132 clock seconds
    after = sim.candles("BTC/USDT", "1m", 3)[-1].ts
    assert after - before >= 120


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("symbol", SYMBOLS)
def test_one_simulated_day_has_every_event_class(symbol: str, seed: int) -> None:
    clock = VirtualClock(T0)
    sim = SimMarket([symbol], clock, seed, "eventful")
    clock.advance(86_400)
    a = arrays(sim.candles(symbol, "1m", 2 * 1440 + 200))
    close, vol = a["close"], a["volume"]
    n = len(close)
    day = np.arange(n - 1440, n - 1)  # the day's closed bars (the last bar is still forming)
    # FLASH_CRASH / FLASH_RALLY: ≥ 2 % over 1, 5 or 15 minutes, both ways.
    changes = np.concatenate([close[day] / close[day - k] - 1 for k in (1, 5, 15)])
    assert changes.min() <= -0.02 and changes.max() >= 0.02
    # VOLUME_SPIKE / VOLUME_DRY: a bar vs the average of the 24 h before it.
    csum = np.concatenate([[0.0], np.cumsum(vol)])
    trailing = (csum[day] - csum[day - 1440]) / 1440
    ratio = vol[day] / trailing
    assert ratio.max() >= 2.0 and ratio.min() <= 0.2
    # VOLATILITY_SPIKE: short ATR / long ATR ≥ 1.5, as core.events measures them: Wilder's
    # ATR(14) over the mean 1-minute true range of the trailing 24 h.
    tr = np.nan_to_num(talib.TRANGE(a["high"], a["low"], close))
    tr_sum = np.concatenate([[0.0], np.cumsum(tr)])
    long_atr = (tr_sum[day + 1] - tr_sum[day + 1 - 1440]) / 1440
    short_atr = talib.ATR(a["high"], a["low"], close, 14)[day]
    assert np.max(short_atr / long_atr) >= 1.5
    assert np.nanmax(short_atr / talib.ATR(a["high"], a["low"], close, 100)[day]) >= 1.5
    # LIQUIDATION_RISK needs a position: a ≥ 5 % adverse move takes a 20x one (liquidated
    # ~4.5 % away) within 10 % of its liquidation price, long or short.
    d = close[day]
    drawdown = 1 - (d / np.maximum.accumulate(d)).min()
    runup = (d / np.minimum.accumulate(d)).max() - 1
    assert max(drawdown, runup) >= 0.05


def test_trending_and_ranging_regimes_and_volatility_clustering() -> None:
    sim = SimMarket(["BTC/USDT"], VirtualClock(T0), 4)
    a = arrays(sim.candles("BTC/USDT", "15m", 900))
    adx = talib.ADX(a["high"], a["low"], a["close"], 14)
    adx = adx[~np.isnan(adx)]
    assert (adx > 30).mean() > 0.05 and (adx < 20).mean() > 0.05  # both regimes occur
    one = arrays(sim.candles("BTC/USDT", "1m", 10_000))
    r = np.abs(np.diff(np.log(one["close"])))
    # Rank (Spearman) autocorrelation of |returns|: the flash bars would dominate a plain one.
    rank = np.argsort(np.argsort(r)).astype(float)
    rank -= rank.mean()
    autocorr = [float(np.dot(rank[:-k], rank[k:]) / np.dot(rank, rank)) for k in (1, 10, 60)]
    assert min(autocorr) > 0.05, autocorr  # big moves follow big moves, for an hour and more


def test_construct_and_fetch_200_candles_is_fast() -> None:
    SimMarket(["BTC/USDT"], VirtualClock(T0), 0)  # warm numpy's code paths
    runs = []
    for seed in range(3):
        start = time.perf_counter()
        sim = SimMarket(SYMBOLS, VirtualClock(T0), seed)
        assert len(sim.candles("BTC/USDT", "5m", 200)) == 200
        runs.append(time.perf_counter() - start)
    assert statistics.median(runs) < 0.1, runs


# --- the realistic profile's stylized facts (SPEC §5.2) -----------------------------------

DAILY_VOL_BANDS = {"BTC/USDT": (2.5, 3.5), "ETH/USDT": (3.5, 4.5), "SOL/USDT": (5.0, 6.0)}


def test_ninety_realistic_days_have_cryptos_stylized_facts() -> None:
    """Measured on 90 generated days per symbol (see market/sim.py for the real figures)."""
    from autotrade_tui.market.stylized import stylized_facts

    clock = VirtualClock(T0)
    sim = SimMarket(list(DAILY_VOL_BANDS), clock, 1, "realistic")
    clock.advance(90 * 86_400)
    moves = {}
    for symbol, (lo, hi) in DAILY_VOL_BANDS.items():
        a = arrays(sim.candles(symbol, "5m", 90 * 288, since=T0))
        facts = stylized_facts(a["close"], a["high"], a["low"])
        assert lo <= facts["daily_vol_pct"] <= hi, (symbol, facts)
        assert facts["kurtosis"] > 5, (symbol, facts)  # fat tails
        assert facts["abs_ac_1h"] > 0.08 and facts["abs_ac_1d"] > 0.02, (symbol, facts)
        assert abs(facts["ac_1"]) < 0.08, (symbol, facts)  # no retrace pattern to exploit
        moves[symbol] = facts["moves_5pct_15m_per_month"]
    assert 0.5 <= moves["BTC/USDT"] <= 6 and moves["SOL/USDT"] > moves["BTC/USDT"], moves


def test_the_profiles_differ_and_an_unknown_one_is_refused() -> None:
    clock = VirtualClock(T0)
    calm = SimMarket(["BTC/USDT"], clock, 7, "realistic").candles("BTC/USDT", "1m", 500)
    busy = SimMarket(["BTC/USDT"], clock, 7, "eventful").candles("BTC/USDT", "1m", 500)
    assert [c.close for c in calm] != [c.close for c in busy]
    with pytest.raises(MarketDataError, match="unknown profile 'wild'"):
        SimMarket(["BTC/USDT"], clock, 7, "wild")

"""Indicators: hand-computed values, no NaN at 200 candles, whole-series == expanding window."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from autotrade_tui.core import indicators as ind
from autotrade_tui.core.models import Candle


def frame(close: list[float] | np.ndarray, high: list[float] | np.ndarray | None = None,
          low: list[float] | np.ndarray | None = None,
          volume: list[float] | np.ndarray | None = None) -> pd.DataFrame:
    close = np.asarray(close, dtype=float)
    n = len(close)
    high = close + 1 if high is None else np.asarray(high, dtype=float)
    low = close - 1 if low is None else np.asarray(low, dtype=float)
    volume = np.full(n, 10.0) if volume is None else np.asarray(volume, dtype=float)
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame({"ts": np.arange(n) * 60.0, "open": open_, "high": high, "low": low,
                         "close": close, "volume": volume})


def random_walk(n: int, seed: int = 7, sigma: float = 0.002) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, sigma, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, sigma / 2, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, sigma / 2, n)))
    vol = rng.lognormal(2, 0.5, n)
    return pd.DataFrame({"ts": np.arange(n) * 60.0, "open": open_, "high": high, "low": low,
                         "close": close, "volume": vol})


# --- hand-computed values ---------------------------------------------------------------

def test_sma_of_1_to_20_is_10_5() -> None:
    f = ind.compute_frame(frame(list(range(1, 26))))
    assert math.isnan(f["sma_20"].iloc[18])  # 19 candles are not enough
    assert f["sma_20"].iloc[19] == pytest.approx(10.5)  # (1+…+20)/20
    assert f["sma_20"].iloc[24] == pytest.approx(15.5)  # (6+…+25)/20


def test_ema_of_a_straight_line_lags_by_half_its_period() -> None:
    # Seeded with the SMA of the first 12 closes (= close − 5.5 on a line of slope 1), the EMA
    # then stays exactly (n−1)/2 = 5.5 below the line.
    closes = list(range(1, 41))
    f = ind.compute_frame(frame(closes))
    assert math.isnan(f["ema_12"].iloc[10])
    for i in (11, 20, 39):
        assert f["ema_12"].iloc[i] == pytest.approx(closes[i] - 5.5)


def test_ema_matches_the_recursion_written_out() -> None:
    df = random_walk(80)
    close = df["close"].tolist()
    alpha = 2 / (26 + 1)
    ema = sum(close[:26]) / 26
    expected = [ema]
    for c in close[26:]:
        ema = alpha * c + (1 - alpha) * ema
        expected.append(ema)
    got = ind.compute_frame(df)["ema_26"].iloc[25:].tolist()
    assert got == pytest.approx(expected, rel=1e-12)


def test_rsi_wilder_on_alternating_moves() -> None:
    # Changes +2, −1, +2, −1 …: the first 14 give avg gain 14/14 = 1, avg loss 7/14 = 0.5,
    # RS 2, RSI 66.67. The 15th change (+2): gain (1·13+2)/14, loss 0.5·13/14 → RSI 69.77.
    closes = [100.0]
    for i in range(15):
        closes.append(closes[-1] + (2 if i % 2 == 0 else -1))
    f = ind.compute_frame(frame(closes))
    assert math.isnan(f["rsi_14"].iloc[13])
    assert f["rsi_14"].iloc[14] == pytest.approx(100 - 100 / 3)
    gain, loss = 15 / 14, 6.5 / 14
    assert f["rsi_14"].iloc[15] == pytest.approx(100 - 100 / (1 + gain / loss))
    assert f["rsi_14"].iloc[15] == pytest.approx(69.767, abs=1e-3)


def test_rsi_matches_wilder_smoothing_written_out() -> None:
    close = random_walk(120, seed=3)["close"].tolist()
    diffs = [b - a for a, b in itertools.pairwise(close)]
    gain = sum(max(d, 0) for d in diffs[:14]) / 14
    loss = sum(max(-d, 0) for d in diffs[:14]) / 14
    expected = [100 - 100 / (1 + gain / loss)]
    for d in diffs[14:]:
        gain = (gain * 13 + max(d, 0)) / 14
        loss = (loss * 13 + max(-d, 0)) / 14
        expected.append(100 - 100 / (1 + gain / loss))
    got = ind.compute_frame(frame(close))["rsi_14"].iloc[14:].tolist()
    assert got == pytest.approx(expected, rel=1e-10)


def test_atr_constant_range_and_wilder_smoothing() -> None:
    closes = [100 + 0.5 * i for i in range(30)]  # true range = high − low = 2 every bar
    f = ind.compute_frame(frame(closes))
    assert f["atr_14"].iloc[14] == pytest.approx(2.0)
    assert f["atr_14"].iloc[29] == pytest.approx(2.0)

    df = random_walk(100, seed=5)
    h, lo, c = (df[k].tolist() for k in ("high", "low", "close"))
    tr = [max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, 100)]
    atr = sum(tr[:14]) / 14  # TA-Lib's first ATR sits on bar 14: mean of TR of bars 1..14
    expected = [atr]
    for t in tr[14:]:
        atr = (atr * 13 + t) / 14
        expected.append(atr)
    assert ind.compute_frame(df)["atr_14"].iloc[14:].tolist() == pytest.approx(expected, rel=1e-10)


def test_derived_bollinger_columns() -> None:
    df = random_walk(60)
    f = ind.compute_frame(df)
    i = 59
    window = df["close"].iloc[i - 19: i + 1]
    mid, sd = window.mean(), window.std(ddof=0)  # Bollinger uses the population deviation
    assert f["bb_middle"].iloc[i] == pytest.approx(mid)
    assert f["bb_upper"].iloc[i] == pytest.approx(mid + 2 * sd)
    assert f["bb_percent_b"].iloc[i] == pytest.approx((df["close"].iloc[i] - (mid - 2 * sd))
                                                      / (4 * sd))
    assert f["bb_width"].iloc[i] == pytest.approx(4 * sd / mid)
    flat = ind.compute_frame(frame([50.0] * 30))
    assert flat["bb_percent_b"].iloc[-1] == 0.5  # zero band width is "in the middle"


def test_donchian_and_ichimoku_are_rolling_extremes() -> None:
    df = random_walk(80)
    f = ind.compute_frame(df)
    hi, lo = df["high"], df["low"]
    assert f["dc_upper"].iloc[79] == pytest.approx(hi.iloc[60:80].max())
    assert f["dc_lower"].iloc[79] == pytest.approx(lo.iloc[60:80].min())
    assert f["ichimoku_conv"].iloc[79] == pytest.approx((hi.iloc[71:80].max()
                                                         + lo.iloc[71:80].min()) / 2)
    assert f["ichimoku_b"].iloc[79] == pytest.approx((hi.iloc[28:80].max()
                                                      + lo.iloc[28:80].min()) / 2)
    assert math.isnan(f["ichimoku_b"].iloc[50])  # not 52 bars yet


def test_ta_columns_are_ta_own_outputs_bit_for_bit() -> None:
    # Donchian middle and Ichimoku span A are computed from ta's bands with ta's expression
    # (not by asking ta again): they, and every other ta column, must equal ta's own methods.
    from ta.trend import IchimokuIndicator
    from ta.volatility import DonchianChannel, KeltnerChannel
    from ta.volume import VolumeWeightedAveragePrice

    df = random_walk(600, seed=13, sigma=0.01)
    f = ind.compute_frame(df)
    h, lo, c, v = (df[k] for k in ("high", "low", "close", "volume"))
    kc = KeltnerChannel(h, lo, c, window=20, original_version=True)
    dc = DonchianChannel(h, lo, c, window=20)
    ich = IchimokuIndicator(h, lo, window1=9, window2=26, window3=52, visual=False)
    expected = {
        "vwap": VolumeWeightedAveragePrice(h, lo, c, v, window=14)
        .volume_weighted_average_price(),
        "kc_middle": kc.keltner_channel_mband(), "kc_upper": kc.keltner_channel_hband(),
        "kc_lower": kc.keltner_channel_lband(), "dc_upper": dc.donchian_channel_hband(),
        "dc_middle": dc.donchian_channel_mband(), "dc_lower": dc.donchian_channel_lband(),
        "ichimoku_conv": ich.ichimoku_conversion_line(),
        "ichimoku_base": ich.ichimoku_base_line(), "ichimoku_a": ich.ichimoku_a(),
        "ichimoku_b": ich.ichimoku_b(),
    }
    warm = {"kc_upper": 19, "kc_lower": 19, "ichimoku_b": 51}  # our documented NaN prefixes
    for key, series in expected.items():
        want = series.to_numpy(dtype=float, copy=True)
        assert np.isnan(f[key].iloc[:warm.get(key, 0)]).all(), key
        want[: warm.get(key, 0)] = np.nan
        got = f[key].to_numpy()
        assert np.isfinite(got[60:]).all(), key
        np.testing.assert_array_equal(got, want, err_msg=key)  # NaN positions included


def test_latest_is_the_last_row_of_compute_frame_exactly() -> None:
    df = random_walk(250, seed=17)
    last = ind.compute_frame(df).iloc[-1]
    values = ind.latest(df)
    assert values == {k: float(last[k]) for k in ind.INDICATOR_KEYS}  # bit for bit
    short = ind.latest(df.iloc[:30])  # warm-up NaNs come through as NaN
    assert math.isnan(short["sma_50"]) and math.isnan(short["ichimoku_b"])
    assert math.isfinite(short["dc_middle"])


def test_a_subset_of_keys_is_those_columns_of_the_full_frame_exactly() -> None:
    df = random_walk(400, seed=5)
    full = ind.compute_frame(df)
    for keys in (("rsi_14",), ("stoch_d", "ema_12", "plus_di"), ("vwap", "bb_width", "obv"),
                 ind.INDICATOR_KEYS[::-1]):
        part = ind.compute_frame(df, keys)
        assert list(part.columns) == list(keys)
        pd.testing.assert_frame_equal(part, full[list(keys)], check_exact=True)
    groups = [set(g) for g, _ in ind._GROUPS]
    assert set().union(*groups) == set(ind.INDICATOR_KEYS)  # every key has one group
    assert sum(map(len, groups)) == len(ind.INDICATOR_KEYS)
    with pytest.raises(ValueError, match=r"unknown indicator\(s\): rsi_15"):
        ind.compute_frame(df, ("rsi_14", "rsi_15"))


# --- window mode ----------------------------------------------------------------------

def test_latest_has_every_key_and_no_nan_with_200_candles() -> None:
    df = random_walk(200)
    values = ind.latest(df)
    assert list(values) == list(ind.INDICATOR_KEYS)
    assert len(values) >= 20
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    assert bad == []
    assert all(type(v) is float for v in values.values())
    assert math.isnan(ind.latest(df.iloc[1:])["sma_200"])  # 199 candles: not enough


def test_candles_to_frame_round_trip() -> None:
    candles = [Candle(60.0 * i, 1 + i, 2 + i, 0.5 + i, 1.5 + i, 10 * i) for i in range(5)]
    df = ind.candles_to_frame(candles)
    assert list(df.columns) == ["ts", "open", "high", "low", "close", "volume"]
    assert all(df[c].dtype == np.float64 for c in df.columns)
    assert df["close"].tolist() == [1.5, 2.5, 3.5, 4.5, 5.5]
    assert ind.candles_to_frame([]).shape == (0, 6)


def test_whole_series_equals_expanding_window_at_every_checked_step() -> None:
    df = random_walk(420, seed=11)
    whole = ind.compute_frame(df)
    steps = sorted({0, 1, 2, 8, 9, 13, 14, 19, 20, 25, 26, 33, 34, 50, 51, 52, 199, 200,
                    *range(3, 420, 13), 419})
    for i in steps:
        window = ind.latest(df.iloc[: i + 1])
        row = whole.iloc[i]
        for key in ind.INDICATOR_KEYS:
            a, b = float(row[key]), window[key]
            if math.isnan(a) or math.isnan(b):
                assert math.isnan(a) and math.isnan(b), (i, key, a, b)
            else:
                assert b == pytest.approx(a, rel=1e-9, abs=1e-12), (i, key, a, b)


def test_fixed_200_window_differs_from_whole_series_within_documented_bounds() -> None:
    df = random_walk(3000, seed=2, sigma=0.005)
    whole = ind.compute_frame(df).iloc[-1]
    window = ind.latest(df.iloc[-200:])
    price = df["close"].iloc[-1]
    assert window["sma_200"] == pytest.approx(whole["sma_200"], rel=1e-12)
    assert window["ema_50"] == pytest.approx(whole["ema_50"], rel=5e-5)
    assert abs(window["macd_signal"] - whole["macd_signal"]) < 3e-8 * price
    assert abs(window["rsi_14"] - whole["rsi_14"]) < 2e-5
    assert abs(window["adx_14"] - whole["adx_14"]) < 1e-3
    assert window["obv"] != pytest.approx(whole["obv"])  # the documented constant offset


# --- signals and levels -----------------------------------------------------------------

def test_signals_words() -> None:
    bull = {"sma_50": 90.0, "ema_12": 101.0, "ema_26": 99.0, "macd_hist": 0.5, "rsi_14": 60.0,
            "adx_14": 30.0, "bb_upper": 105.0, "bb_lower": 95.0, "kc_upper": 104.0,
            "kc_lower": 96.0}
    s = ind.signals(bull, 100.0)
    assert s["trend"] == "bullish"
    assert s["momentum"] == "bullish"
    assert s["trend_strength"] == "strong"
    assert s["volatility"] == "normal"  # squeeze 10/8 = 1.25
    bear = {**bull, "sma_50": 110.0, "ema_12": 98.0, "macd_hist": -0.5, "rsi_14": 40.0,
            "adx_14": 12.0}
    s = ind.signals(bear, 100.0)
    assert (s["trend"], s["momentum"], s["trend_strength"]) == ("bearish", "bearish", "weak")
    assert ind.signals({**bull, "rsi_14": 75.0}, 100.0)["momentum"] == "overbought"
    assert ind.signals({**bull, "rsi_14": 25.0}, 100.0)["momentum"] == "oversold"
    assert ind.signals({**bull, "bb_upper": 101.0, "bb_lower": 99.0}, 100.0)["volatility"] == "low"
    assert ind.signals({**bull, "bb_upper": 120.0, "bb_lower": 80.0}, 100.0)["volatility"] == "high"
    assert ind.signals({**bull, "bb_upper": 99.0}, 100.0)["bollinger"] == "above_upper"
    mixed = {**bull, "macd_hist": -0.1}
    assert ind.signals(mixed, 100.0)["trend"] == "neutral"  # the three votes must agree
    assert ind.signals({"ema_12": 2.0, "ema_26": 1.0, "macd_hist": 0.1}, 5.0)["trend"] == "bullish"


def test_signals_with_missing_or_nan_inputs_do_not_guess() -> None:
    s = ind.signals({"rsi_14": float("nan")}, 100.0)
    assert s == {"trend": "neutral", "momentum": "neutral", "volatility": "normal",
                 "trend_strength": "weak", "bollinger": "inside", "macd": "neutral"}


def test_support_resistance_from_swings() -> None:
    # A zigzag with swing lows 90, 94 and swing highs 110, 106, then a flat floor at 100.
    path = [100, 95, 90, 95, 100, 105, 110, 105, 100, 97, 94, 97, 100, 103, 106, 103, 100,
            100, 100, 100]
    closes = np.array(path, dtype=float)
    df = frame(closes, high=closes + 0.5, low=closes - 0.5)
    supports, resistances = ind.support_resistance(df, n=3)
    assert supports == [99.5, 93.5, 89.5]  # nearest first, all below the last close
    assert resistances[:2] == [106.5, 110.5]
    assert all(s < 100 for s in supports) and all(r > 100 for r in resistances)
    s200, r200 = ind.support_resistance(random_walk(200), n=3)
    assert 1 <= len(s200) <= 3 and 1 <= len(r200) <= 3
    assert s200 == sorted(s200, reverse=True) and r200 == sorted(r200)


def test_core_indicators_import_stays_pure() -> None:
    code = ("import sys, autotrade_tui.core.indicators; "
            "bad = [m for m in ('ccxt', 'httpx', 'textual', 'sqlmodel', 'autotrade_tui.market',"
            " 'autotrade_tui.runtime') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

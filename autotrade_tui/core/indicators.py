"""Candles → technical indicators, derived signal words and support/resistance (SPEC §6).

Pure and synchronous. TA-Lib computes every indicator it has (C, fast); the `ta` package
computes only those TA-Lib lacks: VWAP, Ichimoku, Keltner and Donchian. No indicator is
hand-written here; a few lines of numpy arithmetic combine library outputs (%B, width;
Donchian middle and Ichimoku span A with `ta`'s own expression).

Two modes, one code path:
* whole series (`compute_frame`): one column per indicator, used once per backtest;
* window (`latest`): the last row as plain floats, used live on the last 200 candles.

Every indicator is causal, so row i of `compute_frame(df)` equals `latest(df.iloc[:i+1])`
(expanding window, same first candle).

A *fixed* 200-candle window is not an expanding window for the recursive indicators (EMA,
MACD, RSI, ATR, ADX/±DI, OBV): each is seeded from its first bars and the seed's influence
decays geometrically, so the live value on the last 200 candles differs slightly from the
whole-series value at the same bar. Measured (20 seeds, random walks with σ 0.1 % and 0.5 % per
bar, 3,000 bars; last value on the last 200 candles vs whole series):
  ema_12 < 1e-15 relative, ema_26 < 1e-8, ema_50 < 5e-5 (its seed weighs (49/51)^150 ≈ 0.25 %);
  macd, macd_signal < 3e-8 of the price (absolute); atr_14 < 1e-6 relative;
  rsi_14 < 2e-5 points; adx_14, plus_di, minus_di < 1e-3 points;
  obv differs by a constant (the running sum starts at the window's first bar): read it only
  by its changes within one window.
Non-recursive indicators (SMA, Bollinger, Stochastic, CCI, Williams %R, MFI, ROC, VWAP,
Keltner, Donchian, Ichimoku) agree to rounding (1e-15) once the window holds their period.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeGuard

import numpy as np
import pandas as pd
import talib
from ta.trend import IchimokuIndicator
from ta.volatility import DonchianChannel, KeltnerChannel
from ta.volume import VolumeWeightedAveragePrice

from autotrade_tui.core.models import Candle

COLUMNS = ("ts", "open", "high", "low", "close", "volume")

INDICATOR_KEYS: tuple[str, ...] = (
    "sma_20", "sma_50", "sma_200", "ema_12", "ema_26", "ema_50",
    "macd", "macd_signal", "macd_hist", "rsi_14",
    "bb_upper", "bb_middle", "bb_lower", "bb_percent_b", "bb_width",
    "atr_14", "adx_14", "plus_di", "minus_di", "stoch_k", "stoch_d",
    "obv", "cci_20", "willr_14", "mfi_14", "vwap",
    "kc_upper", "kc_middle", "kc_lower", "dc_upper", "dc_middle", "dc_lower",
    "ichimoku_conv", "ichimoku_base", "ichimoku_a", "ichimoku_b", "roc_10",
)

# Signal thresholds (conventional textbook values).
RSI_OVERBOUGHT, RSI_OVERSOLD = 70.0, 30.0
ADX_STRONG = 25.0
# Bollinger width / Keltner width ("squeeze" ratio, timeframe-free). On random walks it is
# ~2 with these settings; its 10th and 90th percentiles are ~1.25 and ~3.25: beyond those,
# closes swing unusually little (a squeeze) or unusually far compared with the bars' ranges.
SQUEEZE_LOW, SQUEEZE_HIGH = 1.25, 3.25


def candles_to_frame(candles: Sequence[Candle]) -> pd.DataFrame:
    """Candles (oldest first) → float64 DataFrame: ts, open, high, low, close, volume."""
    data = np.array([(c.ts, c.open, c.high, c.low, c.close, c.volume) for c in candles],
                    dtype=np.float64).reshape(-1, 6)
    return pd.DataFrame(data, columns=list(COLUMNS))


def _arrays(df: pd.DataFrame) -> tuple[np.ndarray, ...]:
    # TA-Lib wants contiguous float64 arrays; ascontiguousarray copies only if it must.
    return tuple(np.ascontiguousarray(df[c].to_numpy(dtype=np.float64))
                 for c in ("open", "high", "low", "close", "volume"))


def compute_frame(df: pd.DataFrame, keys: Sequence[str] = INDICATOR_KEYS) -> pd.DataFrame:
    """Whole-series mode: the indicators `keys` (all of INDICATOR_KEYS unless told) as
    columns, in that order, same index as `df`. Only the groups that give one of `keys` run:
    a backtest whose models read a dozen TA-Lib values skips `ta` (60 % of the full set).

    Rows before an indicator has enough candles are NaN (e.g. sma_200 before row 199).
    """
    out = _columns(df, keys)
    # No copy: the arrays are fresh and ours (a copy and a column reorder cost 5x the TA-Lib
    # computations on 100k candles).
    return pd.DataFrame({k: out[k] for k in keys}, index=df.index, copy=False)


def _columns(df: pd.DataFrame, keys: Sequence[str] = INDICATOR_KEYS) -> dict[str, np.ndarray]:
    """The indicators `keys` (and any computed alongside them) as float64 arrays as long as
    `df`."""
    unknown = set(keys).difference(INDICATOR_KEYS)
    if unknown:
        raise ValueError(f"unknown indicator(s): {', '.join(sorted(unknown))}")
    _open, high, low, close, volume = _arrays(df)
    want = set(keys)
    out: dict[str, np.ndarray] = {}
    for gives, group in _GROUPS:
        if want.intersection(gives):
            out.update(group(high, low, close, volume))
    return out


Arr = np.ndarray
Group = Callable[[Arr, Arr, Arr, Arr], dict[str, Arr]]

# --- TA-Lib: every indicator it has (plus %B and width derived from its Bollinger bands)


def _averages(high: Arr, low: Arr, close: Arr, volume: Arr) -> dict[str, Arr]:
    out = {f"sma_{n}": talib.SMA(close, timeperiod=n) for n in (20, 50, 200)}
    out.update({f"ema_{n}": talib.EMA(close, timeperiod=n) for n in (12, 26, 50)})
    return out


def _macd(high: Arr, low: Arr, close: Arr, volume: Arr) -> dict[str, Arr]:
    macd, signal, hist = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    return {"macd": macd, "macd_signal": signal, "macd_hist": hist}


def _bollinger(high: Arr, low: Arr, close: Arr, volume: Arr) -> dict[str, Arr]:
    # simple moving averages (talib's default matype, SMA)
    upper, middle, lower = talib.BBANDS(close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    band = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        # A flat market has zero band width: %B is then "in the middle", not a division error.
        percent_b = np.where(band > 0, (close - lower) / band, 0.5)
        percent_b[np.isnan(band)] = np.nan
        width = band / middle
    return {"bb_upper": upper, "bb_middle": middle, "bb_lower": lower,
            "bb_percent_b": percent_b, "bb_width": width}


def _directional(high: Arr, low: Arr, close: Arr, volume: Arr) -> dict[str, Arr]:
    return {"adx_14": talib.ADX(high, low, close, timeperiod=14),
            "plus_di": talib.PLUS_DI(high, low, close, timeperiod=14),
            "minus_di": talib.MINUS_DI(high, low, close, timeperiod=14)}


def _stochastic(high: Arr, low: Arr, close: Arr, volume: Arr) -> dict[str, Arr]:
    # %K and %D smoothed by simple moving averages (talib's default matype, SMA)
    k, d = talib.STOCH(high, low, close, fastk_period=14, slowk_period=3, slowd_period=3)
    return {"stoch_k": k, "stoch_d": d}


def _oscillators(high: Arr, low: Arr, close: Arr, volume: Arr) -> dict[str, Arr]:
    return {"cci_20": talib.CCI(high, low, close, timeperiod=20),
            "willr_14": talib.WILLR(high, low, close, timeperiod=14),
            "mfi_14": talib.MFI(high, low, close, volume, timeperiod=14),
            "roc_10": talib.ROC(close, timeperiod=10)}


def _rsi(high: Arr, low: Arr, close: Arr, volume: Arr) -> dict[str, Arr]:
    return {"rsi_14": talib.RSI(close, timeperiod=14)}


def _volatility_and_volume(high: Arr, low: Arr, close: Arr, volume: Arr) -> dict[str, Arr]:
    return {"atr_14": talib.ATR(high, low, close, timeperiod=14),
            "obv": talib.OBV(close, volume)}


def _talib_part(high: Arr, low: Arr, close: Arr, volume: Arr) -> dict[str, Arr]:
    """Every indicator TA-Lib gives."""
    out: dict[str, Arr] = {}
    for _gives, group in _GROUPS:
        if group is not _ta_only:
            out.update(group(high, low, close, volume))
    return out


def _ta_only(high: Arr, low: Arr, close: Arr, volume: Arr) -> dict[str, Arr]:
    """The four indicators TA-Lib lacks, from `ta` (vectorised pandas rolling windows).

    Each `ta` class runs its rolling windows once, in its constructor (13 windows in all, none
    of them shared or repeated: ~75 % of this function's time on 100k candles); its band
    methods only wrap those results. The two bands that are plain arithmetic of other `ta`
    outputs (Donchian middle, Ichimoku span A) are taken with `ta`'s own expression on the
    arrays, which is bit-identical and skips `ta`'s Series round trip (tests compare them).
    """
    h, lo, c, v = (pd.Series(a, copy=False) for a in (high, low, close, volume))
    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        # Rolling 14-bar VWAP: crypto has no trading session to anchor a daily one.
        out["vwap"] = VolumeWeightedAveragePrice(
            h, lo, c, v, window=14).volume_weighted_average_price().to_numpy()
    # original_version=True: SMA of typical price ± SMA of bar range — vectorised; the EMA/ATR
    # variant would run `ta`'s Python-loop ATR (slow on long series).
    kc = KeltnerChannel(h, lo, c, window=20, original_version=True)
    mid = kc.keltner_channel_mband().to_numpy()
    warming = np.isnan(mid)  # `ta` fills the bands from bar 0; align them with the middle
    for key, band in (("kc_upper", kc.keltner_channel_hband()),
                      ("kc_lower", kc.keltner_channel_lband())):
        arr = band.to_numpy(copy=True)
        arr[warming] = np.nan
        out[key] = arr
    out["kc_middle"] = mid
    dc = DonchianChannel(h, lo, c, window=20)
    upper = dc.donchian_channel_hband().to_numpy()
    lower = dc.donchian_channel_lband().to_numpy()
    out["dc_upper"], out["dc_lower"] = upper, lower
    out["dc_middle"] = ((upper - lower) / 2.0) + lower  # ta's donchian_channel_mband
    # visual=False: spans unshifted, i.e. causal (the shifted "cloud" looks 26 bars ahead).
    ich = IchimokuIndicator(h, lo, window1=9, window2=26, window3=52, visual=False)
    conv = ich.ichimoku_conversion_line().to_numpy()
    base = ich.ichimoku_base_line().to_numpy()
    out["ichimoku_conv"], out["ichimoku_base"] = conv, base
    out["ichimoku_a"] = 0.5 * (conv + base)  # ta's ichimoku_a (visual=False)
    span_b = ich.ichimoku_b().to_numpy(copy=True)
    span_b[: min(51, len(span_b))] = np.nan  # `ta` gives partial-window values before 52 bars
    out["ichimoku_b"] = span_b
    return out



# Which indicators each group gives (a group is what one library call, or a few that are
# always wanted together, computes).
_TA_KEYS = ("vwap", "kc_upper", "kc_middle", "kc_lower", "dc_upper", "dc_middle", "dc_lower",
            "ichimoku_conv", "ichimoku_base", "ichimoku_a", "ichimoku_b")
_GROUPS: tuple[tuple[tuple[str, ...], Group], ...] = (
    (("sma_20", "sma_50", "sma_200", "ema_12", "ema_26", "ema_50"), _averages),
    (("macd", "macd_signal", "macd_hist"), _macd),
    (("rsi_14",), _rsi),
    (("bb_upper", "bb_middle", "bb_lower", "bb_percent_b", "bb_width"), _bollinger),
    (("adx_14", "plus_di", "minus_di"), _directional),
    (("stoch_k", "stoch_d"), _stochastic),
    (("atr_14", "obv"), _volatility_and_volume),
    (("cci_20", "willr_14", "mfi_14", "roc_10"), _oscillators),
    (_TA_KEYS, _ta_only),
)


def latest(df: pd.DataFrame) -> dict[str, float]:
    """Window mode: the last row of `compute_frame(df)` as plain floats (NaN if too short)."""
    if len(df) == 0:
        return dict.fromkeys(INDICATOR_KEYS, float("nan"))
    out = _columns(df)  # the same arrays compute_frame wraps, without building the frame
    return {k: float(out[k][-1]) for k in INDICATOR_KEYS}


def _ok(value: float | None) -> TypeGuard[float]:
    return value is not None and bool(np.isfinite(value))


def signals(ind: dict[str, float], price: float) -> dict[str, str]:
    """Indicator values → words: trend, momentum, volatility, trend_strength, bollinger, macd.

    Missing or NaN inputs give "neutral"/"normal"/"weak"/"inside" rather than a guess.
    """
    g = ind.get
    adx, hist = g("adx_14"), g("macd_hist")
    bbu, bbl = g("bb_upper"), g("bb_lower")
    bollinger = "inside"
    if _ok(bbu) and price > bbu:
        bollinger = "above_upper"
    elif _ok(bbl) and price < bbl:
        bollinger = "below_lower"
    macd = "neutral"
    if _ok(hist) and hist != 0:
        macd = "bullish" if hist > 0 else "bearish"
    return {"trend": _trend(ind, price), "momentum": _momentum(ind),
            "volatility": _volatility(ind),
            "trend_strength": "strong" if _ok(adx) and adx >= ADX_STRONG else "weak",
            "bollinger": bollinger, "macd": macd}


def _trend(ind: dict[str, float], price: float) -> str:
    """Price vs SMA50, fast vs slow EMA, MACD vs its signal: every available vote must agree."""
    nan = float("nan")
    votes = [np.sign(price - ind.get("sma_50", nan)),
             np.sign(ind.get("ema_12", nan) - ind.get("ema_26", nan)),
             np.sign(ind.get("macd_hist", nan))]
    defined = [v for v in votes if np.isfinite(v)]
    score = sum(defined)
    if len(defined) >= 2 and abs(score) == len(defined):
        return "bullish" if score > 0 else "bearish"
    return "neutral"


def _momentum(ind: dict[str, float]) -> str:
    rsi, hist = ind.get("rsi_14"), ind.get("macd_hist")
    if not _ok(rsi):
        return "neutral"
    if rsi >= RSI_OVERBOUGHT:
        return "overbought"
    if rsi <= RSI_OVERSOLD:
        return "oversold"
    if _ok(hist) and rsi > 50 and hist > 0:
        return "bullish"
    if _ok(hist) and rsi < 50 and hist < 0:
        return "bearish"
    return "neutral"


def _volatility(ind: dict[str, float]) -> str:
    bbu, bbl, kcu, kcl = (ind.get(k) for k in ("bb_upper", "bb_lower", "kc_upper", "kc_lower"))
    if not (_ok(bbu) and _ok(bbl) and _ok(kcu) and _ok(kcl) and kcu > kcl):
        return "normal"
    squeeze = (bbu - bbl) / (kcu - kcl)
    if squeeze < SQUEEZE_LOW:
        return "low"
    return "high" if squeeze >= SQUEEZE_HIGH else "normal"


def support_resistance(df: pd.DataFrame, n: int = 3,
                       swing: int = 3) -> tuple[list[float], list[float]]:
    """Nearest `n` supports below and resistances above the last close, nearest first.

    Levels are confirmed swing lows/highs: a bar whose low (high) is the extreme of the
    `swing` bars on each side. Levels closer than 0.1 % to a nearer one are merged.
    When swings are too few, the window's lowest low / highest high complete the list.
    """
    if len(df) == 0:
        return [], []
    high = df["high"].to_numpy(dtype=np.float64)
    low = df["low"].to_numpy(dtype=np.float64)
    last = float(df["close"].iloc[-1])
    win = 2 * swing + 1
    hi_max = pd.Series(high).rolling(win, center=True).max().to_numpy()
    lo_min = pd.Series(low).rolling(win, center=True).min().to_numpy()
    swing_highs = high[high == hi_max]
    swing_lows = low[low == lo_min]
    below = np.append(swing_lows, low.min())
    above = np.append(swing_highs, high.max())
    supports = _nearest(np.sort(below[below < last])[::-1], n)
    resistances = _nearest(np.sort(above[above > last]), n)
    return supports, resistances


def _nearest(levels: np.ndarray, n: int, merge: float = 0.001) -> list[float]:
    """First `n` levels (already nearest first), skipping ones within `merge` of the previous."""
    out: list[float] = []
    for level in levels:  # at most a few dozen swing points, not a per-candle loop
        if not out or abs(level - out[-1]) > merge * out[-1]:
            out.append(float(level))
            if len(out) == n:
                break
    return out


__all__ = ["INDICATOR_KEYS", "candles_to_frame", "compute_frame", "latest", "signals",
           "support_resistance"]

"""Two deterministic rule-based DecisionModels (SPEC §7.2): a trend follower and a mean reverter.

They read the same DecisionContext as the AI models, answer instantly with zero tokens and
cost, and explain themselves with the numbers they used. Missing or NaN indicators give a
low-confidence HOLD, never an exception.

Confidence scale (so the two combine sensibly under the §7.4 vote):
- a trade: the trend follower 0.60..0.75 (with the trend's steepness), the mean reverter
  0.50..0.65 (with its confirmations; less from a deep stretch). Measured on real 5-minute
  candles, the higher a model's confidence, the more often its answer was right an hour
  later (50-59 %; benchmarks/calibration.py); no rule here reaches REVERSE_AT, so a position
  is closed by its stops, the drawdown guard or the user rather than reversed by a model;
- "no opinion" HOLD (no trend / nothing stretched): about 0.40, low enough that the other
  model's confident trade (≥ 0.60, a 0.20 gap) still wins a majority split;
- a HOLD that is a warning (a trend not yet pulled back or perhaps breaking, a market
  stretched against the other model's likely trade): up to about 0.60, so it can veto a
  lukewarm trade;
- missing data: 0.20.

Each rule is written once, as one pure function over numpy arrays of the price and the
indicator values it reads (`TREND_INPUTS`, `MEAN_REVERSION_INPUTS`), one element per bar:
`trend_rules` and `mean_reversion_rules`. Its reasoning text is apart (`trend_text`,
`mean_reversion_text`), written from the branch the rule took. Live, the models' `decide` runs
the rule on one bar (`on_one_bar`); a backtest runs it once over its whole precomputed
indicator columns and writes text only for the decisions it records.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from autotrade_tui.core.models import Action, DecisionContext, ModelVote

Decision = tuple[Action, float, str]
Num = float | None

ADX_TREND = 20.0  # at or above (±DI the way of a stretch): a trend the mean reverter won't fade
RSI_LOW, RSI_HIGH = 30.0, 70.0
PB_LOW, PB_HIGH = 0.05, 0.95  # Bollinger %B: at or beyond the bands
STOCH_LOW, STOCH_HIGH = 20.0, 80.0
MISSING_CONFIDENCE = 0.20
NEUTRAL_CONFIDENCE = 0.40

# The indicator values each rule reads, in the order of its positional parameters.
TREND_INPUTS = ("ema_50", "sma_50", "sma_200", "atr_14", "held")
MEAN_REVERSION_INPUTS = ("rsi_14", "bb_percent_b", "stoch_k", "stoch_d", "bb_middle", "adx_14",
                         "plus_di", "minus_di", "held")

_BUY, _SELL, _HOLD = Action.BUY, Action.SELL, Action.HOLD
_isfinite = math.isfinite


def value(x: object) -> Num:
    """An indicator value as the rules take it: a finite float, or None for anything else."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if _isfinite(x) else None


def num(x: float) -> str:
    """Readable number for reasoning text: 68,210 · 152.3 · 28.1 · 0.042."""
    size = abs(x)
    if size >= 1000:
        return f"{x:,.0f}"
    if size >= 10:
        return f"{x:.1f}"
    if size >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def _missing(keys: list[str]) -> Decision:
    return _HOLD, MISSING_CONFIDENCE, f"missing {', '.join(keys)} → HOLD"


# --- rule outputs --------------------------------------------------------------------
# Each rule is written once, over numpy arrays (one element per bar): a backtest runs it over
# the whole series at once, a live decision over one bar (see `on_one_bar`). Per bar it
# gives an action code, a confidence rounded to hundredths, the branch that decided (the
# reasoning text's key) and a rule-specific detail.

HOLD, BUY, SELL = 0, 1, 2  # action codes
ACTIONS = (Action.HOLD, Action.BUY, Action.SELL)


class RuleOutput(NamedTuple):
    action: np.ndarray  # int8 action codes (index into ACTIONS)
    confidence: np.ndarray  # float64, rounded to hundredths
    branch: np.ndarray  # int8: which case decided
    detail: np.ndarray  # int8: rule-specific (the mean reverter's STRETCH_* flags)


def _round2(x: np.ndarray) -> np.ndarray:
    """Python's round(v, 2) elementwise. n / 100 for n = rint(100 v) is that same double (IEEE
    division is correctly rounded) unless 100 v sits next to a half, where its own rounding
    error may pick the other n: those few go through round() itself."""
    y = x * 100
    out = np.rint(y) / 100
    near_half = np.abs(np.abs(y - np.floor(y)) - 0.5) < 1e-6
    if near_half.any():
        out[near_half] = [round(v, 2) for v in x[near_half].tolist()]
    return out


def _clip01(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 1.0)


VectorRule = Callable[..., RuleOutput]
RuleText = Callable[..., str]


def on_one_bar(rules: VectorRule, text: RuleText, price: float,
               values: Iterable[object]) -> Decision:
    """A rule over arrays applied to one bar: its action, confidence and reasoning. `values`
    are the indicator values it reads (None or not finite: missing)."""
    nums = [value(v) for v in values]
    out = rules(*(np.array([math.nan if v is None else v], dtype=np.float64)
                  for v in (price, *nums)))
    reasoning = text(int(out.branch[0]), int(out.detail[0]), price, *nums)
    return ACTIONS[out.action[0]], float(out.confidence[0]), reasoning


# --- position and fees --------------------------------------------------------------------
# Both rules read the side of the open position ("held": +1 long, −1 short, 0 or missing flat)
# and the round-trip fee (entry + exit, a fraction of notional: 2 × commission_rate).
# Hysteresis: flat, a rule enters on its signal; holding, it keeps the position (HOLD) unless
# its signal is strong (REVERSE_AT): to reverse the position, or, the same way, to stack onto
# it (which the engine allows only in profit): a signal wobbling around its threshold never
# flips a position back and forth. Fee-aware: no entry when the move the rule itself expects
# (the trend follower: the way back to EMA50; the mean reverter: the way back to the
# Bollinger middle) is below FEE_MARGIN round-trip fees: a trade that cannot pay its fees is
# not taken. Leverage scales the move and the fee alike, so the test is on price fractions.

HELD = "held"  # the pseudo-input: the open position's side
REVERSE_AT = 0.8  # confidence a signal needs to act on an open position (reverse or stack)
FEE_MARGIN = 3.0  # the expected move must be this many round-trip fees
HOLDING_CONFIDENCE = 0.5  # "keep it": enough to veto a lukewarm reversal by the other model
DEFAULT_ROUND_TRIP = 0.002


@dataclass(frozen=True)
class RuleParams:
    """The rules' tunable thresholds: config keys `offline_*` (so `optimize` can search them);
    the defaults are the constants above, and with them the rules are what they always were."""

    trend_adx: float = ADX_TREND  # ADX at or above it: a trend the mean reverter won't fade
    rsi_extreme: float = RSI_LOW  # RSI at or below it oversold, at or above 100 − it overbought
    fee_margin: float = FEE_MARGIN  # round-trip fees the expected move must pay
    reverse_at: float = REVERSE_AT  # confidence to reverse or add to an open position


DEFAULT_PARAMS = RuleParams()


def held_side(position: dict[str, object] | None) -> float:
    """The `held` input of a context's open position: +1 LONG, −1 SHORT, 0 none."""
    if not position:
        return 0.0
    return {"LONG": 1.0, "SHORT": -1.0}.get(str(position.get("side")), 0.0)


def _hysteresis(trade: np.ndarray, up: np.ndarray, held: np.ndarray, confidence: np.ndarray,
                reverse_at: float = REVERSE_AT) -> tuple[np.ndarray, np.ndarray]:
    """(keep, weak_reverse): bars where a trade signal without REVERSE_AT confidence meets an
    open position of its own side (keep it: HOLD) or of the other side (HOLD)."""
    held = np.nan_to_num(held)
    timid = trade & (held != 0) & (confidence < reverse_at)
    same = timid & ((held > 0) == up)
    weak = timid & ((held > 0) != up)
    return same, weak


def _pct(x: float) -> str:
    return f"{x * 100:.2f} %"


# --- trend follower ---------------------------------------------------------------------
# It buys the dips of an uptrend (sells the rallies of a downtrend) instead of chasing the
# trend's latest move: on real 5-minute crypto candles a move sharp enough to open the fast
# averages' gap past the fees is more often than not taken back within the hour (Binance 2024
# BTC/ETH/SOL: entering with EMA12/EMA26 and MACD right 44-46 % after an hour at confidence
# 0.8-0.9), while a pullback of a few ATR against a trend the slow averages show is right
# 55-61 % (`benchmarks/calibration.py`; benchmarks/README "Do the confidences mean something").

(T_MISSING, T_NO_TREND, T_WAIT, T_TOO_DEEP, T_BUY, T_SELL, T_FEES, T_KEEP,
 T_NO_REVERSE) = range(9)  # branches
TREND_GAP = 0.003  # SMA50/SMA200 gap (fraction of SMA200) below which there is no trend
TREND_GAP_FULL = 0.015  # the gap at which the trend counts fully in the confidence
# EMA50 over the live window of DECISION_CANDLES differs from the whole series' (a backtest's)
# by up to ~5e-5 of the price (core/indicators.py): measured, up to 0.005 ATR of the pullback's
# depth, so a bar that close to a threshold may decide differently live and in a backtest.
PULLBACK_ATR = 3.0  # price this many ATR from EMA50 against the trend: a pullback to trade
BREAK_ATR = 6.0  # farther than this: the trend may be breaking, not pulling back
TREND_CONFIDENCE = (0.60, 0.75)  # a pullback trade in the weakest .. the strongest trend


def trend_rules(price: np.ndarray, ema50: np.ndarray, sma50: np.ndarray, sma200: np.ndarray,
                atr: np.ndarray, held: np.ndarray | None = None, *,
                round_trip: float = DEFAULT_ROUND_TRIP,
                params: RuleParams = DEFAULT_PARAMS) -> RuleOutput:
    """The trend follower on `TREND_INPUTS` per bar (NaN or ±inf: missing).

    The trend is the SMA50/SMA200 gap: under TREND_GAP → HOLD 0.40 (no trend). The entry is a
    pullback: the price PULLBACK_ATR..BREAK_ATR ATR(14) from EMA50 against the trend → BUY in
    an uptrend, SELL in a downtrend; nearer → HOLD 0.45 (waiting for a pullback: the trend's
    latest move is not chased); farther → HOLD 0.50 (the trend may be breaking). The way back
    to EMA50 below `fee_margin` round-trip fees → HOLD 0.45. A trade's confidence grows with
    the trend's gap, 0.60 at TREND_GAP to 0.75 at TREND_GAP_FULL: measured pullbacks were
    right somewhat more often in steeper trends and not more often when deeper. Holding: see
    `_hysteresis` (HOLD 0.50 keeps; HOLD 0.55 refuses a weak reversal).
    """
    fin = np.isfinite
    n = len(price)
    if held is None:
        held = np.zeros(n)
    with np.errstate(all="ignore"):
        missing = ~(fin(ema50) & fin(sma50) & fin(sma200) & (sma200 > 0) & fin(atr) & (atr > 0)
                    & (price > 0))
        gap = (sma50 - sma200) / sma200
        up = gap > 0
        no_trend = ~missing & ~(np.abs(gap) >= TREND_GAP)
        depth = np.where(up, ema50 - price, price - ema50) / atr  # in ATR, against the trend
        wait = ~missing & ~no_trend & (depth < PULLBACK_ATR)
        deep = ~missing & ~no_trend & ~wait & (depth > BREAK_ATR)
        trade = ~(missing | no_trend | wait | deep)
        fees = trade & (np.abs(ema50 - price) / price < params.fee_margin * round_trip)
        trade &= ~fees
        low, high = TREND_CONFIDENCE
        strength = _clip01((np.abs(gap) - TREND_GAP) / (TREND_GAP_FULL - TREND_GAP))
        confidence = _round2(low + (high - low) * strength)
    keep, weak = _hysteresis(trade, up, held, confidence, params.reverse_at)
    trade &= ~(keep | weak)
    branch = np.select([missing, no_trend, wait, deep, fees, keep, weak, up],
                       [T_MISSING, T_NO_TREND, T_WAIT, T_TOO_DEEP, T_FEES, T_KEEP,
                        T_NO_REVERSE, T_BUY], T_SELL)
    held_conf = np.select([missing, no_trend, wait, deep, fees, keep, weak],
                          [MISSING_CONFIDENCE, NEUTRAL_CONFIDENCE, 0.45, 0.5, 0.45,
                           HOLDING_CONFIDENCE, 0.55], np.nan)
    held_conf[trade] = confidence[trade]
    action = np.where(trade, np.where(up, BUY, SELL), HOLD)
    return RuleOutput(action.astype(np.int8), held_conf, branch.astype(np.int8),
                      np.zeros(n, dtype=np.int8))


def trend_text(branch: int, detail: int, price: float, ema50: Num, sma50: Num, sma200: Num,
               atr: Num, held: Num = None, *, round_trip: float = DEFAULT_ROUND_TRIP,
               params: RuleParams = DEFAULT_PARAMS) -> str:
    """The trend follower's reasoning for one bar's `branch`."""
    if branch == T_MISSING:
        missing = [k for k, v in (("ema_50", ema50), ("sma_50", sma50), ("sma_200", sma200),
                                  ("atr_14", atr))
                   if v is None or (k in ("sma_200", "atr_14") and v <= 0)]
        return _missing(missing or ["price"])[2]
    assert ema50 is not None and sma50 is not None and sma200 is not None and atr is not None
    up = sma50 > sma200
    trend = (f"SMA50 {num(sma50)} {'>' if up else '<'} SMA200 {num(sma200)} "
             f"(gap {_pct(abs(sma50 - sma200) / sma200)})")
    if branch == T_NO_TREND:
        return f"{trend}: no trend (gap < {_pct(TREND_GAP)}) → HOLD"
    way = "up" if up else "down"
    place = (f"price {num(price)} {'below' if price < ema50 else 'above'} EMA50 {num(ema50)} by "
             f"{abs(price - ema50) / atr:.1f} ATR")
    text = f"{trend}: {way}trend, {place}"
    if branch == T_WAIT:
        return (f"{text}: no pullback yet (needs {PULLBACK_ATR:g} ATR against it; its latest "
                "move is not chased) → HOLD")
    if branch == T_TOO_DEEP:
        return f"{text} (> {BREAK_ATR:g}): the trend may be breaking → HOLD"
    if branch == T_FEES:
        return (f"{text}: the way back {_pct(abs(ema50 - price) / price)} does not pay "
                f"{params.fee_margin:g}× the round-trip fee {_pct(round_trip)} → HOLD")
    if branch == T_KEEP:
        return (f"{text}: a pullback the way of the open position, keep it (adding needs "
                f"{params.reverse_at:.2f}) → HOLD")
    if branch == T_NO_REVERSE:
        return (f"{text}: a pullback against the open position, but not strong enough to "
                f"reverse it (needs {params.reverse_at:.2f}) → HOLD")
    action = _BUY if branch == T_BUY else _SELL
    return f"{text}: {'buy the dip' if up else 'sell the rally'} → {action}"


# --- mean reverter ----------------------------------------------------------------------

(M_MISSING, M_NEUTRAL, M_BUY, M_SELL, M_CONFLICT, M_ONE_LOW, M_ONE_HIGH, M_FEES, M_KEEP,
 M_NO_REVERSE, M_TREND) = range(11)  # branches
STRETCH_CONFIDENCE = 0.55  # a fade on two readings, before its turn and depth
STRETCH_ALL, STRETCH_TURN, STRETCH_DEEP = 1, 2, 4  # a fade's `detail` flags: ±0.05 each
DEEP_STRETCH = 0.5  # RSI or %B this far beyond (RSI ≤ 20 at 30, %B ≤ −0.075): a crash


def mean_reversion_rules(price: np.ndarray, rsi: np.ndarray, pb: np.ndarray, k: np.ndarray,
                         d: np.ndarray, middle: np.ndarray | None = None,
                         adx: np.ndarray | None = None, plus: np.ndarray | None = None,
                         minus: np.ndarray | None = None, held: np.ndarray | None = None, *,
                         round_trip: float = DEFAULT_ROUND_TRIP,
                         params: RuleParams = DEFAULT_PARAMS) -> RuleOutput:
    """The mean reverter on `MEAN_REVERSION_INPUTS` per bar (NaN or ±inf: missing).

    A reading at or beyond its extreme counts as oversold (overbought); its depth is how far
    beyond, in units of a typical excursion. Two or more oversold readings and no overbought
    one → BUY with 0.55, +0.05 when all three readings agree, +0.05 when %K turns up over %D
    (the bounce began), −0.05 when RSI or %B is DEEP_STRETCH beyond its extreme (a crash runs
    on more often than it snaps back); SELL likewise. So 0.50..0.65: measured, such answers
    were right 50-56 % an hour later on real candles, and more often the higher the confidence
    (benchmarks/README "Do the confidences mean something"). The way
    back to the Bollinger middle below FEE_MARGIN round-trip fees → HOLD 0.45 (no middle:
    not checked). Stretched along a trend ADX and ±DI show (ADX ≥ 20, ±DI the way of the
    stretch) → HOLD 0.45: a trend's move is not faded (unknown ADX/DI: not checked). One
    unconfirmed extreme, or extremes on both sides → HOLD 0.45. Nothing extreme → HOLD 0.40,
    up to 0.60 as RSI nears an extreme (a warning against chasing; over the second half of
    the way from 50 to the extreme).
    Missing RSI or %B → HOLD 0.20. Holding: see `_hysteresis`.
    The thresholds named here are `params`' defaults (RSI 30/70: `rsi_extreme` and 100 − it).
    """
    fin = np.isfinite
    rsi_low, rsi_high = params.rsi_extreme, 100.0 - params.rsi_extreme
    n = len(price)
    if held is None:
        held = np.zeros(n)
    nan = np.full(n, np.nan)
    middle, adx, plus, minus = (nan if x is None else x for x in (middle, adx, plus, minus))
    with np.errstate(all="ignore"):
        missing = ~fin(rsi) | ~fin(pb)
        has_k = fin(k)
        inside = ((rsi > rsi_low) & (rsi < rsi_high) & (pb > PB_LOW) & (pb < PB_HIGH)
                  & (~has_k | ((k > STOCH_LOW) & (k < STOCH_HIGH))))
        low1, high1 = (rsi_low - rsi) / 20, (rsi - rsi_high) / 20
        low2, high2 = (PB_LOW - pb) / 0.25, (pb - PB_HIGH) / 0.25
        low3 = np.where(has_k, (STOCH_LOW - k) / 20, 0.0)
        high3 = np.where(has_k, (k - STOCH_HIGH) / 20, 0.0)
        n_low = (low1 >= 0).astype(np.int8) + (low2 >= 0) + (has_k & (low3 >= 0))
        n_high = (high1 >= 0).astype(np.int8) + (high2 >= 0) + (has_k & (high3 >= 0))
        extreme = ~missing & ~inside
        buy = extreme & (n_low >= 2) & (n_high == 0)
        sell = extreme & (n_high >= 2) & (n_low == 0)
        conflict = extreme & (n_low > 0) & (n_high > 0)
        one_low = extreme & (n_low == 1) & (n_high == 0)
        one_high = extreme & (n_high == 1) & (n_low == 0)
        # the way back to the mean, as a fraction of price (unknown: not checked)
        way = np.where(fin(middle) & (price > 0), np.abs(middle - price) / price, np.inf)
        fees = (buy | sell) & (way < params.fee_margin * round_trip)
        strong = fin(adx) & (adx >= params.trend_adx) & fin(plus) & fin(minus)
        trend = ~fees & strong & ((buy & (minus > plus)) | (sell & (plus > minus)))
        turn_up = has_k & fin(d) & (k > d)  # %K crossing %D: the bounce began
        turn_down = has_k & fin(d) & (k < d)
        buy_flags = _stretch_flags(n_low, turn_up, low1, low2)
        sell_flags = _stretch_flags(n_high, turn_down, high1, high2)
        # nothing extreme: the closer RSI is to an extreme, the more this HOLD warns; it
        # ramps over the second half of the way from 50 to the extreme (|RSI − 50| 10..20
        # at 30/70)
        half = (50.0 - rsi_low) / 2
        neutral_conf = NEUTRAL_CONFIDENCE + 0.2 * _clip01((np.abs(rsi - 50) - half) / half)
    flags = np.where(buy, buy_flags, sell_flags)
    trade_conf = _round2(STRETCH_CONFIDENCE + 0.05 * (((flags & STRETCH_ALL) > 0).astype(float)
                                                      + ((flags & STRETCH_TURN) > 0)
                                                      - ((flags & STRETCH_DEEP) > 0)))
    keep, weak = _hysteresis((buy | sell) & ~(fees | trend), buy, held, trade_conf,
                             params.reverse_at)
    buy &= ~(fees | trend | keep | weak)
    sell &= ~(fees | trend | keep | weak)
    cases = [missing, fees, trend, keep, weak, buy, sell, conflict, one_low, one_high]
    branch = np.select(cases, [M_MISSING, M_FEES, M_TREND, M_KEEP, M_NO_REVERSE, M_BUY,
                               M_SELL, M_CONFLICT, M_ONE_LOW, M_ONE_HIGH], M_NEUTRAL)
    raw = np.select(cases, [MISSING_CONFIDENCE, 0.45, 0.45, HOLDING_CONFIDENCE, 0.55,
                            trade_conf, trade_conf, 0.45, 0.45, 0.45], neutral_conf)
    neutral = branch == M_NEUTRAL
    raw[neutral] = _round2(raw[neutral])
    action = np.select([buy, sell], [BUY, SELL], HOLD)
    return RuleOutput(action.astype(np.int8), raw, branch.astype(np.int8),
                      np.where(buy | sell, flags, 0).astype(np.int8))


def _stretch_flags(readings: np.ndarray, turn: np.ndarray, x1: np.ndarray,
                   x2: np.ndarray) -> np.ndarray:
    """What moves a fade's confidence: all three readings, the turn, RSI's/%B's depth."""
    return (np.where(readings >= 3, STRETCH_ALL, 0) | np.where(turn, STRETCH_TURN, 0)
            | np.where(np.maximum(x1, x2) >= DEEP_STRETCH, STRETCH_DEEP, 0))


def mean_reversion_text(branch: int, detail: int, price: float, rsi: Num, pb: Num, k: Num,
                        d: Num, middle: Num = None, adx: Num = None, plus: Num = None,
                        minus: Num = None, held: Num = None, *,
                        round_trip: float = DEFAULT_ROUND_TRIP,
                        params: RuleParams = DEFAULT_PARAMS) -> str:
    """The mean reverter's reasoning for one bar's `branch`."""
    if branch == M_MISSING:
        return _missing([key for key, v in (("rsi_14", rsi), ("bb_percent_b", pb)) if v is None])[2]
    assert rsi is not None and pb is not None
    readings = f"RSI {rsi:.1f}, %B {pb:.2f}" + ("" if k is None else f", Stoch %K {k:.0f}")
    if branch == M_FEES:
        assert middle is not None
        return (f"{readings}: stretched, but the way back to the middle band "
                f"{_pct(abs(middle - price) / price)} does not pay {params.fee_margin:g}× the "
                f"round-trip fee {_pct(round_trip)} → HOLD")
    if branch == M_TREND:
        assert adx is not None and plus is not None and minus is not None
        down = minus > plus
        return (f"{readings}: {'oversold' if down else 'overbought'}, but in a strong "
                f"{'down' if down else 'up'}trend (ADX {adx:.0f}, {'-DI' if down else '+DI'} "
                f"{max(plus, minus):.0f} > {'+DI' if down else '-DI'} {min(plus, minus):.0f}):"
                " not fading it → HOLD")
    if branch in (M_BUY, M_SELL):
        why = _stretch_text(branch == M_BUY, detail)
        return (f"{readings}: {'oversold' if branch == M_BUY else 'overbought'}{why} → "
                f"{_BUY if branch == M_BUY else _SELL}")
    return readings + {
        M_NEUTRAL: ": no extreme → HOLD",
        M_CONFLICT: ": oversold and overbought readings conflict → HOLD",
        M_ONE_LOW: ": only one oversold reading, unconfirmed → HOLD",
        M_ONE_HIGH: ": only one overbought reading, unconfirmed → HOLD",
        M_KEEP: (": stretched the way of the open position, keep it (adding needs "
                 f"{params.reverse_at:.2f}) → HOLD"),
        M_NO_REVERSE: (": stretched against the open position, but not enough to reverse it "
                       f"(needs {params.reverse_at:.2f}) → HOLD"),
    }[branch]


def _stretch_text(low: bool, flags: int) -> str:
    """A fade's `detail` flags (what moved its confidence), in words."""
    notes = [text for flag, text in (
        (STRETCH_ALL, "all three readings"),
        (STRETCH_TURN, f"%K turning {'up' if low else 'down'}"),
        (STRETCH_DEEP, f"deep: a {'crash' if low else 'squeeze'} may run on")) if flags & flag]
    return f" ({', '.join(notes)})" if notes else ""


# --- the DecisionModels -----------------------------------------------------------------


class _RuleModel:
    """Shared DecisionModel plumbing around a pure rule over arrays.

    `vector_rules(price, *values of inputs)` is the rule (see the module doc) and
    `rule_text(branch, detail, price, *values)` its reasoning; `decide` runs them on the
    context's bar. The input `held` is the open position's side (`held_side`), not an
    indicator.
    """

    name = "offline"
    inputs: tuple[str, ...] = ()
    sends_prompt = False  # reads the context alone: its decisions store no prompt

    def __init__(self, commission_rate: float = DEFAULT_ROUND_TRIP / 2,
                 params: RuleParams = DEFAULT_PARAMS) -> None:
        self.round_trip = 2.0 * commission_rate  # a position's entry and exit fees
        self.params = params
        self.last_messages: list[dict[str, str]] = []  # no prompt: the context is the input
        self.last_raw: str | None = None

    @property
    def last_prompt(self) -> list[dict[str, str]]:
        return self.last_messages

    def rule(self, ctx: DecisionContext) -> Decision:
        ind, held = ctx.indicators, held_side(ctx.position)
        return on_one_bar(self.vector_rules, self.rule_text, ctx.price,
                          (held if k == HELD else ind.get(k) for k in self.inputs))

    async def decide(self, context: DecisionContext) -> ModelVote:
        try:
            action, confidence, reasoning = self.rule(context)
        except Exception as exc:  # a rule bug must not crash the cycle (DecisionModel contract)
            self.last_raw = None
            return ModelVote(self.name, None, error=f"unexpected {type(exc).__name__}")
        self.last_raw = json.dumps({"decision": action.value, "confidence": confidence,
                                    "reasoning": reasoning}, ensure_ascii=False)
        return ModelVote(self.name, action, confidence, reasoning)

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class TrendFollower(_RuleModel):
    """Trade with the trend the slow averages (SMA50/SMA200) show, entering on a pullback of a
    few ATR against it (buy the dip, sell the rally); stand aside otherwise."""

    name = "offline/trend-follower"
    inputs = TREND_INPUTS

    def vector_rules(self, *columns: np.ndarray) -> RuleOutput:
        return trend_rules(*columns, round_trip=self.round_trip, params=self.params)

    def rule_text(self, branch: int, detail: int, price: float, *values: Num) -> str:
        return trend_text(branch, detail, price, *values, round_trip=self.round_trip,
                          params=self.params)


class MeanReverter(_RuleModel):
    """Fade extremes: BUY when RSI, Bollinger %B and Stochastic say oversold, SELL when
    overbought."""

    name = "offline/mean-reversion"
    inputs = MEAN_REVERSION_INPUTS

    def vector_rules(self, *columns: np.ndarray) -> RuleOutput:
        return mean_reversion_rules(*columns, round_trip=self.round_trip, params=self.params)

    def rule_text(self, branch: int, detail: int, price: float, *values: Num) -> str:
        return mean_reversion_text(branch, detail, price, *values, round_trip=self.round_trip,
                                   params=self.params)


__all__ = ["ACTIONS", "DEFAULT_PARAMS", "HELD", "MEAN_REVERSION_INPUTS", "TREND_INPUTS",
           "MeanReverter", "RuleOutput", "RuleParams", "TrendFollower", "held_side",
           "mean_reversion_rules", "mean_reversion_text", "num", "on_one_bar", "trend_rules",
           "trend_text", "value"]

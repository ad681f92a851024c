"""Two deterministic rule-based DecisionModels (SPEC §7.2): a trend follower and a mean reverter.

They read the same DecisionContext as the AI models, answer instantly with zero tokens and
cost, and explain themselves with the numbers they used. Missing or NaN indicators give a
low-confidence HOLD, never an exception.

Confidence scale (so the two combine sensibly under the §7.4 vote):
- a trade: 0.45..0.90, growing with signal strength;
- "no opinion" HOLD (no trend / nothing stretched): about 0.40, low enough that the other
  model's confident trade (≥ 0.60, a 0.20 gap) still wins a majority split;
- a HOLD that is a warning (conflicting trend signals, a market stretched against the other
  model's likely trade): up to about 0.60, so it can veto a lukewarm trade;
- missing data: 0.20.

Each rule is one pure function of the indicator values it reads (`TREND_INPUTS`,
`MEAN_REVERSION_INPUTS`: finite floats or None) and the price: `trend_rule` and
`mean_reversion_rule`. The models' `decide` calls them through `trend_decision(ctx)` /
`mean_reversion_decision(ctx)`; a backtest calls them directly with the values of its
precomputed indicator columns and `explain=False`, which skips only the reasoning text (the
decision and confidence are the same either way), so a backtest pays for words only where it
records them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from autotrade_tui.core.models import Action, DecisionContext, ModelVote

Decision = tuple[Action, float, str]
Num = float | None

ADX_TREND = 20.0  # below: no trend worth following
ADX_STRONG = 25.0
ADX_FULL = 40.0  # ADX at which trend strength counts fully
SPREAD_FULL = 0.005  # fast/slow average spread (fraction of price) that counts fully
HIST_FULL = 0.001  # MACD histogram (fraction of price) that counts fully
RSI_LOW, RSI_HIGH = 30.0, 70.0
PB_LOW, PB_HIGH = 0.05, 0.95  # Bollinger %B: at or beyond the bands
STOCH_LOW, STOCH_HIGH = 20.0, 80.0
MISSING_CONFIDENCE = 0.20
NEUTRAL_CONFIDENCE = 0.40

# The indicator values each rule reads, in the order of its positional parameters.
TREND_INPUTS = ("ema_12", "ema_26", "sma_20", "sma_50", "macd_hist", "adx_14", "plus_di",
                "minus_di")
MEAN_REVERSION_INPUTS = ("rsi_14", "bb_percent_b", "stoch_k", "stoch_d")

_BUY, _SELL, _HOLD = Action.BUY, Action.SELL, Action.HOLD
_isfinite, _copysign = math.isfinite, math.copysign


def value(x: object) -> Num:
    """An indicator value as the rules take it: a finite float, or None for anything else."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if _isfinite(x) else None


def _get(ind: Mapping[str, float], key: str) -> Num:
    return value(ind.get(key))


def _clamp(x: float, low: float = 0.0, high: float = 1.0) -> float:
    """min(max(x, low), high), spelled out (the rules run once per candle in a backtest)."""
    return low if x < low else (high if x > high else x)


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


def _signed(x: float) -> str:
    return ("+" if x > 0 else "") + num(x)


def _missing(keys: list[str]) -> Decision:
    return _HOLD, MISSING_CONFIDENCE, f"missing {', '.join(keys)} → HOLD"


# --- trend follower ---------------------------------------------------------------------


def trend_decision(ctx: DecisionContext) -> Decision:
    """Follow the trend when the averages, MACD and ADX agree; stand aside otherwise."""
    ind = ctx.indicators
    return trend_rule(ctx.price, *(_get(ind, k) for k in TREND_INPUTS), explain=True)


def trend_rule(price: float, ema12: Num, ema26: Num, sma20: Num, sma50: Num, hist: Num,
               adx: Num, plus: Num, minus: Num, explain: bool = False) -> Decision:
    """The trend follower on `TREND_INPUTS` (finite floats or None); text only if `explain`.

    The fast/slow pair is EMA12/EMA26, else SMA20/SMA50.
    """
    if ema12 is not None and ema26 is not None and ema26 > 0:
        fast, slow, ema = ema12, ema26, True
    elif sma20 is not None and sma50 is not None and sma50 > 0:
        fast, slow, ema = sma20, sma50, False
    else:
        fast = slow = None
        ema = True
    if fast is None or slow is None or hist is None or adx is None or price <= 0:
        if not explain:
            return _HOLD, MISSING_CONFIDENCE, ""
        missing = [k for k, v in (("ema_12/ema_26", fast), ("macd_hist", hist), ("adx_14", adx))
                   if v is None]
        return _missing(missing or ["price"])
    if adx < ADX_TREND:  # (before the spread: this HOLD does not read it)
        return _HOLD, NEUTRAL_CONFIDENCE, (
            f"{_trend_text(ema, fast, slow, hist, adx)} (no trend, < {ADX_TREND:.0f}) → HOLD"
            if explain else "")
    spread = (fast - slow) / slow
    direction = _copysign(1, spread) if spread else 0
    if direction == 0 or _copysign(1, hist) != direction or hist == 0:
        return _HOLD, 0.45, (f"{_trend_text(ema, fast, slow, hist, adx)}: averages and MACD "
                             "disagree → HOLD" if explain else "")
    s1 = abs(spread) / SPREAD_FULL  # each part clamped to 0..1 (inline: once per candle)
    s2 = abs(hist) / price / HIST_FULL
    s3 = (adx - ADX_TREND) / (ADX_FULL - ADX_TREND)
    strength = ((0.0 if s1 < 0.0 else (1.0 if s1 > 1.0 else s1))
                + (0.0 if s2 < 0.0 else (1.0 if s2 > 1.0 else s2))
                + (0.0 if s3 < 0.0 else (1.0 if s3 > 1.0 else s3))) / 3
    confidence = 0.45 + 0.45 * strength
    di = plus is not None and minus is not None and plus != minus
    if di:
        assert plus is not None and minus is not None
        if (plus > minus) != (direction > 0):  # price averages and directional movement differ
            return _HOLD, 0.5, (f"{_trend_text(ema, fast, slow, hist, adx, plus, minus)}: DI "
                                "against the averages → HOLD" if explain else "")
        confidence += 0.05
    action = _BUY if direction > 0 else _SELL
    text = ""
    if explain:
        shown = (plus, minus) if di else (None, None)
        text = f"{_trend_text(ema, fast, slow, hist, adx, *shown)} → {action}"
    # _clamp(confidence, 0.4, 0.9), inline (once per candle in a backtest)
    confidence = 0.4 if confidence < 0.4 else (0.9 if confidence > 0.9 else confidence)
    return action, round(confidence, 2), text


def _trend_text(ema: bool, fast: float, slow: float, hist: float, adx: float,
                plus: float | None = None, minus: float | None = None) -> str:
    label_f, label_s = ("EMA12", "EMA26") if ema else ("SMA20", "SMA50")
    text = (f"{label_f} {num(fast)} {'>' if fast > slow else '<'} {label_s} {num(slow)}, "
            f"MACD hist {_signed(hist)}, ADX {adx:.0f}")
    if adx >= ADX_TREND:
        text += " (strong)" if adx >= ADX_STRONG else " (moderate)"
    if plus is not None and minus is not None:
        text += f", +DI {plus:.0f} {'>' if plus > minus else '<'} -DI {minus:.0f}"
    return text


# --- mean reverter ----------------------------------------------------------------------


def mean_reversion_decision(ctx: DecisionContext) -> Decision:
    """Fade extremes: BUY when RSI, %B and Stochastic say oversold, SELL when overbought."""
    ind = ctx.indicators
    return mean_reversion_rule(ctx.price, *(_get(ind, k) for k in MEAN_REVERSION_INPUTS),
                               explain=True)


def mean_reversion_rule(price: float, rsi: Num, pb: Num, k: Num, d: Num,
                        explain: bool = False) -> Decision:
    """The mean reverter on `MEAN_REVERSION_INPUTS` (finite floats or None); text only if
    `explain`. (`price` is unused: the readings are scale-free; it keeps the rules alike.)

    Depths: how far each reading is beyond its extreme, in units of a typical excursion;
    a reading at or beyond its extreme counts as oversold (overbought).
    """
    if rsi is None or pb is None:
        if not explain:
            return _HOLD, MISSING_CONFIDENCE, ""
        return _missing([key for key, v in (("rsi_14", rsi), ("bb_percent_b", pb)) if v is None])
    if (RSI_LOW < rsi < RSI_HIGH and PB_LOW < pb < PB_HIGH
            and (k is None or STOCH_LOW < k < STOCH_HIGH)):
        return _neutral(rsi, pb, k, explain)  # no reading at an extreme: no depth to weigh
    low1, high1 = (RSI_LOW - rsi) / 20, (rsi - RSI_HIGH) / 20
    low2, high2 = (PB_LOW - pb) / 0.25, (pb - PB_HIGH) / 0.25
    n_low = (low1 >= 0) + (low2 >= 0)
    n_high = (high1 >= 0) + (high2 >= 0)
    low3 = high3 = 0.0
    if k is not None:
        low3, high3 = (STOCH_LOW - k) / 20, (k - STOCH_HIGH) / 20
        n_low += low3 >= 0
        n_high += high3 >= 0
    if n_low >= 2 and n_high == 0:
        turning = k is not None and d is not None and k > d  # %K crossing up: the bounce began
        conf = 0.5 + 0.4 * _depth(low1, low2, low3, k) + (0.05 if turning else 0.0)
        conf = 0.45 if conf < 0.45 else (0.9 if conf > 0.9 else conf)  # _clamp, inline
        return _BUY, round(conf, 2), (
            f"{_readings(rsi, pb, k)}: oversold → BUY" if explain else "")
    if n_high >= 2 and n_low == 0:
        turning = k is not None and d is not None and k < d
        conf = 0.5 + 0.4 * _depth(high1, high2, high3, k) + (0.05 if turning else 0.0)
        conf = 0.45 if conf < 0.45 else (0.9 if conf > 0.9 else conf)  # _clamp, inline
        return _SELL, round(conf, 2), (
            f"{_readings(rsi, pb, k)}: overbought → SELL" if explain else "")
    if n_low and n_high:
        return _HOLD, 0.45, (f"{_readings(rsi, pb, k)}: oversold and overbought readings "
                             "conflict → HOLD" if explain else "")
    if n_low or n_high:
        side = "oversold" if n_low else "overbought"
        return _HOLD, 0.45, (f"{_readings(rsi, pb, k)}: only one {side} reading, unconfirmed "
                             "→ HOLD" if explain else "")
    return _neutral(rsi, pb, k, explain)


def _neutral(rsi: float, pb: float, k: Num, explain: bool) -> Decision:
    """Nothing extreme: the closer to an extreme, the more this HOLD warns against chasing."""
    stretch = (abs(rsi - 50) - 10) / 10  # RSI 60/40 → 0, 70/30 → 1
    stretch = 0.0 if stretch < 0.0 else (1.0 if stretch > 1.0 else stretch)
    return _HOLD, round(NEUTRAL_CONFIDENCE + 0.2 * stretch, 2), (
        f"{_readings(rsi, pb, k)}: no extreme → HOLD" if explain else "")


def _depth(x1: float, x2: float, x3: float, k: Num) -> float:
    """Mean of the readings' depths, each clamped to 0..1 (x3 only with a Stochastic)."""
    total = _clamp(x1) + _clamp(x2)
    return total / 2 if k is None else (total + _clamp(x3)) / 3


def _readings(rsi: float, pb: float, k: float | None) -> str:
    text = f"RSI {rsi:.1f}, %B {pb:.2f}"
    return text if k is None else f"{text}, Stoch %K {k:.0f}"


# --- the DecisionModels -----------------------------------------------------------------


class _RuleModel:
    """Shared DecisionModel plumbing around a pure rule function.

    `rule_function(price, *values of inputs, explain=False)` is the pure rule (see the module
    doc); `rule(ctx)` applies it to a context with its reasoning text.
    """

    name = "offline"
    inputs: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.last_messages: list[dict[str, str]] = []  # no prompt: the context is the input
        self.last_raw: str | None = None

    @property
    def last_prompt(self) -> list[dict[str, str]]:
        return self.last_messages

    def rule(self, ctx: DecisionContext) -> Decision:
        raise NotImplementedError

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
    """EMA/SMA crossover + MACD histogram + ADX/DI."""

    name = "offline/trend-follower"

    inputs = TREND_INPUTS
    rule_function = staticmethod(trend_rule)

    def rule(self, ctx: DecisionContext) -> Decision:
        return trend_decision(ctx)


class MeanReverter(_RuleModel):
    """RSI + Bollinger %B + Stochastic."""

    name = "offline/mean-reversion"

    inputs = MEAN_REVERSION_INPUTS
    rule_function = staticmethod(mean_reversion_rule)

    def rule(self, ctx: DecisionContext) -> Decision:
        return mean_reversion_decision(ctx)


__all__ = ["MEAN_REVERSION_INPUTS", "TREND_INPUTS", "MeanReverter", "TrendFollower",
           "mean_reversion_decision", "mean_reversion_rule", "num", "trend_decision", "trend_rule",
           "value"]

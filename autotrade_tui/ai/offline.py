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
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from autotrade_tui.core.models import Action, DecisionContext, ModelVote

Decision = tuple[Action, float, str]

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


def _get(ind: Mapping[str, float], key: str) -> float | None:
    value = ind.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _clamp(x: float, low: float = 0.0, high: float = 1.0) -> float:
    return min(max(x, low), high)


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
    return Action.HOLD, MISSING_CONFIDENCE, f"missing {', '.join(keys)} → HOLD"


# --- trend follower ---------------------------------------------------------------------


def _averages(ind: Mapping[str, float]) -> tuple[str, float, str, float] | None:
    """The fast/slow pair to compare: EMA12/EMA26, else SMA20/SMA50."""
    for fast, slow, label_f, label_s in (("ema_12", "ema_26", "EMA12", "EMA26"),
                                          ("sma_20", "sma_50", "SMA20", "SMA50")):
        f, s = _get(ind, fast), _get(ind, slow)
        if f is not None and s is not None and s > 0:
            return label_f, f, label_s, s
    return None


def trend_decision(ctx: DecisionContext) -> Decision:
    """Follow the trend when the averages, MACD and ADX agree; stand aside otherwise."""
    ind = ctx.indicators
    pair, hist, adx = _averages(ind), _get(ind, "macd_hist"), _get(ind, "adx_14")
    missing = [k for k, v in (("ema_12/ema_26", pair), ("macd_hist", hist), ("adx_14", adx))
               if v is None]
    if pair is None or hist is None or adx is None or ctx.price <= 0:
        return _missing(missing or ["price"])
    label_f, fast, label_s, slow = pair
    spread = (fast - slow) / slow
    cross = f"{label_f} {num(fast)} {'>' if fast > slow else '<'} {label_s} {num(slow)}"
    text = f"{cross}, MACD hist {_signed(hist)}, ADX {adx:.0f}"
    if adx < ADX_TREND:
        return Action.HOLD, NEUTRAL_CONFIDENCE, f"{text} (no trend, < {ADX_TREND:.0f}) → HOLD"
    text += " (strong)" if adx >= ADX_STRONG else " (moderate)"
    direction = math.copysign(1, spread) if spread else 0
    if direction == 0 or math.copysign(1, hist) != direction or hist == 0:
        return Action.HOLD, 0.45, f"{text}: averages and MACD disagree → HOLD"
    strength = (_clamp(abs(spread) / SPREAD_FULL) + _clamp(abs(hist) / ctx.price / HIST_FULL)
                + _clamp((adx - ADX_TREND) / (ADX_FULL - ADX_TREND))) / 3
    confidence = 0.45 + 0.45 * strength
    plus, minus = _get(ind, "plus_di"), _get(ind, "minus_di")
    if plus is not None and minus is not None and plus != minus:
        agrees = (plus > minus) == (direction > 0)
        text += f", +DI {plus:.0f} {'>' if plus > minus else '<'} -DI {minus:.0f}"
        if not agrees:  # price averages and directional movement point different ways
            return Action.HOLD, 0.5, f"{text}: DI against the averages → HOLD"
        confidence += 0.05
    action = Action.BUY if direction > 0 else Action.SELL
    return action, round(_clamp(confidence, 0.4, 0.9), 2), f"{text} → {action}"


# --- mean reverter ----------------------------------------------------------------------


def _depths(ind: Mapping[str, float]) -> tuple[list[str], float, float, int, int]:
    """Readings, mean oversold depth, mean overbought depth, and how many are extreme each way."""
    rsi, pb, k = _get(ind, "rsi_14"), _get(ind, "bb_percent_b"), _get(ind, "stoch_k")
    parts: list[tuple[str, float, float]] = []  # (text, oversold depth, overbought depth)
    if rsi is not None:
        parts.append((f"RSI {rsi:.1f}", (RSI_LOW - rsi) / 20, (rsi - RSI_HIGH) / 20))
    if pb is not None:
        parts.append((f"%B {pb:.2f}", (PB_LOW - pb) / 0.25, (pb - PB_HIGH) / 0.25))
    if k is not None:
        parts.append((f"Stoch %K {k:.0f}", (STOCH_LOW - k) / 20, (k - STOCH_HIGH) / 20))
    low = [p[1] for p in parts]
    high = [p[2] for p in parts]
    n = len(parts)
    return ([p[0] for p in parts], sum(_clamp(x) for x in low) / n,
            sum(_clamp(x) for x in high) / n, sum(x >= 0 for x in low), sum(x >= 0 for x in high))


def mean_reversion_decision(ctx: DecisionContext) -> Decision:
    """Fade extremes: BUY when RSI, %B and Stochastic say oversold, SELL when overbought."""
    ind = ctx.indicators
    missing = [k for k in ("rsi_14", "bb_percent_b") if _get(ind, k) is None]
    if missing:
        return _missing(missing)
    readings, low_depth, high_depth, n_low, n_high = _depths(ind)
    text = ", ".join(readings)
    k, d = _get(ind, "stoch_k"), _get(ind, "stoch_d")
    if n_low >= 2 and n_high == 0:
        turning = k is not None and d is not None and k > d  # %K crossing up: the bounce began
        conf = 0.5 + 0.4 * low_depth + (0.05 if turning else 0.0)
        return Action.BUY, round(_clamp(conf, 0.45, 0.9), 2), f"{text}: oversold → BUY"
    if n_high >= 2 and n_low == 0:
        turning = k is not None and d is not None and k < d
        conf = 0.5 + 0.4 * high_depth + (0.05 if turning else 0.0)
        return Action.SELL, round(_clamp(conf, 0.45, 0.9), 2), f"{text}: overbought → SELL"
    if n_low and n_high:
        return Action.HOLD, 0.45, f"{text}: oversold and overbought readings conflict → HOLD"
    if n_low or n_high:
        side = "oversold" if n_low else "overbought"
        return Action.HOLD, 0.45, f"{text}: only one {side} reading, unconfirmed → HOLD"
    # Nothing extreme: the closer to an extreme, the more this HOLD warns against chasing.
    rsi = _get(ind, "rsi_14")
    rsi = 50.0 if rsi is None else rsi
    stretch = _clamp((abs(rsi - 50) - 10) / 10)  # RSI 60/40 → 0, 70/30 → 1
    conf = NEUTRAL_CONFIDENCE + 0.2 * stretch
    return Action.HOLD, round(conf, 2), f"{text}: no extreme → HOLD"


# --- the DecisionModels -----------------------------------------------------------------


class _RuleModel:
    """Shared DecisionModel plumbing around a pure rule function."""

    name = "offline"

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

    def rule(self, ctx: DecisionContext) -> Decision:
        return trend_decision(ctx)


class MeanReverter(_RuleModel):
    """RSI + Bollinger %B + Stochastic."""

    name = "offline/mean-reversion"

    def rule(self, ctx: DecisionContext) -> Decision:
        return mean_reversion_decision(ctx)


__all__ = ["MeanReverter", "TrendFollower", "mean_reversion_decision", "num", "trend_decision"]

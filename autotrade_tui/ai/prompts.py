"""The chat messages a model sees: a static system prompt and a per-decision user message.

Everything that never changes (role, rules, output schema) sits in SYSTEM_PROMPT, so every
call shares the same prefix and providers' prompt caching applies; everything that changes
(time, price, indicators, position, account, events, fundamentals) goes in the user message.
The same context always gives byte-identical messages (sorted keys, fixed number formats),
which also makes the backtest response cache hit.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from autotrade_tui.core.models import DecisionContext

PROMPT_VERSION = 1  # bump when the wording changes, so stored prompts can be told apart
MAX_CLOSES = 20  # recent closes shown: enough for the shape of the move, few tokens
MAX_EVENTS = 10

SYSTEM_PROMPT = """\
You are a disciplined crypto trading analyst driving a PAPER-trading account (no real money) \
that trades perpetual-style positions with leverage and isolated margin. For one symbol at a \
time you receive the current price, technical indicators, derived signals, support and \
resistance levels, the open position, the account, recent market events and, when available, \
market fundamentals. Decide what to do now.

Rules:
- BUY means go long: if a SHORT position is open it is closed first, then a LONG is opened; \
if a LONG is open, BUY adds to it.
- SELL means go short: if a LONG position is open it is closed first, then a SHORT is opened; \
if a SHORT is open, SELL adds to it.
- HOLD means do nothing. Prefer HOLD when the signals conflict or the edge is unclear.
- Positions are leveraged: a move against the position can liquidate its margin. Weigh the \
volatility (ATR, Bollinger width) and the distance to liquidation.
- Confidence is your probability (0 to 1) that the decision is right over the next few \
candles; low-confidence decisions are filtered out and not executed. Do not inflate it.
- Base the decision only on the data given. Cite the numbers that drove it.

Answer with exactly one JSON object and nothing else (no prose, no code fences):
{"decision": "BUY" | "SELL" | "HOLD", "confidence": <number from 0 to 1>, \
"reasoning": "<one to three sentences citing the key numbers>"}"""


def build_messages(ctx: DecisionContext) -> list[dict[str, str]]:
    """`[system, user]` chat messages for one decision; deterministic for a given context."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_message(ctx)},
    ]


def user_message(ctx: DecisionContext) -> str:
    """The variable part of the prompt, as short labelled sections."""
    when = datetime.fromtimestamp(ctx.ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"Symbol: {ctx.symbol}", f"Time: {when}", f"Price: {fmt(ctx.price)}", ""]
    lines += _section("Indicators", ctx.indicators)
    lines += _section("Signals", ctx.signals)
    lines += [f"Support: {_join(ctx.support)}", f"Resistance: {_join(ctx.resistance)}"]
    closes = ctx.recent_closes[-MAX_CLOSES:]
    lines.append(f"Recent closes (oldest to newest): {_join(closes)}")
    lines.append("")
    lines.append("Position: " + (render(ctx.position) if ctx.position else "none open"))
    lines.append("Account: " + (render(ctx.account) if ctx.account else "n/a"))
    events = ctx.recent_events[-MAX_EVENTS:]
    lines.append("Recent events: none" if not events else "Recent events:")
    lines += [f"- {render(e)}" for e in events]
    lines.append("Fundamentals: " + (render(ctx.fundamentals) if ctx.fundamentals
                                     else "fundamentals unavailable"))
    lines += ["", "Decide BUY, SELL or HOLD for " + ctx.symbol + " now. Answer with the JSON "
              "object only."]
    return "\n".join(lines)


def _section(title: str, values: dict[str, Any]) -> list[str]:
    if not values:
        return [f"{title}: none", ""]
    return [f"{title}:", *(f"- {k}: {render(values[k])}" for k in sorted(values)), ""]


def _join(values: list[float]) -> str:
    return ", ".join(fmt(v) for v in values) if values else "none"


def fmt(x: Any) -> str:
    """A number in a fixed, compact form: 68210.53, 31.25, 0.00001234; n/a for None/NaN."""
    if x is None:
        return "n/a"
    if not isinstance(x, float):  # ints (and bools) as they are, anything else as text
        return str(x)
    if not math.isfinite(x):
        return "n/a"
    size = abs(x)
    if size >= 100:
        text = f"{x:.2f}"
    elif size >= 1:
        text = f"{x:.4f}"
    elif size >= 1e-4:
        text = f"{x:.6f}"
    elif size == 0:
        return "0"
    else:
        return f"{x:.4e}"
    text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def render(value: Any) -> str:
    """Dicts with sorted keys, lists in order, numbers through `fmt`: stable and compact."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render(value[k])}"
                               for k in sorted(value, key=str)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return fmt(value)
    return str(value)


__all__ = ["PROMPT_VERSION", "SYSTEM_PROMPT", "build_messages", "fmt", "render", "user_message"]

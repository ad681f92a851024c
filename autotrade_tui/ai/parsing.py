"""Turn a model's free-form answer into (action, confidence 0..1, reasoning), or a ParseError.

Models wrap their JSON in code fences, put prose or `<think>` blocks before it, write the
confidence as 0.85, 85 or "85%" and the action in any case; all of that is accepted. A refusal,
a missing field, an unknown action or a confidence outside 0..100 is a ParseError: that model's
vote becomes an error, never a guess.

Decisions made here:
- keys are case-insensitive; `decision` or `action` for the action, `confidence`,
  `reasoning` / `reason` / `rationale` / `explanation` for the text (optional); other keys
  are ignored;
- LONG means BUY and SHORT means SELL (a trader's synonyms); anything else but BUY/SELL/HOLD
  is rejected rather than guessed;
- a confidence above 1 and at most 100 is a percentage; "85%" is always a percentage;
- when several JSON objects appear (a model echoing the schema, then answering) the first
  one that is a valid decision wins;
- an unclosed `<think>` (the model never closed it): the answer is looked for before it,
  then as the *last* valid object inside it (models that forget to close think, then answer);
- the reasoning is foreign text: control characters, bidi overrides and lone surrogates are
  made visible and inert and it is cut to REASONING_LIMIT characters (core.text.clean);
  the raw answer is the caller's to keep for audit.
"""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any

from autotrade_tui.core.models import Action
from autotrade_tui.core.text import REASONING_LIMIT, clean
from autotrade_tui.errors import ModelError

_THINK_BLOCK = re.compile(r"<(think|thinking)>.*?</\1\s*>", re.S | re.I)
_THINK_CLOSE = re.compile(r"</think(?:ing)?\s*>", re.I)
_THINK_OPEN = re.compile(r"<think(?:ing)?>", re.I)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_DECISION_KEYS = ("decision", "action")
_REASON_KEYS = ("reasoning", "reason", "rationale", "explanation")
_SYNONYMS = {"BUY": Action.BUY, "SELL": Action.SELL, "HOLD": Action.HOLD,
             "LONG": Action.BUY, "SHORT": Action.SELL}
_MAX_OBJECT_STARTS = 200  # bounds the scan on pathological text full of braces
_MAX_LITERAL_CHARS = 20_000  # ast.literal_eval fallback only on answer-sized text


class ParseError(ModelError):
    """The model's answer could not be read as a decision; the message says why, briefly."""


def parse_decision(text: str) -> tuple[Action, float, str]:
    """`(action, confidence in 0..1, reasoning)` from a model answer; ParseError otherwise."""
    if not isinstance(text, str):
        raise ParseError(f"answer is not text ({type(text).__name__})")
    main, thought = _split_thinking(text)
    if not main.strip() and not (thought or "").strip():
        raise ParseError("empty answer")
    first_error: ParseError | None = None
    for objects in (_objects(main), list(reversed(_objects(thought or "")))):
        for obj in objects:
            try:
                return _decision_from(obj)
            except ParseError as exc:
                first_error = first_error or exc
    if first_error is not None:
        raise first_error
    raise ParseError(_no_json_reason(main if main.strip() else thought or ""))


def _split_thinking(text: str) -> tuple[str, str | None]:
    """Answer text without reasoning blocks, plus the body of an unclosed `<think>` if any."""
    text = _THINK_BLOCK.sub(" ", text)
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:  # an orphan close tag: the opening one was in the chat template
        text = text[closes[-1].end():]
    opened = _THINK_OPEN.search(text)
    if opened:
        return text[: opened.start()], text[opened.end():]
    return text, None


def _objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object found in `text`, in order (nested ones too), repaired if need be."""
    found: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"\{", text)][:_MAX_OBJECT_STARTS]
    for i in starts:
        try:
            value, _ = decoder.raw_decode(text, i)
        except (ValueError, RecursionError):  # JSONDecodeError, int digit limit, deep nesting
            continue
        if isinstance(value, dict):
            found.append(value)
    if not found and starts:
        repaired = _repaired(text[starts[0]: text.rfind("}") + 1])
        if repaired is not None:
            found.append(repaired)
    return found


def _repaired(snippet: str) -> dict[str, Any] | None:
    """Second chance for near-JSON: trailing commas, or a Python-style dict with 'quotes'."""
    if not snippet:
        return None
    try:
        value = json.loads(_TRAILING_COMMA.sub(r"\1", snippet))
    except (ValueError, RecursionError):
        value = None
    if value is None and len(snippet) <= _MAX_LITERAL_CHARS:
        try:
            value = ast.literal_eval(snippet)
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
            value = None
    return value if isinstance(value, dict) else None


def _no_json_reason(text: str) -> str:
    if "{" in text:
        return "invalid JSON in answer"
    snippet = " ".join(text.split())[:60]
    return f"no JSON object in answer: {snippet!r}"


def _decision_from(obj: dict[str, Any]) -> tuple[Action, float, str]:
    keys = {str(k).strip().lower(): v for k, v in obj.items()}
    raw_action = next((keys[k] for k in _DECISION_KEYS if k in keys), None)
    if raw_action is None:
        raise ParseError("missing decision in answer")
    if "confidence" not in keys:
        raise ParseError("missing confidence in answer")
    action = _action(raw_action)
    confidence = _confidence(keys["confidence"])
    reasoning = next((keys[k] for k in _REASON_KEYS if k in keys), "")
    if not isinstance(reasoning, str):
        reasoning = json.dumps(reasoning, ensure_ascii=False, default=str)
    return action, confidence, clean(reasoning.strip(), REASONING_LIMIT).strip()


def _action(raw: Any) -> Action:
    if not isinstance(raw, str):
        raise ParseError(f"decision is not text: {_short(raw)}")
    word = re.sub(r"[^A-Z]", "", raw.upper())  # "**buy**", " Buy." → BUY
    try:
        return _SYNONYMS[word]
    except KeyError:
        raise ParseError(f"unknown decision {_short(raw)}") from None


def _confidence(raw: Any) -> float:
    percent = False
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ParseError(f"confidence is not a number: {_short(raw)}")
    if isinstance(raw, str):
        text = raw.strip()
        percent = text.endswith("%")
        try:
            value = float(text.rstrip("%").strip())
        except ValueError:
            raise ParseError(f"confidence is not a number: {_short(raw)}") from None
    else:
        try:
            value = float(raw)
        except OverflowError:  # a JSON integer with hundreds of digits
            raise ParseError(f"confidence out of range 0..100: {_short(raw)}") from None
    if not math.isfinite(value) or value < 0 or value > 100:
        raise ParseError(f"confidence out of range 0..100: {_short(raw)}")
    if percent or value > 1:
        value /= 100
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["ParseError", "parse_decision"]

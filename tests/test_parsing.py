"""Defensive parsing of model answers: every accepted form, every rejection, never a crash."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotrade_tui.ai.parsing import ParseError, parse_decision
from autotrade_tui.core.models import Action
from autotrade_tui.errors import ModelError

B, S, H = Action.BUY, Action.SELL, Action.HOLD

GOOD = [
    ("plain", '{"decision": "BUY", "confidence": 0.85, "reasoning": "up"}', B, 0.85, "up"),
    ("fenced-json", '```json\n{"decision": "SELL", "confidence": 0.7, "reasoning": "r"}\n```',
     S, 0.7, "r"),
    ("fenced-bare", '```\n{"decision": "HOLD", "confidence": 0.5, "reasoning": "flat"}\n```',
     H, 0.5, "flat"),
    ("prose-before", 'Here is my analysis. The {trend} is up.\n{"decision": "BUY", '
     '"confidence": 0.9, "reasoning": "trend"} Hope this helps!', B, 0.9, "trend"),
    ("think", '<think>RSI is 25, so {"decision": "SELL"} maybe?</think>\n'
     '{"decision": "BUY", "confidence": 0.66, "reasoning": "oversold"}', B, 0.66, "oversold"),
    ("think-upper-multiline", '<THINK>\nlong\nthought\n</THINK>{"decision":"hold",'
     '"confidence":0.4,"reasoning":"x"}', H, 0.4, "x"),
    ("orphan-think-close", 'reasoning from the template {"decision": "SELL", "confidence": 1}'
     '</think>{"decision": "BUY", "confidence": 0.8, "reasoning": "y"}', B, 0.8, "y"),
    ("unclosed-think-answer-before", '{"decision": "SELL", "confidence": 0.7, "reasoning": "a"}'
     '<think>and now I ramble', S, 0.7, "a"),
    ("unclosed-think-last-object-inside", '<think>draft {"decision": "BUY", "confidence": 0.3}'
     ' final {"decision": "SELL", "confidence": 0.75, "reasoning": "z"}', S, 0.75, "z"),
    ("percent-string", '{"decision": "BUY", "confidence": "85%", "reasoning": ""}', B, 0.85, ""),
    ("percent-string-spaced", '{"decision": "BUY", "confidence": " 60 % "}', B, 0.60, ""),
    ("percent-int", '{"decision": "BUY", "confidence": 85}', B, 0.85, ""),
    ("numeric-string", '{"decision": "BUY", "confidence": "0.85"}', B, 0.85, ""),
    ("one-is-certainty", '{"decision": "BUY", "confidence": 1}', B, 1.0, ""),
    ("hundred", '{"decision": "BUY", "confidence": 100}', B, 1.0, ""),
    ("zero", '{"decision": "HOLD", "confidence": 0}', H, 0.0, ""),
    ("lowercase", '{"decision": "buy", "confidence": 0.6, "reasoning": "r"}', B, 0.6, "r"),
    ("mixed-case", '{"decision": "SeLl", "confidence": 0.6}', S, 0.6, ""),
    ("decorated-action", '{"decision": " **Buy.** ", "confidence": 0.6}', B, 0.6, ""),
    ("long-means-buy", '{"decision": "LONG", "confidence": 0.6}', B, 0.6, ""),
    ("short-means-sell", '{"decision": "short", "confidence": 0.6}', S, 0.6, ""),
    ("action-key", '{"action": "SELL", "confidence": 0.6, "reason": "why"}', S, 0.6, "why"),
    ("keys-case-insensitive", '{"Decision": "BUY", "CONFIDENCE": 0.7, "Reasoning": "R"}',
     B, 0.7, "R"),
    ("extra-keys", '{"decision": "BUY", "confidence": 0.7, "reasoning": "r", "stop_loss": 1,'
     ' "take_profit": [1, 2], "meta": {"a": null}}', B, 0.7, "r"),
    ("nested", '{"response": {"decision": "SELL", "confidence": 0.62, "reasoning": "n"}}',
     S, 0.62, "n"),
    ("schema-echo-then-answer", 'Format: {"decision": "BUY|SELL|HOLD", "confidence": 0.5}. '
     'Answer: {"decision": "HOLD", "confidence": 0.55, "reasoning": "wait"}', H, 0.55, "wait"),
    ("trailing-comma", '```json\n{"decision": "BUY", "confidence": 0.7, "reasoning": "t",}\n```',
     B, 0.7, "t"),
    ("python-quotes", "{'decision': 'SELL', 'confidence': 0.8, 'reasoning': 'q'}", S, 0.8, "q"),
    ("reasoning-list", '{"decision": "BUY", "confidence": 0.7, "reasoning": ["a", "b"]}',
     B, 0.7, '["a", "b"]'),
    ("reasoning-stripped", '{"decision": "BUY", "confidence": 0.7, "reasoning": "  r \\n"}',
     B, 0.7, "r"),
]


@pytest.mark.parametrize(("text", "action", "confidence", "reasoning"),
                         [g[1:] for g in GOOD], ids=[g[0] for g in GOOD])
def test_accepted_forms(text: str, action: Action, confidence: float, reasoning: str) -> None:
    got_action, got_conf, got_reason = parse_decision(text)
    assert got_action is action
    assert got_conf == pytest.approx(confidence)
    assert got_reason == reasoning


BAD = [
    ("refusal", "I'm sorry, but I can't provide financial advice.", "no JSON object"),
    ("empty", "", "empty answer"),
    ("whitespace", "  \n ", "empty answer"),
    ("only-thinking", "<think>hmm</think>", "empty answer"),
    ("missing-decision", '{"confidence": 0.8, "reasoning": "r"}', "missing decision"),
    ("missing-confidence", '{"decision": "BUY", "reasoning": "r"}', "missing confidence"),
    ("unknown-action", '{"decision": "STRONG BUY", "confidence": 0.8}', "unknown decision"),
    ("action-not-text", '{"decision": 1, "confidence": 0.8}', "decision is not text"),
    ("schema-placeholder", '{"decision": "BUY|SELL|HOLD", "confidence": 0.5}', "unknown decision"),
    ("confidence-negative", '{"decision": "BUY", "confidence": -0.1}', "out of range"),
    ("confidence-over-100", '{"decision": "BUY", "confidence": 150}', "out of range"),
    ("confidence-percent-over", '{"decision": "BUY", "confidence": "101%"}', "out of range"),
    ("confidence-word", '{"decision": "BUY", "confidence": "high"}', "not a number"),
    ("confidence-bool", '{"decision": "BUY", "confidence": true}', "not a number"),
    ("confidence-null", '{"decision": "BUY", "confidence": null}', "not a number"),
    ("confidence-nan", '{"decision": "BUY", "confidence": NaN}', "out of range"),
    ("confidence-inf-string", '{"decision": "BUY", "confidence": "inf"}', "out of range"),
    ("confidence-huge-int", '{"decision": "BUY", "confidence": 1' + "0" * 400 + "}",
     "out of range"),
    ("invalid-json", '{"decision": "BUY", "confidence": 0.8', "invalid JSON"),
    ("json-array-only", '["BUY", 0.8]', "no JSON object"),
    ("json-string-only", '"BUY"', "no JSON object"),
]


@pytest.mark.parametrize(("text", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_rejections(text: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason) as info:
        parse_decision(text)
    assert len(str(info.value)) < 120  # short enough for a table cell and a log line


def test_parse_error_is_a_model_error() -> None:
    assert issubclass(ParseError, ModelError)


def test_not_text_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_decision(None)  # type: ignore[arg-type]


def test_refusal_reason_quotes_the_start_of_the_answer() -> None:
    with pytest.raises(ParseError, match="I cannot help"):
        parse_decision("I cannot help with trading decisions." * 20)


def test_deep_nesting_does_not_crash() -> None:
    with pytest.raises(ParseError):
        parse_decision("{" * 100_000)
    with pytest.raises(ParseError):
        parse_decision('{"a":' * 5000 + "1" + "}" * 5000)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_only_ever_raises_parse_error(text: str) -> None:
    try:
        action, confidence, reasoning = parse_decision(text)
    except ParseError:
        return
    assert action in (B, S, H)
    assert 0.0 <= confidence <= 1.0
    assert isinstance(reasoning, str)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                               max_size=3),
    max_leaves=8,
)
near_answers = st.fixed_dictionaries(
    {},
    optional={"decision": st.sampled_from(["BUY", "sell", "Hold", "long", "x", 3]) | json_values,
              "confidence": st.floats() | st.integers() | st.text(max_size=5) | json_values,
              "reasoning": json_values},
)


@settings(max_examples=300, deadline=None)
@given(near_answers, st.text(max_size=20), st.booleans())
def test_answer_shaped_json_only_ever_raises_parse_error(obj: dict, prose: str,
                                                         fenced: bool) -> None:
    body = json.dumps(obj)
    text = prose + (f"```json\n{body}\n```" if fenced else body)
    try:
        action, confidence, _ = parse_decision(text)
    except ParseError:
        return
    assert action in (B, S, H)
    assert 0.0 <= confidence <= 1.0

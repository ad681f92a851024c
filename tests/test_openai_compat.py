"""The real httpx client against a loopback OpenAI-compatible server, plus the prompt it sends."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from autotrade_tui.ai.base import DecisionModel
from autotrade_tui.ai.openai_compat import OpenAICompatModel, cache_key, is_openrouter
from autotrade_tui.ai.prompts import SYSTEM_PROMPT, build_messages
from autotrade_tui.core.models import Action, DecisionContext
from tests.openai_server import OpenAIServer, Recorded, Reply, answer

KEY = "sk-or-v1-TOPSECRET-0123456789abcdef"
CTX = DecisionContext(
    symbol="BTC/USDT", ts=1_700_000_000.0, price=68_210.5,
    indicators={"ema_12": 68_210.0, "ema_26": 67_900.0, "rsi_14": 61.2, "macd_hist": 35.2},
    signals={"trend": "bullish"}, support=[67_000.0], resistance=[69_500.0],
    account={"equity": 100_000.0, "capital": 100_000.0},
)


@pytest.fixture
async def server() -> AsyncIterator[OpenAIServer]:
    async with OpenAIServer() as srv:
        yield srv


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


def make(server: OpenAIServer, client: httpx.AsyncClient | None, **kw: Any) -> OpenAICompatModel:
    args: dict[str, Any] = {"model": "test/model-a", "base_url": server.url, "api_key": KEY,
                            "client": client, "timeout": 2.0, "max_retries": 2,
                            "retry_wait_max": 0.05, "retry_wait_min": 0.01}
    args.update(kw)
    return OpenAICompatModel(**args)


async def test_implements_the_protocol(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    assert isinstance(make(server, client), DecisionModel)


async def test_well_formed_answer(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    server.push(Reply(content=answer("BUY", 0.8, "EMA12 > EMA26")))
    model = make(server, client, label="Model A")
    vote = await model.decide(CTX)
    assert vote.ok and vote.error is None
    assert (vote.model, vote.decision, vote.confidence) == ("Model A", Action.BUY, 0.8)
    assert vote.reasoning == "EMA12 > EMA26"
    assert (vote.prompt_tokens, vote.completion_tokens, vote.cost) == (120, 30, 0.0)
    assert 0 < vote.latency_s < 2
    assert model.last_raw == answer("BUY", 0.8, "EMA12 > EMA26")
    assert model.last_messages == build_messages(CTX) == model.last_prompt
    [req] = server.requests
    assert req.path == "/v1/chat/completions"
    assert req.body["model"] == "test/model-a"
    assert req.body["messages"] == build_messages(CTX)
    assert req.body["temperature"] <= 0.3
    assert req.body["response_format"] == {"type": "json_object"}
    assert "usage" not in req.body  # only OpenRouter understands it
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["x-title"] == "autotrade-tui"
    assert req.headers["http-referer"].startswith("https://")


async def test_cost_from_openrouter_usage(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    server.push(Reply(content=answer("SELL", 0.7),
                      usage={"prompt_tokens": 900, "completion_tokens": 50, "cost": 0.00123}))
    vote = await make(server, client).decide(CTX)
    assert (vote.decision, vote.prompt_tokens, vote.completion_tokens) == (Action.SELL, 900, 50)
    assert vote.cost == pytest.approx(0.00123)


def test_usage_include_only_for_openrouter() -> None:
    messages = build_messages(CTX)
    kw: dict[str, Any] = {"model": "m", "api_key": "", "client": None, "timeout": 1,
                          "max_retries": 0}
    routed = OpenAICompatModel(base_url="https://openrouter.ai/api/v1/", **kw)
    local = OpenAICompatModel(base_url="http://localhost:11434/v1", **kw)
    assert routed.payload(messages)["usage"] == {"include": True}
    assert "usage" not in local.payload(messages)
    assert is_openrouter("https://openrouter.ai/api/v1")
    assert not is_openrouter("https://notopenrouter.ai.example.com/v1")


MALFORMED = [
    ("fences", '```json\n{"decision": "SELL", "confidence": 0.7, "reasoning": "r"}\n```',
     Action.SELL, 0.7),
    ("prose-before", 'Sure! Here is my decision:\n{"decision": "BUY", "confidence": 0.9}',
     Action.BUY, 0.9),
    ("think", '<think>RSI 28 is oversold, so BUY?</think>{"decision": "BUY", "confidence": 0.6}',
     Action.BUY, 0.6),
    ("percent-string", answer("HOLD", "85%"), Action.HOLD, 0.85),
    ("percent-int", answer("SELL", 85), Action.SELL, 0.85),
    ("lowercase", answer("buy", 0.65), Action.BUY, 0.65),
    ("extra-keys", '{"decision": "SELL", "confidence": 0.7, "stop_loss": 66000, "tp": [1]}',
     Action.SELL, 0.7),
]


@pytest.mark.parametrize(("content", "decision", "confidence"), [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
async def test_malformed_but_readable_answers(server: OpenAIServer, client: httpx.AsyncClient,
                                              content: str, decision: Action,
                                              confidence: float) -> None:
    server.push(Reply(content=content))
    model = make(server, client)
    vote = await model.decide(CTX)
    assert vote.ok, vote.error
    assert (vote.decision, vote.confidence) == (decision, pytest.approx(confidence))
    assert model.last_raw == content


async def test_refusal_is_an_error_vote(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    refusal = "I'm sorry, but I can't help with trading decisions."
    server.push(Reply(content=refusal))
    model = make(server, client)
    vote = await model.decide(CTX)
    assert not vote.ok and vote.decision is None
    assert vote.error is not None and vote.error.startswith("unparseable answer")
    assert (vote.prompt_tokens, vote.completion_tokens) == (120, 30)  # tokens were still spent
    assert model.last_raw == refusal
    assert len(server.requests) == 1  # a bad answer is not retried


async def test_429_then_success_honours_retry_after(server: OpenAIServer,
                                                    client: httpx.AsyncClient) -> None:
    server.push(Reply(status=429, retry_after="0.3"), Reply(content=answer("BUY", 0.8)))
    vote = await make(server, client, retry_wait_max=5.0).decide(CTX)
    assert vote.decision is Action.BUY
    assert len(server.requests) == 2
    gap = server.requests[1].at - server.requests[0].at
    assert gap >= 0.28  # the server's 0.3 s, not the 0.01 s backoff


async def test_retry_after_is_capped(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    server.push(Reply(status=429, retry_after="3600"), Reply(content=answer("SELL", 0.8)))
    started = time.perf_counter()
    vote = await make(server, client, retry_wait_max=0.1).decide(CTX)
    assert vote.decision is Action.SELL
    assert time.perf_counter() - started < 1.5


async def test_429_exhausted_is_an_error(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    server.default = Reply(status=429, retry_after="0")
    vote = await make(server, client, max_retries=1).decide(CTX)
    assert vote.error == "HTTP 429 (rate limited) after 2 attempts"
    assert len(server.requests) == 2


async def test_500_after_retries(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    server.default = Reply(status=500)
    vote = await make(server, client, max_retries=2).decide(CTX)
    assert vote.decision is None
    assert vote.error == "HTTP 500 after 3 attempts"
    assert len(server.requests) == 3


async def test_500_then_success(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    server.push(Reply(status=502), Reply(status=503), Reply(content=answer("HOLD", 0.9)))
    vote = await make(server, client, max_retries=2).decide(CTX)
    assert vote.decision is Action.HOLD
    assert len(server.requests) == 3


async def test_no_retries_configured(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    server.default = Reply(status=500)
    vote = await make(server, client, max_retries=0).decide(CTX)
    assert vote.error == "HTTP 500 after 1 attempt"
    assert len(server.requests) == 1


async def test_timeout(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    server.default = Reply(delay=3.0, content=answer())
    started = time.perf_counter()
    vote = await make(server, client, timeout=0.2, max_retries=1).decide(CTX)
    elapsed = time.perf_counter() - started
    assert vote.decision is None
    assert vote.error == "timeout after 0.2s after 2 attempts"
    assert len(server.requests) == 2
    assert 0.4 <= elapsed < 1.5
    assert vote.latency_s == pytest.approx(elapsed, abs=0.05)


async def test_connection_refused(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = OpenAICompatModel("m", f"http://127.0.0.1:{port}/v1", KEY, client, 1.0, 1,
                              retry_wait_max=0.01)
    vote = await model.decide(CTX)
    assert vote.error is not None and vote.error.startswith("connection failed")
    assert vote.error.endswith("after 2 attempts")


async def test_invalid_json_body(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    server.push(Reply(body="<html>oops{"))
    vote = await make(server, client).decide(CTX)
    assert vote.error == "invalid JSON body (HTTP 200)"
    assert len(server.requests) == 1


@pytest.mark.parametrize(("json_body", "error", "calls"), [
    ({}, "answer has no choices", 1),
    ({"choices": []}, "answer has no choices", 1),
    ({"choices": [{"message": {"content": None}}]}, "answer has empty content", 1),
    ({"error": {"message": "bad request to provider", "code": 400}},
     "provider error 400: bad request to provider", 1),
    ({"error": {"message": "upstream down", "code": 502}},
     "provider error 502: upstream down after 3 attempts", 3),
], ids=["empty-object", "empty-choices", "null-content", "error-in-200", "retryable-error-200"])
async def test_missing_choices(server: OpenAIServer, client: httpx.AsyncClient,
                               json_body: Any, error: str, calls: int) -> None:
    server.default = Reply(json_body=json_body)
    vote = await make(server, client).decide(CTX)
    assert vote.error == error
    assert len(server.requests) == calls


async def test_auth_error_not_retried(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    server.default = Reply(status=401, error_message="No auth credentials found")
    vote = await make(server, client).decide(CTX)
    assert vote.error == ("HTTP 401 (unauthorized: check the API key): "
                          "No auth credentials found")
    assert len(server.requests) == 1


async def test_key_never_in_errors_repr_or_logs(server: OpenAIServer, client: httpx.AsyncClient,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    model = make(server, client, max_retries=1)
    server.push(Reply(status=400, error_message=f"invalid key {KEY}"))  # a server echoing it
    server.push(Reply(status=500, error_message=KEY), Reply(status=500, error_message=KEY))
    server.push(Reply(json_body={"error": {"message": f"key {KEY} rejected", "code": 403}}))
    server.push(Reply(content=f"I will not trade with {KEY}"))
    errors = [(await model.decide(CTX)).error for _ in range(4)]
    assert all(errors), errors
    assert errors[0] == "HTTP 400: invalid key ****"
    for text in [*errors, repr(model), str(model), caplog.text]:
        assert KEY not in str(text)
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.requests)


async def test_no_key_no_authorization_header(server: OpenAIServer,
                                              client: httpx.AsyncClient) -> None:
    server.push(Reply(content=answer()))
    vote = await make(server, client, api_key="").decide(CTX)
    assert vote.ok
    assert "authorization" not in server.requests[0].headers


def rejects_response_format(request: Recorded) -> Reply:
    if "response_format" in request.body:
        return Reply(status=400, error_message="'response_format' is not supported")
    return Reply(content=answer("SELL", 0.75))


async def test_response_format_fallback_is_remembered(server: OpenAIServer,
                                                      client: httpx.AsyncClient) -> None:
    server.default = rejects_response_format
    model = make(server, client, max_retries=0)
    first = await model.decide(CTX)
    assert first.decision is Action.SELL
    assert ["response_format" in b for b in server.bodies] == [True, False]
    assert model.use_response_format is False
    second = await model.decide(CTX)
    assert second.decision is Action.SELL
    assert ["response_format" in b for b in server.bodies] == [True, False, False]


@pytest.mark.parametrize("message", ["Unsupported value: 'json_object'",
                                     "This model does not support Response Format"])
async def test_response_format_fallback_other_wordings(server: OpenAIServer,
                                                       client: httpx.AsyncClient,
                                                       message: str) -> None:
    server.push(Reply(status=400, error_message=message), Reply(content=answer("BUY", 0.7)))
    model = make(server, client, max_retries=0)
    assert (await model.decide(CTX)).decision is Action.BUY
    assert ["response_format" in b for b in server.bodies] == [True, False]


async def test_other_400_is_not_a_fallback(server: OpenAIServer,
                                           client: httpx.AsyncClient) -> None:
    server.default = Reply(status=400, error_message="context length exceeded")
    model = make(server, client)
    vote = await model.decide(CTX)
    assert vote.error == "HTTP 400: context length exceeded"
    assert len(server.requests) == 1
    assert model.use_response_format is True


async def test_cache_hit_makes_no_http_call(server: OpenAIServer,
                                            client: httpx.AsyncClient) -> None:
    cache: dict[str, str] = {}
    server.push(Reply(content=answer("BUY", 0.7, "fresh")))
    first = await make(server, client, cache=cache).decide(CTX)
    assert first.ok and len(server.requests) == 1
    assert list(cache) == [cache_key("test/model-a", build_messages(CTX))]
    rerun = make(server, client, cache=cache)  # a new backtest run, same cache
    again = await rerun.decide(CTX)
    assert len(server.requests) == 1  # no new HTTP call
    assert (again.decision, again.confidence, again.reasoning) == (Action.BUY, 0.7, "fresh")
    assert (again.prompt_tokens, again.completion_tokens, again.cost) == (0, 0, 0.0)
    assert rerun.last_cached and rerun.last_raw == answer("BUY", 0.7, "fresh")
    other = make(server, client, cache=cache, model="test/model-b")  # another model: a miss
    await other.decide(CTX)
    assert len(server.requests) == 2


async def test_prefilled_cache_needs_no_server(client: httpx.AsyncClient) -> None:
    key = cache_key("m", build_messages(CTX))
    model = OpenAICompatModel("m", "http://127.0.0.1:9/v1", KEY, client, 1.0, 0,
                              cache={key: answer("SELL", 0.9)})
    vote = await model.decide(CTX)
    assert (vote.decision, vote.confidence) == (Action.SELL, 0.9)


async def test_unparseable_answers_are_not_cached(server: OpenAIServer,
                                                  client: httpx.AsyncClient) -> None:
    cache: dict[str, str] = {}
    server.push(Reply(content="no idea"))
    vote = await make(server, client, cache=cache).decide(CTX)
    assert vote.error and cache == {}


async def test_two_models_run_concurrently(server: OpenAIServer,
                                           client: httpx.AsyncClient) -> None:
    server.default = Reply(delay=1.0, content=answer("BUY", 0.8))
    a, b = make(server, client, label="A"), make(server, client, label="B", model="test/b")
    started = time.perf_counter()
    votes = await asyncio.gather(a.decide(CTX), b.decide(CTX))
    elapsed = time.perf_counter() - started
    assert [v.decision for v in votes] == [Action.BUY, Action.BUY]
    assert 1.0 <= elapsed < 1.7  # the slowest call, not the sum (2 s)
    assert abs(server.requests[0].at - server.requests[1].at) < 0.5


async def test_decide_never_raises_on_a_bad_context(server: OpenAIServer,
                                                    client: httpx.AsyncClient) -> None:
    bad = DecisionContext(symbol="BTC/USDT", ts=float("nan"), price=1.0)  # no datetime for NaN
    vote = await make(server, client).decide(bad)
    assert vote.decision is None and vote.error == "unexpected ValueError"
    assert server.requests == []


async def test_close_leaves_a_shared_client_open(server: OpenAIServer,
                                                 client: httpx.AsyncClient) -> None:
    model = make(server, client)
    await model.close()
    assert not client.is_closed
    own = make(server, None)
    server.push(Reply(content=answer()))
    assert (await own.decide(CTX)).ok
    await own.close()
    assert own._client.is_closed


# --- the prompt (ai.prompts) as the client sends it


def test_prompt_is_deterministic_and_static_prefix() -> None:
    first, again = build_messages(CTX), build_messages(CTX)
    assert json.dumps(first) == json.dumps(again)
    other = build_messages(DecisionContext(symbol="ETH/USDT", ts=1_800_000_000.0, price=3_000.0))
    assert first[0] == other[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert first[1]["role"] == "user" and first[1] != other[1]
    for variable in ("BTC/USDT", "68210.5", "2023-11-14"):
        assert variable not in SYSTEM_PROMPT
        assert variable in first[1]["content"]
    assert '"decision"' in SYSTEM_PROMPT and '"confidence"' in SYSTEM_PROMPT


def test_prompt_contents() -> None:
    user = build_messages(CTX)[1]["content"]
    assert "fundamentals unavailable" in user
    assert "Position: none open" in user
    assert user.index("ema_12") < user.index("ema_26") < user.index("macd_hist") < user.index(
        "rsi_14")  # sorted keys
    assert "Time: 2023-11-14 22:13:20 UTC" in user
    with_more = DecisionContext(
        symbol="SOL/USDT", ts=0.0, price=0.1 + 0.2,
        indicators={"b": 2.0, "a": float("nan")}, fundamentals={"fear_greed": 72, "rank": 5},
        position={"side": "LONG", "quantity": 1.5, "entry_price": 150.0},
        recent_events=[{"type": "FLASH_CRASH", "change_pct": -5.25}],
    )
    user = build_messages(with_more)[1]["content"]
    assert "Price: 0.3\n" in user  # fixed formatting, no float noise
    assert "- a: n/a\n- b: 2\n" in user
    assert "Fundamentals: {fear_greed: 72, rank: 5}" in user
    assert "Position: {entry_price: 150, quantity: 1.5, side: LONG}" in user
    assert "- {change_pct: -5.25, type: FLASH_CRASH}" in user

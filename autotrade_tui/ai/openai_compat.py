"""A DecisionModel speaking OpenAI-compatible chat completions over httpx (OpenRouter, Ollama ...).

`decide()` never raises: a timeout, an HTTP error after bounded retries, an unreadable body or
an unparseable answer becomes a ModelVote with `error` set. Only 429, 5xx, timeouts and
connection errors are retried (tenacity, exponential backoff honouring Retry-After, capped).
The API key goes only into the Authorization header: it is scrubbed from every error string
and never shown by repr. Error texts (the server's own messages included) are made one safe
line here (core.text.one_line); the reasoning is cleaned by the parser; the raw answer rides
on the vote untouched (`ModelVote.raw`, for audit); the body is decoded leniently (invalid
UTF-8 becomes U+FFFD, not an error vote).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from autotrade_tui.ai.parsing import ParseError, parse_decision
from autotrade_tui.ai.prompts import build_messages
from autotrade_tui.config import mask_url
from autotrade_tui.core.models import DecisionContext, ModelVote
from autotrade_tui.core.text import one_line, storable
from autotrade_tui.errors import ModelError, TemporaryError

log = logging.getLogger(__name__)

APP_URL = "https://github.com/autotrade-tui/autotrade-tui"  # OpenRouter attribution
APP_TITLE = "autotrade-tui"
Messages = list[dict[str, str]]


class ModelTemporaryError(TemporaryError, ModelError):
    """A model call that may succeed if tried again (429, 5xx, timeout, connection)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Reply:
    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cached: bool = False  # from the response cache


def cache_key(model: str, messages: Messages) -> str:
    """Response-cache key: the model id and the exact prompt (sha256)."""
    blob = model + json.dumps(messages, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def is_openrouter(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    return host == "openrouter.ai" or host.endswith(".openrouter.ai")


class OpenAICompatModel:
    """One model behind an OpenAI-compatible `/chat/completions` endpoint.

    `client` is shared and stays the caller's (None: the model opens and closes its own).
    `cache` (optional, backtests) maps `cache_key(model, messages)` to the raw answer: a hit
    costs no HTTP call and no tokens; only answers that parsed are stored, so a garbled one
    gets a fresh try on the next run. A vote carries its own raw answer (`ModelVote.raw`, the
    message content as it came, None when none came); after each `decide`, `last_messages` is
    the exact prompt and `last_raw` the latest raw answer (None when there was none). Calls
    for several symbols run at once on one model object, so these may belong to another call:
    the runtime stores the vote's own.
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str,
        client: httpx.AsyncClient | None,
        timeout: float,
        max_retries: int,
        label: str | None = None,
        retry_wait_max: float = 20.0,
        *,
        retry_wait_min: float = 0.5,
        temperature: float = 0.1,
        max_tokens: int | None = None,
        cache: MutableMapping[str, str] | None = None,
    ) -> None:
        self.name = label or model
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.retry_wait_min = retry_wait_min
        self.retry_wait_max = retry_wait_max
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.cache = cache
        self._api_key = api_key
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()
        # Flipped off (for this endpoint and model) when the server rejects response_format.
        self.use_response_format = True
        self.last_messages: Messages = []
        self.last_raw: str | None = None
        self.last_cached = False

    def __repr__(self) -> str:
        return (f"OpenAICompatModel(name={self.name!r}, model={self.model!r}, "
                f"base_url={mask_url(self.base_url)!r})")

    @property
    def last_prompt(self) -> Messages:
        """The DecisionModel protocol's name for `last_messages`."""
        return self.last_messages

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def decide(self, context: DecisionContext) -> ModelVote:
        """Ask the model; a vote, or an error vote with a short reason. Never raises."""
        started = time.perf_counter()
        self.last_raw, self.last_cached = None, False
        reply: _Reply | None = None
        try:
            # Locals, not the last_* attributes, past the await: calls for several symbols
            # run concurrently on one model object (the cache key must be this call's prompt).
            messages = self.last_messages = build_messages(context)
            reply = await self._reply(messages)
            self.last_raw = content = self._unkeyed(reply.content)
            action, confidence, reasoning = parse_decision(content)
        except ParseError as exc:
            return self._error(f"unparseable answer: {exc}", started, reply)
        except ModelError as exc:
            return self._error(str(exc), started, reply)
        except Exception as exc:  # a bug or a surprise must still not crash the cycle
            log.exception("model %s failed unexpectedly", self.name)
            return self._error(f"unexpected {type(exc).__name__}", started, reply)
        if self.cache is not None and not reply.cached:
            self.cache[cache_key(self.model, messages)] = content
        return ModelVote(self.name, action, confidence, reasoning,
                         latency_s=time.perf_counter() - started,
                         prompt_tokens=reply.prompt_tokens,
                         completion_tokens=reply.completion_tokens, cost=reply.cost,
                         raw=content)

    def _error(self, reason: str, started: float, reply: _Reply | None) -> ModelVote:
        reason = self._scrub(reason)
        log.warning("model %s: %s", self.name, reason)
        spent = reply or _Reply("")
        return ModelVote(self.name, None, error=reason,
                         latency_s=time.perf_counter() - started,
                         prompt_tokens=spent.prompt_tokens,
                         completion_tokens=spent.completion_tokens, cost=spent.cost,
                         raw=self._unkeyed(reply.content) if reply is not None else None)

    def _scrub(self, text: str) -> str:
        """An error text without the API key, as one line a terminal cannot be steered by."""
        return one_line(self._unkeyed(text))

    def _unkeyed(self, text: str) -> str:
        """`text` without the API key: a gateway that echoes the request into an answer must
        not put the key into the reasoning, the stored raw answer or the response cache."""
        return text.replace(self._api_key, "****") if self._api_key else text

    async def _reply(self, messages: Messages) -> _Reply:
        """The answer's content and usage: from the cache, else over HTTP with retries."""
        if self.cache is not None:
            cached = self.cache.get(cache_key(self.model, messages))
            if cached is not None:
                self.last_cached = True
                return _Reply(cached, cached=True)
        attempts = 0
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(ModelTemporaryError),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    return _read_reply(await self._post(messages))
        except ModelTemporaryError as exc:
            raise ModelError(f"{exc} after {attempts} attempt{'s' * (attempts > 1)}") from None
        raise ModelError("no attempt made")  # unreachable: tenacity always tries once

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the server gave one, else exponential; never above the cap."""
        exc = state.outcome.exception() if state.outcome else None
        hinted = getattr(exc, "retry_after", None)
        wait = hinted if hinted is not None else self.retry_wait_min * 2 ** (
            state.attempt_number - 1)
        return min(max(wait, 0.0), self.retry_wait_max)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.info("model %s: %s, retrying (attempt %d)", self.name,
                 self._scrub(str(exc)), state.attempt_number + 1)

    def payload(self, messages: Messages) -> dict[str, Any]:
        """The request body; public so tests can check what goes to OpenRouter."""
        body: dict[str, Any] = {"model": self.model, "messages": messages,
                                "temperature": self.temperature}
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.use_response_format:
            body["response_format"] = {"type": "json_object"}
        if is_openrouter(self.base_url):
            body["usage"] = {"include": True}  # OpenRouter reports tokens and cost inline
        return body

    def headers(self) -> dict[str, str]:
        out = {"HTTP-Referer": APP_URL, "X-Title": APP_TITLE}
        if self._api_key:  # local servers (Ollama, llama.cpp) need none
            out["Authorization"] = f"Bearer {self._api_key}"
        return out

    async def _post(self, messages: Messages) -> dict[str, Any]:
        """One HTTP exchange; the response body as a dict, or a (temporary) ModelError."""
        response = await self._send(self.payload(messages))
        if response.status_code == 400 and self.use_response_format and _about_json_mode(
                response.text):
            log.info("model %s: endpoint rejects response_format, retrying without", self.name)
            self.use_response_format = False
            response = await self._send(self.payload(messages))
        status = response.status_code
        if status == 429 or status >= 500:
            raise ModelTemporaryError(f"HTTP {status}{_hint(status)}", _retry_after(response))
        if status >= 400:
            raise ModelError(f"HTTP {status}{_hint(status)}{_server_message(response)}")
        try:
            body = _json(response)
        except ValueError:
            raise ModelError(f"invalid JSON body (HTTP {status})") from None
        if not isinstance(body, dict):
            raise ModelError("invalid JSON body (not an object)")
        return body

    async def _send(self, body: dict[str, Any]) -> httpx.Response:
        url = f"{self.base_url}/chat/completions"
        try:
            # asyncio.timeout bounds the whole call; httpx's timeout alone is per read.
            async with asyncio.timeout(self.timeout):
                return await self._client.post(url, json=body, headers=self.headers(),
                                               timeout=self.timeout)
        except (TimeoutError, httpx.TimeoutException):
            raise ModelTemporaryError(f"timeout after {self.timeout:g}s") from None
        except httpx.UnsupportedProtocol:
            raise ModelError(f"bad base URL {mask_url(self.base_url)!r}") from None
        except httpx.TransportError as exc:
            raise ModelTemporaryError(f"connection failed ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise ModelError(f"request failed ({type(exc).__name__})") from None


def _read_reply(body: dict[str, Any]) -> _Reply:
    """Content and usage from a chat-completion body (OpenRouter may send 200 + error)."""
    choices = body.get("choices")
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            message = f"provider error {code}: {str(error.get('message', ''))[:80]}"
            if code == 429 or (isinstance(code, int) and code >= 500):
                raise ModelTemporaryError(message)
            raise ModelError(message)
        raise ModelError("answer has no choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts: keep the text ones
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str) or not content.strip():
        raise ModelError("answer has empty content")
    content = storable(content)  # JSON may carry "\ud800": kept raw, but writable as UTF-8
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return _Reply(content, _count(usage.get("prompt_tokens")),
                  _count(usage.get("completion_tokens")), _money(usage.get("cost")))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _money(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) and value > 0 else 0.0
    return 0.0


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds; HTTP-date forms are ignored (backoff applies instead)."""
    raw = response.headers.get("retry-after")
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def _json(response: httpx.Response) -> Any:
    """The body as JSON; bytes that are not UTF-8 become U+FFFD instead of failing the vote
    (httpx's `.json()` raises on them). ValueError when it is not JSON."""
    return json.loads(response.text)


def _about_json_mode(text: str) -> bool:
    """Does a 400 complain about JSON mode (wording differs between vLLM, llama.cpp ...)?"""
    low = text.lower()
    return any(w in low for w in ("response_format", "response format", "json_object"))


def _hint(status: int) -> str:
    return {401: " (unauthorized: check the API key)", 402: " (payment required: no credits)",
            403: " (forbidden)", 404: " (model or endpoint not found)",
            429: " (rate limited)"}.get(status, "")


def _server_message(response: httpx.Response) -> str:
    """The server's own error message, short (it may explain a 400)."""
    try:
        body = _json(response)
        message = body["error"]["message"] if isinstance(body.get("error"), dict) else ""
    except (ValueError, KeyError, TypeError, AttributeError):
        message = ""
    message = " ".join(str(message).split())[:80]
    return f": {message}" if message else ""


__all__ = ["ModelTemporaryError", "OpenAICompatModel", "cache_key", "is_openrouter"]

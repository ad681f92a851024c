"""A scriptable loopback OpenAI-compatible chat-completions server for tests (aiohttp, 127.0.0.1).

Usage (tests is a package: `from tests.openai_server import OpenAIServer, Reply, answer`):
    async with OpenAIServer() as server:          # ephemeral port
        server.push(Reply(content='{"decision": "BUY", ...}'), Reply(status=429, retry_after="1"))
        model = OpenAICompatModel(..., base_url=server.url, ...)
        ...
        assert server.requests[0].headers["authorization"] == "Bearer k"

Each POST to /v1/chat/completions takes the next scripted reply (a `Reply`, or a callable
`(Recorded) -> Reply` for answers that depend on the request); when the script is empty,
`server.default` answers. Every request is recorded (headers lower-cased, JSON body parsed).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_CONTENT = '{"decision": "HOLD", "confidence": 0.5, "reasoning": "default reply"}'


@dataclass
class Reply:
    """One scripted answer. `body` (raw text) or `json_body` replace the whole response."""

    content: str | None = DEFAULT_CONTENT
    status: int = 200
    delay: float = 0.0  # seconds before answering (timeouts, concurrency)
    retry_after: str | None = None  # Retry-After header value
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # raw body, e.g. invalid JSON
    raw: bytes | None = None  # raw body bytes, e.g. invalid UTF-8
    json_body: Any = None  # whole JSON body, e.g. {} (no "choices")
    error_message: str = "scripted error"  # for status >= 400
    usage: dict[str, Any] | None = field(
        default_factory=lambda: {"prompt_tokens": 120, "completion_tokens": 30})


@dataclass
class Recorded:
    """A request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it was not JSON
    at: float  # time.perf_counter() on arrival


Script = Reply | Callable[[Recorded], Reply]


class OpenAIServer:
    """Loopback server; start with `async with` or `await start()`, stop with `close()`."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default: Script = default or Reply()
        self.script: deque[Script] = deque()
        self.requests: list[Recorded] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL to give a client (`…/v1`, like OpenRouter's `…/api/v1`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *replies: Script) -> None:
        self.script.extend(replies)

    @property
    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]

    async def start(self) -> OpenAIServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/chat/completions", self._handle)
        # Cancel handlers whose client went away (a timed-out call) and don't wait long for
        # sleeping ones at shutdown: tests must not pay for scripted delays they abandoned.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.25,
                                     handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> OpenAIServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        text = await request.text()
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        seen = Recorded(request.path, {k.lower(): v for k, v in request.headers.items()}, body,
                        time.perf_counter())
        self.requests.append(seen)
        script = self.script.popleft() if self.script else self.default
        reply = script(seen) if callable(script) else script
        if reply.delay:
            await asyncio.sleep(reply.delay)
        headers = dict(reply.headers)
        if reply.retry_after is not None:
            headers["Retry-After"] = reply.retry_after
        if reply.raw is not None:
            return web.Response(status=reply.status, body=reply.raw, headers=headers,
                                content_type="application/json")
        if reply.body is not None:
            return web.Response(status=reply.status, text=reply.body, headers=headers,
                                content_type="application/json")
        return web.json_response(self._payload(reply, body), status=reply.status,
                                 headers=headers)

    @staticmethod
    def _payload(reply: Reply, request_body: Any) -> Any:
        if reply.json_body is not None:
            return reply.json_body
        if reply.status >= 400:
            return {"error": {"message": reply.error_message, "code": reply.status}}
        model = request_body.get("model", "test") if isinstance(request_body, dict) else "test"
        payload: dict[str, Any] = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": reply.content}}],
        }
        if reply.usage is not None:
            payload["usage"] = reply.usage
        return payload


def answer(decision: str = "BUY", confidence: Any = 0.8, reasoning: str = "scripted") -> str:
    """A well-formed JSON answer as a model would write it."""
    return json.dumps({"decision": decision, "confidence": confidence, "reasoning": reasoning})

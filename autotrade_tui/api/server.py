"""The FastAPI app of the engine's API (SPEC §13), over an EngineLink (state, commands, the
update stream) and the engine's store (paged reads of what it recorded), and the uvicorn
server that runs it inside the engine's loop.

Routes: `api.views` (GET, and the `/api/ws` stream), `api.commands` (POST). Errors, the same
for all: the engine's refusal 409 {"detail": reason}; bad input 422; an unknown symbol or
decision 404; a storage or market-data fault 503 {"detail": one line}. JSON is written by
`wire` (the shapes are documented there)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.requests import HTTPConnection
from fastapi.responses import JSONResponse, Response

from autotrade_tui import __version__
from autotrade_tui.api import wire
from autotrade_tui.api.stream import QUEUE_LIMIT, Hub
from autotrade_tui.core.engine import Rejected
from autotrade_tui.core.preview import NothingToDo
from autotrade_tui.errors import AutotradeError


@dataclass
class Engine:
    """What the routes serve: the link, its store, the stream's hub."""

    link: Any
    store: Any
    hub: Hub
    pause_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def symbol(self, text: str) -> str:
        """`text` as one of the engine's symbols (any case); 404 otherwise."""
        symbol = text.strip().upper()
        if symbol not in self.link.symbols:
            raise HTTPException(404, f"unknown symbol {text!r}: this engine trades "
                                     f"{', '.join(self.link.symbols)}")
        return symbol

    def running(self) -> None:
        """Commands need a running engine: 503 once it stopped for good."""
        if self.link.fatal is not None:
            raise HTTPException(503, f"the engine has stopped: {one_line(self.link.fatal)}")


def engine(conn: HTTPConnection) -> Engine:
    """The routes' dependency (HTTP and WebSocket alike)."""
    return conn.app.state.engine  # type: ignore[no-any-return]


def json_response(value: Any, status: int = 200) -> Response:
    """wire's JSON (faster than FastAPI's encoder, and the one shape the client reads)."""
    return Response(wire.dumps(value), status, media_type="application/json")


def one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": one_line(exc)}, 409)


async def _fault(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": one_line(exc)}, 503)


def build_app(link: Any, store: Any, *, queue_limit: int = QUEUE_LIMIT) -> FastAPI:
    """The app. `app.state.engine.hub` is the stream's subscriber: whoever runs the app
    subscribes it to the engine (`link.subscribe(hub)`)."""
    from autotrade_tui.api import commands, views

    app = FastAPI(title="autotrade-tui engine", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url=None)  # no pages a browser could be led to
    app.state.engine = Engine(link, store, Hub(link, queue_limit))
    app.add_exception_handler(Rejected, _refused)
    app.add_exception_handler(NothingToDo, _refused)
    app.add_exception_handler(AutotradeError, _fault)
    app.include_router(views.router)
    app.include_router(commands.router)
    return app


class Server(uvicorn.Server):
    """uvicorn in the engine's loop: without its signal handlers (the cockpit and headless own
    SIGINT/SIGTERM), its logging left to the root logger at WARNING (no access log: a request
    line is never logged), no lifespan (the engine is already open)."""

    def __init__(self, app: Any, *, grace_s: float) -> None:
        super().__init__(uvicorn.Config(
            app, log_level="warning", access_log=False, log_config=None, lifespan="off",
            timeout_graceful_shutdown=grace_s, ws_max_size=1 << 20, server_header=False,
            ws_per_message_deflate=False))  # compressing per client costs the engine CPU
        self._listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        self._listening.set()

    async def wait_started(self, serving: asyncio.Task[None]) -> None:
        """Until it listens; raises if `serving` (its serve() task) ended first."""
        listening = asyncio.ensure_future(self._listening.wait())
        await asyncio.wait({listening, serving}, return_when=asyncio.FIRST_COMPLETED)
        if not listening.done():
            listening.cancel()
            exc = serving.exception() if not serving.cancelled() else None
            raise RuntimeError(f"the API server did not start: {exc!r}")

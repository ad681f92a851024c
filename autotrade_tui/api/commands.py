"""The API's commands (POST), SPEC §13: each goes through the EngineLink, the same engine
path as the cockpit's keys (the engine checks, executes, records and publishes it; the
runtime records it with source `manual`). A refusal is 409 with the engine's reason; a body
with a missing, mistyped or unknown field is 422."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from autotrade_tui.api.server import Engine, engine, json_response

router = APIRouter(prefix="/api")
Eng = Annotated[Engine, Depends(engine)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is a 422, never ignored


class OrderIn(_Strict):
    symbol: str
    side: Literal["LONG", "SHORT"]


class DecideIn(_Strict):
    symbol: str


@router.post("/orders")
async def order(e: Eng, body: OrderIn) -> Response:
    """Open or add (an opposite position is closed first): {"result": what was done}."""
    e.running()
    symbol = e.symbol(body.symbol)
    return json_response({"result": await e.link.order(body.side.lower(), symbol)})


@router.post("/positions/{symbol:path}/close")
async def close(e: Eng, symbol: str) -> Response:
    """`symbol` as it is (BTC/USDT) or quoted (BTC%2FUSDT)."""
    e.running()
    return json_response({"result": await e.link.order("close", e.symbol(symbol))})


@router.post("/close-all")
async def close_all(e: Eng) -> Response:
    e.running()
    return json_response({"result": await e.link.order("close_all", "")})


async def _set_paused(e: Engine, paused: bool) -> Response:
    """Idempotent: pausing a paused (or halted) engine changes nothing; resuming clears a
    drawdown halt, as `p` does."""
    e.running()
    link = e.link
    async with e.pause_lock:  # two quick requests never toggle it back
        changed = link.trading_off != paused
        if changed:
            await link.toggle_pause()
    return json_response({"paused": link.status().paused, "trading_off": link.trading_off,
                          "changed": changed})


@router.post("/pause")
async def pause(e: Eng) -> Response:
    return await _set_paused(e, True)


@router.post("/resume")
async def resume(e: Eng) -> Response:
    return await _set_paused(e, False)


@router.post("/decide")
async def decide(e: Eng, body: DecideIn) -> Response:
    """A decision now for the symbol: {"decision": the decision, or null when none could
    be made (no data: the engine says why in a notice)}."""
    e.running()
    return json_response({"decision": await e.link.decide_now(e.symbol(body.symbol))})

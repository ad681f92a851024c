"""The API's reads (GET) and its update stream (`/api/ws`), SPEC §13.

The engine's state now (status, account, positions, previews) comes from its memory, on the
loop (microseconds); what it recorded (trades, decisions, events, the equity curve, the
report's metrics) is read from the store in a thread (api.reads), never on the loop."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, WebSocket
from fastapi.responses import Response

from autotrade_tui import __version__
from autotrade_tui.api import reads, wire
from autotrade_tui.api.server import Engine, engine, json_response, one_line
from autotrade_tui.core.preview import KINDS

TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")
PAGE_MAX = 1_000  # rows of one page
CURVE_MAX = 100_000  # points of one equity curve

router = APIRouter(prefix="/api")
Eng = Annotated[Engine, Depends(engine)]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX)]
BeforeId = Annotated[int | None, Query(ge=1)]


@router.get("/status")
async def status(e: Eng) -> Response:
    """Status's fields, plus version, symbols, trading_off, data_age_s (s since the newest
    market data; null before any) and fatal (why the engine stopped; "" while it runs)."""
    link = e.link
    st = link.status()
    age = None if st.last_data_ts is None else st.now - st.last_data_ts
    return json_response({**wire.encode_status(st), "version": __version__,
                          "symbols": list(link.symbols), "trading_off": link.trading_off,
                          "data_age_s": age,
                          "fatal": one_line(link.fatal) if link.fatal else ""})


@router.get("/account")
async def account(e: Eng) -> Response:
    return json_response(e.link.account().to_dict())


@router.get("/positions")
async def positions(e: Eng) -> Response:
    return json_response([p.to_dict() for p in e.link.account().positions])


@router.get("/preview")
async def preview(e: Eng, kind: Literal[KINDS], symbol: str = "") -> Response:  # type: ignore[valid-type]
    """What the order would do now; 409 with the reason when there is nothing to do."""
    sym = "" if kind == "close_all" else e.symbol(symbol)
    return json_response(await e.link.preview(kind, sym))


@router.get("/candles")
async def candles(e: Eng, symbol: str, timeframe: Literal[TIMEFRAMES] = "5m",  # type: ignore[valid-type]
                  limit: Limit = 200) -> Response:
    return json_response(await e.link.candles(e.symbol(symbol), timeframe, limit))


@router.get("/history")
async def history(e: Eng, limit: Limit = 200) -> Response:
    """runtime.interface.History in one call (what a viewer shows when it opens)."""
    return json_response(wire.encode_history(await e.link.history(limit)))


@router.get("/trades")
async def trades(e: Eng, limit: Limit = 50, before_id: BeforeId = None) -> Response:
    return json_response(await asyncio.to_thread(reads.trades, e.store, limit, before_id))


@router.get("/ai-decisions")
async def decisions(e: Eng, limit: Limit = 50, before_id: BeforeId = None,
                    symbol: str | None = None) -> Response:
    sym = None if symbol is None else e.symbol(symbol)
    return json_response(await asyncio.to_thread(reads.decisions, e.store, limit, before_id,
                                                 sym))


@router.get("/ai-decisions/{decision_id}")
async def decision(e: Eng, decision_id: int) -> Response:
    item = await asyncio.to_thread(reads.decision, e.store, decision_id)
    if item is None:
        raise HTTPException(404, f"no decision {decision_id}")
    return json_response(item)


@router.get("/events")
async def events(e: Eng, limit: Limit = 50) -> Response:
    return json_response(await asyncio.to_thread(reads.events, e.store, limit))


@router.get("/equity-curve")
async def equity_curve(e: Eng, since: float | None = None,
                       limit: Annotated[int, Query(ge=1, le=CURVE_MAX)] = 2_000) -> Response:
    return json_response(await asyncio.to_thread(reads.equity_curve, e.store, since, limit))


@router.get("/performance")
async def performance(e: Eng) -> Response:
    acc, paused = e.link.account().to_dict(), e.link.status().paused  # memory, on the loop
    return json_response(await asyncio.to_thread(reads.performance, e.store, acc, paused))


@router.get("/scorecard")
async def scorecard(e: Eng) -> Response:
    """SPEC §16: each model's shadow ledger and the ensemble (the rows of `report --json`'s
    `scorecard`), and their equity curves ({name: [[ts, equity], ...]}), from memory."""
    acc = e.link.account()
    return json_response({"scorecard": list(acc.scorecard or ()),
                          "curves": acc.scorecard_curves or {}})


@router.websocket("/ws")
async def stream(websocket: WebSocket, e: Eng) -> None:
    await websocket.accept()
    client = e.hub.join(websocket)
    try:
        await client.run()
    finally:
        e.hub.leave(client)

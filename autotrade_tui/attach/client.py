"""An engine in another process, behind its API (SPEC §13), as the cockpit's EngineLink.

The cockpit cannot tell it from an engine of its own: the same updates (decoded from the
engine's WebSocket), the same history, previews and commands (its REST endpoints). What is
particular to being attached shows in `Status.link`: ATTACHED and where, or DISCONNECTED
while it reconnects with backoff, after which it re-reads the state and replays what it
missed (the newest decisions, trades and events) as updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import httpx

from autotrade_tui.api import wire
from autotrade_tui.core.account import AccountView
from autotrade_tui.core.engine import Rejected
from autotrade_tui.core.models import Candle
from autotrade_tui.core.preview import NothingToDo, OrderPreview
from autotrade_tui.errors import EngineUnreachable, UserError
from autotrade_tui.runtime.interface import History
from autotrade_tui.runtime.updates import (
    AccountUpdated,
    DecisionRecorded,
    EventRaised,
    Status,
    StatusChanged,
    TradeExecuted,
    Update,
)

log = logging.getLogger(__name__)
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 10.0)  # then every 10 s: an engine restarting under
#                                            systemd is back within seconds
TIMEOUT_S = 10.0
WHERE_MAX = 40  # characters of a socket path in the header
SIDES = {"long": "LONG", "short": "SHORT"}


class Target:
    """Where the engine's API is: a Unix socket path, or an http(s) URL with a token."""

    def __init__(self, *, socket: str | None = None, url: str | None = None,
                 token: str = "") -> None:
        if (socket is None) == (url is None):
            raise UserError("attach: give the engine's --socket PATH or its --url URL")
        self.socket, self.url, self.token = socket, (url or "").rstrip("/"), token

    @property
    def where(self) -> str:
        """For the header: the URL, or the socket's path (home as ~, a long one cut at its
        start, where it differs least from any other)."""
        if not self.socket:
            return self.url
        path = self.socket
        home = os.path.expanduser("~")
        if home != "/" and path.startswith(home + "/"):
            path = "~" + path[len(home):]
        return f"unix:{path if len(path) <= WHERE_MAX else '…' + path[-(WHERE_MAX - 1):]}"

    def http(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self.socket:
            return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=self.socket),
                                     base_url="http://engine", timeout=TIMEOUT_S)
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=TIMEOUT_S)

    async def websocket(self) -> Any:
        from websockets.asyncio.client import connect, unix_connect

        if self.socket:
            return await unix_connect(self.socket, "ws://engine/api/ws", max_size=2**24,
                                      open_timeout=TIMEOUT_S)
        ws_url = "ws" + self.url.removeprefix("http") + "/api/ws"
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        return await connect(ws_url, additional_headers=headers, max_size=2**24,
                             open_timeout=TIMEOUT_S)


class RemoteLink:
    """EngineLink over the API. `open()` reads the state once (so a wrong address or token
    fails at once, exit 1); `run()` follows the update stream until `stop()`."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._http = target.http()
        self._subscribers: list[Callable[[Update], None]] = []
        self._status: Status | None = None
        self._status_at = time.monotonic()
        self._account: AccountView | None = None
        self._symbols: list[str] = []
        self._link = f"ATTACHED {target.where}"
        self._stop = asyncio.Event()
        self._seen = _Seen()

    @classmethod
    async def open(cls, target: Target) -> RemoteLink:
        link = cls(target)
        try:
            await link._read_state()
        except BaseException:
            await link._http.aclose()
            raise
        return link

    # ---- state now
    @property
    def symbols(self) -> Sequence[str]:
        return self._symbols

    @property
    def where(self) -> str:
        return self._link

    @property
    def fatal(self) -> BaseException | None:
        return None  # an engine that stopped for good is one this viewer cannot reach

    @property
    def trading_off(self) -> bool:
        st = self._status
        return st is not None and (st.paused or bool(st.halted_reason))

    def now(self) -> float:
        """The engine's clock, run on here between its status updates (×speed in a sim)."""
        st = self._status
        if st is None:
            return time.time()
        return st.now + (time.monotonic() - self._status_at) * (st.speed or 1.0)

    def status(self) -> Status:
        assert self._status is not None, "open() reads the status first"
        return replace(self._status, link=self._link)

    def account(self) -> AccountView:
        assert self._account is not None, "open() reads the account first"
        return self._account

    def subscribe(self, callback: Callable[[Update], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def _publish(self, update: Update) -> None:
        for cb in list(self._subscribers):
            try:
                cb(update)
            except Exception:  # a broken pane must never stop the stream
                log.exception("subscriber %r failed on %s", cb, type(update).__name__)

    # ---- the stream
    async def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if failures:  # back after a gap: the state now, and what was missed
                    await self._read_state()
                    await self._replay_missed()
                await self._follow()
                failures = 0
            except (OSError, httpx.HTTPError, EngineUnreachable, _Closed) as exc:
                if self._stop.is_set():
                    break
                wait = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
                failures += 1
                self._set_link(f"DISCONNECTED {self.target.where} ({_why(exc)}; "
                               f"retrying in {wait:g} s)")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), wait)

    async def _follow(self) -> None:
        """Until the stream ends: each message one update, in the engine's order."""
        from websockets.exceptions import ConnectionClosed

        ws = await self.target.websocket()
        watcher = asyncio.create_task(self._close_on_stop(ws))
        try:
            if self._link != f"ATTACHED {self.target.where}":
                self._set_link(f"ATTACHED {self.target.where}")
            async for raw in ws:
                try:
                    update = wire.decode_update(json.loads(raw), self._account)
                except (ValueError, KeyError, TypeError) as exc:  # a newer engine's message
                    log.warning("skipped a stream message this version cannot read: %s",
                                _why(exc))
                    continue
                self._take(update)
        except ConnectionClosed as exc:
            raise _Closed("the engine closed the stream") from exc
        finally:
            watcher.cancel()
            await ws.close()
        if not self._stop.is_set():
            raise _Closed("the engine closed the stream")

    async def _close_on_stop(self, ws: Any) -> None:
        await self._stop.wait()
        await ws.close()

    def _take(self, update: Update) -> None:
        if isinstance(update, StatusChanged):
            self._keep_status(update.status)
            update = StatusChanged(self.status())
        elif isinstance(update, AccountUpdated):
            self._account = update.account
        self._seen.note(update)
        self._publish(update)

    def _keep_status(self, status: Status) -> None:
        self._status, self._status_at = status, time.monotonic()

    def _set_link(self, text: str) -> None:
        self._link = text
        if self._status is not None:
            self._publish(StatusChanged(self.status()))

    async def _read_state(self) -> None:
        status = await self._get("/api/status")
        self._symbols = list(status.get("symbols") or self._symbols)
        self._keep_status(wire.decode_status(status))
        self._account = AccountView.from_dict(await self._get("/api/account"))
        if self._subscribers:
            self._publish(StatusChanged(self.status()))
            self._publish(AccountUpdated(self._account))

    async def _replay_missed(self) -> None:
        for update in self._seen.missed(await self.history(50)):
            self._publish(update)

    def stop(self) -> None:
        self._stop.set()  # _follow's watcher closes the stream

    async def close(self) -> None:
        """Detach: the engine keeps trading."""
        self.stop()
        await self._http.aclose()

    # ---- reads and commands
    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            reply = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise EngineUnreachable(f"the engine at {self.target.where} is not reachable "
                                    f"({_why(exc)})") from None
        if reply.status_code == 401:
            raise EngineUnreachable(f"the engine at {self.target.where} refused the token "
                                    "(401): give --token or AUTOTRADE_API_TOKEN")
        if reply.status_code == 409:
            raise Rejected(_detail(reply))
        if reply.status_code >= 400:
            raise EngineUnreachable(f"the engine at {self.target.where} answered "
                                    f"{reply.status_code}: {_detail(reply)}")
        try:
            return reply.json()
        except ValueError:
            raise EngineUnreachable(f"{self.target.where} did not answer as an autotrade-tui "
                                    "engine (not JSON)") from None

    async def _get(self, path: str, **params: Any) -> Any:
        return await self._request("GET", path, params=params or None)

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self._request("POST", path, json=body)

    async def history(self, limit: int = 200) -> History:
        return wire.decode_history(await self._get("/api/history", limit=limit))

    async def candles(self, symbol: str, timeframe: str, limit: int) -> list[Candle]:
        rows = await self._get("/api/candles", symbol=symbol, timeframe=timeframe, limit=limit)
        return wire.decode_candles(rows)

    async def preview(self, kind: str, symbol: str) -> OrderPreview:
        try:
            return wire.decode_preview(await self._get("/api/preview", kind=kind,
                                                       symbol=symbol))
        except Rejected as exc:  # 409 here: nothing to preview (no price, no position)
            raise NothingToDo(str(exc)) from None

    async def order(self, kind: str, symbol: str) -> str:
        if kind in SIDES:
            reply = await self._post("/api/orders", {"symbol": symbol, "side": SIDES[kind]})
        elif kind == "close":
            reply = await self._post(f"/api/positions/{_quote(symbol)}/close")
        elif kind == "close_all":
            reply = await self._post("/api/close-all")
        else:
            raise NothingToDo(f"unknown order kind {kind!r}")
        return str(reply.get("result", "done"))

    async def toggle_pause(self) -> None:
        await self._post("/api/resume" if self.trading_off else "/api/pause")

    async def decide_now(self, symbol: str) -> DecisionRecorded | None:
        reply = await self._post("/api/decide", {"symbol": symbol})
        decision = reply.get("decision") if isinstance(reply, dict) else None
        return wire.decode_decision(decision) if decision else None


class _Closed(Exception):
    """The stream ended while attached."""


class _Seen:
    """The newest decision, trade and event this viewer has shown, so that after a gap only
    what it missed is replayed (oldest first)."""

    def __init__(self) -> None:
        self.decision_id = -1
        self.trade_ts = self.event_ts = float("-inf")

    def note(self, update: Update) -> None:
        if isinstance(update, DecisionRecorded) and update.id is not None:
            self.decision_id = max(self.decision_id, update.id)
        elif isinstance(update, TradeExecuted):
            self.trade_ts = max(self.trade_ts, update.trade.ts)
        elif isinstance(update, EventRaised):
            self.event_ts = max(self.event_ts, update.event.ts)

    def missed(self, history: History) -> list[Update]:
        updates: list[Update] = [
            *[d for d in history.decisions if d.id is not None and d.id > self.decision_id],
            *[TradeExecuted(t) for t in history.trades if t.ts > self.trade_ts],
            *[EventRaised(e) for e in history.events if e.ts > self.event_ts]]
        updates.sort(key=_ts)
        for u in updates:
            self.note(u)
        return updates


def _ts(u: Update) -> float:
    if isinstance(u, TradeExecuted):
        return u.trade.ts
    if isinstance(u, EventRaised):
        return u.event.ts
    return u.ts if isinstance(u, DecisionRecorded) else 0.0


def _quote(symbol: str) -> str:
    from urllib.parse import quote

    return quote(symbol, safe="")


def _detail(reply: httpx.Response) -> str:
    try:
        detail = reply.json().get("detail", reply.text)
    except ValueError:
        detail = reply.text
    return detail if isinstance(detail, str) else json.dumps(detail)[:300]


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:120]

"""A loopback HTTP server that answers like Kraken's public REST API, for offline tests.

It serves /0/public/Assets, /0/public/AssetPairs, /0/public/Ticker and /0/public/OHLC in
Kraken's format ({"error": [], "result": {...}}) for XBTUSDT, ETHUSDT and SOLUSDT, which ccxt
maps to BTC/USDT, ETH/USDT and SOL/USDT. It runs in a daemon thread, so it serves async tests,
sync tests and subprocesses alike. Use it as a context manager:

    with KrakenServer({"BTC/USDT": 70_000.0}) as kraken:
        feed = CcxtFeed("kraken", ["BTC/USDT"], kraken.url, clock)
        kraken.set_price("BTC/USDT", 71_000.0)
        kraken.fail("Ticker", "status", status=503)      # the next Ticker answer is a 503
        kraken.requests_to("Ticker")                      # what was asked, in order

Failure kinds for `fail(endpoint, kind, times=1, ...)` ("*" = any endpoint):
  "delay"        sleep `seconds` before answering normally (client timeouts),
  "status"       HTTP `status` with a plain-text body (5xx, 4xx),
  "kraken_error" HTTP 200 with {"error": [message]} (e.g. "EQuery:Unknown asset pair"),
  "rate_limit"   HTTP 200 with {"error": ["EAPI:Rate limit exceeded"]},
  "body"         HTTP 200 with the raw `body` (malformed answers),
  "drop"         close the connection without answering.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# pair id → (base asset id, base altname, quote asset id, wsname, unified symbol)
PAIRS: dict[str, tuple[str, str, str, str, str]] = {
    "XBTUSDT": ("XXBT", "XBT", "USDT", "XBT/USDT", "BTC/USDT"),
    "ETHUSDT": ("XETH", "ETH", "USDT", "ETH/USDT", "ETH/USDT"),
    "SOLUSDT": ("SOL", "SOL", "USDT", "SOL/USDT", "SOL/USDT"),
}
SYMBOL_TO_PAIR = {v[4]: k for k, v in PAIRS.items()}
DEFAULT_PRICES = {"BTC/USDT": 67_250.5, "ETH/USDT": 3_120.25, "SOL/USDT": 145.75}
ENDPOINTS = ("Assets", "AssetPairs", "Ticker", "OHLC")


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    endpoint: str  # "Ticker", "OHLC", ... (last path component)
    path: str
    query: dict[str, str]
    at: float  # wall time it arrived


@dataclass
class Failure:
    kind: str
    times: int
    seconds: float = 0.0
    status: int = 503
    message: str = ""
    body: str = ""
    content_type: str = "text/html"


@dataclass
class _State:
    prices: dict[str, float]
    now: float | None = None  # server clock for OHLC bars; None = wall time
    requests: list[Seen] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)


class KrakenServer:
    """Kraken's public REST API on 127.0.0.1:<ephemeral port>. `url` is its base URL."""

    def __init__(self, prices: dict[str, float] | None = None, now: float | None = None) -> None:
        self._lock = threading.Lock()
        self._state = _State(dict(DEFAULT_PRICES if prices is None else prices), now)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # --- lifecycle
    def start(self) -> KrakenServer:
        handler = _make_handler(self)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False  # a handler sleeping in a "delay" must not hold up stop()
        self._httpd = httpd
        self.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="kraken-loopback", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> KrakenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- control
    def set_price(self, symbol: str, price: float) -> None:
        with self._lock:
            self._state.prices[symbol] = float(price)

    def remove_symbol(self, symbol: str) -> None:
        """Stop listing a symbol's pair (ccxt then no longer knows the market)."""
        with self._lock:
            self._state.prices.pop(symbol, None)

    def set_now(self, now: float | None) -> None:
        """Pin the server's clock (epoch s) that decides the newest OHLC bar; None = wall time."""
        with self._lock:
            self._state.now = now

    def fail(self, endpoint: str, kind: str, times: int = 1, **options: Any) -> None:
        """Queue `times` failures of `kind` for `endpoint` ("*" = any); see the module doc."""
        if kind not in ("delay", "status", "kraken_error", "rate_limit", "body", "drop"):
            raise ValueError(f"unknown failure kind {kind!r}")
        with self._lock:
            self._state.failures.setdefault(endpoint, []).append(Failure(kind, times, **options))

    @property
    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self._state.requests)

    def requests_to(self, endpoint: str) -> list[Seen]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def clear_requests(self) -> None:
        with self._lock:
            self._state.requests.clear()

    # --- used by the handler
    def _record(self, seen: Seen) -> Failure | None:
        with self._lock:
            self._state.requests.append(seen)
            for key in (seen.endpoint, "*"):
                queue = self._state.failures.get(key)
                if queue:
                    failure = queue[0]
                    failure.times -= 1
                    if failure.times <= 0:
                        queue.pop(0)
                    return failure
        return None

    def _snapshot(self) -> tuple[dict[str, float], float]:
        with self._lock:
            now = self._state.now if self._state.now is not None else time.time()
            return dict(self._state.prices), now

    def answer(self, endpoint: str, query: dict[str, str]) -> dict[str, Any]:
        prices, now = self._snapshot()
        listed = {SYMBOL_TO_PAIR[s]: p for s, p in prices.items() if s in SYMBOL_TO_PAIR}
        if endpoint == "Assets":
            return _ok(_assets())
        if endpoint == "AssetPairs":
            return _ok({pid: _pair_info(pid) for pid in listed})
        if endpoint == "Ticker":
            wanted = query["pair"].split(",") if query.get("pair") else list(listed)
            if any(p not in listed for p in wanted):
                return {"error": ["EQuery:Unknown asset pair"]}
            return _ok({p: _ticker(listed[p]) for p in wanted})
        if endpoint == "OHLC":
            pair = query.get("pair", "")
            if pair not in listed:
                return {"error": ["EQuery:Unknown asset pair"]}
            interval = int(query.get("interval", "1"))
            since = float(query["since"]) if "since" in query else None
            rows = ohlc_rows(listed[pair], interval * 60, now, since)
            last = rows[-2][0] if len(rows) > 1 else (rows[-1][0] if rows else 0)
            return _ok({pair: rows, "last": last})
        return {"error": ["EGeneral:Unknown method"]}


def _ok(result: dict[str, Any]) -> dict[str, Any]:
    return {"error": [], "result": result}


def _assets() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for base_id, alt, quote_id, _ws, _sym in PAIRS.values():
        out[base_id] = {"aclass": "currency", "altname": alt, "decimals": 10,
                        "display_decimals": 5, "status": "enabled"}
        out[quote_id] = {"aclass": "currency", "altname": quote_id, "decimals": 8,
                         "display_decimals": 4, "status": "enabled"}
    return out


def _pair_info(pid: str) -> dict[str, Any]:
    base_id, _alt, quote_id, wsname, _sym = PAIRS[pid]
    return {
        "altname": pid, "wsname": wsname, "aclass_base": "currency", "base": base_id,
        "aclass_quote": "currency", "quote": quote_id, "lot": "unit", "cost_decimals": 5,
        "pair_decimals": 2, "lot_decimals": 8, "lot_multiplier": 1, "leverage_buy": [2, 3],
        "leverage_sell": [2, 3], "fees": [[0, 0.4], [10000, 0.35]],
        "fees_maker": [[0, 0.25], [10000, 0.2]], "fee_volume_currency": "ZUSD",
        "margin_call": 80, "margin_stop": 40, "ordermin": "0.0001", "costmin": "0.5",
        "tick_size": "0.01", "status": "online",
    }


def _ticker(price: float) -> dict[str, Any]:
    p = f"{price:.5f}"
    return {"a": [f"{price * 1.0001:.5f}", "1", "1.000"],
            "b": [f"{price * 0.9999:.5f}", "2", "2.000"],
            "c": [p, "0.01000000"], "v": ["120.5", "2400.25"], "p": [p, p], "t": [500, 9000],
            "l": [f"{price * 0.97:.5f}", f"{price * 0.96:.5f}"],
            "h": [f"{price * 1.03:.5f}", f"{price * 1.04:.5f}"], "o": p}


def ohlc_rows(price: float, tf: int, now: float, since: float | None,
              count: int = 720) -> list[list[Any]]:
    """Kraken OHLC rows ending with the current (open) bar, whose close is `price`.

    Deterministic in (price, tf, bar time). `since` keeps only bars with time > since.
    """
    newest = int(now // tf) * tf
    times = [newest - k * tf for k in range(count - 1, -1, -1)]
    closes = [price * (1 + 0.004 * math.sin(t / (tf * 7.0))) for t in times]
    closes[-1] = price
    rows = []
    for i, t in enumerate(times):
        c = closes[i]
        o = closes[i - 1] if i else c
        h, lo = max(o, c) * 1.001, min(o, c) * 0.999
        vol = 1.0 + (t // tf) % 5
        rows.append([t, f"{o:.5f}", f"{h:.5f}", f"{lo:.5f}", f"{c:.5f}", f"{c:.5f}",
                     f"{vol:.8f}", 10])
    return [r for r in rows if since is None or r[0] > since]


class _Handler(BaseHTTPRequestHandler):
    kraken: KrakenServer  # set per server by _make_handler

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        endpoint = parts.path.rstrip("/").rsplit("/", 1)[-1]
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        failure = self.kraken._record(Seen(endpoint, parts.path, query, time.time()))
        if failure is not None and self._fail(failure):
            return
        if not parts.path.startswith("/0/public/") or endpoint not in ENDPOINTS:
            self._send(404, "text/plain", "Not Found")
            return
        self._send(200, "application/json", json.dumps(self.kraken.answer(endpoint, query)))

    def _fail(self, f: Failure) -> bool:
        """Act out a failure; True when the request is finished."""
        if f.kind == "delay":
            time.sleep(f.seconds)
            return False
        if f.kind == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return True
        if f.kind == "status":
            self._send(f.status, "text/plain", f.body or f"HTTP {f.status} from loopback")
        elif f.kind == "rate_limit":
            self._send(200, "application/json", json.dumps({"error": ["EAPI:Rate limit exceeded"]}))
        elif f.kind == "kraken_error":
            self._send(200, "application/json", json.dumps({"error": [f.message]}))
        else:  # body
            self._send(200, f.content_type, f.body)
        return True

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet


def _make_handler(server: KrakenServer) -> type[BaseHTTPRequestHandler]:
    return type("KrakenHandler", (_Handler,), {"kraken": server})


def closed_port_url() -> str:
    """A loopback URL on which nothing listens (the port was just bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"

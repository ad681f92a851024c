"""The engine's API (SPEC §13 targets): p50/p99 of GET /api/account and /api/positions over the
Unix socket, update → WebSocket client latency, and the engine's monitor-tick cost with 0 vs
20 attached WebSocket clients (one run, the ratio).

The engine is the live Runtime behind services.open_engine (its API on a socket in a temporary
dir), on the simulated market and a virtual clock advanced 5 s a tick, a real SQLite file and
3 open positions. The clients run in a child process (this script with --client), so only the
engine's own work is counted on its side: a tick's cost is the engine process's CPU time
(time.process_time: its loop and its store threads) from the tick's start until every
client has been sent the tick's updates, per tick; 0- and 20-client phases alternate
(ROUNDS), so that the machine's drift weighs on both alike.

    .venv/bin/python benchmarks/api.py [--requests N] [--ticks N] [--symbols N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLIENTS = 20
ROUNDS = 3  # 0-client and 20-client phases alternate this many times (then 0 again)
IDLE_GAP_S = 0.05  # the idle loop before a tick in the "as live" measurement (live: 5 s)
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
BASES = ("BNB", "XRP", "ADA", "DOGE", "AVAX", "LINK", "DOT", "LTC", "TRX", "BTC", "ETH", "SOL")
MORE = [s for q in ("USDT", "USDC", "USD", "EUR", "GBP", "DAI", "FDUSD", "TUSD", "BUSD")
        for s in (f"{b}/{q}" for b in BASES) if s not in SYMBOLS]  # --symbols > 3 (the sim's)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


# ---------------------------------------------------------------- the child: clients
def client_requests(path: str, n: int) -> dict[str, list[float]]:
    import httpx

    out: dict[str, list[float]] = {}
    with httpx.Client(transport=httpx.HTTPTransport(uds=path), base_url="http://e") as c:
        for endpoint in ("/api/account", "/api/positions"):
            for _ in range(50):  # warm-up
                c.get(endpoint).raise_for_status()
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                c.get(endpoint).raise_for_status()
                times.append((time.perf_counter() - t0) * 1000)
            out[endpoint] = times
    return out


def client_stream(path: str, n: int) -> list[tuple[int, float]]:
    """(seq, monotonic arrival) of n messages after the first two (status, account)."""
    from websockets.sync.client import unix_connect

    got = []
    with unix_connect(path, "ws://e/api/ws", max_size=None) as ws:
        print("ready", flush=True)
        for _ in range(n + 2):
            msg = ws.recv()
            got.append((json.loads(msg)["seq"], time.monotonic()))
    return got[2:]


async def client_crowd(path: str, count: int) -> None:
    """`count` clients reading everything until stdin closes."""
    from websockets.asyncio.client import unix_connect

    conns = [await unix_connect(path, "ws://e/api/ws", max_size=None) for _ in range(count)]

    async def drain(ws: Any) -> None:
        async for _ in ws:
            pass

    tasks = [asyncio.create_task(drain(ws)) for ws in conns]
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    for ws in conns:
        await ws.close()
    await asyncio.gather(*tasks, return_exceptions=True)


def child(args: argparse.Namespace) -> None:
    if args.client == "requests":
        print(json.dumps(client_requests(args.socket, args.n)), flush=True)
    elif args.client == "stream":
        print(json.dumps(client_stream(args.socket, args.n)), flush=True)
    else:
        asyncio.run(client_crowd(args.socket, args.n))


def spawn(kind: str, path: Path, n: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, "--client", kind, "--socket", str(path),
                             "-n", str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)


# ---------------------------------------------------------------- the engine
async def open_engine(tmp: Path, n_symbols: int = 3) -> Any:
    os.environ["XDG_RUNTIME_DIR"] = str(tmp)
    from autotrade_tui.config import defaults
    from autotrade_tui.core.clock import VirtualClock
    from autotrade_tui.core.models import Side
    from autotrade_tui.market.sim import SimMarket
    from autotrade_tui.services import open_engine
    from autotrade_tui.store.store import Store

    db = tmp / "bench.db"
    symbols = (SYMBOLS + MORE)[:n_symbols]
    settings = defaults(market_source="sim", symbols=symbols, database_url=str(db))
    clock = VirtualClock(1_750_000_020.0)
    link = await open_engine(settings, clock=clock, feed=SimMarket(symbols, clock, 1),
                             store=Store(db, writer=True))
    rt = link.runtime
    await rt.start()
    await rt.decision_cycle(SYMBOLS)
    for sym, side in zip(SYMBOLS, (Side.LONG, Side.SHORT, Side.LONG), strict=True):
        await rt.manual_open(sym, side)
    return link


async def drained(hub: Any) -> None:
    """Until every attached client has been handed what was published. `hub.sent()` waits
    for one client after the other, with no tasks: tasks gathered here (one a client) lived
    on in the handle that resumed `ticks` until the tick's first await, so their 20
    deallocations were counted as the tick's cost (before December 2026)."""
    await hub.sent()


async def ticks(link: Any, n: int, gap: float = 0.0) -> list[tuple[float, float]]:
    """(the tick, the tick and its fan-out) in CPU ms, per monitor tick. The tick is
    `monitor_tick()` itself (its publishes only note the updates); the fan-out is encoding
    each update once, after the tick, and the clients' sender tasks writing it to their
    connections (on the same loop). `gap`: seconds the engine
    idles before each tick, as a live one does between its ticks (5 s apart): a tick that
    follows an idle loop costs more than one run back to back (colder caches), with or
    without clients, so the two are measured apart."""
    rt, hub = link.runtime, link.extras[-1].hub
    out = []
    for _ in range(n):
        rt.clock.advance(5)
        await drained(hub)
        if gap:
            await asyncio.sleep(gap)
        t0 = time.process_time()
        await rt.monitor_tick()
        t1 = time.process_time()
        await drained(hub)
        out.append(((t1 - t0) * 1000, (time.process_time() - t0) * 1000))
    return out


async def wait_clients(hub: Any, count: int) -> None:
    while len(hub.clients) < count:
        await hub.changed()


async def measure(requests: int, n_ticks: int, n_symbols: int) -> dict[str, Any]:
    from autotrade_tui.api import wire
    from autotrade_tui.runtime.updates import AccountUpdated

    with tempfile.TemporaryDirectory(prefix="atb-", dir="/tmp") as d:
        link = await open_engine(Path(d), n_symbols)
        api = link.extras[-1]
        path, hub, rt = api.path, api.hub, link.runtime
        res: dict[str, Any] = {}
        try:
            # 1. request latency, seen from another process
            proc = spawn("requests", path, requests)
            out, _ = await asyncio.to_thread(proc.communicate)
            res["requests"] = json.loads(out)

            # 2. update → client: publish-time stamps by seq, arrival stamps in the child
            n_updates = 3 * 300
            proc = spawn("stream", path, n_updates)
            await asyncio.to_thread(proc.stdout.readline)  # type: ignore[union-attr]
            await wait_clients(hub, 1)
            stamps: list[float] = []
            unsubscribe = rt.subscribe(lambda _u: stamps.append(time.monotonic()))
            while len(stamps) < n_updates:
                rt.clock.advance(5)
                await rt.monitor_tick()  # prices, account, status (+ any events)
                await asyncio.sleep(0.01)  # ticks 10 ms apart: a sim at ~500x speed
            unsubscribe()
            out, _ = await asyncio.to_thread(proc.communicate)
            arrivals = json.loads(out)
            res["push_ms"] = [(t - stamps[seq - 3]) * 1000 for seq, t in arrivals]

            # 3. tick cost: 0 clients, 20 clients, 0 clients … in ROUNDS rounds (the machine's
            # own drift from one phase to the next is ±10 % even with no client work at all:
            # interleaved, it weighs on both sides alike); back to back and after an idle gap
            # (as live: ticks 5 s apart)
            await ticks(link, 50)  # warm-up
            per = max(1, n_ticks // ROUNDS)
            zero, zero_idle, twenty, twenty_idle = [], [], [], []
            for _ in range(ROUNDS):
                zero += await ticks(link, per)
                zero_idle += await ticks(link, per, IDLE_GAP_S)
                crowd = spawn("crowd", path, CLIENTS)
                await asyncio.to_thread(crowd.stdout.readline)  # type: ignore[union-attr]
                await wait_clients(hub, CLIENTS)
                twenty += await ticks(link, per)
                twenty_idle += await ticks(link, per, IDLE_GAP_S)
                crowd.stdin.close()  # type: ignore[union-attr]
                await asyncio.to_thread(crowd.wait)
                while hub.clients:
                    await hub.changed()
            zero += await ticks(link, per)
            zero_idle += await ticks(link, per, IDLE_GAP_S)
            res["tick_ms"] = {"0": zero, "20": twenty}
            res["idle_tick_ms"] = {"0": zero_idle, "20": twenty_idle}
            account = AccountUpdated(link.account())
            res["message_bytes"] = len(wire.message_body(account))
            res["stream_bytes"] = len(wire.message_body(account, curves=False))
            res["symbols"] = n_symbols
        finally:
            await link.close()
    return res


def report(res: dict[str, Any]) -> None:
    for endpoint, times in res["requests"].items():
        print(f"GET {endpoint:<15} p50 {statistics.median(times):.2f} ms   p99 "
              f"{pct(times, 0.99):.2f} ms   ({len(times)} requests over the socket)")
    push = res["push_ms"]
    print(f"update → WebSocket client   p50 {statistics.median(push):.2f} ms   p99 "
          f"{pct(push, 0.99):.2f} ms   max {max(push):.2f} ms   ({len(push)} updates)")
    for key, when in (("tick_ms", "back to back"), ("idle_tick_ms",
                                                     f"after {IDLE_GAP_S * 1000:.0f} ms idle")):
        for k, what in enumerate(("monitor tick", "tick + fan-out")):
            zero = [t[k] for t in res[key]["0"]]
            twenty = [t[k] for t in res[key]["20"]]
            z, t = statistics.median(zero), statistics.median(twenty)
            print(f"{what:<15} {when:<18} CPU ms, 0 clients median {z:.3f} mean "
                  f"{statistics.mean(zero):.3f}; {CLIENTS} clients median {t:.3f} mean "
                  f"{statistics.mean(twenty):.3f}; ratio {t / z:.2f}x (mean "
                  f"{statistics.mean(twenty) / statistics.mean(zero):.2f}x)")
    print(f"({res['symbols']} symbols, 3 positions; an account message is "
          f"{res['message_bytes']:,} bytes when the scorecard's curves changed, "
          f"{res['stream_bytes']:,} otherwise)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--ticks", type=int, default=300)
    p.add_argument("--symbols", type=int, default=3, help="symbols the engine watches")
    p.add_argument("--client", choices=("requests", "stream", "crowd"))
    p.add_argument("--socket")
    p.add_argument("-n", type=int, default=0)
    args = p.parse_args()
    if args.client:
        child(args)
        return
    report(asyncio.run(measure(args.requests, args.ticks, args.symbols)))


if __name__ == "__main__":
    main()

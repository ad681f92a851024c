"""A year-sized account database (not stored in the repo), then the figures of SPEC §10 on it:
`report` time, `export` rows per second to a file, `db stats`.

The rows are what a year at defaults writes (3 symbols, a decision each per 5 minutes: 864 a
day; ~200 events and ~20 trades a day; an equity snapshot a minute, then thinned as the
running program does): the schema is made by the program's own Store, the rows are inserted in
bulk; decisions' `input_data` are real ones (a short real run of the simulated market, kept
as the program compressed them), reused round-robin.

    .venv/bin/python benchmarks/year_db.py [--days 365] [--db /tmp/year.db] [--keep]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autotrade_tui.store.codec import encode  # noqa: E402
from autotrade_tui.store.store import Store  # noqa: E402

END = 1_796_000_000.0
DAY = 86_400.0
SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")


def sample_inputs(where: Path, seconds: float) -> list[bytes]:
    """Compressed input_data of a short real headless run (speed 600, offline models)."""
    db = where / "sample.db"
    proc = subprocess.Popen([sys.executable, "-m", "autotrade_tui", "--headless", "--market",
                             "sim", "--db", str(db), "--speed", "600", "--seed", "3",
                             "--offline-models"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    proc.terminate()
    proc.wait(30)
    con = sqlite3.connect(db)
    blobs = [bytes(b) for (b,) in con.execute("SELECT input_data FROM ai_decisions")]
    con.close()
    return blobs


def _dt(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def fill(db: Path, days: int, blobs: list[bytes]) -> None:
    Store(db, writer=True).close()  # the program's schema, at its version
    rng = random.Random(1)
    con = sqlite3.connect(db)
    start = END - days * DAY
    dec = []
    for i in range(days * 864):
        ts = start + i * 100.0
        sym = SYMBOLS[i % 3]
        dec.append((_dt(ts), sym, "HOLD", "HOLD", "HOLD", 0.45, 0.45,
                    "RSI 48 and MACD flat: no edge " * 3, "price inside the bands " * 3, 0,
                    blobs[i % len(blobs)], "offline/trend-follower", "offline/mean-reversion",
                    0.45, "HOLD: both HOLD, avg 0.45 < 0.60 → HOLD", "", "auto", 100.0, 0, 0.0,
                    0.01, ts))
    con.executemany(
        "INSERT INTO ai_decisions (timestamp, symbol, model_1_decision, model_2_decision,"
        " final_decision, model_1_confidence, model_2_confidence, model_1_reasoning,"
        " model_2_reasoning, executed, input_data, model_1_name, model_2_name,"
        " final_confidence, vote_reason, execution_note, source, price, tokens, cost,"
        " latency_s, ts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", dec)
    del dec
    con.executemany(
        "INSERT INTO market_events (timestamp, symbol, event_type, severity, description,"
        " suggested_action, metrics, processed, ts) VALUES (?,?,?,?,?,?,?,?,?)",
        [(_dt(t), SYMBOLS[i % 3], "VOLUME_SPIKE", "MEDIUM",
          f"{SYMBOLS[i % 3]} volume 2.{i % 90:02d}× its 24 h average", "watch",
          json.dumps({"ratio": 2.0 + (i % 90) / 100}), 0, t)
         for i, t in enumerate(start + k * 432.0 for k in range(days * 200))])
    con.executemany(
        "INSERT INTO trades (timestamp, symbol, order_type, side, amount, price, pnl, fee,"
        " margin, leverage, source, reason, decision_id, ts) VALUES"
        " (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(_dt(t), SYMBOLS[i % 3], "OPEN" if i % 2 == 0 else "CLOSE", "LONG", 0.1, 100.0,
          0.0 if i % 2 == 0 else rng.gauss(0, 50), 0.5, 100.0, 10.0, "auto", "", None, t)
         for i, t in enumerate(start + k * 4320.0 for k in range(days * 20))])
    eq = 100_000.0
    flat = encode([])  # no position open, stored as the program stores it (compressed)
    snaps = []
    for k in range(days * 1440):
        eq *= 1 + rng.gauss(0, 0.0005)
        t = start + 60.0 * k
        snaps.append((_dt(t), eq, eq, 0.0, flat, 0, 0, 0, 0.0, 0.0, t))
    con.executemany(
        "INSERT INTO account_snapshots (timestamp, total_equity, total_capital, unrealized_pnl,"
        " open_positions, total_trades, winning_trades, losing_trades, win_rate, total_fees,"
        " ts) VALUES (?,?,?,?,?,?,?,?,?,?,?)", snaps)
    con.commit()
    con.close()


def timed(args: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autotrade_tui", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--db", type=Path)
    ap.add_argument("--sample-seconds", type=float, default=40.0)
    args = ap.parse_args()
    where = Path(tempfile.mkdtemp(prefix="yeardb-"))
    db = args.db or where / "year.db"
    if not db.exists():
        blobs = sample_inputs(where, args.sample_seconds)
        t = time.perf_counter()
        fill(db, args.days, blobs)
        print(f"filled {db} in {time.perf_counter() - t:.1f} s ({len(blobs)} real inputs)")
        t = time.perf_counter()
        with Store(db, writer=True) as store:
            deleted = store.thin(END)
        print(f"thinned {deleted:,} snapshots in {time.perf_counter() - t:.1f} s")
    print(subprocess.run([sys.executable, "-m", "autotrade_tui", "db", "stats", "--db",
                          str(db)], cwd=ROOT, capture_output=True, text=True).stdout)
    print(f"report: {timed(['report', '--db', str(db)]):.2f} s")
    con = sqlite3.connect(db)
    counts = {k: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for k, t in (("decisions", "ai_decisions"), ("trades", "trades"),
                           ("events", "market_events"))}
    con.close()
    for what in ("decisions", "events", "trades"):
        for fmt in ("csv", "json"):
            out = where / f"{what}.{fmt}"
            took = timed(["export", what, "--format", fmt, "--db", str(db), "-o", str(out)])
            print(f"export {what} {fmt}: {counts[what]:,} rows in {took:.1f} s = "
                  f"{counts[what] / took:,.0f} rows/s ({out.stat().st_size / 1e6:,.0f} MB)")
            out.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

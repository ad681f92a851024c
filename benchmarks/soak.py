"""Soak: does a long run stay bounded (SPEC §10 "Runs for a year", §11 "The cockpit never
starves the engine")? Runs the real program from outside, headless and the cockpit (in a
pseudo-terminal, 120×40), on the simulated market at a speed, each on its own new database
with the same seed, side by side (so load from other processes hits both alike). Every
`--every` seconds it samples each process (RSS, CPU seconds from /proc) and its database
(file + -wal bytes, decisions, the newest simulated time); at the end it sends SIGTERM and
records the exit code. It prints per-simulated-day slopes of RSS and of the database (least
squares after the warm-up: the first 1.25 simulated days, when the simulated market makes its
first new day of bars, thinning starts and the monitor's windows fill), and decisions
cockpit/headless.

    .venv/bin/python benchmarks/soak.py --minutes 10 --speed 600 [--every 30] [--seed 7]
        [--only headless|cockpit] [--json FILE] [--keep DIR] [--warmup DAYS]

`--warmup DAYS` (default 1.25) moves the start of the slopes: a long soak shows whether a
slope is a leak or bounded windows still filling (the trade list keeps 500 rows: weeks).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = 86_400.0
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    wall: float  # seconds since start
    sim: float  # simulated seconds since the first record
    rss_mb: float
    cpu_s: float
    db_bytes: int  # the file and its -wal
    db_used: int  # pages in use (the WAL's too) × page size: what the data takes
    decisions: int


@dataclass
class Run:
    mode: str
    db: Path
    proc: subprocess.Popen[bytes]
    samples: list[Sample] = field(default_factory=list)
    exit_code: int | None = None
    stop_s: float = 0.0
    first_ts: float | None = None


def start(mode: str, db: Path, speed: float, seed: int) -> Run:
    args = [sys.executable, "-m", "autotrade_tui", "--market", "sim", "--db", str(db),
            "--speed", str(speed), "--seed", str(seed), "--offline-models"]
    env = {**os.environ, "AUTOTRADE_CONFIG": "", "XDG_CONFIG_HOME": str(db.parent / "cfg"),
           "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    env.pop("AUTOTRADE_CONFIG")
    if mode == "headless":
        proc = subprocess.Popen([*args, "--headless"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return Run(mode, db, proc)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)
    os.close(slave)
    threading.Thread(target=_drain, args=(master,), daemon=True).start()  # a reading terminal
    return Run(mode, db, proc)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass


def _proc_figures(pid: int) -> tuple[float, float]:
    """(RSS MB, CPU seconds user+system) of a live process."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    rss = int(fields[21]) * PAGE / 1e6
    return rss, cpu


def _db_figures(run: Run) -> tuple[int, int, int, float | None]:
    """(file + -wal bytes, bytes in use, decisions, newest simulated time) read from
    outside, read-only."""
    size = sum(p.stat().st_size for p in (run.db, Path(f"{run.db}-wal")) if p.exists())
    try:
        con = sqlite3.connect(f"file:{run.db}?mode=ro", uri=True, timeout=5)
        try:
            n = con.execute("SELECT count(*) FROM ai_decisions").fetchone()[0]
            pages = con.execute("PRAGMA page_count").fetchone()[0] - con.execute(
                "PRAGMA freelist_count").fetchone()[0]
            used = pages * con.execute("PRAGMA page_size").fetchone()[0]
            newest = con.execute("SELECT max(ts) FROM account_snapshots").fetchone()[0]
            if run.first_ts is None:
                run.first_ts = con.execute("SELECT min(ts) FROM account_snapshots").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return size, 0, 0, None
    return size, int(used), int(n), newest


def sample(run: Run, t0: float) -> None:
    if run.proc.poll() is not None:
        return
    try:
        rss, cpu = _proc_figures(run.proc.pid)
    except OSError:
        return
    size, used, decisions, newest = _db_figures(run)
    sim = (newest - run.first_ts) if newest is not None and run.first_ts is not None else 0.0
    run.samples.append(Sample(time.monotonic() - t0, sim, rss, cpu, size, used, decisions))


def stop(run: Run) -> None:
    t = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)
    try:
        run.exit_code = run.proc.wait(30)
    except subprocess.TimeoutExpired:
        run.proc.kill()
        run.exit_code = run.proc.wait()
    run.stop_s = time.monotonic() - t


WARMUP_DAYS = 1.25  # the sim's first new day of bars, the first thinning, full windows


def slope_per_day(samples: list[Sample], attr: str, warmup: float = WARMUP_DAYS) -> float | None:
    """Least-squares slope of `attr` against simulated days, after the warm-up."""
    pts = [(s.sim / DAY, float(getattr(s, attr))) for s in samples if s.sim > warmup * DAY]
    if len(pts) < 3:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    var = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / var if var else None


def summary(run: Run, warmup: float = WARMUP_DAYS) -> dict[str, object]:
    s = run.samples
    last = s[-1] if s else None
    cpu_pct = (100.0 * (last.cpu_s - s[0].cpu_s) / (last.wall - s[0].wall)
               if last and len(s) > 1 and last.wall > s[0].wall else None)
    db_slope = slope_per_day(s, "db_used", warmup)  # the -wal's size comes and goes: noise
    rss_slope = slope_per_day(s, "rss_mb", warmup)
    return {
        "mode": run.mode, "exit_code": run.exit_code, "stop_seconds": round(run.stop_s, 2),
        "samples": len(s), "simulated_days": round(last.sim / DAY, 3) if last else 0.0,
        "decisions": last.decisions if last else 0,
        "decisions_per_sim_hour": (round(last.decisions / (last.sim / 3600.0), 1)
                                   if last and last.sim else None),
        "rss_mb_first_last": [round(s[0].rss_mb, 1), round(last.rss_mb, 1)] if last else None,
        "rss_mb_per_sim_day": None if rss_slope is None else round(rss_slope, 3),
        "db_mb_per_sim_day": None if db_slope is None else round(db_slope / 1e6, 3),
        "db_mb_last": round(last.db_bytes / 1e6, 2) if last else None,
        "cpu_pct": None if cpu_pct is None else round(cpu_pct, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--speed", type=float, default=600.0)
    ap.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--only", choices=("headless", "cockpit"))
    ap.add_argument("--json", metavar="FILE", help="also write samples and summaries here")
    ap.add_argument("--keep", metavar="DIR", help="databases here (default: a temp dir)")
    ap.add_argument("--warmup", type=float, default=WARMUP_DAYS,
                    help="simulated days left out of the slopes")
    args = ap.parse_args()
    where = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="soak-"))
    where.mkdir(parents=True, exist_ok=True)
    modes = [args.only] if args.only else ["headless", "cockpit"]
    runs = [start(m, where / f"{m}.db", args.speed, args.seed) for m in modes]
    t0 = time.monotonic()
    end = t0 + args.minutes * 60.0
    try:
        while time.monotonic() < end:
            time.sleep(min(args.every, max(0.0, end - time.monotonic())))
            for run in runs:
                sample(run, t0)
    finally:
        for run in runs:
            sample(run, t0)
            stop(run)
    out = {"speed": args.speed, "minutes": args.minutes, "seed": args.seed,
           "warmup_days": args.warmup, "summaries": [summary(r, args.warmup) for r in runs]}
    byname = {r.mode: r for r in runs}
    if len(runs) == 2:
        h, c = (byname[m].samples[-1].decisions if byname[m].samples else 0
                for m in ("headless", "cockpit"))
        out["decisions_cockpit_over_headless"] = round(c / h, 3) if h else None
    for s in out["summaries"]:  # type: ignore[attr-defined]
        print(json.dumps(s))
    if "decisions_cockpit_over_headless" in out:
        print(f"decisions cockpit/headless: {out['decisions_cockpit_over_headless']}")
    if args.json:
        out["samples"] = {r.mode: [asdict(s) for s in r.samples] for r in runs}
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

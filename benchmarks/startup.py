"""Benchmark: cold start to the first screen, autotrade-tui vs a bare Textual app.

Each run is a fresh `python` subprocess; the time is from just before the process is spawned
to the first paint of the App (`call_after_refresh` from `on_mount`, headless driver at
80x24). autotrade-tui starts the way `autotrade-tui --market sim --db FILE` does (settings
parsed by the CLI, the runtime opened in a worker after the first frame); the bare app is plain
Textual with the same kinds of widgets (2-line header, 4 cards, 5 tabs with tables and
scrolling text, footer) and nothing else. For autotrade-tui the run also waits until the
runtime is ready (database, simulated market, first prices) and reports that time too.
Peak memory is `ru_maxrss` of the child at each of those moments. The variants run
round-robin, so load from other processes hits both alike.

    .venv/bin/python benchmarks/startup.py [--runs N]
    .venv/bin/python benchmarks/startup.py --year-db FILE [--runs N]

`--year-db FILE` (SPEC §10 "Runs for a year": the first screen on a year-old database within
1.2x a fresh one): the cockpit's first full screen — runtime ready and the history (decisions,
trades, events, equity curve) shown — on a new database and on FILE (made by
benchmarks/year_db.py; each run adds a few rows to it), round-robin.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar


def child_autotrade(db: str) -> None:
    from autotrade_tui.cli import build_parser, settings_from_args
    from autotrade_tui.tui.startup import begin_check

    settings = settings_from_args(build_parser().parse_args(["--market", "sim", "--db", db]))
    begin_check(settings)  # as the command line does, before the cockpit's imports
    from autotrade_tui.tui.app import AutotradeApp
    from autotrade_tui.tui.screens.cockpit import CockpitScreen

    shown: list[float] = []
    show_history = CockpitScreen.show_history

    def timed_history(self: CockpitScreen, history: object) -> None:
        show_history(self, history)  # type: ignore[arg-type]
        shown.append(time.time())

    CockpitScreen.show_history = timed_history  # type: ignore[method-assign]

    class Probe(AutotradeApp):
        def on_mount(self) -> None:
            super().on_mount()
            self.call_after_refresh(self._painted)

        def _painted(self) -> None:
            self.first = (time.time(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            self.set_interval(0.005, self._ready_yet)

        async def _ready_yet(self) -> None:
            if (self.runtime is not None and shown  # first prices in: the data is fresh
                    and self.runtime.status().last_data_ts is not None):
                rss_first = self.first[1] / 1024.0
                await self.shutdown_runtime()
                print(json.dumps({"first_paint": self.first[0], "rss_first_mb": rss_first,
                                  "ready": time.time(), "history": shown[0],
                                  "rss_ready_mb": resource.getrusage(
                                      resource.RUSAGE_SELF).ru_maxrss / 1024.0}), flush=True)
                self.exit()

    Probe(settings).run(headless=True, size=(80, 24))


def child_bare() -> None:
    from textual.app import App, ComposeResult
    from textual.containers import Horizontal, VerticalScroll
    from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

    class Bare(App[None]):
        CSS = """
        #header { height: 2; } #cards { height: 3; } .card { width: 1fr; }
        TabbedContent { height: 1fr; }
        """
        BINDINGS: ClassVar = [("q", "quit", "quit"), ("b", "bell", "long")]

        def compose(self) -> ComposeResult:
            yield Static("SIM PAPER | model one · model two\n00:00:00 UTC | AUTO ON", id="header")
            with Horizontal(id="cards"):
                for name in ("EQUITY", "P&L", "POSITIONS", "WIN RATE"):
                    yield Static(f"{name}\n100,000.00\n+0.00 %", classes="card")
            with TabbedContent():
                with TabPane("Market"):
                    yield Static("chart")
                    yield DataTable()
                with TabPane("Decisions"):
                    yield DataTable()
                with TabPane("Events"):
                    yield VerticalScroll(Static("events"))
                with TabPane("Trades"):
                    yield DataTable()
                with TabPane("Equity"):
                    yield Static("equity")
            yield Footer()

        def on_mount(self) -> None:
            self.call_after_refresh(self._painted)

        def _painted(self) -> None:
            print(json.dumps({"first_paint": time.time(), "rss_first_mb": resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024.0}), flush=True)
            self.exit()

    Bare().run(headless=True, size=(80, 24))


def run_once(variant: str, db: str) -> dict[str, float]:
    t0 = time.time()
    out = subprocess.run([sys.executable, __file__, "--child", variant, "--db", db],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    res = {"first_paint_s": data["first_paint"] - t0, "rss_first_mb": data["rss_first_mb"]}
    if "ready" in data:
        res |= {"ready_s": data["ready"] - t0, "rss_ready_mb": data["rss_ready_mb"],
                "full_s": max(data["ready"], data["history"]) - t0}
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--child", choices=("autotrade", "bare"))
    p.add_argument("--db", default="")
    p.add_argument("--year-db", help="compare the first full screen on this database")
    args = p.parse_args()
    if args.child == "autotrade":
        return child_autotrade(args.db)
    if args.child == "bare":
        return child_bare()
    if args.year_db:
        return year_db(args.year_db, args.runs)
    results: dict[str, list[dict[str, float]]] = {"autotrade": [], "bare": []}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        run_once("autotrade", db)  # creates the database; warms the OS file cache for both
        run_once("bare", db)
        for _ in range(args.runs):
            for variant in results:
                results[variant].append(run_once(variant, db))

    def med(variant: str, key: str) -> float:
        return statistics.median(r[key] for r in results[variant])

    print(f"cold start to first paint, {args.runs} runs each (median; min–max)")
    for variant in results:
        vals = [r["first_paint_s"] for r in results[variant]]
        print(f"  {variant:<10} {med(variant, 'first_paint_s') * 1000:7.0f} ms "
              f"({min(vals) * 1000:.0f}–{max(vals) * 1000:.0f})   peak RSS "
              f"{med(variant, 'rss_first_mb'):.0f} MB")
    ratio = med("autotrade", "first_paint_s") / med("bare", "first_paint_s")
    print(f"  ratio autotrade-tui / bare Textual: {ratio:.2f}x (goal ≤ 2x)")
    print(f"  autotrade-tui runtime ready (db, sim market, first prices): "
          f"{med('autotrade', 'ready_s') * 1000:.0f} ms, peak RSS "
          f"{med('autotrade', 'rss_ready_mb'):.0f} MB")


def year_db(path: str, runs: int) -> None:
    """First full screen (runtime ready, history shown) on a new database and on `path`."""
    full: dict[str, list[float]] = {"new": [], "year": []}
    with tempfile.TemporaryDirectory() as tmp:
        dbs = {"new": str(Path(tmp) / "new.db"), "year": path}
        for db in dbs.values():
            run_once("autotrade", db)  # warms the OS file cache; makes the new one
        for _ in range(runs):
            for name, db in dbs.items():
                if name == "new":  # a new database each time
                    for suffix in ("", "-wal", "-shm", ".lock"):  # else refused as lost
                        Path(db + suffix).unlink(missing_ok=True)
                full[name].append(run_once("autotrade", db)["full_s"])
    print(f"first full screen (runtime ready, history shown), {runs} runs each (median; "
          "min–max)")
    for name, vals in full.items():
        print(f"  {name:<5} database {statistics.median(vals) * 1000:7.0f} ms "
              f"({min(vals) * 1000:.0f}–{max(vals) * 1000:.0f})")
    ratio = statistics.median(full["year"]) / statistics.median(full["new"])
    print(f"  ratio year-old / new: {ratio:.2f}x (goal ≤ 1.2x)")


if __name__ == "__main__":
    main()

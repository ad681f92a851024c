"""Benchmark: `optimize` trials per minute with --jobs 1 and --jobs 2 in one run, and the
storage's share of a trial's time (SPEC §15 targets: ≥ 1.7× with 2 jobs on 2 cores; storage
≤ 5 % of trial time).

Each measurement is a fresh study on a journal file over the same data (a seeded random walk
of `--days` days, 3 symbols, written to a temporary CSV). The storage overhead is the time
of the Optuna calls a trial makes (ask, which also marks the trial with its worker, then
set_user_attr, tell) against a trial's backtest time, measured in-process with
`study.ask()`/`study.tell()` around the same objective, on the command's own storage (the
journal under its `flock`) and sampler (TPE seeded per trial).

    .venv/bin/python benchmarks/optimize.py [--trials 16] [--days 14]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.backtest import random_walk  # noqa: E402


def run(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - t


def storage_share(data: Path, journal: Path, trials: int) -> tuple[float, float]:
    """(seconds of Optuna storage calls per trial, seconds of backtest per trial)."""
    import optuna

    from autotrade_tui.backtest.history import load_file
    from autotrade_tui.backtest.request import Request
    from autotrade_tui.config import defaults
    from autotrade_tui.optimize.models import ModelSource
    from autotrade_tui.optimize.space import load_space
    from autotrade_tui.optimize.study import storage_of
    from autotrade_tui.optimize.trial import evaluate
    from autotrade_tui.optimize.workers import TrialSeededTPE

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    syms = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    req = Request(str(data), syms, True, None, None, "5m", 300, "offline", True, "")
    history = load_file(req)
    space, settings, source = load_space(None), defaults(symbols=syms), ModelSource(
        "offline", "", False)
    study = optuna.create_study(storage=storage_of(str(journal)), sampler=TrialSeededTPE(1),
                                direction="maximize")
    store_s = work_s = 0.0
    for _ in range(trials):
        t0 = time.perf_counter()
        trial = study.ask()
        params = {d.key: d.suggest(trial) for d in space}
        t1 = time.perf_counter()
        value, metrics = evaluate(settings.replace(**params), [history], source, "sharpe", "5m")
        t2 = time.perf_counter()
        trial.set_user_attr("metrics", metrics)
        study.tell(trial, value)
        t3 = time.perf_counter()
        store_s += (t1 - t0) + (t3 - t2)
        work_s += t2 - t1
    return store_s / trials, work_s / trials


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--days", type=int, default=14)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "walk.csv"
        random_walk(args.days * 288, seed=3, symbols=3).to_csv(data, index=False)
        base = [sys.executable, "-m", "autotrade_tui", "optimize", "--data", str(data),
                "--symbols", "BTC/USDT,ETH/USDT,SOL/USDT", "--trials", str(args.trials),
                "--json"]
        secs = {}
        for jobs in (1, 2):
            secs[jobs] = run([*base, "--jobs", str(jobs), "--storage",
                              str(Path(tmp) / f"jobs{jobs}.journal")])
            print(f"--jobs {jobs}: {args.trials} trials in {secs[jobs]:.1f} s = "
                  f"{args.trials / secs[jobs] * 60:.1f} trials/minute")
        print(f"speed-up with 2 jobs: {secs[1] / secs[2]:.2f}x (target >= 1.7x)")
        store, work = storage_share(data, Path(tmp) / "share.journal", args.trials)
        print(f"storage per trial {store * 1000:.1f} ms vs backtest {work * 1000:.0f} ms: "
              f"{store / (store + work) * 100:.1f} % of trial time (target <= 5 %)")


if __name__ == "__main__":
    main()

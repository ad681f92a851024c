"""`autotrade-tui optimize`: load the period once, run the study, print what it found."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from autotrade_tui.backtest.request import Request, from_args
from autotrade_tui.errors import UserError
from autotrade_tui.optimize.space import load_space
from autotrade_tui.optimize.study import Job, fail_orphans, finished, open_study, run_workers
from autotrade_tui.optimize.trial import OBJECTIVES, backtest_metrics, folds, score

if TYPE_CHECKING:
    from autotrade_tui.config import Settings

MIN_CANDLES = 300  # bars in the period: fewer cannot rank settings (indicators need 200)
TOP = 10


def default_storage() -> str:
    from autotrade_tui.config import user_data_dir

    return str(user_data_dir() / "optimize.journal")


def run_optimize_cli(args: Any, settings: Settings, out: Any = None, err: Any = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    objective = str(args.objective)
    if objective not in OBJECTIVES:
        raise UserError(f"--objective {objective!r} is not one of {', '.join(OBJECTIVES)}")
    if args.trials < 1 or args.jobs < 1 or args.walk_forward < 1:
        raise UserError("--trials, --jobs and --walk-forward take whole numbers ≥ 1")
    req = from_args(args, settings)
    space = load_space(args.space, offline=req.models == "offline" or settings.use_offline_models)
    history = asyncio.run(_history(req, settings))
    if history.candles() < MIN_CANDLES:
        raise UserError(f"optimize: {history.candles()} candles in the period: too few to "
                        f"rank settings (at least {MIN_CANDLES})")
    split = folds(history, args.walk_forward)
    if any(p.candles() == 0 for p in split.in_sample):
        raise UserError(f"optimize: --walk-forward {args.walk_forward} leaves a fold with no "
                        "candles; use fewer folds or a longer period")
    study_name = args.study or f"autotrade-{objective}"
    job = Job(study=study_name, storage=args.storage or default_storage(), settings=settings,
              folds=split, space=space, objective=objective, trials=args.trials,
              seed=int(settings.seed), timeframe=req.timeframe, models=req.models,
              allow_model_calls=bool(args.allow_model_calls), results_db=req.db)
    orphans = fail_orphans(open_study(job))
    if orphans:
        print(f"autotrade-tui: optimize: trial {', '.join(f'#{n}' for n in orphans)} of study "
              f"'{study_name}' was left running by a worker that stopped: marked failed, not "
              "counted; resuming", file=err)
    progress = Progress(err, args.trials) if not args.json and _tty(err) else None
    started = time.perf_counter()
    run_workers(job, args.jobs, progress)
    if progress is not None:
        progress.done()
    result = summarise(job, open_study(job), req, time.perf_counter() - started)
    if args.json:
        print(json.dumps(result, indent=2), file=out)
    else:
        print(render(result, job), file=out)
    return 0


async def _history(req: Request, settings: Settings) -> Any:
    """The period, read or fetched once, as `backtest` does (a file, ccxt, or the sim)."""
    from autotrade_tui.backtest.command import _load_file
    from autotrade_tui.backtest.fetch import fetch_history, preflight
    from autotrade_tui.backtest.store import BacktestStore

    if req.data:
        return await _load_file(req)
    now = time.time()
    preflight(req, settings, now)
    with BacktestStore(req.db or None) as store:
        return await fetch_history(req, settings, store, now)


def summarise(job: Job, study: Any, req: Request, seconds: float) -> dict[str, Any]:
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not done:
        raise UserError(f"optimize: no trial of study '{job.study}' closed a trade in the "
                        "period (each was set aside): try a longer period or another space")
    best = study.best_trial
    oos = None
    if job.folds.out_of_sample is not None:
        s = job.settings.replace(**best.params)
        metrics = backtest_metrics(s, job.folds.out_of_sample, job.model_source(),
                                   job.timeframe)
        oos = {"value": score(job.objective, metrics), "metrics": metrics}
    top = sorted(done, key=lambda t: t.value, reverse=True)[:TOP]
    return {"study": job.study, "trials": finished(study), "objective": job.objective,
            "trials_scored": len(done), "trials_without_trades": finished(study) - len(done),
            "best_value": best.value, "best_params": best.params,
            "best_metrics": best.user_attrs.get("metrics", {}), "out_of_sample": oos,
            "top": [{"number": t.number, "value": t.value, "params": t.params} for t in top],
            "seconds": round(seconds, 2)}


def toml_snippet(params: dict[str, Any]) -> str:
    from autotrade_tui.config import _toml_value

    return "\n".join(f"{k} = {_toml_value(v)}" for k, v in params.items())


def render(result: dict[str, Any], job: Job) -> str:
    keys = list(result["best_params"])
    lines = [f"study {result['study']}: {result['trials_scored']} trials scored (+ "
             f"{result['trials_without_trades']} without a closed trade, set aside), objective "
             f"{result['objective']} (maximised), {result['seconds']:.1f} s", "",
             f"{'#':>5} {'value':>10}  " + "  ".join(f"{k[:14]:>14}" for k in keys)]
    for t in result["top"]:
        lines.append(f"{t['number']:>5} {t['value']:>10.4f}  " + "  ".join(
            f"{_cell(t['params'].get(k)):>14}" for k in keys))
    lines += ["", "best settings (paste into config.toml):", toml_snippet(result["best_params"]),
              "", "its backtest: " + _figures(result["best_metrics"])]
    if result["out_of_sample"] is not None:
        oos = result["out_of_sample"]
        lines.append(f"out of sample (last of {len(job.folds.in_sample) + 1} folds): value "
                     f"{oos['value']:.4f}; " + _figures(oos["metrics"]))
    return "\n".join(lines)


def _cell(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _figures(m: dict[str, Any]) -> str:
    if "folds" in m:
        return f"{len(m['folds'])} in-sample folds, first: " + _figures(m["folds"][0])
    if not m:
        return "—"
    return (f"return {m['return_pct']:+.2f} %, max drawdown {m['max_drawdown_pct']:.2f} %, "
            f"Sharpe {m['sharpe']:.3f}, {m['total_trades']} trades, fees "
            f"{m['total_fees']:,.2f}, liquidations {m['liquidations']}")


class Progress:
    """`[#####.....] 12/50 trials  best 1.234` on a terminal."""

    def __init__(self, stream: Any, total: int) -> None:
        self.stream, self.total = stream, total

    def __call__(self, study: Any) -> None:
        from autotrade_tui.optimize.study import finished

        n = finished(study)
        try:
            best = f"  best {study.best_value:.4f}"
        except ValueError:
            best = ""
        filled = int(10 * min(n, self.total) / self.total)
        self.stream.write(f"\r[{'#' * filled}{'.' * (10 - filled)}] {n}/{self.total} "
                          f"trials{best}")
        self.stream.flush()

    def done(self) -> None:
        self.stream.write("\n")


def _tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False

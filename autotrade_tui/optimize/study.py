"""The study: Optuna's storage and sampler, and the worker processes that add trials to it.

Scale-out is Optuna's: every worker (N processes here, or the same command on another
machine with the same `--study` and `--storage`) loads the study from the storage, asks its
TPE sampler for a trial, backtests it and reports the value; `MaxTrialsCallback` stops them
once the study holds `--trials` finished trials. The sampler seeds each trial from `--seed`
and the trial's number, so processes with the same seed do not replay each other's random
draws (workers.py).

A killed worker loses only its running trial: the trial carries its worker's mark, and the
next start on that machine and pid namespace marks it FAIL (`fail_orphans`; the parent of
`--jobs` workers also does, once all its workers ended, when one of them failed); on a
database storage Optuna's heartbeat also fails a trial whose worker on any machine went
silent. A worker whose running trial was failed that way while it still ran (it was
stopped, or judged gone) says so in one line and goes on with the next trial. The journal's
lock dies with its holder: re-running resumes at once.
"""

from __future__ import annotations

import logging
import multiprocessing
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autotrade_tui.errors import AutotradeError, UserError
from autotrade_tui.optimize.space import Dimension
from autotrade_tui.optimize.trial import Folds, evaluate

if TYPE_CHECKING:
    from autotrade_tui.config import Settings

log = logging.getLogger(__name__)


class StorageError(AutotradeError):
    """The study's storage cannot be reached or used (exit 1: not the user's typo)."""


@dataclass(frozen=True)
class Job:
    """Everything a worker needs (picklable: it crosses into worker processes)."""

    study: str
    storage: str
    settings: Settings
    folds: Folds
    space: list[Dimension]
    objective: str
    trials: int
    seed: int
    timeframe: str
    models: str  # "offline" | "configured"
    allow_model_calls: bool
    results_db: str = ""  # the backtest database holding the LLM response cache

    def model_source(self) -> Any:
        from autotrade_tui.optimize.models import ModelSource

        return ModelSource(self.models, self.results_db, self.allow_model_calls)


HEARTBEAT_SECONDS = 60  # a database storage: a running trial's worker reports this often,
HEARTBEAT_GRACE = 180  # and a trial silent this long is failed as the next trial starts


def storage_of(url: str) -> Any:
    """An Optuna storage: a journal file (a path or `journal:///path`), or an RDB URL
    (`postgresql://`, `sqlite:///`)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    try:
        if "://" not in url or url.startswith("journal://"):
            from autotrade_tui.optimize.workers import journal_lock

            path = Path(url.removeprefix("journal://")).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path),
                                                     lock_obj=journal_lock(str(path))))
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        with warnings.catch_warnings():  # Optuna calls its heartbeat experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True},
                                              heartbeat_interval=HEARTBEAT_SECONDS,
                                              grace_period=HEARTBEAT_GRACE)
    except Exception as exc:  # Optuna and SQLAlchemy raise many kinds; one line for all
        from autotrade_tui.config import mask_url

        raise StorageError(f"optimize: storage {mask_url(url)} is not usable: "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None


def open_study(job: Job) -> Any:
    import optuna

    from autotrade_tui.optimize.workers import TrialSeededTPE

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own lines, not Optuna's log
    return optuna.create_study(study_name=job.study, storage=storage_of(job.storage),
                               sampler=TrialSeededTPE(job.seed), direction="maximize",
                               load_if_exists=True)


def fail_orphans(study: Any) -> list[int]:
    """The running trials of workers on this machine that are gone, marked FAIL."""
    from autotrade_tui.optimize.workers import fail_orphans as fail

    return fail(study)


def finished(study: Any) -> int:
    """Trials that ran to the end: scored (COMPLETE) or set aside for trading nothing
    (PRUNED); the study stops at `--trials` of them."""
    return len(study.get_trials(deepcopy=False, states=done_states()))


def done_states() -> tuple[Any, ...]:
    from optuna.trial import TrialState

    return (TrialState.COMPLETE, TrialState.PRUNED)


def _traded(metrics: dict[str, Any]) -> bool:
    runs = metrics.get("folds", [metrics])
    return all(m["total_trades"] > 0 for m in runs)


def work(job: Job, progress: Callable[[Any], None] | None = None) -> None:
    """One worker: trials until the study holds `job.trials` finished ones. A trial another
    process marked FAIL while this worker ran it is one line on stderr, and the next trial."""
    import sys

    from optuna.study import MaxTrialsCallback

    from autotrade_tui.optimize.workers import lost_trial

    study = open_study(job)
    callbacks: list[Any] = [MaxTrialsCallback(job.trials, states=done_states())]
    if progress is not None:
        callbacks.append(lambda study, _trial: progress(study))
    objective = _Objective(job)
    while finished(study) < job.trials:
        try:
            study.optimize(objective, n_trials=job.trials, catch=(), callbacks=callbacks)
            return
        except Exception as exc:
            number = lost_trial(study, study.sampler, exc, objective.raised)
            if number is None:
                raise
        print(f"autotrade-tui: optimize: trial #{number} of study '{job.study}' was marked "
              "failed by another process while this worker ran it (a start that took the "
              "worker for gone, or the storage's heartbeat): its result is dropped; going on",
              file=sys.stderr, flush=True)


class _Objective:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.source = job.model_source()
        self.raised: BaseException | None = None  # the last trial's own error

    def __call__(self, trial: Any) -> float:
        self.raised = None
        try:
            return self._run(trial)
        except BaseException as exc:
            self.raised = exc
            raise

    def _run(self, trial: Any) -> float:
        job = self.job
        params = {d.key: d.suggest(trial) for d in job.space}
        settings = job.settings.replace(**params)
        value, metrics = evaluate(settings, job.folds.in_sample, self.source, job.objective,
                                  job.timeframe)
        trial.set_user_attr("metrics", metrics)
        if not _traded(metrics):  # a trader that never trades is not an answer
            import optuna

            raise optuna.TrialPruned("no closed trade")
        return value


def run_workers(job: Job, jobs: int, progress: Callable[[Any], None] | None = None) -> None:
    """`jobs` worker processes (backtests are CPU-bound: processes, not threads); one runs
    in this process when `jobs` is 1. `progress(study)` is told as trials finish. When a
    worker failed (killed), its running trial is marked FAIL here once all workers ended."""
    if jobs <= 1:
        work(job, progress)
        return
    ctx = multiprocessing.get_context("fork" if hasattr(multiprocessing, "get_context")
                                      and "fork" in multiprocessing.get_all_start_methods()
                                      else "spawn")
    procs = [ctx.Process(target=_work_quietly, args=(job, w), name=f"optimize-{w}")
             for w in range(jobs)]
    for p in procs:
        p.start()
    study = open_study(job)
    while any(p.is_alive() for p in procs):
        for p in procs:
            p.join(timeout=1.0)
        if progress is not None:
            progress(study)
    failed = [p for p in procs if p.exitcode]
    if failed:
        fail_orphans(study)
        raise StorageError(f"optimize: {len(failed)} of {jobs} workers failed (exit "
                           f"{failed[0].exitcode}); the study keeps every finished trial: "
                           "run the same command again to resume")


def _work_quietly(job: Job, worker: int) -> None:
    import sys

    try:
        work(job)
    except (AutotradeError, UserError) as exc:
        print(f"autotrade-tui: optimize worker {worker}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None

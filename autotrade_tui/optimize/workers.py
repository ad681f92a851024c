"""What lets many workers share one study safely: the journal file's lock, the mark each
trial carries of its worker, and the sampler's per-trial seed. Imports Optuna (the
command loads this module only once a study opens).

- `FlockLock`: the journal's write lock is the kernel's `flock`, which dies with its holder:
  a worker killed while appending leaves nothing behind. (Optuna's default symlink lock
  survives a SIGKILL; the next start waits out its 30 s grace period and prints warnings.)
- `TrialSeededTPE` marks each trial with its worker ("host:pid:start") as it begins;
  `fail_orphans` marks FAIL the running trials whose worker on this machine is gone.
- `TrialSeededTPE` draws trial k's randomness from (`--seed`, k): trial numbers are unique
  across every process of a study, so workers never propose the same start-up trial, even on
  two machines with the same `--seed`, and one process replays the same trials for a seed.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Sequence
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.samplers import BaseSampler, TPESampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

OWNER = "autotrade:worker"  # a trial's system attribute: "host:pid:start" of its worker


class FlockLock:
    """A journal file lock (Optuna's protocol, `acquire` and `release`: its base class is not
    public) on `flock` of `path` (`<journal>.flock`). The file is opened at each acquire and
    closed at release (closing frees the lock), so a forked worker never shares a held lock
    with its parent, and the kernel frees it when the holder dies."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def journal_lock(path: str) -> Any:
    """The lock of the journal file `path`; Optuna's open lock where there is no `fcntl`."""
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - Windows
        from optuna.storages.journal import JournalFileOpenLock

        return JournalFileOpenLock(path)
    return FlockLock(path + ".flock")


def worker_id(pid: int | None = None) -> str:
    """"host:pid:start" of a process (start: its start time since boot where /proc tells, so
    a reused pid reads as another process)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_proc_stat(pid)[1]}"


def _proc_stat(pid: int) -> tuple[str, str]:
    """(state, start time) of a process from /proc; ("", "") where there is none."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0], fields[19]  # fields 3 (state) and 22 (starttime) of proc(5)
    except (OSError, IndexError):
        return "", ""


def worker_alive(owner: str) -> bool | None:
    """Is the worker `owner` ("host:pid:start") still running? None when it ran on another
    machine: only a database storage's heartbeat can tell then."""
    try:
        host, pid_text, start = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    state, now = _proc_stat(pid)
    if state in ("Z", "X"):  # killed, not yet reaped by its parent
        return False
    return not (start and now and now != start)  # else the pid went to another process


def fail_orphans(study: Study) -> list[int]:
    """Mark FAIL the running trials whose worker on this machine is gone (killed, crashed):
    they are not counted and the study goes on without them. Their numbers."""
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.system_attrs.get(OWNER)
        if not isinstance(owner, str) or worker_alive(owner) is not False:
            continue
        try:
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        except (UpdateFinishedTrialError, ValueError):
            continue  # another worker failed it first
        failed.append(t.number)
    return failed


def trial_seed(seed: int, number: int) -> int:
    """The sampler's seed for trial `number` of a study searched with `--seed seed`."""
    digest = hashlib.blake2b(f"{seed}:{number}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


class TrialSeededTPE(BaseSampler):
    """Optuna's TPE sampler, drawing a trial's randomness from (seed, trial number).

    One `TPESampler(seed)` per process draws the same start-up trials in every process that
    shares a study with the same seed (the same line on two machines). Trial numbers are
    unique across the study, so seeding each trial by its number keeps proposals apart, and a
    single process still replays the same trials for the same seed (a resumed run does not
    repeat the first run's random draws either). `before_trial` also marks the trial with its
    worker: the earliest point Optuna offers, so a killed worker's trial can be failed later.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.owner = worker_id()
        self._tpe = TPESampler(seed=seed)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        # Optuna has no public call to tag a trial before its parameters are sampled
        study._storage.set_trial_system_attr(trial._trial_id, OWNER, self.owner)
        self._tpe = TPESampler(seed=trial_seed(self.seed, trial.number))
        self._tpe.before_trial(study, trial)

    def infer_relative_search_space(self, study: Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._tpe.infer_relative_search_space(study, trial)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self._tpe.sample_relative(study, trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._tpe.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._tpe.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._tpe.reseed_rng()

"""What lets many workers share one study safely: the journal file's lock, the mark each
trial carries of its worker, and the sampler's per-trial seed. Imports Optuna (the
command loads this module only once a study opens).

- `FlockLock`: the journal's write lock is the kernel's `flock`, which dies with its holder:
  a worker killed while appending leaves nothing behind. (Optuna's default symlink lock
  survives a SIGKILL; the next start waits out its 30 s grace period and prints warnings.)
  A holder that is alive but stopped (SIGSTOP, Ctrl-Z) or hung makes the others wait: after
  `LOCK_WARN_SECONDS` a waiter prints one line naming the lock file (and the holder's pid
  where /proc/locks tells) and keeps waiting, so a resumed holder lets everyone go on.
- `TrialSeededTPE` marks each trial with its worker as it begins: host name, pid, the pid's
  start time, the kernel's boot id and the pid namespace. `fail_orphans` marks FAIL the
  running trials whose worker is gone, judged only where the mark's host, boot id and pid
  namespace are this process's own: a pid means nothing elsewhere (two machines or
  containers can share a host name and a study), so a foreign mark is left alone. A trial
  with no mark (its worker died in the moment between Optuna creating it and marking it) or
  with the previous version's mark ("host:pid:start") is failed once `ORPHAN_AGE` old.
- `TrialSeededTPE` draws trial k's randomness from (`--seed`, k): trial numbers are unique
  across every process of a study, so two processes with the same `--seed` (the same line on
  two machines) do not replay each other's random draws, and one process replays the same
  trials for a seed. Two trials can still get the same settings by chance (see README).
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.samplers import BaseSampler, TPESampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

OWNER = "autotrade:worker"  # a trial's system attribute: its worker (`worker_id`)
ORPHAN_AGE = timedelta(hours=1)  # a running trial without a mark this old is an orphan
LOCK_WARN_SECONDS = 10.0  # waiting this long for the journal lock: one line says so


class FlockLock:
    """A journal file lock (Optuna's protocol, `acquire` and `release`: its base class is not
    public) on `flock` of `path` (`<journal>.flock`). The file is opened at each acquire and
    closed at release (closing frees the lock), so a forked worker never shares a held lock
    with its parent, and the kernel frees it when the holder dies.

    `acquire` polls a non-blocking `flock` (a journal append holds it for milliseconds): after
    `warn_after` seconds it prints one line naming the lock file and its holder, then keeps
    waiting (a holder stopped with Ctrl-Z or SIGSTOP goes on when resumed; a hung one is for
    the user to end)."""

    def __init__(self, path: str, warn_after: float = LOCK_WARN_SECONDS) -> None:
        self.path = path
        self.warn_after = warn_after
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._wait(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def _wait(self, fd: int) -> None:
        import fcntl

        started = time.monotonic()
        pause, warned = 0.0, False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            if not warned and time.monotonic() - started >= self.warn_after:
                warned = True
                print(f"autotrade-tui: optimize: waiting for the journal lock {self.path}: "
                      f"held for {self.warn_after:g} s by {_holder(fd)}; a stopped holder "
                      "goes on with kill -CONT, a hung one must be ended; still waiting",
                      file=sys.stderr, flush=True)
            pause = min(0.05, max(0.001, 2 * pause))
            time.sleep(pause)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _holder(fd: int) -> str:
    """Who holds the flock on the file `fd`: "pid N" (" (stopped)" when it is) where
    /proc/locks tells, else "another process"."""
    st = os.fstat(fd)
    where = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            for line in f:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" ("->": a waiter)
                if "->" not in fields and len(fields) > 5 and fields[1] == "FLOCK" \
                        and fields[5] == where and fields[4].isdigit() and fields[4] != "0":
                    stopped = _proc_stat(int(fields[4]))[0] in ("T", "t")
                    return f"pid {fields[4]}" + (" (stopped)" if stopped else "")
    except OSError:
        pass
    return "another process"


def journal_lock(path: str) -> Any:
    """The lock of the journal file `path`; Optuna's open lock where there is no `fcntl`."""
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - Windows
        from optuna.storages.journal import JournalFileOpenLock

        return JournalFileOpenLock(path)
    return FlockLock(path + ".flock")


def machine() -> tuple[str, str, int]:
    """(host name, boot id, pid namespace) of this process: where a pid means one process.
    The boot id is new at each boot of a machine (a cloned VM gets its own), the namespace
    tells containers apart; "" and 0 where /proc does not tell (then nothing is judged)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip()
    except OSError:
        boot = ""
    try:
        pidns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        pidns = 0
    return socket.gethostname(), boot, pidns


def worker_id(pid: int | None = None) -> dict[str, Any]:
    """A process's mark: its machine (`machine`), pid and start time since boot (so a
    reused pid reads as another process)."""
    pid = os.getpid() if pid is None else pid
    host, boot, pidns = machine()
    return {"host": host, "boot": boot, "pidns": pidns, "pid": pid,
            "start": _proc_stat(pid)[1]}


def _proc_stat(pid: int) -> tuple[str, str]:
    """(state, start time) of a process from /proc; ("", "") where there is none."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0], fields[19]  # fields 3 (state) and 22 (starttime) of proc(5)
    except (OSError, IndexError):
        return "", ""


def worker_alive(owner: Any) -> bool | None:
    """Is the worker `owner` (a `worker_id`) still running? None when this process cannot
    tell: the mark is not one (an old or foreign one), or names another host, boot or pid
    namespace (another machine or container, even one with the same host name: only a
    database storage's heartbeat can tell then)."""
    try:
        where = (str(owner["host"]), str(owner["boot"]), int(owner["pidns"]))
        pid, start = int(owner["pid"]), str(owner["start"])
    except (TypeError, KeyError, ValueError):
        return None
    here = machine()
    if not here[1] or not here[2] or where != here:
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
    """Mark FAIL the running trials whose worker is gone (killed, crashed): they are not
    counted and the study goes on without them. A marked trial is judged by `worker_alive`
    (on this machine and pid namespace only); one without a mark, or with the previous
    version's mark, once it started `ORPHAN_AGE` ago (a live worker marks its trial within
    milliseconds of its creation). Their numbers."""
    failed = []
    now = datetime.now()  # Optuna's datetime_start: local time, naive
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.system_attrs.get(OWNER)
        if isinstance(owner, dict):
            gone = worker_alive(owner) is False
        else:
            gone = t.datetime_start is not None and now - t.datetime_start > ORPHAN_AGE
        if not gone:
            continue
        try:
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        except (UpdateFinishedTrialError, ValueError):
            continue  # another worker failed it first
        failed.append(t.number)
    return failed


def lost_trial(study: Study, sampler: TrialSeededTPE, exc: BaseException,
               own: BaseException | None) -> int | None:
    """The number of the trial this worker was running when `exc` ended `study.optimize`, if
    another process had marked it FAIL meanwhile (a start that judged this worker gone, or a
    database storage's heartbeat after a long stop): Optuna then refuses the worker's writes
    ("Cannot tell a FAIL trial", "Trial #N has already finished"). None for anything else,
    the objective's own error `own` included, which is the worker's to report."""
    trial_id = sampler.trial_id
    if trial_id is None or (exc is own and not isinstance(exc, UpdateFinishedTrialError)):
        return None
    try:
        t = study._storage.get_trial(trial_id)
    except Exception:  # the storage is gone too: the error says more
        return None
    if t.state != TrialState.FAIL:
        return None
    sampler.trial_id = None  # told once: a later error is not this trial's
    return int(t.number)


def trial_seed(seed: int, number: int) -> int:
    """The sampler's seed for trial `number` of a study searched with `--seed seed`."""
    digest = hashlib.blake2b(f"{seed}:{number}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


class TrialSeededTPE(BaseSampler):
    """Optuna's TPE sampler, drawing a trial's randomness from (seed, trial number).

    One `TPESampler(seed)` per process draws the same start-up trials in every process that
    shares a study with the same seed (the same line on two machines). Trial numbers are
    unique across the study, so seeding each trial by its number keeps their draws apart, and a
    single process still replays the same trials for the same seed (a resumed run does not
    repeat the first run's random draws either). `before_trial` also marks the trial with its
    worker: the earliest point Optuna offers, so a killed worker's trial can be failed later.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.owner = worker_id()
        self.trial_id: int | None = None  # the trial this worker runs or ran last
        self._tpe = TPESampler(seed=seed)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.trial_id = trial._trial_id
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

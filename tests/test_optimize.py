"""`autotrade-tui optimize` (SPEC §15): trials are backtests, the study lives in Optuna's
storage (a journal file here; the CI's PostgreSQL when TEST_DATABASE_URL is set), several
processes add to one study, the best settings reproduce their value in `backtest`."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from autotrade_tui.cli import main
from autotrade_tui.optimize.command import toml_snippet
from autotrade_tui.optimize.space import DEFAULT_SPACE, OFFLINE_KEYS, load_space
from autotrade_tui.optimize.workers import (
    OWNER,
    FlockLock,
    fail_orphans,
    journal_lock,
    trial_seed,
    worker_id,
)
from tests.test_backtest import home, market, write  # noqa: F401  (home: a fixture)

ROOT = Path(__file__).resolve().parents[1]
SMALL_SPACE = """
confidence_threshold = [0.45, 0.7]
position_size_percent = [0.5, 3.0]
stop_loss_percent = [20.0, 80.0]
reentry_cooldown_minutes = [0.0, 120.0]
"""


def data(tmp: Path, n: int = 1200) -> Path:
    return write(market(n=n, symbols=["BTC/USDT"]), tmp / "m.csv")


def optimize(tmp: Path, capsys: pytest.CaptureFixture[str], *extra: str,
             trials: int = 4) -> tuple[int, str, str]:
    space = tmp / "space.toml"
    space.write_text(SMALL_SPACE, encoding="utf-8")
    rc = main(["optimize", "--data", str(data(tmp)), "--symbols", "BTC/USDT", "--trials",
               str(trials), "--storage", str(tmp / "study.journal"), "--space", str(space),
               "--study", "t", *extra])
    got = capsys.readouterr()
    return rc, got.out, got.err


def test_a_study_finds_settings_that_backtest_reproduces_exactly(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    rc, out, err = optimize(home, capsys, "--json", "--seed", "5")
    assert rc == 0, err
    result = json.loads(out)
    assert set(result) >= {"study", "trials", "best_value", "best_params", "best_metrics",
                           "out_of_sample"}
    assert result["study"] == "t" and result["trials"] >= 4 and result["out_of_sample"] is None
    assert set(result["best_params"]) == {"confidence_threshold", "position_size_percent",
                                          "stop_loss_percent", "reentry_cooldown_minutes"}
    assert result["best_metrics"]["total_trades"] > 0  # a do-nothing trial is never "best"
    assert result["best_metrics"]["sharpe"] == result["best_value"]
    # the printed snippet, pasted into a config file, gives the same backtest
    cfg = home / "best.toml"
    cfg.write_text(toml_snippet(result["best_params"]) + "\n", encoding="utf-8")
    assert main(["--config", str(cfg), "backtest", "--data", str(home / "m.csv"),
                 "--symbols", "BTC/USDT", "--json", "--results-db", str(home / "bt.db")]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["sharpe"] == result["best_value"]
    assert again["return_pct"] == result["best_metrics"]["return_pct"]


def test_rerunning_resumes_the_study_and_prints_a_table(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert optimize(home, capsys, "--json")[0] == 0
    rc, out, err = optimize(home, capsys, trials=7)
    assert rc == 0, err
    assert "study t: " in out and "best settings (paste into config.toml):" in out
    assert "confidence_threshold = " in out and "its backtest: return " in out
    import optuna

    study = optuna.load_study(study_name="t", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(home / "study.journal"))))
    numbers = [t.number for t in study.trials]
    assert len(numbers) >= 7 and numbers == list(range(len(numbers)))  # resumed, not redone


def test_walk_forward_scores_in_sample_and_reports_the_last_fold(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    rc, out, err = optimize(home, capsys, "--json", "--walk-forward", "3", "--objective",
                            "return")
    assert rc == 0, err
    result = json.loads(out)
    oos = result["out_of_sample"]
    assert oos is not None and set(oos) == {"value", "metrics"}
    assert oos["value"] == oos["metrics"]["return_pct"]  # objective return, out of sample
    assert len(result["best_metrics"]["folds"]) == 2  # K = 3: two in-sample folds


def load(path: Path, name: str) -> Any:
    import optuna

    return optuna.load_study(study_name=name, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(path))))


def finished(trials: list[Any]) -> list[Any]:
    from optuna.trial import TrialState

    return [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def pid_of(trial: Any) -> int:
    """The pid of the worker that ran `trial` (its mark: `workers.worker_id`)."""
    return int(trial.system_attrs[OWNER]["pid"])


def command(tmp: Path, study: str, trials: int, n: int = 900) -> list[str]:
    """`optimize` in a process of its own, as on another machine."""
    space = tmp / "space.toml"
    space.write_text(SMALL_SPACE, encoding="utf-8")
    path = tmp / f"m{n}.csv"
    if not path.exists():
        write(market(n=n, symbols=["BTC/USDT"]), path)
    return [sys.executable, "-m", "autotrade_tui", "optimize", "--data", str(path),
            "--symbols", "BTC/USDT", "--trials", str(trials), "--storage",
            str(tmp / f"{study}.journal"), "--space", str(space), "--study", study, "--json",
            "--seed", "7"]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_jobs_2_runs_two_worker_processes_on_one_study(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    rc, out, err = optimize(home, capsys, "--json", "--jobs", "2", trials=10)
    assert rc == 0, err
    trials = load(home / "study.journal", "t").trials
    numbers = [t.number for t in trials]
    assert numbers == list(range(len(numbers)))  # unique, none lost
    done = finished(trials)
    assert len(done) == len(trials) == json.loads(out)["trials"]  # nothing left running
    assert 10 <= len(done) <= 11  # a worker busy as the 10th ends adds its trial
    by_worker = Counter(pid_of(t) for t in trials)
    assert len(by_worker) == 2 and os.getpid() not in by_worker  # two processes, not this one
    assert sum(by_worker.values()) == len(trials)


def test_two_processes_with_the_same_seed_add_to_one_study_without_duplicates(
        home: Path) -> None:  # noqa: F811
    """The scale-out: the same line (same --seed, same --study) in two processes, as on two
    machines, shares the study through its storage: trial numbers never repeat, the counts
    add up, and the random start-up trials are all different (each trial's randomness comes
    from the seed and its unique number, not from one stream per process)."""
    cmd = command(home, "shared", trials=8)
    # Both start on the study together: the test holds the journal's lock until each process
    # waits for it (else, trials being fast, the first could finish all 8 before the second
    # has imported its libraries, and "both contributed" would be a race).
    lock = f"{home / 'shared.journal'}.flock"
    held = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env(), cwd=home) for _ in range(2)]
        deadline = time.monotonic() + 120
        while not all(waits_on(p.pid, lock) for p in procs) and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.05)
        assert all(waits_on(p.pid, lock) for p in procs), "a worker never reached the journal"
    finally:
        os.close(held)
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode() for o in outs]
    assert all(json.loads(o[0])["study"] == "shared" for o in outs)
    trials = load(home / "shared.journal", "shared").trials
    numbers = sorted(t.number for t in trials)
    assert numbers == list(range(len(numbers))) and len(finished(trials)) >= 8
    by_worker = Counter(pid_of(t) for t in trials)
    assert set(by_worker) == {p.pid for p in procs}  # both contributed
    assert sum(by_worker.values()) == len(trials)
    assert len(trials) <= 10  # all TPE start-up trials (random): none proposed twice
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == len(params)


def waits_on(pid: int, path: str) -> bool:
    """`pid` has `path` open (the journal lock: `FlockLock` keeps it open while it waits)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fds / fd) == path for fd in os.listdir(fds))
    except OSError:
        return False


def frozen(top: int) -> bool:
    """`top` and its children stopped (a signal sent is not yet received)."""
    pids, states = [top], []
    while pids:
        pid = pids.pop()
        try:
            states.append(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0])
            pids += map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
        except (OSError, IndexError):
            continue
    return all(s in ("T", "t", "Z") for s in states)


def lock_free(journal: Path) -> bool:
    """No process holds the journal's lock."""
    import fcntl

    fd = os.open(f"{journal}.flock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def stop_mid_trial(proc: subprocess.Popen[bytes], journal: Path, study: str,
                   after: int = 0, group: bool = False) -> Any:
    """SIGSTOP `proc` (its process group with `group`) once it runs a trial, after `after`
    finished ones, and not while it holds the journal's lock (a write here would wait for
    it): frozen, what the journal says stays true. The running trial, or None."""
    import optuna

    def signal_it(sig: int) -> None:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if not journal.exists() or proc.poll() is not None:
            continue
        trials = load(journal, study).trials if journal.stat().st_size else []
        if len(finished(trials)) < after or not any(
                t.state == optuna.trial.TrialState.RUNNING for t in trials):
            continue
        signal_it(signal.SIGSTOP)
        while not frozen(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        now = load(journal, study).trials
        running = next((t for t in now if t.state == optuna.trial.TrialState.RUNNING
                        and OWNER in t.system_attrs), None)
        if running is not None and lock_free(journal):
            return running
        signal_it(signal.SIGCONT)  # between two trials, or writing: let it go on a little
    return None


def test_a_killed_worker_loses_only_its_trial_and_a_rerun_resumes_at_once(
        home: Path) -> None:  # noqa: F811
    """SIGKILL a worker mid-study: its running trial is failed (not counted) as the same line
    runs again, which resumes at once (no stale journal lock to wait out, no library
    warnings) and finishes the study; trial numbers never repeat."""
    import optuna

    cmd = command(home, "killed", trials=12, n=1500)
    journal = home / "killed.journal"
    victim = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=env(), cwd=home)
    running = stop_mid_trial(victim, journal, "killed", after=2)
    assert running is not None and pid_of(running) == victim.pid, victim.stderr
    victim.kill()
    victim.wait(timeout=30)
    victim.stderr.close()  # type: ignore[union-attr]
    assert len(finished(load(journal, "killed").trials)) < 12

    started = time.monotonic()
    again = subprocess.run(cmd, capture_output=True, env=env(), cwd=home, timeout=240)
    seconds = time.monotonic() - started
    err = again.stderr.decode()
    assert again.returncode == 0, err
    assert seconds < 20  # Optuna's own lock, left by a kill, made a start wait 30 s
    assert "[W " not in err and "Traceback" not in err and err.count("\n") <= 1
    assert f"trial #{running.number} " in err and "marked failed" in err
    trials = load(journal, "killed").trials
    numbers = [t.number for t in trials]
    assert numbers == list(range(len(numbers)))
    states = {t.number: t.state for t in trials}
    assert states[running.number] == optuna.trial.TrialState.FAIL  # lost, not counted
    assert len(finished(trials)) == 12 == json.loads(again.stdout)["trials"]
    assert optuna.trial.TrialState.RUNNING not in states.values()


def test_a_trial_failed_under_a_running_worker_is_one_line_and_the_worker_goes_on(
        home: Path) -> None:  # noqa: F811
    """Another process marks FAIL the trial a live worker runs (a start on another machine
    that took it for gone, or a database's heartbeat after a long stop): the worker, resumed,
    says so in one line and goes on; no traceback, exit 0, the study finishes."""
    import optuna

    from autotrade_tui.optimize.study import storage_of

    cmd = command(home, "told", trials=5)
    journal = home / "told.journal"
    worker = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
                              cwd=home)
    running = stop_mid_trial(worker, journal, "told")
    assert running is not None, worker.stderr
    study = optuna.load_study(study_name="told", storage=storage_of(str(journal)))
    study.tell(running.number, state=optuna.trial.TrialState.FAIL)
    worker.send_signal(signal.SIGCONT)
    out, err_bytes = worker.communicate(timeout=240)
    err = err_bytes.decode()
    assert worker.returncode == 0, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert f"trial #{running.number} of study 'told' was marked failed by another process" in err
    trials = load(journal, "told").trials
    assert {t.number: t.state for t in trials}[running.number] == optuna.trial.TrialState.FAIL
    assert len(finished(trials)) == 5 == json.loads(out)["trials"]


def can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "-Urpf", "--mount-proc", "true"], timeout=30,
                              capture_output=True).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_a_worker_in_another_pid_namespace_is_not_taken_for_gone(home: Path) -> None:  # noqa: F811
    """A container with the host's name (docker --network host, k8s hostNetwork) and its own
    pids: its worker is pid 1 there, which here is another process. A start here judged it
    gone and failed its trial under it; it must leave it, and the worker finishes."""
    if not can_unshare():  # no user and pid namespaces here (unshare -Urpf): the same rule
        _foreign_namespace_mark_is_left(home)  # on the mark such a worker writes
        return
    cmd = command(home, "ns", trials=4)
    journal = home / "ns.journal"
    worker = subprocess.Popen(["unshare", "-Urpf", "--mount-proc", *cmd],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
                              cwd=home, start_new_session=True)
    running = stop_mid_trial(worker, journal, "ns", group=True)
    assert running is not None, worker.stderr
    mark = running.system_attrs[OWNER]
    assert mark["host"] == worker_id()["host"] and mark["pidns"] != worker_id()["pidns"]
    import optuna

    from autotrade_tui.optimize.study import storage_of

    study = optuna.load_study(study_name="ns", storage=storage_of(str(journal)))
    assert fail_orphans(study) == []
    os.killpg(worker.pid, signal.SIGCONT)
    out, err = worker.communicate(timeout=240)
    assert worker.returncode == 0 and err == b"", err.decode()
    assert json.loads(out)["trials"] == 4
    states = {t.number: t.state for t in load(journal, "ns").trials}
    assert states[running.number] != optuna.trial.TrialState.FAIL


def _foreign_namespace_mark_is_left(folder: Path) -> None:
    """A RUNNING trial marked by a pid that is gone here but in another pid namespace of
    this host (what a worker in a container writes) is not failed."""
    import optuna

    from autotrade_tui.optimize.study import storage_of

    study = optuna.create_study(study_name="ns", storage=storage_of(str(folder / "ns.journal")))
    _pid, dead = gone_pid()
    number = add_running(study, {**dead, "pidns": dead["pidns"] + 1})
    assert fail_orphans(study) == []
    assert study.trials[number].state == optuna.trial.TrialState.RUNNING


def add_running(study: Any, mark: Any = None, hours: float = 0.0) -> int:
    """A RUNNING trial in `study`'s storage, started `hours` ago, with the worker mark
    `mark` (None: no mark). Its number."""
    from datetime import datetime, timedelta

    import optuna

    study.add_trial(optuna.trial.FrozenTrial(
        number=0, trial_id=0, state=optuna.trial.TrialState.RUNNING, value=None,
        datetime_start=datetime.now() - timedelta(hours=hours), datetime_complete=None,
        params={}, distributions={}, user_attrs={}, intermediate_values={},
        system_attrs={} if mark is None else {OWNER: mark}))
    return int(study.trials[-1].number)


def gone_pid() -> tuple[int, dict[str, Any]]:
    """A process that ran and ended on this machine, and its mark as a worker."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                            stdin=subprocess.PIPE)
    mark = worker_id(proc.pid)
    proc.communicate(b"")
    return proc.pid, mark


def orphans_judged_on(url: str) -> None:
    """`fail_orphans` on a study in the storage `url`: which running trials it fails."""
    import optuna

    from autotrade_tui.optimize.study import storage_of

    study = optuna.create_study(study_name="marks", storage=storage_of(url))
    pid, dead = gone_pid()
    old_mark = f"{dead['host']}:{pid}:{dead['start']}"  # the previous version's
    gone = {
        "dead here": add_running(study, dead),
        "no mark, 2 h": add_running(study, None, hours=2),
        "old mark, 2 h": add_running(study, old_mark, hours=2),
    }
    left = {
        "alive here": add_running(study, worker_id()),
        # the same host name and pid on another machine (a cloned VM, docker --network
        # host): its boot id differs; in another container of this machine: its pid namespace
        "other boot": add_running(study, {**dead, "boot": "0" * 8 + dead["boot"][8:]}),
        "other pidns": add_running(study, {**dead, "pidns": dead["pidns"] + 1}),
        "old mark": add_running(study, old_mark),  # may be a live worker of the old version
        "no mark, 50 min": add_running(study, None, hours=50 / 60),
    }
    assert sorted(fail_orphans(study)) == sorted(gone.values())
    states = {t.number: t.state.name for t in study.trials}
    assert {k: states[n] for k, n in gone.items()} == dict.fromkeys(gone, "FAIL")
    assert {k: states[n] for k, n in left.items()} == dict.fromkeys(left, "RUNNING")


def test_only_a_worker_of_this_machine_and_pid_namespace_is_judged_gone(
        tmp_path: Path) -> None:
    """A mark names host, pid, start, boot id and pid namespace: a pid gone here says
    nothing of a worker on another machine or container with the same host name. A trial
    with no mark, or the previous version's, is an orphan an hour after it started."""
    orphans_judged_on(str(tmp_path / "marks.journal"))


def test_orphans_are_judged_alike_on_a_database_storage(db_url: str) -> None:
    """The reviewer's case is a PostgreSQL study shared by machines (TEST_DATABASE_URL);
    an SQLite file always."""
    orphans_judged_on(db_url if "://" in db_url else f"sqlite:///{db_url}")


def lock_holder(lock_path: Path) -> subprocess.Popen[bytes]:
    """A process that holds the journal lock `lock_path` (a minute) once it returns."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time\n"
         "from autotrade_tui.optimize.workers import FlockLock\n"
         f"FlockLock({str(lock_path)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, env=env())
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    return holder


def test_the_journal_lock_dies_with_a_killed_holder(tmp_path: Path) -> None:
    """A worker killed while it holds the journal's lock leaves nothing that stalls the next:
    the kernel's lock is released with the process."""
    import fcntl

    lock_path = tmp_path / "j.journal.flock"
    holder = lock_holder(lock_path)
    fd = os.open(lock_path, os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):  # it excludes while its holder lives
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    holder.kill()
    holder.wait(timeout=30)
    holder.stdout.close()
    lock = journal_lock(str(tmp_path / "j.journal"))
    started = time.monotonic()
    assert lock.acquire()
    lock.release()
    assert time.monotonic() - started < 1.0


def test_a_stopped_lock_holder_is_one_line_naming_the_lock_and_the_wait_goes_on(
        tmp_path: Path) -> None:
    """A holder alive but stopped (Ctrl-Z, SIGSTOP) or hung used to stall every worker in
    silence: a waiter says so once, naming the lock file and the holder, and keeps waiting;
    it gets the lock as soon as the holder is gone."""
    lock_path = tmp_path / "j.journal.flock"
    holder = lock_holder(lock_path)
    holder.send_signal(signal.SIGSTOP)
    waiter = subprocess.Popen(
        [sys.executable, "-c", "from autotrade_tui.optimize.workers import FlockLock\n"
         f"FlockLock({str(lock_path)!r}, warn_after=0.2).acquire(); print('got', flush=True)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    time.sleep(1.5)  # several times warn_after: still one line
    assert waiter.poll() is None  # still waiting
    holder.kill()
    holder.wait(timeout=30)
    holder.stdout.close()
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0 and out == b"got\n"
    line = err.decode()
    assert line.count("\n") == 1 and "Traceback" not in line, line
    assert f"waiting for the journal lock {lock_path}: " in line
    assert f"pid {holder.pid} (stopped)" in line and "still waiting" in line
    # not stopped, the lock is taken at once
    lock = FlockLock(str(lock_path), warn_after=0.0)
    assert lock.acquire()
    lock.release()


def test_a_single_process_replays_its_trials_for_a_seed(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """--seed still makes a one-process run reproducible: two new studies, the same trials;
    another seed, other trials."""
    def params(study: str, seed: str) -> list[dict[str, Any]]:
        space = home / "space.toml"
        space.write_text(SMALL_SPACE, encoding="utf-8")
        assert main(["optimize", "--data", str(data(home)), "--symbols", "BTC/USDT",
                     "--trials", "3", "--storage", str(home / f"{study}.journal"), "--space",
                     str(space), "--study", study, "--json", "--seed", seed]) == 0
        capsys.readouterr()
        return [t.params for t in load(home / f"{study}.journal", study).trials]

    first = params("a", "11")
    assert params("b", "11") == first
    assert params("c", "12") != first
    assert trial_seed(11, 0) != trial_seed(11, 1) != trial_seed(12, 1)


@pytest.mark.parametrize(("space", "message"), [
    ("levrage = [1, 5]", "'levrage' is not a config key"),
    ("leverage = [5, 2]", "'leverage' range [5, 2] is empty"),
    ("leverage = [1, 500]", "'leverage' value 500 is out of its range"),
    ('ai_voting_strategy = ["majority", "loudest"]', "choice 'loudest' is not one of"),
    ("leverage = 3", "must be [low, high] numbers or a list of choices"),
    ("leverage = [", "not valid TOML"),
])
def test_a_bad_space_is_one_line_and_exit_2(home: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
                                            space: str, message: str) -> None:
    f = home / "bad.toml"
    f.write_text(space + "\n", encoding="utf-8")
    rc = main(["optimize", "--market", "sim", "--space", str(f), "--storage",
               str(home / "s.journal")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (home / "s.journal").exists()  # nothing half-written


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--objective", "profit"], 2, "--objective 'profit' is not one of sharpe, return, calmar"),
    (["--trials", "0"], 2, "whole numbers ≥ 1"),
    (["--storage", "postgresql://nobody:secret@127.0.0.1:1/none"], 1, "is not usable"),
])
def test_bad_flags_and_an_unreachable_storage(home: Path,  # noqa: F811
                                              capsys: pytest.CaptureFixture[str],
                                              args: list[str], code: int, message: str) -> None:
    rc = main(["optimize", "--data", str(data(home)), "--symbols", "BTC/USDT", "--storage",
               str(home / "s.journal"), *args])
    err = capsys.readouterr().err
    assert rc == code and message in err and "Traceback" not in err
    assert "secret" not in err  # a storage URL's password is never printed


def test_too_few_candles_is_a_user_mistake(home: Path,  # noqa: F811
                                           capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["optimize", "--data", str(data(home, n=120)), "--symbols", "BTC/USDT",
               "--storage", str(home / "s.journal")])
    err = capsys.readouterr().err
    assert rc == 2 and "too few to rank settings" in err


def test_the_default_space_is_valid_against_the_config_keys() -> None:
    """SPEC §15's default space, offline models' parameters included (config keys offline_*),
    which are left out when the trials ask LLMs (they would change nothing)."""
    dims = load_space(None)
    assert [d.key for d in dims] == list(DEFAULT_SPACE)
    assert {d.key for d in dims} >= {"confidence_threshold", "ai_voting_strategy", "leverage",
                                     "position_size_percent", "stop_loss_percent",
                                     "take_profit_percent", *OFFLINE_KEYS}
    llm = [d.key for d in load_space(None, offline=False)]
    assert llm == [k for k in DEFAULT_SPACE if k not in OFFLINE_KEYS]


def test_a_study_on_a_database_storage(home: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
                                       db_url: str) -> None:
    """Optuna's RDB storage: an SQLite file always, and a fresh PostgreSQL database when
    TEST_DATABASE_URL names a server (as in CI): the scale-out across machines."""
    url = db_url if "://" in db_url else f"sqlite:///{db_url}"
    space = home / "space.toml"
    space.write_text(SMALL_SPACE, encoding="utf-8")
    args = ["optimize", "--data", str(data(home)), "--symbols", "BTC/USDT", "--storage", url,
            "--space", str(space), "--study", "rdb", "--json"]
    assert main([*args, "--trials", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["trials"] >= 2
    assert main([*args, "--trials", "3"]) == 0  # resumed from the database
    assert json.loads(capsys.readouterr().out)["trials"] >= 3


async def test_configured_models_never_pay_for_an_uncached_answer_unless_allowed(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """`--models configured` replays the backtest cache; an answer it lacks is refused before
    any request leaves the machine, unless --allow-model-calls (then it is bought, cached)."""
    import asyncio

    from tests.openai_server import OpenAIServer, Reply, answer

    path = write(market(n=400, symbols=["BTC/USDT"]), home / "m.csv")
    space = home / "space.toml"
    space.write_text("confidence_threshold = [0.5, 0.7]\n", encoding="utf-8")
    async with OpenAIServer(Reply(content=answer("BUY", 0.9))) as server:
        cfg = home / "llm.toml"
        cfg.write_text(f'ai_base_url = "{server.url}"\nai_model_primary = "t/a"\n'
                       f'ai_model_secondary = "t/b"\nmodel_max_retries = 0\n', encoding="utf-8")
        args = ["--config", str(cfg), "optimize", "--data", str(path), "--symbols", "BTC/USDT",
                "--trials", "1", "--space", str(space), "--models", "configured",
                "--results-db", str(home / "bt.db"), "--json"]
        rc = await asyncio.to_thread(main, [*args, "--storage", str(home / "a.journal")])
        err = capsys.readouterr().err
        assert rc == 2 and "model answers of this trial are not in the backtest cache" in err
        assert server.requests == []  # nothing was bought
        rc = await asyncio.to_thread(main, [*args, "--storage", str(home / "b.journal"),
                                            "--allow-model-calls"])
        out, err = capsys.readouterr()
        assert rc == 0, err
        asked = len(server.requests)
        assert asked > 0 and json.loads(out)["trials"] == 1
        # the answers bought were cached: the same trial (a new study, the same seed: the
        # same settings) replays them and asks nothing
        rc = await asyncio.to_thread(main, [*args, "--storage", str(home / "c.journal")])
        out, err = capsys.readouterr()
        assert rc == 0, err
        assert len(server.requests) == asked

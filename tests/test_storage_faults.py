"""Storage faults (SPEC §10) with real parts: real SQLite files deleted, replaced, damaged
or emptied under the engine, or deleted while it was down, a directory and a foreign file as
lock file, two real processes racing on a new database, a read-only file and medium, and a
full disk (a small tmpfs)."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from autotrade_tui.core.engine import Ledger
from autotrade_tui.core.models import Side
from autotrade_tui.errors import (
    EngineLockedError,
    StoreError,
    StoreFileChanged,
)
from autotrade_tui.runtime.updates import Notice, TradeExecuted, Update
from autotrade_tui.store.db import PAGE_SIZE
from autotrade_tui.store.store import Store
from tests.runtime_fixtures import ScriptedModel, make_runtime
from tests.test_headless import _env  # the same clean environment for the CLI

NOBODY = 65534
RACE_ROUNDS = 24


def _cli(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autotrade_tui", *args], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=timeout)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _buyers() -> list[ScriptedModel]:
    return [ScriptedModel("A", ("BUY", 0.9)), ScriptedModel("B", ("BUY", 0.9))]


def _record(rt: Any) -> list[Update]:
    seen: list[Update] = []
    rt.subscribe(seen.append)
    return seen


def _notices(seen: list[Update], level: str) -> list[str]:
    return [u.text for u in seen if isinstance(u, Notice) and u.level == level]


def _unlink_all(db: Path, missing_ok: bool = False) -> None:
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=missing_ok)


def _replace(db: Path) -> None:
    """A copy of the file put in its place (a restored backup): same bytes, new inode."""
    copy = db.with_name("copy.db")
    shutil.copyfile(db, copy)
    os.replace(copy, db)


# ---- the file under a running engine
@pytest.mark.parametrize("fault", ["deleted", "replaced", "wal deleted", "shm deleted"])
async def test_a_file_deleted_or_replaced_stops_trading_at_once(tmp_path: Path,
                                                                fault: str) -> None:
    rt = await make_runtime(tmp_path, models=_buyers(), symbols=["BTC/USDT"])
    db = tmp_path / "rt.db"
    await rt.monitor_tick()
    seen = _record(rt)
    {"deleted": _unlink_all, "replaced": _replace,
     "wal deleted": lambda p: p.with_name(p.name + "-wal").unlink(),
     "shm deleted": lambda p: p.with_name(p.name + "-shm").unlink()}[fault](db)
    await rt._guarded(rt.monitor_tick(), "event monitor")  # the tick's check notices it
    await rt._guarded(rt.decision_cycle(), "decision cycle")
    await rt.close()
    assert isinstance(rt.fatal, StoreFileChanged) and rt.stopping
    assert ("deleted" if "deleted" in fault else "replaced") in str(rt.fatal)
    said = str(rt.fatal)
    if fault == "shm deleted":  # an index of the -wal: nothing recorded went with it
        assert f"{db}-shm was deleted" in said and "nothing recorded is lost" in said
    else:
        assert "what was recorded since is lost unless the file is put back" in said
    assert [t for t in _notices(seen, "error") if "stopping" in t] == [f"stopping: {rt.fatal}"]
    assert not [u for u in seen if isinstance(u, TradeExecuted)]
    assert rt.engine.positions == {} and rt.unsaved


async def test_a_trade_written_into_a_deleted_file_is_never_announced(tmp_path: Path) -> None:
    """The file goes between the check before a write and its commit: the write lands in
    the unlinked file, the check after it notices; the engine is put back, nothing said."""
    rt = await make_runtime(tmp_path, models=_buyers(), symbols=["BTC/USDT"])
    db = tmp_path / "rt.db"
    await rt.monitor_tick()
    real_once = rt.store._once

    def deleting_once(body: Callable[..., Any], write: bool) -> Any:
        if write and db.exists():
            _unlink_all(db)
        return real_once(body, write)

    rt.store._once = deleting_once  # type: ignore[method-assign]
    seen = _record(rt)
    with pytest.raises(StoreFileChanged):
        await rt.manual_open("BTC/USDT", Side.LONG)
    await rt.close()
    assert rt.engine.positions == {} and isinstance(rt.fatal, StoreFileChanged)
    assert not [u for u in seen if isinstance(u, TradeExecuted)]


def test_headless_exits_1_with_one_line_when_its_database_is_deleted(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    cmd = [sys.executable, "-m", "autotrade_tui", "--headless", "--market", "sim", "--speed",
           "600", "--symbols", "BTC/USDT,ETH/USDT", "--db", str(db)]
    proc = subprocess.Popen(cmd, env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        while "DECISION" not in proc.stdout.readline():
            pass
        _unlink_all(db)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "Traceback" not in out + err
    stopping = [x for x in out.splitlines() if "ERROR stopping:" in x]
    assert len(stopping) == 1 and f"{db} was deleted" in stopping[0]
    assert "state saved" not in out
    said = stopping[0].split("stopping: ")[1]
    assert err.strip().splitlines() == [f"autotrade-tui: error: {said}"]
    assert "NOT all saved (database file deleted)" in out
    assert not db.exists()  # nothing recreated a new account behind the user's back


# ---- at start: damaged, empty, lock file
def _account(db: Path, decisions: int = 40) -> None:
    """A closed database with an account and `decisions` decision rows."""
    from autotrade_tui.core.engine import EngineState
    from autotrade_tui.core.models import Action, ModelVote, VoteResult

    with Store(db, writer=True) as store:
        store.save_state(EngineState(Ledger(10_000.0, 10_000.0), {}), paused=False)
        votes = [ModelVote("A", Action.HOLD, 0.5, "x" * 300), ModelVote("B", Action.HOLD, 0.5)]
        for i in range(decisions):
            store.record_decision(symbol="BTC/USDT", ts=1.7e9 + i, price=100.0, votes=votes,
                                  result=VoteResult(Action.HOLD, 0.5, "hold", 0.7), executed=False,
                                  note="", input_data={"i": i, "pad": "y" * 500})


def _damage(db: Path, table: str) -> None:
    """Overwrite one leaf page of `table`, found through the dbstat virtual table."""
    with sqlite3.connect(db) as con:
        size = con.execute("PRAGMA page_size").fetchone()[0]
        pages = [r[0] for r in con.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf'", (table,))]
    con.close()
    with db.open("r+b") as fh:
        fh.seek((pages[len(pages) // 2] - 1) * size)
        fh.write(bytes(range(256)) * (size // 256))


def test_a_damaged_file_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    _account(db)
    _damage(db, "ai_decisions")
    before = _digest(db)
    with pytest.raises(StoreError, match="damaged") as caught:
        Store(db, writer=True)
    assert caught.value.cause == "damaged"
    res = _cli(tmp_path, "--headless", "--market", "sim", "--db", str(db))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "is damaged" in res.stderr
    assert _digest(db) == before
    # following its advice starts a new account (the lock file names the old one's engine)
    lock = db.with_name("d.db.lock")
    assert str(lock) in res.stderr
    kept = tmp_path / "kept"
    kept.mkdir()
    db.rename(kept / db.name)
    lock.rename(kept / lock.name)
    with Store(db, writer=True) as store:
        assert store.load_state() is None  # a new account, where the advice said


def test_an_empty_file_is_not_silently_a_new_account(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    _account(db, decisions=0)
    db.write_bytes(b"")  # the account's file cut to 0 bytes; its lock file says it had one
    with pytest.raises(StoreError, match=r"empty \(0 bytes"):
        Store(db, writer=True)
    assert db.stat().st_size == 0
    fresh = tmp_path / "fresh.db"
    fresh.write_bytes(b"")  # never locked: a database created a moment ago (a start's race)
    with Store(fresh, writer=True) as store:
        assert store.load_state() is None


def _headless(tmp_path: Path, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "autotrade_tui", "--headless", "--market",
                             "sim", "--speed", "600", "--symbols", "BTC/USDT", "--db", str(db)],
                            env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _until_line(proc: subprocess.Popen[str], text: str) -> str:
    assert proc.stdout is not None
    while text not in (line := proc.stdout.readline()):
        assert line, f"the engine ended before {text!r}: {proc.communicate()}"
    return line


def test_a_database_deleted_while_no_engine_watched_is_not_a_new_account(
        tmp_path: Path) -> None:
    """The engine killed -9, its database and -wal/-shm deleted before a restart: its lock
    file still says an engine kept an account there. The engine, `report`, `export` and
    `db stats` refuse in one line naming the file and how to start afresh, and create
    nothing; with the lock file removed too, a new account starts."""
    folder = tmp_path / "acct"
    folder.mkdir()
    db, lock = folder / "g.db", folder / "g.db.lock"
    proc = _headless(tmp_path, db)
    try:
        _until_line(proc, "DECISION")
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert lock.read_text()  # the pid of the engine that held it
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    for args in (["--headless", "--market", "sim"], ["report"], ["export", "trades"],
                 ["db", "stats"], ["db", "vacuum"]):
        res = _cli(tmp_path, *args, "--db", str(db))
        assert res.returncode == 1, (args, res.stderr)
        assert res.stdout == "" and "Traceback" not in res.stderr
        line, = res.stderr.strip().splitlines()
        assert line.startswith(f"autotrade-tui: error: the database {db} is missing, but its "
                               f"lock file {lock} shows that an engine kept an account in it")
        assert line.endswith(f"or remove {lock} to start a new account")
        assert sorted(p.name for p in folder.iterdir()) == ["g.db.lock"], args
    lock.unlink()  # on purpose
    proc = _headless(tmp_path, db)
    try:
        assert "new paper account: 100,000.00 USDT" in _until_line(proc, "paper account")
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert db.exists() and lock.read_text() == str(proc.pid)


async def test_the_cockpit_refuses_a_deleted_database_on_its_fatal_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from autotrade_tui.config import defaults
    from autotrade_tui.tui.app import AutotradeApp
    from autotrade_tui.tui.startup import open_runtime
    from tests.tui_fixtures import NARROW, wait_for

    db = tmp_path / "c.db"
    _account(db, decisions=1)
    _unlink_all(db, missing_ok=True)
    app = AutotradeApp(defaults(database_url=str(db), market_source="sim"),
                       runtime_factory=open_runtime)
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(pilot, lambda: app._exit, "the exit")
    assert app.return_code == 1
    err = " ".join(capsys.readouterr().err.split())  # (wrapped at the console's width)
    assert err.startswith(f"autotrade-tui: error: the database {db} is missing, but ")
    assert sorted(os.listdir(tmp_path)) == ["c.db.lock"]


def test_a_start_that_failed_before_its_database_existed_leaves_no_holder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock file names a holder only once an engine had the database: a first start
    that failed (here its schema) leaves it as it found it, so the next start is new."""
    db = tmp_path / "n.db"

    def fails(*_a: Any, **_k: Any) -> None:
        raise StoreError("disk full", cause="disk full")

    with monkeypatch.context() as m:
        m.setattr(Store, "_init_schema", fails)
        with pytest.raises(StoreError, match="disk full"):
            Store(db, writer=True)
    assert (tmp_path / "n.db.lock").read_text() == ""
    db.unlink(missing_ok=True)  # what the failed start made of it, if anything
    with Store(db, writer=True) as store:
        assert store.load_state() is None


def test_a_directory_as_lock_file_is_one_clear_line(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    (tmp_path / "l.db.lock").mkdir()
    with pytest.raises(StoreError, match="is a directory") as caught:
        Store(db, writer=True)
    assert not isinstance(caught.value, EngineLockedError)
    assert f"{db}.lock" in str(caught.value)
    res = _cli(tmp_path, "--headless", "--market", "sim", "--db", str(db))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [f"autotrade-tui: error: {caught.value}"]


# ---- as an ordinary user (root reads and writes anything)
def _as_nobody(work: Callable[[], str]) -> str:
    """`work()` in a forked child that became user nobody; its answer, or its error's text."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user (setuid)")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            answer = work()
        except BaseException as exc:
            answer = f"{type(exc).__name__}: {exc}"
        os.write(write, answer.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        answer = fh.read().decode()
    os.waitpid(pid, 0)
    return answer


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder user nobody can reach and write (pytest's tmp_path is root's only)."""
    path = Path(tempfile.mkdtemp(prefix="autotrade-faults-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _open_writer(db: Path) -> Callable[[], str]:
    def work() -> str:
        Store(db, writer=True).close()
        return "opened"
    return work


def test_a_lock_file_of_another_user_is_one_clear_line(shared_dir: Path) -> None:
    db = shared_dir / "u.db"
    lock = shared_dir / "u.db.lock"
    lock.write_text("")
    lock.chmod(0o600)  # root's
    answer = _as_nobody(_open_writer(db))
    assert answer == f"StoreError: cannot take the engine lock {lock}: permission denied"


def test_a_read_only_file_refuses_the_engine_and_serves_report(shared_dir: Path) -> None:
    db = shared_dir / "ro.db"
    _account(db, decisions=3)
    for f in shared_dir.iterdir():
        os.chown(f, NOBODY, NOBODY)
    db.chmod(0o444)
    before = _digest(db)
    answer = _as_nobody(_open_writer(db))
    assert answer.startswith("StoreError: ") and "read-only" in answer, answer

    def report() -> str:
        with Store(db, read_only=True) as store:
            return str(store.load_state() is not None and len(store.rows(_decisions())))
    assert _as_nobody(report) == "3"
    assert _digest(db) == before


def _decisions() -> Any:
    from autotrade_tui.store.tables import DecisionRow
    return DecisionRow


@contextmanager
def _tmpfs(size: str) -> Iterator[Path]:
    """A small tmpfs of its own (root only); skipped with the reason when it cannot be made."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = Path(tempfile.mkdtemp(prefix="autotrade-tmpfs-"))
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode:
        mnt.rmdir()
        pytest.skip(f"this container cannot mount a tmpfs: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
        mnt.rmdir()


def test_a_read_only_medium_serves_report_and_says_so_to_the_engine(tmp_path: Path) -> None:
    with _tmpfs("4m") as mnt:
        db = mnt / "m.db"
        _account(db, decisions=2)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        with Store(db, read_only=True) as store:
            assert len(store.rows(_decisions())) == 2
        res = _cli(tmp_path, "report", "--json", "--db", str(db))
        assert res.returncode == 0, res.stderr
        res = _cli(tmp_path, "--headless", "--market", "sim", "--db", str(db))
        assert res.returncode == 1 and "Traceback" not in res.stderr
        assert res.stderr.strip().splitlines() == [
            f"autotrade-tui: error: cannot take the engine lock {db}.lock: read-only"]


def _fill(folder: Path) -> Path:
    """Fill the medium of `folder` to the last byte; the filler's path."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as fh:
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
                    fh.flush()
            except OSError:
                pass
    return filler


async def test_a_full_disk_waits_says_so_once_and_resumes(tmp_path: Path) -> None:
    with _tmpfs("3m") as mnt:
        rt = await make_runtime(mnt, symbols=["BTC/USDT"], models=_buyers())
        await rt.monitor_tick()
        await rt.manual_open("BTC/USDT", Side.LONG)
        seen = _record(rt)
        filler = _fill(mnt)
        for _ in range(300):  # until a write needs a block the disk does not have
            await rt._guarded(rt.decision_cycle(), "decision cycle")
            if rt.store.fault:
                break
        assert rt.store.fault == "disk full"
        for _ in range(20):  # a fault that lasts: said once; only what is on disk executed
            await rt._guarded(rt.decision_cycle(), "decision cycle")
            with pytest.raises(StoreError, match="disk full"):
                await rt.manual_close("BTC/USDT")
            assert _on_disk(mnt / "rt.db") == (rt.engine.ledger.capital,
                                               len([u for u in seen
                                                    if isinstance(u, TradeExecuted)]))
        errors = _notices(seen, "error")
        assert len(errors) == 1 and "disk full" in errors[0] and str(mnt) in errors[0]
        filler.unlink()
        await rt._guarded(rt.decision_cycle(), "decision cycle")
        await rt.manual_close("BTC/USDT")
        assert rt.store.fault == "" and "BTC/USDT" not in rt.engine.positions
        assert any("works again (disk full is over)" in t for t in _notices(seen, "info"))
        wal = mnt / "rt.db-wal"
        assert wal.stat().st_size < 16 * (PAGE_SIZE + 24)  # truncated after the fault: a few frames
        await rt.close()
        with Store(mnt / "rt.db") as store:
            loaded = store.load_state()
        assert loaded is not None and loaded[0].ledger == rt.engine.ledger


def _on_disk(db: Path) -> tuple[float, int]:
    """The capital and the number of trades recorded since the first manual one."""
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as con:
        capital = con.execute("SELECT capital FROM account_state").fetchone()[0]
        trades = con.execute("SELECT count(*) FROM trades").fetchone()[0]
    con.close()
    return capital, trades - 1


def test_a_full_disk_at_start_names_the_cause(tmp_path: Path) -> None:
    with _tmpfs("2m") as mnt:
        db = mnt / "f.db"
        _account(db, decisions=0)
        _fill(mnt)
        res = _cli(tmp_path, "--headless", "--market", "sim", "--db", str(db))
        assert res.returncode == 1 and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "disk full" in res.stderr


# ---- two engines started together on a new database
def _race_worker(folder: str, rounds: int, barrier: Any, results: Any) -> None:
    for i in range(rounds):
        barrier.wait()
        try:
            store: Store | None = Store(Path(folder) / f"race{i}.db", writer=True)
            outcome = "won"
        except EngineLockedError:
            store, outcome = None, "locked"
        except Exception as exc:
            store, outcome = None, f"{type(exc).__name__}: {exc}"
        barrier.wait()  # both have tried while the winner still holds the lock
        if store is not None:
            store.close()
        results.put((i, outcome))


def test_two_engines_started_together_on_a_new_database(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2, timeout=60), ctx.Queue()
    procs = [ctx.Process(target=_race_worker, args=(str(tmp_path), RACE_ROUNDS, barrier,
                                                    results)) for _ in range(2)]
    for p in procs:
        p.start()
    got: dict[int, list[str]] = {}
    for _ in range(2 * RACE_ROUNDS):
        i, outcome = results.get(timeout=60)
        got.setdefault(i, []).append(outcome)
    for p in procs:
        p.join(timeout=30)
    assert all(sorted(o) == ["locked", "won"] for o in got.values()), got
    assert len(got) == RACE_ROUNDS


def _count_connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files `store/faults` opens with sqlite3 from now on (it still opens them)."""
    from autotrade_tui.store import faults

    opened: list[str] = []
    real_connect = sqlite3.connect

    def counting_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(str(args[0]))
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(faults.sqlite3, "connect", counting_connect)
    return opened


def test_a_file_checked_ahead_is_not_read_again_unless_it_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cockpit checks the file beside its imports (`faults.precheck`); the engine's own
    check, after its lock, stands on that pass only while the file is as it was then."""
    from autotrade_tui.store import faults

    db = tmp_path / "p.db"
    _account(db)
    opened = _count_connects(monkeypatch)
    faults.precheck(db)  # written a moment ago: a later write could keep its time stamp
    faults.check_existing(db, empty_is_new=False)
    assert len(opened) == 2
    opened.clear()
    aged = db.stat().st_mtime - 5
    os.utime(db, (aged, aged))  # as a file last written by an engine that stopped
    faults.precheck(db)
    assert len(opened) == 1
    faults.check_existing(db, empty_is_new=False)  # unchanged: the pass stands
    assert len(opened) == 1
    faults.check_existing(db, empty_is_new=False)  # once: the next check reads it again
    assert len(opened) == 2

    faults.precheck(db)
    _damage(db, "ai_decisions")  # changed after the early check: read again, refused
    with pytest.raises(StoreError, match="damaged"):
        faults.check_existing(db, empty_is_new=False)
    faults.precheck(db)  # a damaged file leaves no pass behind
    with pytest.raises(StoreError, match="damaged"):
        Store(db, writer=True)


def test_the_early_check_is_skipped_while_an_engine_holds_the_database(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second cockpit attaches to a live engine (SPEC §13): it does not read the whole file
    first (a long read holds back the live engine's WAL checkpoints)."""
    from autotrade_tui.store import faults

    db = tmp_path / "h.db"
    _account(db)
    aged = db.stat().st_mtime - 5
    os.utime(db, (aged, aged))
    opened = _count_connects(monkeypatch)
    with Store(db, writer=True):  # the engine trading on it
        opened.clear()
        faults.precheck(db)
        assert opened == [] and db not in faults._PASSED
    faults.precheck(db)  # nobody holds it now: checked
    assert len(opened) == 1 and db in faults._PASSED

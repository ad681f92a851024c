"""Storage faults (SPEC §10), one mechanism for all of them: database and file-system errors
are translated here, once, into StoreError with the cause named ("disk full", "read-only",
"permission denied", "damaged"…); a fault that lasts is said once a minute and its end is
noticed; the SQLite files an engine writes keep the identity they had when it opened them;
and an existing file is checked before an engine uses it."""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from autotrade_tui.errors import StoreError, StoreFileChanged

REPEAT_EVERY_S = 60.0  # a lasting fault is said again at most this often (wall time)
LOW_SPACE_BYTES = 64 * 1024  # less free space than this: an I/O error is a full disk
SIDE_FILES = ("", "-wal", "-shm")  # the database and the files SQLite keeps beside it in WAL

_BY_ERRNO = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk full", errno.EROFS: "read-only",
             errno.EACCES: "permission denied", errno.EPERM: "permission denied",
             errno.EISDIR: "is a directory", errno.EIO: "disk I/O error"}
_BY_SQLITE = (("SQLITE_FULL", "disk full"), ("SQLITE_READONLY", "read-only"),
              ("SQLITE_CORRUPT", "damaged"), ("SQLITE_NOTADB", "damaged"),
              ("SQLITE_PERM", "permission denied"), ("SQLITE_AUTH", "permission denied"),
              ("SQLITE_BUSY", "locked by another program"),
              ("SQLITE_LOCKED", "locked by another program"))


def short(exc: BaseException) -> str:
    """The first line of the driver's own message (SQLAlchemy wraps it in `orig`)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def cause_of(exc: BaseException, path: Path | None) -> str:
    """Why a database operation failed, in a few words; "" when the error does not say."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "errno", None)
    if isinstance(orig, OSError) and code in _BY_ERRNO:
        return _BY_ERRNO[code]
    name = getattr(orig, "sqlite_errorname", "") or ""
    for prefix, cause in _BY_SQLITE:
        if name.startswith(prefix):
            return cause
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) and path is not None:
        return medium_cause(path) or ("disk I/O error" if "IOERR" in name else "cannot open")
    return ""


def medium_cause(path: Path) -> str:
    """What the folder of `path` says about a failed open or I/O: a read-only or full medium,
    or no permission to write there ("" when none of these)."""
    folder = path.parent
    try:
        st = os.statvfs(folder)
    except OSError:
        return ""
    if st.f_flag & os.ST_RDONLY:
        return "read-only"
    if st.f_bavail * st.f_frsize < LOW_SPACE_BYTES:
        return "disk full"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "permission denied"
    return ""


def store_error(exc: BaseException, what: str, where: str, path: Path | None,
                after: str = "") -> StoreError:
    """The one translation: what failed (`after` retries), why, and where ("database write
    failed: disk full (/data/a.db): database or disk is full")."""
    cause, detail = cause_of(exc, path), short(exc)
    why = f"{cause} ({where})" if cause and cause not in detail else f"({where})"
    return StoreError(f"{what}{after}: {why}: {detail}", cause=cause)


class Episodes:
    """The faults of one store over time. A failure is reported (its `repeat` False) when its
    cause was not reported in the last REPEAT_EVERY_S; the first success after a failure ends
    the episode, and says so when its failure had been reported."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._said: dict[str, float] = {}  # cause → when it was last reported
        self.current = ""  # the cause of the fault in progress ("" when none)
        self._current_said = False
        self._on_write = False  # the fault is a write's: a read that works does not end it

    def failed(self, err: StoreError, *, write: bool) -> StoreError:
        now, cause = self._clock(), err.cause or "error"
        err.repeat = now - self._said.get(cause, -REPEAT_EVERY_S) < REPEAT_EVERY_S
        if not err.repeat:
            self._said[cause] = now
        if cause != self.current:
            self._current_said = False
        self.current, self._current_said = cause, self._current_said or not err.repeat
        self._on_write = write
        return err

    def succeeded(self, *, write: bool) -> str:
        """The cause of the fault this success ends, if it had been reported; else ""."""
        if self._on_write and not write:
            return ""
        ended = self.current if self._current_said else ""
        self.current, self._current_said = "", False
        return ended


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class FileIdentity:
    """The SQLite file and its -wal/-shm as the engine opened them (device and inode each).
    SQLite keeps writing to a file deleted or replaced under it, where the next start will
    never read it: `check` notices, so nothing more is written or announced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids = {suffix: _identity(self._file(suffix)) for suffix in SIDE_FILES}

    def _file(self, suffix: str) -> Path:
        return self.path.with_name(self.path.name + suffix)

    def check(self) -> None:
        """Raises StoreFileChanged when a file is not the one that was opened."""
        if all(_identity(self._file(s)) == was for s, was in self._ids.items()):
            return
        # Look again, the database itself first: a user deleting the database and its side
        # files may be half-way through, and the message should name the file they touched.
        for suffix, was in self._ids.items():
            now = _identity(self._file(suffix))
            if now != was:
                how = "deleted" if now is None else "replaced"
                # The -shm only indexes the -wal (SQLite rebuilds it): nothing is lost with it.
                lost = ("nothing recorded is lost (the -shm file only indexes the -wal)"
                        if suffix == "-shm" else
                        "what was recorded since is lost unless the file is put back")
                raise StoreFileChanged(
                    f"the database file {self._file(suffix)} was {how} while the engine was "
                    f"running: automatic trading stopped, nothing more is written; {lost}; "
                    "restart to continue from the database on disk", cause=f"file {how}")


# A file's device, inode, size and modification time (ns)
Stamp = tuple[int, int, int, int]
# SQLite files that passed `precheck`, with the stamps of the file and its -wal then: the next
# `check_existing` of the file, if they are unchanged, stands on it (once).
_PASSED: dict[Path, tuple[Stamp, Stamp | None]] = {}


def _stamp(path: str) -> Stamp | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _fingerprint(path: Path) -> tuple[Stamp, Stamp | None] | None:
    """The stamps of the database file and its -wal (None: no database file; an empty -wal
    holds nothing and counts as none: a read-only connection makes one)."""
    db, wal = _stamp(str(path)), _stamp(f"{path}-wal")
    if db is None:
        return None
    return db, (wal if wal is not None and wal[2] else None)


def precheck(path: Path) -> None:
    """`check_existing` ahead of the engine (the cockpit runs it beside its imports, on the
    second core: it reads every page of the file): a pass is remembered with the file's
    fingerprint, so the engine's own check, after its lock, costs a `stat` when nothing
    changed in between. Any problem is left for that check to report."""
    if _held_by_an_engine(path):
        return  # it is live: this start attaches (SPEC §13), and a long read would only
        #         hold back the engine's WAL checkpoints
    seen = _fingerprint(path)
    # Only a file last written over a second ago: a write after the check then shows as a
    # new modification time even where the file system's clock is coarse (a few ms).
    now = time.time_ns()
    settled = seen is not None and all(
        stamp is None or now - stamp[3] > 1_000_000_000 for stamp in seen)
    try:
        if check_existing(path, empty_is_new=False) > 0 and seen is not None and settled:
            _PASSED[path] = seen  # (as it was before it was read: a change since shows)
    except (StoreError, OSError):
        pass


def _held_by_an_engine(path: Path) -> bool:
    """Whether an engine holds the database's lock now (store/lock.FileLock's flock). A
    shared lock taken and dropped at once: only `precheck` asks, before this process takes
    its own lock (`tui/startup.open_runtime` waits for it first)."""
    import fcntl

    try:
        fd = os.open(lock_file(path), os.O_RDONLY)
    except OSError:
        return False  # no lock file (a new database), or one the engine will name
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def check_existing(path: Path, *, empty_is_new: bool) -> int:
    """Before an engine uses an SQLite file that already existed: it must pass `PRAGMA
    quick_check` and hold tables, unless it is empty and `empty_is_new` (no engine ever held
    its lock: a database created a moment ago). Read through a read-only connection, so a
    file that is refused is left exactly as it was (never traded on). A file that passed
    here by `precheck`, unchanged since, is not read again. Returns how many tables it
    holds."""
    seen, passed = _fingerprint(path), _PASSED.pop(path, None)
    if seen is not None and passed == seen:
        return 1
    where, what = f"the database {path}", "cannot open the database"
    try:
        con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise store_error(exc, what, str(path), path) from None
    try:
        tables = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        problems = [row[0] for row in con.execute("PRAGMA quick_check(3)")]
    except sqlite3.Error as exc:
        err = store_error(exc, what, str(path), path)
        if err.cause == "damaged":
            raise _damaged(path, short(exc)) from None
        raise err from None
    finally:
        con.close()
    if problems != ["ok"]:
        raise _damaged(path, "; ".join(problems))
    if not tables and not empty_is_new:
        size = path.stat().st_size
        raise StoreError(f"{where} is empty ({size} bytes, no tables): it is not an account "
                         "this program wrote, or it was cut short; not starting a new account "
                         f"over it: move or delete it, and its lock file {lock_file(path)}, to "
                         "start afresh", cause="empty")
    return int(tables)


def lock_file(path: Path) -> Path:
    """The engine's lock file beside the SQLite file `path` (store/lock.FileLock)."""
    return path.with_name(path.name + ".lock")


def missing_database(path: Path, holder: str | None = None) -> StoreError | None:
    """The SQLite file `path` is not there although an engine held it (its lock file names
    the last holder: `holder`, read from the file when None): deleted or moved while no
    engine watched it (stopped, or killed before it noticed). The error that says so, for
    the engine and the readers alike, so nothing makes a new account in its place; None
    when the file exists or no engine ever held it (a new database)."""
    if path.exists():
        return None
    lock = lock_file(path)
    if holder is None:
        try:
            holder = lock.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:  # none, a directory, not ours: the lock itself will say so
            holder = ""
    if not holder:
        return None
    return StoreError(f"the database {path} is missing, but its lock file {lock} shows that an "
                      "engine kept an account in it (deleted or moved?); nothing is created "
                      f"in its place: put the file back (with its -wal), or remove {lock} to "
                      "start a new account", cause="missing")


def _damaged(path: Path, problem: str) -> StoreError:
    return StoreError(f"the database {path} is damaged ({problem}); not trading on it, the "
                      "file is left as it is: restore a backup, or move it and its lock file "
                      f"{lock_file(path)} away to start a new account", cause="damaged")

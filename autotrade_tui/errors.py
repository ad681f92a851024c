"""The project's own small exception tree. Foreign errors (ccxt, httpx, SQLAlchemy) are
translated into these once, in the adapter that sees them; only `TemporaryError`s are retried.
Every message is written for the user: it names what was wrong and where."""

from __future__ import annotations


class AutotradeError(Exception):
    """Base of every error this program raises on purpose."""


class UserError(AutotradeError):
    """Bad input from the user (config, flags, data files): one clear message, exit code 2."""


class ConfigError(UserError):
    """A configuration key is unknown, of the wrong type or out of range."""


class DataFileError(UserError):
    """A replay/backtest data file is unreadable or invalid (names the file and the row)."""


class TemporaryError(AutotradeError):
    """May succeed if tried again later (network, timeout, rate limit, exchange down)."""


class PermanentError(AutotradeError):
    """Will fail the same way again (bad symbol, auth, malformed answer): report, don't retry."""


class MarketDataError(PermanentError):
    """The exchange answered with something unusable, or rejected the request for good."""


class ModelError(AutotradeError):
    """A model gave no usable vote (after its retries): it becomes that model's error vote."""


class StoreError(AutotradeError):
    """The database could not be read or written. `cause` names why in a few words ("disk
    full", "read-only", "permission denied", "damaged"…; "" when nothing more is known);
    `repeat` is True when the same fault was already reported less than a minute ago, so a
    fault that lasts is said once a minute, not once a tick."""

    def __init__(self, message: str, *, cause: str = "", repeat: bool = False) -> None:
        super().__init__(message)
        self.cause, self.repeat = cause, repeat


class StoreFatal(StoreError):
    """Writing on could lose or double what is recorded: the engine stops (exit 1, or 3 for
    EngineLockedError) and a restart reloads what is on disk."""


class StoreFileChanged(StoreFatal):
    """The SQLite file (or its -wal/-shm) was deleted or replaced under the running engine:
    what it writes would not be in the file the next start reads."""


class EngineLockedError(StoreFatal):
    """Another engine already trades on this database."""


class EngineUnreachable(AutotradeError):
    """An attached viewer cannot reach its engine's API (socket gone, refused, wrong token):
    exit 1 at start; while attached it shows DISCONNECTED and retries."""

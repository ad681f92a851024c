"""What a backtest is asked to do: data source, symbols, date range, timeframe, models, output."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from autotrade_tui.config import DEFAULT_SYMBOLS
from autotrade_tui.errors import UserError
from autotrade_tui.market.base import TIMEFRAME_SECONDS

if TYPE_CHECKING:
    from autotrade_tui.config import Settings

DAY = 86_400.0
DEFAULT_DAYS = 2.0  # without --from when history comes from the exchange
# Dates --from/--to accept: up to the end of 9999-12-30, so that a bare --to date (its day's
# end) and every moment of a range stay datetimes (9999-12-31 would end in year 10000).
LAST_END = datetime(9999, 12, 31, tzinfo=UTC)
SUPPORTED = "dates from 0001-01-01 to 9999-12-30, UTC"


@dataclass(frozen=True)
class Request:
    data: str  # a file, or "" to fetch history through ccxt
    symbols: list[str]
    symbols_given: bool  # the user named the symbols (else: the defaults, or the file's)
    date_from: float | None  # epoch seconds, inclusive
    date_to: float | None  # epoch seconds, exclusive
    timeframe: str
    bar_seconds: int
    models: str  # "offline" | "configured"
    json: bool
    db: str  # where results go ("" = <user data dir>/backtests.db)


def parse_date(text: str, flag: str, *, end: bool = False) -> float:
    """`YYYY-MM-DD` or ISO-8601 date-time (naive = UTC) → epoch seconds.

    A bare date given as the end of a range means the end of that day (`--to 2024-01-31`
    includes the 31st). Raises UserError naming the flag, for text that is not a date and for
    a date out of the supported range (SUPPORTED).
    """
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if end:
                moment += timedelta(days=1)
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    except ValueError:
        raise UserError(f"{flag} {text!r} is not a date (use YYYY-MM-DD or "
                        "YYYY-MM-DDTHH:MM, UTC)") from None
    except OverflowError:  # a real date, but its moment is before year 1 or after 9999
        moment = None
    # A range starts before LAST_END and ends by it.
    if moment is None or moment > LAST_END or (moment == LAST_END and not end):
        raise UserError(f"{flag} {text!r} is out of the supported range ({SUPPORTED})")
    return moment.timestamp()


def iso(ts: float) -> str:
    """Epoch seconds → `2024-01-31 12:05 UTC` (for messages and the summary)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _backwards(start: str, stop: str, t0: float) -> str:
    """Why --from .. --to is empty. A bare --to date reaches to the end of its day, so the
    range is backwards when --from comes after the start of --to, else a single moment."""
    if parse_date(stop, "--to") < t0:
        return f"--from {start!r} is after --to {stop!r}"
    return f"--from {start!r} and --to {stop!r} are the same moment: the range is empty"


def _symbols_chosen(settings: Settings) -> bool:
    """Whether the user named the symbols. A config file that lists exactly the defaults did
    not: `config init` writes every key with its default, and writing it must change
    nothing (a single-series file stays one series, a file's own symbols stay its own)."""
    source = settings.sources.get("symbols", "default")
    if source == "file":
        return list(settings.symbols) != list(DEFAULT_SYMBOLS)
    return source != "default"


def from_args(args: Any, settings: Settings) -> Request:
    """The request from the parsed `backtest` arguments and the effective Settings."""
    tf = str(getattr(args, "timeframe", "5m") or "5m").strip()
    if tf not in TIMEFRAME_SECONDS:
        raise UserError(f"--timeframe {tf!r} is not one of {', '.join(TIMEFRAME_SECONDS)}")
    start = getattr(args, "date_from", None)
    stop = getattr(args, "date_to", None)
    t0 = parse_date(start, "--from") if start else None
    t1 = parse_date(stop, "--to", end=True) if stop else None
    if t0 is not None and t1 is not None and t1 <= t0:
        raise UserError(_backwards(start, stop, t0))
    data = str(getattr(args, "data", "") or settings.replay_file or "")
    return Request(
        data=data, symbols=list(settings.symbols),
        symbols_given=_symbols_chosen(settings),
        date_from=t0, date_to=t1, timeframe=tf, bar_seconds=TIMEFRAME_SECONDS[tf],
        models=str(getattr(args, "models", "offline") or "offline"),
        json=bool(getattr(args, "json", False)),
        # never --db: that is the live account's database, and a backtest stays out of it
        db=str(getattr(args, "results_db", "") or ""))

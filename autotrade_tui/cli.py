"""Command line: parse arguments, load Settings once, hand over to a front end or a command.

User mistakes (flags, config, data files) end with one line on stderr and exit code 2;
database trouble with exit code 1; never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autotrade_tui import __version__
from autotrade_tui.core.text import clean
from autotrade_tui.errors import AutotradeError, EngineLockedError, UserError
from autotrade_tui.stdio import detach_stdout

if TYPE_CHECKING:
    from autotrade_tui.config import Settings

# flag name → settings key (flags the user did not give are absent from the namespace)
FLAG_KEYS = {
    "db": "database_url", "market": "market_source", "exchange": "exchange_id",
    "symbols": "symbols", "speed": "speed", "seed": "seed", "offline_models": "offline_models",
    "data": "replay_file",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, like every other user mistake.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of rows")
    return value


COMMON = ("config", "db", "market", "exchange", "symbols", "speed", "seed", "offline_models")
# What each subcommand uses of COMMON (SPEC §11: its --help lists only those). A backtest
# writes its results to --results-db, never the live account's --db; report, export and
# config read the database and the config file, not the market.
USES = {"backtest": ("config", "market", "exchange", "symbols", "seed"),
        "report": ("config", "db"), "export": ("config", "db"), "config": ("config", "db"),
        "db": ("config", "db"), "attach": ("config", "db")}


def _common(p: argparse.ArgumentParser, uses: tuple[str, ...] = COMMON) -> None:
    s = argparse.SUPPRESS  # so a subcommand's defaults never overwrite the main parser's
    flags: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
        "config": (("--config",), {"metavar": "PATH", "help": "config file (TOML)"}),
        "db": (("--db",), {"metavar": "URL-or-PATH", "help": "SQLite file or sqlite:/// / "
                           "postgresql:// URL (DATABASE_URL)"}),
        "market": (("--market",), {"choices": ("auto", "sim", "ccxt", "replay"),
                                   "help": "market data source (MARKET_SOURCE)"}),
        "exchange": (("--exchange",), {"metavar": "ID", "help": "ccxt exchange id (EXCHANGE_ID)"}),
        "symbols": (("--symbols",), {"metavar": "A/B,C/D", "help": "symbols (SYMBOLS)"}),
        "speed": (("--speed",), {"metavar": "N",
                                 "help": "clock multiplier for sim/replay (AUTOTRADE_SPEED)"}),
        "seed": (("--seed",), {"metavar": "N", "help": "simulated-market seed"}),
        "offline_models": (("--offline-models",), {"action": "store_true",
                                                   "help": "force the built-in offline models"}),
    }
    for name in uses:
        args, kwargs = flags[name]
        p.add_argument(*args, default=s, **kwargs)


def _check_flags(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """A flag the command does not know is named, with the nearest one it does (`--sped 60`
    would otherwise read as the command `60`). Prefixes argparse accepts stay accepted."""
    import difflib

    subs = next((a._name_parser_map for a in parser._actions
                 if isinstance(a, argparse._SubParsersAction)), {})
    known = set(parser._option_string_actions)
    where = parser.prog
    for token in argv:
        if token == "--":
            return
        if token in subs and not token.startswith("-"):  # from here on, its flags only
            known, where = set(subs[token]._option_string_actions), subs[token].prog
            continue
        if not token.startswith("--"):
            continue
        flag = token.split("=", 1)[0]
        if flag in known or any(k.startswith(flag) for k in known if k.startswith("--")):
            continue
        if flag in parser._option_string_actions:  # a flag of the program, not of this command
            parser.exit(2, f"{where}: error: {where.split()[-1]} does not use {flag} "
                           f"(see {where} --help)\n")
        near = difflib.get_close_matches(flag, sorted(k for k in known if k.startswith("--")),
                                         n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        parser.exit(2, f"{where}: error: unrecognized flag {flag}{hint} "
                       f"(see {where} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="autotrade-tui",
                description="Autonomous crypto paper trading in the terminal. No real orders "
                            "are ever sent: the exchange is read-only market data.")
    p.add_argument("--version", action="version", version=f"autotrade-tui {__version__}")
    p.add_argument("--headless", action="store_true", help="run the engine with no UI; log "
                   "lines to stdout (Ctrl-C / SIGTERM stop cleanly)")
    _common(p)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    bt = sub.add_parser("backtest", help="replay history through the same engine")
    _common(bt, USES["backtest"])
    bt.add_argument("--data", metavar="FILE|DIR", default=argparse.SUPPRESS,
                    help="OHLCV file (CSV/JSON/Parquet/Feather, also .gz) or a freqtrade data "
                    "folder; default: fetch history through ccxt")
    bt.add_argument("--from", dest="date_from", metavar="DATE", help="start (YYYY-MM-DD)")
    bt.add_argument("--to", dest="date_to", metavar="DATE", help="end (YYYY-MM-DD)")
    bt.add_argument("--timeframe", default="5m", help="candle timeframe (default 5m)")
    bt.add_argument("--models", choices=("offline", "configured"), default="offline",
                    help="offline models (default) or the configured LLM models (cached)")
    bt.add_argument("--json", action="store_true", help="print one JSON object")
    bt.add_argument("--results-db", metavar="PATH", help="where backtest results go (default: "
                    "backtests.db in the user data dir; never the live account's --db)")

    rp = sub.add_parser("report", help="performance, positions, recent trades and decisions")
    _common(rp, USES["report"])
    rp.add_argument("--json", action="store_true", help="print one JSON object")

    ex = sub.add_parser("export", help="trades, decisions or events as CSV or JSON")
    _common(ex, USES["export"])
    ex.add_argument("what", choices=("trades", "decisions", "events"))
    ex.add_argument("--format", choices=("csv", "json"), default="csv")
    ex.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    ex.add_argument("--limit", type=_positive_int, metavar="N", help="only the first N rows")

    dbp = sub.add_parser("db", help="stats: rows and size per table | vacuum: thin aged "
                         "snapshots and give free space back (not while the engine runs)")
    _common(dbp, USES["db"])
    dbp.add_argument("action", choices=("stats", "vacuum"))
    dbp.add_argument("--json", action="store_true", help="stats: print one JSON object")

    cf = sub.add_parser("config", help="init | show | path")
    _common(cf, USES["config"])
    cf.add_argument("action", choices=("init", "show", "path"))
    cf.add_argument("--force", action="store_true", help="init: overwrite an existing file")
    cf.add_argument("--json", action="store_true", help="show: print JSON")

    op = sub.add_parser("optimize", help="search settings with backtests (Optuna)")
    _common(op)
    op.add_argument("--data", metavar="FILE", default=argparse.SUPPRESS,
                    help="OHLCV file; default: the simulated market or ccxt, as backtest")
    op.add_argument("--from", dest="date_from", metavar="DATE", help="start (YYYY-MM-DD)")
    op.add_argument("--to", dest="date_to", metavar="DATE", help="end (YYYY-MM-DD)")
    op.add_argument("--timeframe", default="5m", help="candle timeframe (default 5m)")
    op.add_argument("--trials", type=int, default=50, help="finished trials the study needs")
    op.add_argument("--jobs", type=int, default=1, help="worker processes on this machine")
    op.add_argument("--study", metavar="NAME", help="study name (default autotrade-OBJECTIVE)")
    op.add_argument("--storage", metavar="URL", help="Optuna storage: a journal file path "
                    "(default optimize.journal in the user data dir) or postgresql://...")
    op.add_argument("--objective", default="sharpe", help="sharpe (default), return, calmar")
    op.add_argument("--space", metavar="FILE", help="search space (TOML: key = [low, high] "
                    "or [choices]); replaces the default")
    op.add_argument("--walk-forward", type=int, default=1, metavar="K",
                    help="K consecutive folds: score on the first K-1, report the last")
    op.add_argument("--models", choices=("offline", "configured"), default="offline",
                    help="offline models (default) or the configured LLMs' cached answers")
    op.add_argument("--allow-model-calls", action="store_true",
                    help="--models configured: pay for answers the cache lacks")
    op.add_argument("--json", action="store_true", help="print one JSON object")
    op.add_argument("--results-db", metavar="PATH", help="the backtest database whose LLM "
                    "answer cache --models configured reads (default: backtests.db)")

    at = sub.add_parser("attach", help="the cockpit on an engine already running (headless, "
                        "under systemd, or another cockpit): q detaches, it keeps trading")
    _common(at, USES["attach"])
    where = at.add_mutually_exclusive_group()
    where.add_argument("--socket", metavar="PATH", help="the engine's API socket (default: "
                       "the one of the engine on --db / the configured database)")
    where.add_argument("--url", metavar="URL", help="the engine's API over TCP, "
                       "e.g. http://127.0.0.1:8765 (its api_listen)")
    at.add_argument("--token", metavar="T", help="the engine's api_token for --url "
                    "(default: AUTOTRADE_API_TOKEN)")

    nt = sub.add_parser("notify", help="test: one test alert to every notify_urls service")
    nt.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                    help="config file (TOML)")
    nt.add_argument("action", choices=("test",))
    return p


def settings_from_args(args: argparse.Namespace) -> Any:
    from autotrade_tui.config import load_settings

    flags = {key: getattr(args, flag) for flag, key in FLAG_KEYS.items() if hasattr(args, flag)}
    names = {key: "--" + flag.replace("_", "-") for flag, key in FLAG_KEYS.items()}
    if flags.get("replay_file") and "market_source" not in flags:
        flags["market_source"] = "replay"
        names["market_source"] = "--data"
    return load_settings(flags=flags, config_path=getattr(args, "config", None),
                         flag_names=names)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    _check_flags(parser, argv)
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except UserError as exc:
        _error(f"autotrade-tui: error: {exc}")
        return 2
    except EngineLockedError as exc:
        _error(f"autotrade-tui: {exc}")
        return 3
    except AutotradeError as exc:
        _error(f"autotrade-tui: error: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `... | head`: the reader left; not an error worth a traceback
        detach_stdout()
        return 0


def _error(text: str) -> None:
    """An error on stderr, cleaned: it may quote a data file, a server or an exchange."""
    print(clean(text), file=sys.stderr)


# Subcommands run by `function(args, settings)`, imported only when used (a quick --help).
RUNNERS = {"attach": "autotrade_tui.attach.command:run_attach",
           "optimize": "autotrade_tui.optimize.command:run_optimize_cli",
           "backtest": "autotrade_tui.backtest:run_backtest_cli"}


def _dispatch(args: argparse.Namespace) -> int:
    # Settings are loaded and validated before anything opens the database: a bad value
    # stops here with exit code 2 and nothing written. `config path` and `config init` work
    # even when the config file is broken (they are how the user finds and repairs it).
    if args.command == "config" and args.action == "path":
        return _config_path(args)
    if args.command == "config" and args.action == "init":
        return _config_init(args)
    settings = settings_from_args(args)
    if args.command == "config":
        return _config(args, settings)
    if args.command == "report":
        return _report(args, settings)
    if args.command == "export":
        return _export(args, settings)
    if args.command == "db":
        return _db(args, settings)
    if args.command == "notify":
        from autotrade_tui.notify.check import notify_test

        return notify_test(settings)
    if args.command in RUNNERS:
        import importlib

        module, name = RUNNERS[args.command].split(":")
        return int(getattr(importlib.import_module(module), name)(args, settings))
    from autotrade_tui.memory import fix_mmap_threshold  # (ctypes: only for the long runs)

    fix_mmap_threshold()  # headless or the cockpit: a long run (see autotrade_tui.memory)
    if args.headless:
        from autotrade_tui.headless import run_headless

        return run_headless(settings)
    if settings.market_source == "sim":  # unknown symbols: exit 2 before the first frame
        from autotrade_tui.market.factory import check_settings

        check_settings(settings)
    from autotrade_tui.tui.startup import begin_check

    begin_check(settings)  # beside the cockpit's imports and first frame
    from autotrade_tui.tui.app import run_tui

    return run_tui(settings)


def _config_file(args: argparse.Namespace) -> Path:
    from autotrade_tui.config import user_config_path

    explicit = getattr(args, "config", None) or os.environ.get("AUTOTRADE_CONFIG")
    return Path(explicit).expanduser() if explicit else user_config_path()


def _config_path(args: argparse.Namespace) -> int:
    from autotrade_tui.config import mask_url
    from autotrade_tui.errors import ConfigError

    cfg = _config_file(args)
    problem, socket = None, ""
    try:
        settings = settings_from_args(args)
        db = settings.database_url.get()
        if settings.api:
            from autotrade_tui.api.service import socket_path

            socket = str(socket_path(settings))
    except ConfigError as exc:  # still print the paths: they are how to find the problem
        problem, db = exc, ""
    print(f"config file: {cfg}{'' if cfg.exists() else '  (not present: defaults in use)'}")
    print(f"database:    {mask_url(_db_location(db))}")
    if socket:  # where `attach` finds the engine on this database (SPEC §13)
        print(f"api socket:  {socket}")
    if problem is not None:
        print(f"autotrade-tui: error: {problem}", file=sys.stderr)
        return 2
    return 0


def _sqlite_file(db: str) -> Path | None:
    """The SQLite file `--db`/DATABASE_URL names (empty: the default one); None otherwise."""
    from autotrade_tui.config import default_db_path
    from autotrade_tui.store.db import resolve_url, sqlite_path

    return sqlite_path(resolve_url(db, default_db_path()))


def _db_location(db: str) -> str:
    """A plain path or sqlite:/// URL as the absolute file path (empty: the default file);
    other URLs unchanged."""
    path = _sqlite_file(db)
    return str(path) if path is not None else db


def _config_init(args: argparse.Namespace) -> int:
    from autotrade_tui.config import example_toml

    target = _config_file(args)
    if target.exists() and not args.force:
        raise UserError(f"{target} already exists (use --force to overwrite)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # owner-only: the file is where an API key or a database password may go
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(example_toml())
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror}") from None
    print(f"wrote {target}")
    return 0


def _config(args: argparse.Namespace, settings: Settings) -> int:
    shown = settings.shown()
    if args.json:
        print(json.dumps(shown, indent=2))
        return 0
    where = settings.config_path
    print(f"# config file: {where}" if where else "# no config file: built-in defaults, "
          "environment and flags")
    for name, value in shown.items():
        src = settings.sources.get(name, "default")
        src = "config file" if src == "file" else src
        print(f"{name} = {json.dumps(value)}" + ("" if src == "default" else f"   # {src}"))
    return 0


def _open_reader(settings: Settings, say: bool = True) -> tuple[Any, str | None]:
    """A Store for reading. `report` and `export` never create a database: when the SQLite
    file does not exist yet, they read an empty in-memory one (a new account) instead;
    the second value is then the missing file's path (and `say` notes it on stderr). A file
    gone since an engine held it is a StoreError (exit 1), not an empty account."""
    from autotrade_tui.store.store import Store

    db = settings.database_url.get()
    path = _sqlite_file(db)
    if path is not None and not path.exists():
        _refuse_missing(path)
        if say:
            print(f"autotrade-tui: no database at {path} yet: nothing recorded",
                  file=sys.stderr)
        return Store(":memory:"), str(path)
    return Store(db, read_only=True), None  # so a read-only medium serves too


def _refuse_missing(path: Path) -> None:
    """Raises when the SQLite file `path` is missing although an engine held it."""
    from autotrade_tui.store.faults import missing_database

    gone = missing_database(path)
    if gone is not None:
        raise gone


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from autotrade_tui.report import build_report, render_report

    store, missing = _open_reader(settings)
    with store:
        rep = build_report(store, settings)
    if missing:
        rep["database"] = missing
    print(json.dumps(rep, indent=2, default=str) if args.json else render_report(rep))
    return 0


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from autotrade_tui.maintenance import run_db

    path = _sqlite_file(settings.database_url.get())
    if path is not None and not path.exists():  # never create one just to measure it
        _refuse_missing(path)
        print(f"autotrade-tui: no database at {path} yet: nothing recorded", file=sys.stderr)
        return 0
    return run_db(args.action, settings, as_json=args.json)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    """Streamed (SPEC §10: a year of rows never sits in memory); to a file through a part
    file renamed at the end, so a failed export never leaves half a file under its name."""
    from autotrade_tui.report import export

    store, _missing = _open_reader(settings, say=False)  # an empty export says it itself
    with store:
        if not args.output:
            export(store, args.what, args.format, sys.stdout, args.limit)
            return 0
        target = Path(args.output)
        part = target.with_name(f".{target.name}.part")
        try:
            with part.open("w", encoding="utf-8", newline="") as fh:
                export(store, args.what, args.format, fh, args.limit)
            part.replace(target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                part.unlink()
            raise UserError(f"cannot write {args.output}: {exc.strerror}") from None
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise
    print(f"wrote {args.output}", file=sys.stderr)
    return 0

"""`autotrade-tui backtest`: load the history, replay it, save the run, print the figures."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from autotrade_tui.backtest.request import Request, from_args

if TYPE_CHECKING:
    from autotrade_tui.config import Settings


def run_backtest_cli(args: Any, settings: Settings) -> int:
    """The CLI entry (cli.py): user mistakes raise UserError (exit 2 there)."""
    req = from_args(args, settings)
    with _warnings_to_stderr():
        return asyncio.run(run(req, settings))


@contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """The app's warnings (e.g. market=auto falling back to the simulated market) as the
    command's own warning lines, once, not as bare log records."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("autotrade-tui: warning: %(message)s"))
    handler.setLevel(logging.WARNING)
    app_log = logging.getLogger("autotrade_tui")
    app_log.addHandler(handler)
    propagate, app_log.propagate = app_log.propagate, False
    try:
        yield
    finally:
        app_log.removeHandler(handler)
        app_log.propagate = propagate


async def run(req: Request, settings: Settings, *, out: Any = None, err: Any = None,
              now: float | None = None) -> int:
    """Load, replay, save, print. A data file is read and checked (or the range to fetch)
    before the backtest database is opened: a bad file or range leaves nothing behind."""
    out = out or sys.stdout
    err = err or sys.stderr
    from autotrade_tui.backtest.render import Progress, equity_chart, summary_text
    from autotrade_tui.backtest.store import BacktestStore

    started = time.perf_counter()
    now = time.time() if now is None else now  # without a file: history up to now
    history = await _load_file(req) if req.data else None
    if history is None:
        from autotrade_tui.backtest.fetch import fetch_history, preflight

        preflight(req, settings, now)  # a range or id refused: before the database exists
    with BacktestStore(req.db or None) as store:
        if history is None:
            history = await fetch_history(req, settings, store, now)
        loaded = time.perf_counter() - started
        if history.gaps:
            print(f"autotrade-tui: warning: {len(history.gaps)} gap(s) in the data, first: "
                  f"{history.gaps[0]} (the replay goes on across them)", file=err)
        progress = None if req.json or not _tty(err) else Progress(err)
        metrics, outcome = await replay(req, settings, history, store, progress, loaded)
        saving = time.perf_counter()
        run_id = save(store, req, settings, history, metrics, outcome)
        metrics["save_seconds"] = round(time.perf_counter() - saving, 4)
        metrics["run_id"] = run_id
        metrics["database"] = store.shown
    if req.json:
        print(json.dumps(metrics, indent=2), file=out)
        return 0
    if outcome.equity:
        print(equity_chart(outcome.times, outcome.equity), file=out)
    print(summary_text(metrics, [t for t, _ in outcome.trades], run_id, store.shown), file=out)
    return 0


async def _load_file(req: Request) -> Any:
    from autotrade_tui.backtest.history import load_file

    return await asyncio.to_thread(load_file, req)


def _tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


async def replay(req: Request, settings: Settings, history: Any, store: Any, progress: Any,
                 load_seconds: float) -> tuple[dict[str, Any], Any]:
    """Build the models (offline, or the configured ones with the response cache), replay."""
    from autotrade_tui.backtest.metrics import summary
    from autotrade_tui.backtest.records import refusals
    from autotrade_tui.backtest.runner import Backtest

    models, client, cache = _models(req, settings, store)
    try:
        bt = Backtest(settings, history, models, progress=progress,
                      after_cycle=cache.flush if cache is not None else None)
        outcome = await bt.run()
    finally:
        if cache is not None:
            cache.flush()
        for m in models:
            await m.close()
        if client is not None:
            await client.aclose()
    metrics = summary(outcome, history, [m.name for m in models], timeframe=req.timeframe,
                      load_seconds=load_seconds)
    metrics["not_executed"] = refusals(outcome)
    metrics["scorecard"] = bt.scorecard.rows(outcome.prices, outcome.engine, outcome.equity)
    if cache is not None:
        metrics["llm_cache_hits"] = cache.hits
    return metrics, outcome


def _models(req: Request, settings: Settings, store: Any) -> tuple[tuple[Any, Any], Any, Any]:
    from autotrade_tui.ai.factory import build_models

    if req.models == "offline" or settings.use_offline_models:
        return build_models(settings.replace(offline_models=True), None), None, None
    import httpx

    cache = store.llm_cache()
    client = httpx.AsyncClient()
    return build_models(settings, client, cache=cache), client, cache


def save(store: Any, req: Request, settings: Settings, history: Any, metrics: dict[str, Any],
         outcome: Any) -> int:
    """The run, its trades, its non-HOLD decisions and its events, in one transaction."""
    from autotrade_tui.backtest.records import decision_rows, event_rows, kept, trade_rows
    from autotrade_tui.core.engine import EngineConfig
    from autotrade_tui.core.step import TickRules

    # the settings its trades depend on: the engine's rules and the tick's (vote included)
    keys = (*EngineConfig.__dataclass_fields__, *TickRules.SETTINGS)
    step = max(1, len(outcome.equity) // 2000)
    curve = [[t, e] for t, e in zip(outcome.times[::step], outcome.equity[::step],
                                    strict=True)]
    run = {
        "created_at": time.time(), "source": history.source, "symbols": history.symbols,
        "timeframe": req.timeframe, "date_from": history.start, "date_to": history.end,
        "models": metrics["models"], "candles": metrics["candles"],
        **{k: metrics[k] for k in ("return_pct", "max_drawdown_pct", "sharpe", "total_trades",
                                   "win_rate", "total_fees", "liquidations", "final_equity")},
        "metrics": metrics, "settings": {k: getattr(settings, k) for k in keys},
        "equity_curve": curve,
    }
    decisions = decision_rows(outcome, settings, kept(outcome))
    return int(store.save_run(run, trade_rows(outcome, decisions), decisions,
                              event_rows(outcome)))

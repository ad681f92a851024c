"""What the backtest says is what live would have done: the same candles through the live
Runtime (replay feed, virtual clock, stepped candle by candle) and through `backtest` give
identical trades and events; the backtest's lean offline path equals its full-context path;
the rule and vote functions it calls equal the models' `decide` and `voting.vote`."""

from __future__ import annotations

import io
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotrade_tui.ai.factory import build_models
from autotrade_tui.ai.offline import (
    ACTIONS,
    HELD,
    MEAN_REVERSION_INPUTS,
    TREND_INPUTS,
    MeanReverter,
    TrendFollower,
    value,
)
from autotrade_tui.backtest.command import run
from autotrade_tui.backtest.history import load_file
from autotrade_tui.backtest.records import decision_rows, kept, trade_rows
from autotrade_tui.backtest.request import Request
from autotrade_tui.backtest.runner import Backtest
from autotrade_tui.backtest.store import BacktestStore, trades
from autotrade_tui.config import defaults
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.core.models import Action, DecisionContext, ModelVote
from autotrade_tui.core.voting import strategy_name, tally, vote
from autotrade_tui.market.replay import ReplayFeed
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.runtime.updates import EventRaised
from autotrade_tui.store.store import Store
from autotrade_tui.store.tables import TradeRow
from tests.test_backtest import SYMBOLS, T0, market, write

# A busy trader for these short, wild test markets: every gate and path is met in 400 bars
# (the default risk rules, made for months, would trade a handful of times and stop; the
# default offline models wait for a trend's pullback, which two days hardly show, so the
# mean reverter fades RSI 40/60 here, and adds to or reverses a position from 0.60).
BUSY = {"reentry_cooldown_minutes": 0.0, "max_entries_per_position": 5,
        "position_size_percent": 10.0, "max_exposure_percent": 0.0, "max_drawdown_percent": 0.0,
        "stack_only_in_profit": False, "offline_rsi_extreme": 40.0,
        "offline_reverse_confidence": 0.6}


def request(data: Path, db: Path | str = "", **kw: object) -> Request:
    fields = {"data": str(data), "symbols": list(SYMBOLS), "symbols_given": True,
              "date_from": None, "date_to": None, "timeframe": "5m", "bar_seconds": 300,
              "models": "offline", "json": True, "db": str(db)}
    fields.update(kw)
    return Request(**fields)  # type: ignore[arg-type]


async def test_backtest_equals_the_live_runtime(tmp_path: Path) -> None:
    data = write(market(), tmp_path / "two-days.csv")  # 2 days of 5m candles, 3 symbols
    # A busy trader, and no stop or take-profit: live sees a bar's close as its ticker, a
    # backtest checks guards on the bar's high/low (SPEC §8.1); the other rules stay on. At a
    # low leverage, so that positions are added to and reversed rather than liquidated.
    settings_ = defaults(market_source="replay", replay_file=str(data), symbols=SYMBOLS,
                         database_url=str(tmp_path / "live.db"), fundamentals_enabled=False,
                         offline_models=True, **BUSY, stop_loss_percent=0.0,
                         take_profit_percent=0.0, leverage=2.0)

    # The backtest, end to end (file → replay → backtest database).
    out = io.StringIO()
    assert await run(request(data, tmp_path / "bt.db"), settings_, out=out) == 0
    figures = json.loads(out.getvalue())
    with BacktestStore(tmp_path / "bt.db") as store:
        back = [(f["symbol"], f["side"], f["order_type"], f["price"], f["amount"], f["ts"])
                for f in store.run_rows(trades, figures["run_id"])]
        (saved,) = store.runs()

    # The live runtime on the same file, driven candle by candle.
    clock = VirtualClock(T0)
    feed = ReplayFeed(data, clock, SYMBOLS)
    rt = await Runtime.open(settings_, clock=clock, feed=feed,
                            store=Store(tmp_path / "live.db", writer=True))
    raised = []
    rt.subscribe(lambda u: raised.append(u.event) if isinstance(u, EventRaised) else None)
    await rt.monitor.prime()
    for k in range(1, 577):  # a bar is seen at its close: the first at T0 + 300
        clock.set(T0 + 300 * k)
        await rt.monitor_tick()
        await rt.decision_cycle()  # 5-minute cycles: every candle
    live = [(r.symbol, r.side, r.order_type, r.price, r.amount, r.ts)
            for r in rt.store.rows(TradeRow, newest_first=False)]
    account = rt.account()
    await rt.close()

    assert len(back) > 12 and {t[0] for t in back} == set(SYMBOLS)
    assert {t[2] for t in back} >= {"OPEN", "ADD", "CLOSE"}
    assert live == back  # symbol, side, order type, price, amount, time: identical
    assert account["total_fees"] == figures["total_fees"]
    assert account["total_trades"] == figures["total_trades"]
    assert account["equity"] == figures["final_equity"]
    saved_events = saved["metrics"]["events"]
    assert saved_events == len(raised) > 0  # LIQUIDATION_RISK on the open positions
    with BacktestStore(tmp_path / "bt.db") as store:
        from autotrade_tui.backtest.store import events

        rows = store.run_rows(events, figures["run_id"])
    assert [(e["ts"], e["symbol"], e["event_type"], e["severity"], e["description"])
            for e in rows] == [(e.ts, e.symbol, e.event_type.value, e.severity.value,
                                e.description) for e in raised]


def _stale_market() -> pd.DataFrame:
    """Three symbols; SOL has no bars for an hour (stale), ETH starts two hours late."""
    df = market(n=400)
    hole = (df["symbol"] == "SOL/USDT") & df["timestamp"].between(T0 + 216 * 300,
                                                                  T0 + 227 * 300)
    late = (df["symbol"] == "ETH/USDT") & (df["timestamp"] < T0 + 24 * 300)
    return df[~hole & ~late]


STALE_CASE: dict = {}  # the defaults (+ BUSY): SOL's stale hour meets its trade signals


@pytest.mark.parametrize("overrides", [
    STALE_CASE,
    {"ai_voting_strategy": "weighted", "model_primary_weight": 0.7, "confidence_threshold": 0.35,
     "stop_loss_percent": 30.0, "take_profit_percent": 40.0, "max_drawdown_percent": 3.0,
     "leverage": 50.0},
    {"ai_voting_strategy": "unanimous", "confidence_threshold": 0.5},
    {"trading_interval_minutes": 10.0, "event_triggered_decisions": True, "leverage": 100.0},
])
async def test_lean_offline_path_equals_the_full_context_path(tmp_path: Path,
                                                              overrides: dict) -> None:
    data = write(_stale_market(), tmp_path / "m.csv")
    # a busy trader (no cooldown, deeper stacks) so 400 bars reach every gate; rules stay on
    settings_ = defaults(symbols=SYMBOLS, offline_models=True, **{**BUSY, **overrides})
    history = load_file(request(data))
    outs = []
    for fast in (True, False):
        bt = Backtest(settings_, history, build_models(settings_, None), fast=fast)
        assert bt.fast is fast
        outs.append(await bt.run())
    lean, full = outs
    # The lean path leaves the reason to the saving (records), which writes the same text.
    assert [replace(t, reason="") for t, _ in lean.trades] == \
        [replace(t, reason="") for t, _ in full.trades]
    keep = kept(lean)
    assert [r["vote_reason"] for r in decision_rows(lean, settings_, keep)] == \
        [full.decided[k].result.reason for k in keep]
    assert [r["reason"] for r in trade_rows(lean, decision_rows(lean, settings_, keep))] == \
        [t.reason for t, _ in full.trades]
    assert lean.counts == full.counts and lean.equity == full.equity
    assert lean.events == full.events
    assert [(d.ts, d.symbol, d.result.decision, d.note) for d in lean.decided] == \
        [(d.ts, d.symbol, d.result.decision, d.note) for d in full.decided]
    for d_lean, d_full in zip(lean.decided, full.decided, strict=True):
        assert lean.votes_of is not None and full.votes_of is not None
        assert lean.votes_of(d_lean) == full.votes_of(d_full)  # reasoning written on demand
    notes = {d.note.split(":")[0] for d in lean.decided}
    assert lean.counts["decisions"] > 500
    if overrides.get("ai_voting_strategy") != "unanimous":  # two rules rarely agree on a trade
        assert lean.trades and len(lean.decided) > 20
    if overrides == STALE_CASE:
        assert "not executed" in notes  # SOL's hole: decisions on a stale price
        assert any("price is stale" in d.note for d in lean.decided)
    if overrides.get("max_drawdown_percent"):
        assert lean.engine.ledger.halted_reason  # the kill switch tripped, gates held
    if overrides.get("event_triggered_decisions"):  # CRITICAL events asked for decisions
        assert any(e.severity.value == "CRITICAL" for e in lean.events)
        plain = await Backtest(settings_.replace(event_triggered_decisions=False), history,
                               build_models(settings_, None)).run()
        assert lean.counts["decisions"] > plain.counts["decisions"]


class _BrokenTrend(TrendFollower):
    """Its rule fails on every input, over a series or on one bar."""

    @staticmethod
    def vector_rules(*columns: object) -> object:
        raise ZeroDivisionError("a bug in the rule")


async def test_a_rule_that_raises_gives_error_votes_not_a_crash(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    history = load_file(request(write(market(n=120), tmp_path / "m.csv")))
    bt = Backtest(defaults(symbols=SYMBOLS), history, (_BrokenTrend(), MeanReverter()))
    assert bt.fast  # it looks lean, until its rule runs
    out = await bt.run()
    assert not bt.fast  # then every decision asks the models, as live does, and says so
    assert "rules failed over the series (ZeroDivisionError: a bug in the rule)" in caplog.text
    assert out.counts["decisions"] > 100
    for d in out.decided:  # the trend follower's vote is an error; the other one stands
        first, second = out.votes_of(d) if out.votes_of else d.votes
        assert first.error == "unexpected ZeroDivisionError" and second.ok


# --- the functions the lean path calls are the models' and the vote's ---------------------

finite = st.floats(-1e6, 1e6, allow_nan=False)
reading = st.one_of(st.none(), st.just(math.nan), st.just(math.inf), finite,
                    st.floats(0, 100), st.floats(-0.5, 1.5), st.sampled_from([20.0, 30.0, 0.0]))
KEYS = tuple(k for k in TREND_INPUTS + MEAN_REVERSION_INPUTS if k != HELD)  # held: flat


@settings(max_examples=300, deadline=None)
@given(bars=st.lists(st.tuples(st.fixed_dictionaries({k: reading for k in KEYS}),
                               st.one_of(st.floats(1, 1e5), st.sampled_from([0.0, -1.0]))),
                     min_size=1, max_size=8))
async def test_a_rule_over_a_series_decides_each_bar_as_the_model(
        bars: list[tuple[dict, float]]) -> None:
    """The lean path runs each rule once over the whole series; live, `decide` runs it on the
    one bar of its context. Bar by bar they agree, on any values (None, NaN, inf, bounds)."""
    prices = np.array([price for _, price in bars])
    for model in (TrendFollower(), MeanReverter()):
        columns = [np.zeros(len(bars)) if k == HELD else
                   np.array([math.nan if (v := value(ind[k])) is None else v for ind, _ in bars])
                   for k in model.inputs]
        out = model.vector_rules(prices, *columns)
        for j, (ind, price) in enumerate(bars):
            voted = await model.decide(DecisionContext("BTC/USDT", 0.0, price, {
                k: v for k, v in ind.items() if v is not None}))
            assert (ACTIONS[out.action[j]], out.confidence[j].item()) == (voted.decision,
                                                                          voted.confidence)
            args = [0.0 if k == HELD else value(ind[k]) for k in model.inputs]
            text = model.rule_text(out.branch[j].item(), out.detail[j].item(), price, *args)
            assert text == voted.reasoning


decision = st.one_of(st.none(), st.sampled_from(list(Action)))
confidence = st.one_of(st.floats(0, 1), st.sampled_from([0.4, 0.45, 0.6, 0.8, math.nan, 1.5]))


@settings(max_examples=400, deadline=None)
@given(d1=decision, c1=confidence, d2=decision, c2=confidence,
       strategy=st.sampled_from(["majority", "unanimous", "weighted"]),
       threshold=st.sampled_from([0.5, 0.6, 0.7]),
       weights=st.sampled_from([(0.5, 0.5), (0.7, 0.3), (0.0, 0.0)]))
def test_tally_is_the_vote_without_its_text(d1: Action | None, c1: float, d2: Action | None,
                                            c2: float, strategy: str, threshold: float,
                                            weights: tuple[float, float]) -> None:
    v1 = ModelVote("a", d1, c1, error=None if d1 else "timeout")
    v2 = ModelVote("b", d2, c2, error=None if d2 else "timeout")
    full = vote(v1, v2, strategy, threshold, 0.55, weights)
    fast = tally(d1, c1, d2, c2, strategy_name(strategy), threshold, 0.55, weights)
    assert fast[0] == full.decision and fast[3] == full.threshold and fast[2] == ""
    assert fast[1] == full.confidence or (math.isnan(fast[1]) and math.isnan(full.confidence))

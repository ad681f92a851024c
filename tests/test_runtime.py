"""The runtime end to end on a virtual clock: decisions, gates, execution, persistence,
manual commands, recovery, and the two models running concurrently over real HTTP."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from autotrade_tui.config import Secret, defaults
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.core.engine import Rejected
from autotrade_tui.core.models import Side, TradeSource
from autotrade_tui.market.sim import SimMarket
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.runtime.updates import DecisionRecorded, Notice, TradeExecuted
from autotrade_tui.store import codec
from autotrade_tui.store.store import Store
from tests.openai_server import OpenAIServer, Reply, answer
from tests.runtime_fixtures import START, SYMBOLS, ScriptedModel, StaleFeed, make_runtime


def q(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


async def test_offline_cycle_records_every_symbol_with_its_context(tmp_path: Path) -> None:
    rt = await make_runtime(tmp_path)
    seen: list[object] = []
    rt.subscribe(seen.append)
    await rt.monitor_tick()
    recs = await rt.decision_cycle()
    await rt.close()
    assert sorted(r.symbol for r in recs) == SYMBOLS
    assert sum(isinstance(u, DecisionRecorded) for u in seen) == 3
    rows = q(tmp_path / "rt.db", "SELECT symbol, model_1_decision, model_2_decision, "
             "model_1_reasoning, input_data, source FROM ai_decisions ORDER BY symbol")
    assert [r[0] for r in rows] == SYMBOLS
    for _, d1, d2, why, stored, source in rows:
        data = json.dumps(codec.decode(stored))  # stored compressed (schema version 2)
        assert d1 in ("BUY", "SELL", "HOLD") and d2 in ("BUY", "SELL", "HOLD")
        assert why and source == "auto"
        # the offline rules read the context alone: no prompt is stored for them
        assert '"rsi_14"' in data and '"prompt"' not in data and '"models"' in data


async def test_a_prompt_is_stored_when_a_model_was_sent_one(tmp_path: Path) -> None:
    """The stored input holds the messages an LLM was sent (as `build_messages` makes them
    from the stored context) when one of the models is not an offline rule; offline rules
    alone store the context only, from which the same messages are rebuilt."""
    from autotrade_tui.ai.offline import TrendFollower
    from autotrade_tui.ai.prompts import build_messages
    from autotrade_tui.core.models import DecisionContext

    rt = await make_runtime(tmp_path, models=[TrendFollower(), ScriptedModel("llm")])
    await rt.monitor_tick()
    await rt.decision_cycle()
    await rt.close()
    for (stored,) in q(tmp_path / "rt.db", "SELECT input_data FROM ai_decisions"):
        data = codec.decode(stored)
        assert data["models"] == ["offline/trend-follower", "llm"]
        context = DecisionContext(**data["context"])
        assert data["prompt"] == json.loads(json.dumps(build_messages(context)))


async def test_a_flip_inside_the_reentry_cooldown_closes_and_says_why(tmp_path: Path) -> None:
    a, b = ScriptedModel("A", ("BUY", 0.9)), ScriptedModel("B", ("BUY", 0.8))
    rt = await make_runtime(tmp_path, models=[a, b], symbols=["BTC/USDT"])  # 1 day cooldown
    await rt.monitor_tick()
    await rt.decision_cycle()
    a.answer = b.answer = ("SELL", 0.9)
    (rec,) = await rt.decision_cycle()
    assert [t.order_type.value for t in rec.trades] == ["CLOSE"] and not rec.executed
    assert rec.note.startswith("not executed: re-entry cooldown: BTC/USDT closed 0 min ago")
    assert "(after CLOSE LONG)" in rec.note and not rt.engine.positions
    await rt.close()
    # a restart remembers the close: the cooldown goes on
    again = await make_runtime(tmp_path, models=[a, b], symbols=["BTC/USDT"])
    assert "BTC/USDT" in again.engine.closed_at
    await again.close()


async def test_agreeing_models_trade_then_flip(tmp_path: Path) -> None:
    a, b = ScriptedModel("A", ("BUY", 0.9)), ScriptedModel("B", ("BUY", 0.8))
    rt = await make_runtime(tmp_path, models=[a, b], symbols=["BTC/USDT"],
                            reentry_cooldown_minutes=0.0)  # a flip reopens at once
    await rt.monitor_tick()
    (rec,) = await rt.decision_cycle()
    assert rec.executed and rec.note.startswith("executed: OPEN LONG")
    assert rt.engine.positions["BTC/USDT"].side is Side.LONG
    a.answer = b.answer = ("SELL", 0.9)
    (rec,) = await rt.decision_cycle()
    assert [(t.order_type.value, t.side.value) for t in rec.trades] == [("CLOSE", "LONG"),
                                                                       ("OPEN", "SHORT")]
    await rt.close()
    rows = q(tmp_path / "rt.db", "SELECT order_type, side, source, decision_id FROM trades "
             "ORDER BY id")
    assert [r[:3] for r in rows] == [("OPEN", "LONG", "auto"), ("CLOSE", "LONG", "auto"),
                                     ("OPEN", "SHORT", "auto")]
    assert all(r[3] is not None for r in rows)
    assert q(tmp_path / "rt.db", "SELECT executed FROM ai_decisions") == [(1,), (1,)]


@pytest.mark.parametrize(("setup", "note"), [
    ("paused", "automatic trading is paused"),
    ("stale", "price is stale"),
    ("low", "HOLD"),
    ("max_positions", "max positions"),
])
async def test_gates_record_why_nothing_was_executed(tmp_path: Path, setup: str,
                                                     note: str) -> None:
    conf = 0.5 if setup == "low" else 0.9
    models = [ScriptedModel("A", ("BUY", conf)), ScriptedModel("B", ("BUY", conf))]
    rt = await make_runtime(tmp_path, models=models, max_positions=1,
                            feed_cls=StaleFeed if setup == "stale" else SimMarket)
    await rt.monitor_tick()
    if setup == "paused":
        await rt.set_paused(True)
    recs = await rt.decision_cycle()
    await rt.close()
    skipped = [r for r in recs if not r.executed]
    assert skipped and all(note in r.note for r in skipped)
    if setup == "max_positions":
        assert len([r for r in recs if r.executed]) == 1
    rows = q(tmp_path / "rt.db", "SELECT execution_note FROM ai_decisions WHERE executed = 0")
    assert rows and all(note in r[0] for r in rows)


async def test_one_model_failing_leaves_the_other_alone_against_055(tmp_path: Path) -> None:
    models = [ScriptedModel("A", (None, 0)), ScriptedModel("B", ("SELL", 0.56))]
    rt = await make_runtime(tmp_path, models=models, symbols=["ETH/USDT"])
    await rt.monitor_tick()
    (rec,) = await rt.decision_cycle()
    await rt.close()
    assert rec.executed and rec.result.threshold == pytest.approx(0.55)
    (row,) = q(tmp_path / "rt.db", "SELECT model_1_decision, model_1_error, final_decision "
               "FROM ai_decisions")
    assert row == (None, "scripted failure", "SELL")


async def test_manual_commands_are_recorded_as_manual_and_state_restores(tmp_path: Path) -> None:
    rt = await make_runtime(tmp_path)
    await rt.monitor_tick()
    await rt.manual_open("BTC/USDT", Side.LONG)
    await rt.manual_open("BTC/USDT", Side.LONG)  # stack
    await rt.manual_open("ETH/USDT", Side.SHORT)
    await rt.manual_close("ETH/USDT")
    await rt.manual_open("SOL/USDT", Side.SHORT)
    with pytest.raises(Rejected, match="no open position"):
        await rt.manual_close("ETH/USDT")
    await rt.set_paused(True)
    ledger, positions = rt.engine.ledger, rt.engine.positions
    await rt.close()
    assert q(tmp_path / "rt.db", "SELECT DISTINCT source FROM trades") == [("manual",)]
    assert [r[0] for r in q(tmp_path / "rt.db", "SELECT order_type FROM trades ORDER BY id")
            ] == ["OPEN", "ADD", "OPEN", "CLOSE", "OPEN"]

    again = await make_runtime(tmp_path)
    assert again.restored and again.paused
    assert again.engine.ledger == ledger and again.engine.positions == positions
    await again.monitor_tick()
    await again.manual_close_all()
    assert again.engine.positions == {}
    assert again.engine.invariant_error() < 1e-6
    await again.close()


async def test_manual_trade_refused_on_stale_price(tmp_path: Path) -> None:
    rt = await make_runtime(tmp_path, feed_cls=StaleFeed)
    notices: list[str] = []
    rt.subscribe(lambda u: notices.append(u.text) if isinstance(u, Notice) else None)
    await rt.monitor_tick()
    await rt.monitor_tick()
    with pytest.raises(Rejected, match="stale"):
        await rt.manual_open("BTC/USDT", Side.LONG)
    await rt.close()
    assert sum("stale prices" in n for n in notices) == 1  # reported once, not every tick


async def test_a_second_engine_on_the_same_database_is_refused(tmp_path: Path) -> None:
    from autotrade_tui.errors import EngineLockedError
    from autotrade_tui.store.store import Store

    rt = await make_runtime(tmp_path)
    with pytest.raises(EngineLockedError):
        Store(tmp_path / "rt.db", writer=True)
    await rt.close()


async def test_decide_now_is_manual_and_honours_pause(tmp_path: Path) -> None:
    models = [ScriptedModel("A", ("BUY", 0.9)), ScriptedModel("B", ("BUY", 0.9))]
    rt = await make_runtime(tmp_path, models=models)
    await rt.monitor_tick()
    await rt.set_paused(True)
    paused = await rt.decide_now("SOL/USDT")
    await rt.set_paused(False)
    resumed = await rt.decide_now("SOL/USDT")
    await rt.close()
    assert paused is not None and not paused.executed and "paused" in paused.note
    assert resumed is not None and resumed.executed
    assert q(tmp_path / "rt.db", "SELECT symbol, source, executed FROM ai_decisions") == [
        ("SOL/USDT", "manual", 0), ("SOL/USDT", "manual", 1)]


async def test_trades_at_the_price_of_settlement_not_of_the_question(tmp_path: Path) -> None:
    """Models that answer after the price went stale: nothing is executed."""
    from tests.runtime_fixtures import START

    class Slow(ScriptedModel):
        async def decide(self, context):  # type: ignore[no-untyped-def]
            rt.clock.advance(600)  # type: ignore[attr-defined]  # a 10-minute model call
            return await super().decide(context)

    rt = await make_runtime(tmp_path, models=[Slow("A", ("BUY", 0.9)),
                                              ScriptedModel("B", ("BUY", 0.9))],
                            symbols=["BTC/USDT"])
    await rt.monitor_tick()
    (rec,) = await rt.decision_cycle()
    await rt.close()
    assert rt.clock.now() >= START + 600
    assert not rec.executed and "stale" in rec.note and rt.engine.positions == {}


async def test_a_decision_and_its_fills_commit_together(tmp_path: Path) -> None:
    from autotrade_tui.errors import StoreError

    models = [ScriptedModel("A", ("BUY", 0.9)), ScriptedModel("B", ("BUY", 0.9))]
    rt = await make_runtime(tmp_path, models=models, symbols=["BTC/USDT"])
    await rt.monitor_tick()
    real = rt.store.record_decision

    def failing(**kw: Any) -> int:
        # the fills become unwritable (NOT NULL) inside the decision's transaction
        kw["trades"] = [replace(t, symbol=None) for t in kw["trades"]]
        return real(**kw)

    rt.store.record_decision = failing  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        await rt._settle(await rt._prepare("BTC/USDT"), TradeSource.AUTO)
    assert rt.engine.positions == {}  # put back in memory
    await rt.close()
    assert q(tmp_path / "rt.db", "SELECT count(*) FROM ai_decisions") == [(0,)]
    assert q(tmp_path / "rt.db", "SELECT count(*) FROM trades") == [(0,)]


async def test_restored_position_outside_the_symbols_is_still_priced(tmp_path: Path) -> None:
    rt = await make_runtime(tmp_path, symbols=["BTC/USDT", "SOL/USDT"])
    await rt.monitor_tick()
    await rt.manual_open("SOL/USDT", Side.LONG)
    await rt.close()
    again = await make_runtime(tmp_path, symbols=["BTC/USDT"])
    await again.monitor_tick()
    assert "SOL/USDT" in again.symbols and "SOL/USDT" in again.prices()
    await again.manual_close("SOL/USDT")
    await again.close()


async def test_models_and_symbols_run_concurrently_over_http(tmp_path: Path) -> None:
    """Every model call takes 1 s: a cycle over 3 symbols x 2 models takes ~1 s, not 6."""
    async with OpenAIServer(default=Reply(content=answer("BUY", 0.9), delay=1.0)) as server:
        rt = await make_runtime(tmp_path, openrouter_api_key=Secret("sk-test-secret"),
                                ai_base_url=server.url, model_timeout_seconds=10.0)
        await rt.monitor_tick()
        t0 = time.perf_counter()
        recs = await rt.decision_cycle()
        took = time.perf_counter() - t0
        await rt.close()
    assert len(server.requests) == 6 and len(recs) == 3
    assert took < 2.5, f"cycle took {took:.2f} s: model calls are not concurrent"
    assert all(r.executed for r in recs)
    rows = q(tmp_path / "rt.db", "SELECT model_1_name, tokens, input_data FROM ai_decisions")
    assert all(r[0] == "deepseek/deepseek-chat-v3.1" and r[1] == 300 for r in rows)
    assert not any("sk-test-secret" in json.dumps(codec.decode(r[2])) for r in rows)
    assert not any(b"sk-test-secret" in r[2] for r in rows)


async def test_liquidation_on_a_monitor_tick_is_persisted(tmp_path: Path) -> None:
    rt = await make_runtime(tmp_path, leverage=125.0, symbols=["SOL/USDT"])
    trades: list[TradeExecuted] = []
    rt.subscribe(lambda u: trades.append(u) if isinstance(u, TradeExecuted) else None)
    await rt.monitor_tick()
    await rt.manual_open("SOL/USDT", Side.LONG)
    await rt.manual_open("SOL/USDT", Side.SHORT)  # close-then-open: stays in the market
    for _ in range(2000):  # at 125x a ~0.3 % move liquidates; the sim gets there quickly
        rt.clock.advance(5)  # type: ignore[attr-defined]
        await rt.monitor_tick()
        if rt.engine.ledger.liquidations:
            break
    await rt.close()
    assert rt.engine.ledger.liquidations == 1
    rows = q(tmp_path / "rt.db", "SELECT order_type, source, pnl, margin FROM trades "
             "WHERE order_type = 'LIQUIDATION'")
    assert len(rows) == 1 and rows[0][1] == "liquidation" and rows[0][2] == -rows[0][3]
    assert any(t.trade.order_type.value == "LIQUIDATION" for t in trades)


async def test_losing_the_engine_lock_stops_trading(tmp_path: Path) -> None:
    """If another engine takes the database (PostgreSQL lock lost), this one stops."""
    from autotrade_tui.errors import EngineLockedError

    models = [ScriptedModel("A", ("BUY", 0.9)), ScriptedModel("B", ("BUY", 0.9))]
    rt = await make_runtime(tmp_path, models=models, symbols=["BTC/USDT"])
    await rt.monitor_tick()

    def taken(*_a: object, **_k: object) -> None:
        raise EngineLockedError("another autotrade-tui engine is trading on this database")

    rt.store.save_state = taken  # type: ignore[method-assign]
    rt.store.record_decision = taken  # type: ignore[method-assign]
    ledger_before = rt.engine.ledger.capital
    await rt._guarded(rt.decision_cycle(), "decision cycle")
    assert rt.stopping and isinstance(rt.fatal, EngineLockedError)
    assert rt.engine.positions == {} and rt.engine.ledger.capital == ledger_before
    await rt.run()  # returns at once: the runtime has stopped itself
    await rt.close()


async def test_opening_reads_the_store_off_the_event_loop(tmp_path: Path) -> None:
    """A slow database (a PostgreSQL retry, a busy disk) must not freeze the loop the TUI
    paints on while the runtime restores its state and recent events."""
    class SlowStore(Store):
        def load_state(self) -> Any:
            time.sleep(0.4)
            return super().load_state()

    settings = defaults(market_source="sim", symbols=SYMBOLS,
                        database_url=str(tmp_path / "slow.db"))
    clock = VirtualClock(START)
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    rt = await Runtime.open(settings, clock=clock, feed=SimMarket(SYMBOLS, clock, seed=7),
                            store=SlowStore(tmp_path / "slow.db", writer=True))
    done.set()
    await ticking
    try:
        assert sum(gaps) >= 0.4 and max(gaps) < 0.2  # the loop ran all along
        assert rt.engine.ledger.capital == settings.initial_capital
    finally:
        await rt.close()


async def test_cancelling_open_waits_for_the_restore_before_closing_the_store(
        tmp_path: Path) -> None:
    """Quit while the state is being restored: the store is closed (the writer lock released)
    only after the restoring thread is done with it, never under it."""
    calls: list[str] = []

    class SlowStore(Store):
        def load_state(self) -> Any:
            time.sleep(0.3)
            calls.append("load_state")
            return super().load_state()

        def save_state(self, *args: Any, **kwargs: Any) -> Any:
            calls.append("save_state")
            return super().save_state(*args, **kwargs)

        def close(self) -> None:
            calls.append("close")
            super().close()

    db = tmp_path / "cancel.db"
    settings = defaults(market_source="sim", symbols=SYMBOLS, database_url=str(db))
    clock = VirtualClock(START)
    opening = asyncio.create_task(Runtime.open(
        settings, clock=clock, feed=SimMarket(SYMBOLS, clock, seed=7),
        store=SlowStore(db, writer=True)))
    await asyncio.sleep(0.05)  # inside load_state
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert calls == ["load_state", "save_state", "close"]  # a new account, then closed
    Store(db, writer=True).close()  # the lock is free again

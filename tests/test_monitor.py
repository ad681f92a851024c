"""The event monitor through the runtime: a simulated day yields every event type, persisted
with SPEC §9 severities and cooldowns respected; CRITICAL events may trigger a decision."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path

from autotrade_tui.core.events import EventThresholds
from autotrade_tui.core.models import SEVERITY_RANK, EventType, Severity, Side
from autotrade_tui.runtime.updates import EventRaised
from tests.runtime_fixtures import ScriptedModel, make_runtime

TICK = 5.0


async def test_a_simulated_day_produces_every_event_type(tmp_path: Path) -> None:
    rt = await make_runtime(tmp_path, leverage=20.0)
    raised: list[EventRaised] = []
    rt.subscribe(lambda u: raised.append(u) if isinstance(u, EventRaised) else None)
    await rt.monitor.prime()
    await rt.monitor_tick()
    await rt.manual_open("BTC/USDT", Side.LONG)  # 20x: within 10 % of liquidation at once
    for _ in range(int(86_400 / TICK)):
        rt.clock.advance(TICK)  # type: ignore[attr-defined]
        await rt.monitor_tick()
        if "BTC/USDT" not in rt.engine.positions:  # liquidated or closed: keep one open
            await rt.manual_open("BTC/USDT", Side.LONG)
    await rt.close()

    with sqlite3.connect(tmp_path / "rt.db") as con:
        rows = con.execute("SELECT ts, symbol, event_type, severity, metrics FROM "
                           "market_events ORDER BY ts").fetchall()
    assert len(rows) == len(raised)
    assert {r[2] for r in rows} == {t.value for t in EventType}
    cooldown = EventThresholds()
    last: dict[tuple[str, str], tuple[float, str]] = defaultdict(lambda: (-1e18, "CRITICAL"))
    for ts, symbol, etype, severity, metrics in rows:
        then, was = last[(symbol, etype)]
        gap = ts - then
        escalated = SEVERITY_RANK[Severity(severity)] > SEVERITY_RANK[Severity(was)]
        assert escalated or gap >= cooldown.cooldown_seconds(EventType(etype)) - 1e-6, (
            symbol, etype, gap)  # inside the cooldown only when worse (SPEC §9)
        last[(symbol, etype)] = (ts, severity)
        m = json.loads(metrics)
        if etype in ("FLASH_CRASH", "FLASH_RALLY"):
            pct = abs(m["change_pct"])
            want = "CRITICAL" if pct > 5 else "HIGH" if pct >= 3 else "MEDIUM"
            assert severity == want and pct >= 2.0
        if etype == "LIQUIDATION_RISK":
            d = m["distance_pct"]
            want = "CRITICAL" if d < 2 else "HIGH" if d <= 5 else "MEDIUM"
            assert severity == want and d <= 10.0


async def test_critical_event_triggers_an_event_decision_when_enabled(tmp_path: Path) -> None:
    models = [ScriptedModel("A", ("HOLD", 0.5)), ScriptedModel("B", ("HOLD", 0.5))]
    rt = await make_runtime(tmp_path, models=models, event_triggered_decisions=True,
                            leverage=125.0, symbols=["SOL/USDT"])
    await rt.monitor_tick()
    await rt.manual_open("SOL/USDT", Side.LONG)  # 125x: liquidation < 1 % away → CRITICAL
    await rt.monitor_tick()
    for task in list(rt._background):
        await task
    await rt.close()
    with sqlite3.connect(tmp_path / "rt.db") as con:
        assert con.execute("SELECT severity FROM market_events WHERE event_type = "
                           "'LIQUIDATION_RISK'").fetchall() == [("CRITICAL",)]
        assert con.execute("SELECT symbol, source FROM ai_decisions").fetchall() == [
            ("SOL/USDT", "event")]


async def test_critical_event_does_not_trigger_when_disabled(tmp_path: Path) -> None:
    rt = await make_runtime(tmp_path, leverage=125.0, symbols=["SOL/USDT"])
    await rt.monitor_tick()
    await rt.manual_open("SOL/USDT", Side.LONG)
    await rt.monitor_tick()
    assert not rt._background
    await rt.close()
    with sqlite3.connect(tmp_path / "rt.db") as con:
        assert con.execute("SELECT count(*) FROM ai_decisions").fetchone() == (0,)


async def test_cooldowns_and_recent_events_survive_a_restart(tmp_path: Path) -> None:
    rt = await make_runtime(tmp_path, leverage=20.0, symbols=["BTC/USDT"])
    await rt.monitor_tick()
    await rt.manual_open("BTC/USDT", Side.LONG)
    await rt.monitor_tick()
    clock = rt.clock
    await rt.close()
    again = await make_runtime(tmp_path, leverage=20.0, symbols=["BTC/USDT"], clock=clock,
                               event_repeat_minutes=5.0)  # type: ignore[arg-type]
    assert any(e.event_type is EventType.LIQUIDATION_RISK for e in again.recent_events)
    clock.advance(60)  # type: ignore[attr-defined]
    await again.monitor_tick()  # inside the 2-minute cooldown: not raised again
    clock.advance(61)  # type: ignore[attr-defined]
    await again.monitor_tick()  # past it, but the same lasting condition: news once (§9)
    clock.advance(180)  # type: ignore[attr-defined]
    await again.monitor_tick()  # event_repeat_minutes after it was raised: raised again
    await again.close()
    with sqlite3.connect(tmp_path / "rt.db") as con:
        ts = [r[0] for r in con.execute("SELECT ts FROM market_events WHERE event_type = "
                                        "'LIQUIDATION_RISK' ORDER BY ts")]
    assert len(ts) == 2 and ts[1] - ts[0] >= 300

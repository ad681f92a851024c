"""Runtime.open as the front ends use it: market=auto against a loopback Kraken (live data
on wall time, --speed ignored) or a dead port (the sim, sped up); LLM models over HTTP
where one fails and the other answers."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from autotrade_tui.config import Secret, defaults
from tests.kraken_server import KrakenServer, closed_port_url
from tests.openai_server import OpenAIServer, Recorded, Reply, answer
from tests.runtime_fixtures import make_runtime


async def test_auto_with_live_data_runs_on_wall_time(tmp_path: Path) -> None:
    from autotrade_tui.runtime.trader import Runtime

    with KrakenServer() as kraken:
        settings = defaults(market_source="auto", exchange_api_url=kraken.url, speed=60.0,
                            database_url=str(tmp_path / "a.db"))
        rt = await Runtime.open(settings)
        try:
            assert rt.status().mode == "LIVE DATA"
            assert rt.clock.speed == 1.0  # type: ignore[attr-defined]
            assert abs(rt.clock.now() - time.time()) < 2.0
            await rt.monitor_tick()
            assert rt.prices()["BTC/USDT"] == 67_250.5
        finally:
            await rt.close()


async def test_auto_without_exchange_falls_back_to_a_sped_up_sim(tmp_path: Path) -> None:
    from autotrade_tui.runtime.trader import Runtime

    settings = defaults(market_source="auto", exchange_api_url=closed_port_url(), speed=60.0,
                        database_url=str(tmp_path / "a.db"))
    rt = await Runtime.open(settings)
    try:
        status = rt.status()
        assert status.mode == "SIM" and "simulated" in status.note and status.speed == 60.0
    finally:
        await rt.close()


async def test_one_llm_failing_while_the_other_answers(tmp_path: Path) -> None:
    def by_model(req: Recorded) -> Reply:
        if req.body["model"].startswith("deepseek"):
            return Reply(status=500)
        return Reply(content=answer("SELL", "85%", "RSI 81, overbought"))

    async with OpenAIServer() as server:
        server.default = by_model  # type: ignore[assignment]
        rt = await make_runtime(tmp_path, openrouter_api_key=Secret("k"),
                                ai_base_url=server.url, model_max_retries=1,
                                symbols=["ETH/USDT"])
        await rt.monitor_tick()
        (rec,) = await rt.decision_cycle()
        await rt.close()
    assert rec.votes[0].error and not rec.votes[1].error
    assert rec.result.decision.value == "SELL" and rec.executed
    with sqlite3.connect(tmp_path / "rt.db") as con:
        row = con.execute("SELECT model_1_decision, model_1_error, model_2_decision, "
                          "model_2_confidence, model_2_reasoning FROM ai_decisions").fetchone()
    assert row[0] is None and "500" in row[1]
    assert row[2:] == ("SELL", 0.85, "RSI 81, overbought")

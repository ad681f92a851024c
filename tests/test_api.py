"""The engine's API (SPEC §13) over its Unix socket, on a real engine: every read endpoint's
keys and paging, the commands through the engine (recorded in the database), the engine's
refusal as 409, bad input as 422, an unknown symbol as 404, a storage fault as 503."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from autotrade_tui.api import wire
from autotrade_tui.cli import main
from autotrade_tui.core.models import Side, TradeSource
from tests.api_fixtures import SYMBOLS, api_of, engine, http

BTC, ETH, SOL = SYMBOLS


def db_rows(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "api.db") as con:
        return con.execute(sql).fetchall()


def report_json(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    capsys.readouterr()
    assert main(["report", "--json", "--db", str(tmp_path / "api.db")]) == 0
    return json.loads(capsys.readouterr().out)


async def test_reads_have_the_report_keys_and_page_by_id(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with engine(tmp_path) as link, http(api_of(link).path) as c:
        rt = link.runtime
        await rt.decision_cycle()
        for side in (Side.LONG, Side.SHORT, Side.LONG):  # open, flip (close + open), flip
            await rt.manual_open(BTC, side)
        await rt.manual_open(ETH, Side.SHORT)
        await rt.monitor_tick()

        st = (await c.get("/api/status")).json()
        for key in ("mode", "models", "now", "next_decision_at", "paused", "halted_reason",
                    "last_data_ts", "data_age_s", "stale", "version", "symbols", "trading_off",
                    "speed", "risk", "fatal"):
            assert key in st, key
        assert st["mode"] == "SIM" and st["symbols"] == SYMBOLS and st["data_age_s"] >= 0
        assert wire.decode_status(st) == link.status()

        acc = (await c.get("/api/account")).json()
        positions = (await c.get("/api/positions")).json()
        assert [p["symbol"] for p in positions] == [BTC, ETH]
        assert positions == acc["positions"] and positions[0]["side"] == "LONG"

        perf = (await c.get("/api/performance")).json()
        all_trades = db_rows(tmp_path, "select id from trades order by id desc")
        page1 = (await c.get("/api/trades", params={"limit": 2})).json()
        page2 = (await c.get("/api/trades", params={"limit": 2,
                                                    "before_id": page1[-1]["id"]})).json()
        assert [t["id"] for t in page1 + page2] == [r[0] for r in all_trades][:4]
        assert set(page1[0]) == {"id", "timestamp", "decision_id", *wire.encode_trade(
            wire.decode_trade(page1[0]))}
        assert page1[0]["source"] == "manual"

        decisions = (await c.get("/api/ai-decisions", params={"limit": 2})).json()
        assert len(decisions) == 2 and "input_data" not in decisions[0]
        assert {"model_1_decision", "model_2_decision", "model_1_reasoning", "final_decision",
                "vote_reason", "executed", "execution_note"} <= set(decisions[0])
        eth = (await c.get("/api/ai-decisions", params={"symbol": "eth/usdt"})).json()
        assert [d["symbol"] for d in eth] == [ETH]
        older = (await c.get("/api/ai-decisions",
                             params={"before_id": decisions[-1]["id"]})).json()
        assert [d["id"] for d in older] == list(range(decisions[-1]["id"] - 1, 0, -1))
        one = (await c.get(f"/api/ai-decisions/{decisions[0]['id']}")).json()
        assert one["input_data"]["context"]["symbol"] == one["symbol"]

        events = (await c.get("/api/events", params={"limit": 3})).json()
        assert len(events) <= 3 and all({"id", "event_type", "severity"} <= set(e)
                                        for e in events)
        curve = (await c.get("/api/equity-curve")).json()
        assert curve and set(curve[0]) == {"ts", "equity"}
        assert (await c.get("/api/equity-curve", params={"since": 2e9})).json() == []

        candles = (await c.get("/api/candles", params={"symbol": BTC, "timeframe": "1h",
                                                       "limit": 5})).json()
        assert len(candles) == 5 and candles[1]["ts"] - candles[0]["ts"] == 3600
        preview = wire.decode_preview((await c.get(
            "/api/preview", params={"kind": "close", "symbol": BTC})).json())
        assert preview.position is not None and preview.position.side is Side.LONG
        history = wire.decode_history((await c.get("/api/history",
                                                   params={"limit": 3})).json())
        assert len(history.trades) == 3 and history.trades[0].source is TradeSource.MANUAL
        assert history.decisions[0].id == decisions[0]["id"]
        card = (await c.get("/api/scorecard")).json()  # SPEC §16: the models and the vote
        models = {row["model"]: row for row in card["scorecard"]}
        assert set(models) == {*link.status().models, "ensemble"}
        assert {"equity", "return_pct", "trades", "win_rate", "max_drawdown", "accuracy_1",
                "accuracy_1h", "errors", "tokens", "cost"} <= set(models["ensemble"])
        assert models["ensemble"]["equity"] == pytest.approx(acc["equity"])
        assert set(card["curves"]) <= set(models)

    # after the engine closed: `report --json` on the same database, same keys and figures
    rep = report_json(tmp_path, capsys, monkeypatch)
    assert set(acc) - {"scorecard_curves"} <= set(rep)
    for key in ("capital", "realized_pnl", "total_fees", "total_trades", "initial_capital",
                "open_margin", "liquidations", "win_rate", "halted_reason"):
        assert acc[key] == rep[key], key
    assert set(perf) <= set(rep)
    for key in ("total_trades", "model_tokens", "model_cost", "stop_outs", "paused"):
        assert perf[key] == rep[key], key


async def test_commands_go_through_the_engine_and_are_recorded(tmp_path: Path) -> None:
    async with engine(tmp_path) as link, http(api_of(link).path) as c:
        r = await c.post("/api/orders", json={"symbol": BTC, "side": "LONG"})
        assert r.status_code == 200 and r.json()["result"].startswith("OPEN LONG BTC/USDT")
        assert (await c.post("/api/orders", json={"symbol": ETH, "side": "SHORT"})
                ).status_code == 200
        assert set(link.runtime.engine.positions) == {BTC, ETH}
        r = await c.post("/api/positions/BTC%2FUSDT/close")  # quoted, as a client sends it
        assert r.status_code == 200 and r.json()["result"].startswith("closed LONG BTC/USDT")
        assert (await c.post("/api/orders", json={"symbol": SOL, "side": "LONG"})
                ).status_code == 200
        r = await c.post("/api/close-all")
        assert r.status_code == 200 and r.json()["result"].startswith("closed 2 position(s)")
        assert link.runtime.engine.positions == {}
        assert db_rows(tmp_path, "select symbol, order_type, side, source from trades "
                                 "order by id") == [
            (BTC, "OPEN", "LONG", "manual"), (ETH, "OPEN", "SHORT", "manual"),
            (BTC, "CLOSE", "LONG", "manual"), (SOL, "OPEN", "LONG", "manual"),
            (ETH, "CLOSE", "SHORT", "manual"), (SOL, "CLOSE", "LONG", "manual")]

        r = await c.post("/api/pause")
        assert r.json() == {"paused": True, "trading_off": True, "changed": True}
        assert (await c.post("/api/pause")).json()["changed"] is False  # never toggled back
        assert db_rows(tmp_path, "select paused from account_state") == [(1,)]
        r = await c.post("/api/resume")
        assert r.json() == {"paused": False, "trading_off": False, "changed": True}
        assert db_rows(tmp_path, "select paused from account_state") == [(0,)]

        r = await c.post("/api/decide", json={"symbol": ETH})
        d = wire.decode_decision(r.json()["decision"])
        assert d.symbol == ETH and d.source == "manual"
        assert db_rows(tmp_path, f"select symbol, source from ai_decisions where id = {d.id}"
                       ) == [(ETH, "manual")]


async def test_refusal_is_409_with_the_engines_reason_and_nothing_done(tmp_path: Path) -> None:
    async with engine(tmp_path, max_positions=1) as link, http(api_of(link).path) as c:
        r = await c.post(f"/api/positions/{BTC}/close")
        assert (r.status_code, r.json()) == (409, {"detail": f"no open position on {BTC}"})
        assert (await c.post("/api/close-all")).json() == {"detail": "no open positions"}
        r = await c.get("/api/preview", params={"kind": "close", "symbol": BTC})
        assert (r.status_code, r.json()) == (409, {"detail": f"no open position on {BTC}"})
        assert (await c.post("/api/orders", json={"symbol": BTC, "side": "LONG"})
                ).status_code == 200
        r = await c.post("/api/orders", json={"symbol": ETH, "side": "LONG"})
        assert r.status_code == 409 and "max" in r.json()["detail"].lower()
        assert db_rows(tmp_path, "select symbol from trades") == [(BTC,)]
        assert list(link.runtime.engine.positions) == [BTC]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/api/orders", {"symbol": BTC, "side": "LONG", "size": 5}),  # unknown field
    ("post", "/api/orders", {"symbol": BTC, "side": "UP"}),
    ("post", "/api/orders", {"side": "LONG"}),
    ("post", "/api/decide", {"symbol": BTC, "now": True}),
    ("post", "/api/orders", b'{"symbol": "BTC/USDT", "side": '),  # not JSON
    ("get", "/api/trades?limit=0", None),
    ("get", "/api/trades?before_id=x", None),
    ("get", f"/api/candles?symbol={BTC}&timeframe=2m", None),
    ("get", f"/api/preview?kind=buy&symbol={BTC}", None),
])
async def test_bad_input_is_422(tmp_path: Path, method: str, path: str, body: Any) -> None:
    async with engine(tmp_path) as link, http(api_of(link).path) as c:
        if isinstance(body, bytes):
            r = await c.post(path, content=body, headers={"content-type": "application/json"})
        else:
            r = await c.request(method.upper(), path, json=body)
        assert r.status_code == 422, r.text
        assert db_rows(tmp_path, "select count(*) from trades") == [(0,)]


async def test_unknown_symbol_or_decision_is_404(tmp_path: Path) -> None:
    async with engine(tmp_path) as link, http(api_of(link).path) as c:
        for r in [await c.post("/api/orders", json={"symbol": "DOGE/USDT", "side": "LONG"}),
                  await c.post("/api/positions/DOGE/USDT/close"),
                  await c.post("/api/decide", json={"symbol": "DOGE/USDT"}),
                  await c.get("/api/candles", params={"symbol": "DOGE/USDT"}),
                  await c.get("/api/preview", params={"kind": "long", "symbol": "DOGE/USDT"}),
                  await c.get("/api/ai-decisions", params={"symbol": "DOGE/USDT"})]:
            assert r.status_code == 404 and "DOGE/USDT" in r.json()["detail"], r.text
        assert (await c.get("/api/ai-decisions/999")).status_code == 404


async def test_a_storage_fault_is_503_with_one_line(tmp_path: Path) -> None:
    async with engine(tmp_path) as link, http(api_of(link).path) as c:
        assert (await c.get("/api/trades")).status_code == 200
        with sqlite3.connect(tmp_path / "api.db") as con:  # the database damaged under it
            con.execute("drop table trades")
        r = await c.get("/api/trades")
        assert r.status_code == 503 and "\n" not in r.json()["detail"], r.text
        assert (await c.get("/api/account")).status_code == 200  # memory still serves

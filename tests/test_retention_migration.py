"""Schema versions 2 and 4 (SPEC §10 "Runs for a year"): `input_data` and the snapshots'
`open_positions` compressed and given back whole; a database written with version 1's schema
(tests/data/schema_v1.sql, dumped from a file the version-1 program wrote) or version 3's is
upgraded in place, its rows readable before and after: on SQLite and on a real PostgreSQL
server (the shared `db_url` fixture, when TEST_DATABASE_URL names one)."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from autotrade_tui.report import export
from autotrade_tui.store import codec
from autotrade_tui.store.store import Store
from autotrade_tui.store.tables import SCHEMA_VERSION, USAGE_INDEX, DecisionRow

SCHEMA_V1 = Path(__file__).parent / "data" / "schema_v1.sql"


def _input(i: int) -> dict[str, Any]:
    return {"context": {"symbol": "BTC/USDT", "ts": 1.7e9 + i, "price": 60_000.5 + i,
                        "indicators": {"rsi_14": 40.0 + i / 7, "nan_became": None}},
            "prompt": [{"role": "system", "content": "You are a disciplined crypto trading "
                        "analyst ü €"}, {"role": "user", "content": f"Symbol: BTC/USDT #{i}"}],
            "models": ["offline/trend-follower", "offline/mean-reversion"]}


def _v1_database(path: Path, n: int) -> list[dict[str, Any]]:
    """A version-1 file as that program left it: its DDL, JSON text in input_data."""
    con = sqlite3.connect(path)
    con.executescript(SCHEMA_V1.read_text())
    con.execute("INSERT INTO schema_meta VALUES ('schema_version', '1')")
    inputs = [_input(i) for i in range(n)]
    for i, data in enumerate(inputs):
        con.execute(
            "INSERT INTO ai_decisions (timestamp, symbol, final_decision, model_1_confidence,"
            " model_2_confidence, model_1_reasoning, model_2_reasoning, executed, input_data,"
            " model_1_name, model_2_name, final_confidence, vote_reason, execution_note, source,"
            " price, tokens, cost, latency_s, ts) VALUES ('2026-01-01 00:00:00', 'BTC/USDT',"
            " 'HOLD', 0.5, 0.5, 'r1', 'r2', 0, ?, 'a', 'b', 0.5, 'v', '', 'auto', 1.0, 10, 0.01,"
            " 0.1, ?)", (json.dumps(data), 1.7e9 + i))
    con.commit()
    con.close()
    return inputs


def _decisions(store: Store) -> list[dict[str, Any]]:
    return [r.input_data for r in store.rows(DecisionRow, newest_first=False)]


def test_codec_round_trip_and_old_forms() -> None:
    data = _input(3)
    blob = codec.encode(data)
    assert codec.is_compressed(blob) and blob[1] & 0x20  # zlib with the preset dictionary
    assert codec.decode(blob) == data
    assert codec.decode(json.dumps(data)) == data  # SQLite text of version 1
    assert codec.decode(json.dumps(data).encode()) == data  # PostgreSQL after ALTER … BYTEA
    assert codec.decode(memoryview(blob)) == data
    assert codec.decode(None) is None
    hostile = {"t": "\u202e\x1b[2J ×"}  # bidi override, escape, non-ASCII
    assert codec.raw_json(codec.encode(hostile)) == '{"t":"\\u202e\\u001b[2J \\u00d7"}'
    assert codec.raw_json(json.dumps(hostile)) == json.dumps(hostile)
    assert codec.raw_json(hostile) == json.dumps(hostile) and codec.raw_json(None) is None
    with pytest.raises(ValueError, match="dictionary"):
        codec.decode(blob[:2] + b"\0\0\0\1" + blob[6:])


def test_version_1_database_is_upgraded_and_reads_the_same(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    inputs = _v1_database(db, 1_205)  # more than one batch of the rewrite
    with Store(db, read_only=True) as reader:  # report/export read a version-1 file as it is
        assert _decisions(reader) == inputs
    raw_before = sqlite3.connect(db).execute(
        "SELECT sum(length(input_data)) FROM ai_decisions").fetchone()[0]

    with Store(db, writer=True) as store:
        assert _decisions(store) == inputs
        out = io.StringIO()
        assert export(store, "decisions", "json", out) == len(inputs)
        assert [r["input_data"] for r in json.loads(out.getvalue())] == inputs

    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM schema_meta").fetchone() == (str(SCHEMA_VERSION),)
    assert con.execute("SELECT DISTINCT typeof(input_data) FROM ai_decisions").fetchall() \
        == [("blob",)]
    raw_after = con.execute("SELECT sum(length(input_data)) FROM ai_decisions").fetchone()[0]
    assert raw_after < raw_before / 2
    plan = " ".join(str(r) for r in con.execute(
        "EXPLAIN QUERY PLAN SELECT sum(tokens), sum(cost) FROM ai_decisions"))
    assert USAGE_INDEX in plan  # the report's sums read the index, not a year of rows
    con.close()
    with Store(db, writer=True) as store:  # a second start changes nothing
        assert _decisions(store) == inputs


def test_new_rows_are_stored_compressed(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    with Store(db, writer=True) as store:
        with store.engine.begin() as conn:
            conn.execute(DecisionRow.__table__.insert().values(  # type: ignore[attr-defined]
                timestamp=codec_dt(), symbol="ETH/USDT", final_decision="HOLD",
                model_1_reasoning="", model_2_reasoning="", vote_reason="", execution_note="",
                model_1_name="", model_2_name="", source="auto", executed=False,
                model_1_confidence=0.0, model_2_confidence=0.0, final_confidence=0.0,
                price=1.0, tokens=0, cost=0.0, latency_s=0.0, ts=1.0, input_data=_input(1)))
        assert _decisions(store) == [_input(1)]
    stored = sqlite3.connect(db).execute("SELECT input_data FROM ai_decisions").fetchone()[0]
    assert isinstance(stored, bytes) and codec.is_compressed(stored)


def codec_dt() -> Any:
    from autotrade_tui.store.store import to_dt

    return to_dt(1.0)


def test_dictionary_v1_is_frozen() -> None:
    """Rows name it by this Adler-32: editing it would make every stored input unreadable."""
    import zlib

    from autotrade_tui.store.zdict import DICTIONARIES, V1, V2

    assert zlib.adler32(V1) == 0xFEDCDEF5 and len(V1) == 5086 and DICTIONARIES[0] is V1
    assert zlib.adler32(V2) == 0x62D6D836 and len(V2) == 24812 and DICTIONARIES[1] is V2
    old = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, V1)
    blob = old.compress(b'{"a":[1,2.5]}') + old.flush()  # a row written with V1 still reads
    assert codec.decode(blob) == {"a": [1, 2.5]} and codec.raw_json(blob) == '{"a":[1,2.5]}'


# ---- an old database of either kind, upgraded to today's (SQLite and PostgreSQL)


def _positions(i: int) -> list[dict[str, Any]]:
    return [] if i % 3 == 0 else [
        {"symbol": "BTC/USDT", "side": "SHORT", "quantity": 0.25 + i / 1e4,
         "entry_price": 83_959.9 + i, "liquidation_price": 87_719.3, "entries": 1 + i % 2}]


def _old_database(url: str, version: int, decisions: int, snapshots: int) -> tuple[
        list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """A database of schema `version` (1 or 3) as that program left it: version 1 without
    the usage index and the scorecard table, `input_data` as JSON; both with the snapshots'
    positions as JSON. SQLite version 1 is the real DDL of that program."""
    from sqlalchemy import create_engine, text
    from sqlmodel import SQLModel

    from autotrade_tui.store.db import resolve_url

    inputs = [_input(i) for i in range(decisions)]
    positions = [_positions(i) for i in range(snapshots)]
    pg = "://" in url
    engine = create_engine(resolve_url(url, Path("unused.db")))
    json_value = "CAST(:j AS JSON)" if pg else ":j"
    with engine.begin() as conn:
        if not pg and version == 1:
            conn.connection.executescript(SCHEMA_V1.read_text())
        else:
            SQLModel.metadata.create_all(conn)
            if version == 1:
                conn.exec_driver_sql("DROP TABLE model_scorecard")
                conn.exec_driver_sql(f"DROP INDEX {USAGE_INDEX}")
            if pg:
                for table, column in ((("ai_decisions", "input_data"),) * (version == 1)
                                      + (("account_snapshots", "open_positions"),)):
                    conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE JSON"
                                         " USING NULL")
        conn.execute(text("INSERT INTO schema_meta (key, value) VALUES ('schema_version', :v)"),
                     {"v": str(version)})
        for i, data in enumerate(inputs):
            conn.execute(text(
                "INSERT INTO ai_decisions (timestamp, symbol, final_decision, model_1_confidence,"
                " model_2_confidence, model_1_reasoning, model_2_reasoning, executed, input_data,"
                " model_1_name, model_2_name, final_confidence, vote_reason, execution_note,"
                " source, price, tokens, cost, latency_s, ts) VALUES (:t, 'BTC/USDT', 'HOLD',"
                " 0.5, 0.5, 'r1', 'r2', false, "
                f"{json_value if version == 1 else ':j'}, 'a', 'b', 0.5, 'v', '', 'auto', 1.0,"
                " 10, 0.01, 0.1, :ts)"),
                {"t": codec_dt(), "ts": 1.7e9 + i,
                 "j": json.dumps(data) if version == 1 else codec.encode(data)})
        for i, held in enumerate(positions):
            conn.execute(text(
                "INSERT INTO account_snapshots (timestamp, total_equity, total_capital,"
                " unrealized_pnl, open_positions, total_trades, winning_trades, losing_trades,"
                f" win_rate, total_fees, ts) VALUES (:t, :e, :e, 0.0, {json_value}, 0, 0, 0,"
                " 0.0, 0.0, :ts)"),
                {"t": codec_dt(), "e": 100_000.0 + (i * 37 % 101), "ts": 1.7e9 + 60.0 * i,
                 "j": json.dumps(held)})
    engine.dispose()
    return inputs, positions


def _raw(store: Store, sql: str) -> list[Any]:
    with store.engine.connect() as conn:
        return [bytes(v) if isinstance(v, memoryview) else v
                for (v,) in conn.exec_driver_sql(sql)]


@pytest.mark.parametrize("version", [1, 3])
def test_an_old_database_is_upgraded_to_todays_on_sqlite_and_postgresql(
        db_url: str, version: int) -> None:
    from autotrade_tui.store.tables import SnapshotRow

    inputs, positions = _old_database(db_url, version, 40, 620)  # > one batch of snapshots
    with Store(db_url, read_only=True) as reader:  # report/export read it before the upgrade
        assert _decisions(reader) == inputs
        curve = reader.equity_curve(limit=10_000)

    with Store(db_url, writer=True) as store:
        assert _decisions(store) == inputs
        assert [r.open_positions for r in store.rows(SnapshotRow, newest_first=False)] \
            == positions
        assert store.equity_curve(limit=10_000) == curve
        out = io.StringIO()
        assert export(store, "decisions", "json", out) == len(inputs)
        assert [r["input_data"] for r in json.loads(out.getvalue())] == inputs
        assert _raw(store, "SELECT value FROM schema_meta WHERE key = 'schema_version'") \
            == [str(SCHEMA_VERSION)]
        for sql in ("SELECT input_data FROM ai_decisions",
                    "SELECT open_positions FROM account_snapshots"):
            stored = _raw(store, sql)
            assert all(isinstance(v, bytes) and codec.is_compressed(v) for v in stored), sql
        usage = ("SELECT indexname FROM pg_indexes WHERE tablename = 'ai_decisions'"
                 if "://" in db_url else
                 "SELECT name FROM sqlite_master WHERE tbl_name = 'ai_decisions'")
        assert USAGE_INDEX in _raw(store, usage)
    with Store(db_url, writer=True) as store:  # a second start changes nothing
        assert [r.open_positions for r in store.rows(SnapshotRow, newest_first=False)] \
            == positions
        assert _decisions(store) == inputs

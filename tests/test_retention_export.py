"""`export` streams (SPEC §10 "Runs for a year"): rows read in batches by id and written as
they come, the same rows as one read would give; a file appears whole or not at all."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from autotrade_tui import report
from autotrade_tui.core.models import Action, ModelVote, VoteResult
from autotrade_tui.store.store import Store


def _decisions(db: Path, n: int) -> None:
    votes = [ModelVote("a", Action.HOLD, 0.5, 'say "hi", ok'), ModelVote("b", Action.BUY, 0.7)]
    with Store(db, writer=True) as store:
        for i in range(n):
            store.record_decision(symbol="BTC/USDT", ts=1.7e9 + i, price=1.0 + i, votes=votes,
                                  result=VoteResult(Action.HOLD, 0.6, "=hold", 0.7),
                                  executed=False, note="",
                                  input_data={"i": i, "q": 'a "quoted", text ×\n'})


def test_export_in_batches_gives_every_row_once(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "e.db"
    _decisions(db, 23)
    monkeypatch.setattr(report, "EXPORT_BATCH", 5)  # 5 reads of 5 and one of 3
    with Store(db, read_only=True) as store:
        out = io.StringIO()
        assert report.export(store, "decisions", "csv", out) == 23
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        js = io.StringIO()
        assert report.export(store, "decisions", "json", js, limit=12) == 12
        empty = io.StringIO()
        assert report.export(store, "trades", "json", empty) == 0
    assert [int(r["id"]) for r in rows] == list(range(1, 24))
    assert [json.loads(r["input_data"]) for r in rows] == [
        {"i": i, "q": 'a "quoted", text ×\n'} for i in range(23)]
    assert rows[0]["model_1_reasoning"] == 'say "hi", ok' and rows[0]["vote_reason"] == "'=hold"
    lines = js.getvalue().splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 14  # a row a line
    data = json.loads(js.getvalue())
    assert [d["id"] for d in data] == list(range(1, 13)) and data[4]["input_data"]["i"] == 4
    assert data[0]["timestamp"] == rows[0]["timestamp"] and data[0]["executed"] is False
    assert empty.getvalue() == "[]\n"


def test_a_failed_export_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from autotrade_tui.cli import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in ("AUTOTRADE_CONFIG", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    db, target = tmp_path / "f.db", tmp_path / "out.csv"
    _decisions(db, 8)
    monkeypatch.setattr(report, "EXPORT_BATCH", 3)
    real = report._csv_cell
    calls: list[int] = []
    stop = [0]  # none the first time: how many calls a whole export makes

    def failing(value: object) -> object:
        calls.append(1)
        if stop[0] and len(calls) > stop[0]:  # in the middle of the rows
            raise KeyboardInterrupt
        return real(value)

    monkeypatch.setattr(report, "_csv_cell", failing)
    report.export(Store(db, read_only=True), "decisions", "csv", io.StringIO())
    stop[0], calls[:] = len(calls) // 2, []
    assert main(["export", "decisions", "--db", str(db), "-o", str(target)]) == 130
    assert not target.exists() and not (tmp_path / ".out.csv.part").exists()
    monkeypatch.setattr(report, "_csv_cell", real)
    assert main(["export", "decisions", "--db", str(db), "-o", str(target)]) == 0
    assert len(list(csv.DictReader(target.open()))) == 8 and "wrote" in capsys.readouterr().err


def test_the_cockpits_history_reads_no_inputs_and_two_columns_of_snapshots(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A year-old database's first screen (SPEC §10): the decisions list never shows their
    inputs, so they are not read (nor decompressed); the equity curve is (ts, equity)."""
    from autotrade_tui.core.engine import Ledger
    from autotrade_tui.store import codec

    db = tmp_path / "h.db"
    _decisions(db, 12)
    with Store(db, writer=True) as store:
        for i in range(5):
            store.record_snapshot(1.7e9 + 60 * i, equity=100_000.0 + i, capital=100_000.0,
                                  unrealized=0.0, positions=[], ledger=Ledger(1e5, 1e5),
                                  prices={})

    def no_decoding(_data: object) -> object:
        raise AssertionError("an input was decoded")

    with Store(db, read_only=True) as store:
        monkeypatch.setattr(codec, "decode", no_decoding)
        monkeypatch.setattr(codec.ZJSON, "process_result_value",
                            lambda self, value, dialect: no_decoding(value))
        recent = store.recent_decisions(10)
        assert [d.ts for d in recent] == [1.7e9 + i for i in range(11, 1, -1)]
        assert recent[0].result.reason == "=hold" and recent[0].votes[0].reasoning == \
            'say "hi", ok'
        assert store.equity_curve(3) == [(1.7e9 + 60 * i, 100_000.0 + i) for i in (2, 3, 4)]


# ------------------------------------------------ export output: the same bytes as row by row


def _reference(rows: list[list[object]], names: list[str], kinds: list[str],
               fmt: str) -> str:
    """The export's text as the writers made it before they worked by slices and columns
    (c9ee250): a row at a time, every cell through its conversion, each raw JSON text
    put in at its placeholder by one replace."""
    import csv as csv_mod

    out = []
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv_mod.writer(buf, lineterminator="\n")
        writer.writerow(names)
        out.append(buf.getvalue())
        for values in rows:
            buf.seek(0)
            buf.truncate()
            writer.writerow([report._CSV_SLOT if k == "raw" else report._stamp(v)
                             if k == "timestamp" else report._csv_cell(v)
                             for k, v in zip(kinds, values, strict=True)])
            line = buf.getvalue()
            for i, k in enumerate(kinds):
                if k == "raw":
                    line = line.replace(report._CSV_SLOT,
                                        '"' + str(values[i]).replace('"', '""') + '"', 1)
            out.append(line)
        return "".join(out)
    for n, values in enumerate(rows):
        cells = [report._PLACEHOLDER if k == "raw" else report._stamp(v)
                 if k == "timestamp" else v for k, v in zip(kinds, values, strict=True)]
        row = json.dumps(dict(zip(names, cells, strict=True)), default=str)
        for i, k in enumerate(kinds):
            if k == "raw":
                row = row.replace(report._PLACEHOLDER_JSON, str(values[i]), 1)
        out.append(("[\n" if n == 0 else ",\n") + row)
    return "".join(out) + ("\n]\n" if rows else "[]\n")


def _odd_decisions(db: Path, n: int) -> None:
    """Decisions whose cells test every path of the writers: texts with quotes, commas,
    newlines, formula starts, control and bidi characters, non-ASCII, a repeated text, NULLs,
    a text stored in a number column (SQLite keeps what it cannot convert), a JSON text
    holding the JSON writer's placeholder, and old rows' uncompressed inputs."""
    import sqlite3

    _decisions(db, n)
    texts = ['=1+1', '-3', '@SUM(A1)', 'a, "b"\nc', 'bidi \u202e x \x1b[2J', '× → ✓',
             "\x01raw\x01", '\x00raw json\x00', "plain", "plain", "", "+x"]
    con = sqlite3.connect(db)
    for i in range(1, n + 1):
        t = texts[i % len(texts)]
        con.execute("UPDATE ai_decisions SET model_1_reasoning = ?, model_2_reasoning = ?,"
                    " vote_reason = ?, execution_note = ?, model_2_decision = ?,"
                    " model_1_error = ? WHERE id = ?",
                    (t, texts[(i * 7) % len(texts)], texts[(i * 3) % len(texts)],
                     "" if i % 4 else t, None if i % 5 == 0 else "BUY",
                     t if i % 5 == 0 else None, i))
    con.execute("UPDATE ai_decisions SET price = 'not a number', tokens = 2.5 WHERE id = 4")
    con.execute("UPDATE ai_decisions SET input_data = ? WHERE id = 6",
                (json.dumps({"old": 'version 1 "text"'}),))
    con.execute("UPDATE ai_decisions SET input_data = NULL WHERE id = 8")
    con.commit()
    con.close()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_writes_the_same_bytes_as_row_by_row(tmp_path: Path, fmt: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices, columns and placeholders found by splitting (report.WRITE_ROWS) change no
    byte: every table, across batch and slice boundaries, with the cells above (the JSON
    placeholder in a text sends its slice down the row-by-row path)."""
    from sqlalchemy import LargeBinary, select, type_coerce

    from autotrade_tui.store.codec import ZJSON

    db = tmp_path / "odd.db"
    _odd_decisions(db, 41)
    import sqlite3

    con = sqlite3.connect(db)
    con.executemany(
        "INSERT INTO market_events (timestamp, symbol, event_type, severity, description,"
        " suggested_action, metrics, processed, ts) VALUES (?,?,?,?,?,?,?,?,?)",
        [(f"2026-01-01 00:00:{i:02d}.250000", "ETH/USDT", "VOLUME_SPIKE", "HIGH",
          ['=cmd', 'x "y"', "z ×"][i % 3], "watch", json.dumps({"r": i, "s": '"q"'}), i % 2,
          1.7e9 + i) for i in range(7)])
    con.executemany(
        "INSERT INTO trades (timestamp, symbol, order_type, side, amount, price, pnl, fee,"
        " margin, leverage, source, reason, decision_id, ts) VALUES"
        " (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(f"2026-01-01 00:00:{i:02d}", "SOL/USDT", "OPEN", "LONG", 0.1 * i, 100.0, -1.5 * i,
          0.5, 10.0, 10.0, "auto", ["-tp", "", "stop, \"hit\""][i % 3], i or None, 1.7e9 + i)
         for i in range(5)])
    con.commit()
    con.close()
    monkeypatch.setattr(report, "EXPORT_BATCH", 9)
    monkeypatch.setattr(report, "WRITE_ROWS", 4)
    with Store(db, read_only=True) as store:
        for kind, model in report.EXPORT_TABLES.items():
            table = model.__table__
            names = [n for n in model.model_fields if n in table.c]
            raw = {n for n in names if isinstance(table.c[n].type, ZJSON)}
            kinds = ["raw" if n in raw else "timestamp" if n == "timestamp" else "value"
                     for n in names]
            cols = [type_coerce(table.c[n], LargeBinary) if n in raw else table.c[n]
                    for n in names]
            rows = [[report._raw_text(v) if k == "raw" else v
                     for k, v in zip(kinds, row, strict=True)]
                    for row in store._read(lambda s, cols=cols, table=table: s.connection()
                                           .execute(select(*cols).order_by(table.c.id)).all())]
            out = io.StringIO()
            assert report.export(store, kind, fmt, out) == len(rows)
            assert out.getvalue() == _reference(rows, names, kinds, fmt), kind
            if kind == "decisions":
                assert len(rows) == 41 and "\x01raw\x01" not in out.getvalue()
                if fmt == "json":
                    assert '"\\u0000raw json\\u0000"' in out.getvalue()  # that text, kept
                    assert len(json.loads(out.getvalue())) == 41
                else:
                    assert len(list(csv.DictReader(io.StringIO(out.getvalue())))) == 41


def test_inflating_past_the_header_gives_what_zlib_gives() -> None:
    """codec inflates a dictionary stream as raw deflate and checks its Adler-32 itself
    (35-45 % less time a row: zlib's own path sums the 32 KB dictionary every row). Same
    bytes for a good stream; a damaged one gives what zlib's own path gives, error or not."""
    import zlib

    from autotrade_tui.store import codec

    def zlibs_own(data: bytes) -> object:
        dec = zlib.decompressobj(15, codec._BY_ID[int.from_bytes(data[2:6], "big")])
        try:
            return dec.decompress(data) + dec.flush()
        except zlib.error as exc:
            return str(exc)

    def ours(data: bytes) -> object:
        try:
            return codec._text(data)
        except zlib.error as exc:
            return str(exc)

    blob = codec.encode({"context": {"price": [1.5 * i for i in range(300)]}, "q": 'a "b"'})
    flipped = blob[:40] + bytes([blob[40] ^ 0x10]) + blob[41:]
    damaged = [blob[:-1], blob[:-4], blob[:7], blob[:6], blob[:-4] + b"\0\0\0\0", blob + b"xy",
               flipped]
    assert ours(blob) == zlibs_own(blob) == json.dumps(
        {"context": {"price": [1.5 * i for i in range(300)]}, "q": 'a "b"'},
        separators=(",", ":")).encode()
    for data in damaged:
        assert ours(data) == zlibs_own(data), data[-8:]
    assert "incorrect data check" in str(ours(blob[:-4] + b"\0\0\0\0"))

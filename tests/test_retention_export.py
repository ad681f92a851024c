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
    calls = []

    def failing(value: object) -> object:
        calls.append(1)
        if len(calls) > 100:  # in the middle of the rows
            raise KeyboardInterrupt
        return real(value)

    monkeypatch.setattr(report, "_csv_cell", failing)
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

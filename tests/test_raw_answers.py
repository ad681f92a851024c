"""The model's raw answer is stored with the decision, for audit (issue 18, SPEC §7.3/§10): each
model's text as it came, its first RAW_ANSWER_LIMIT bytes of UTF-8, inside `input_data`
(`raw_answers`; `raw_answers_cut` names the answers cut), given back as data by
`GET /api/ai-decisions/{id}` and `export decisions`, never raw on a terminal. Real parts: the
httpx client against the loopback OpenAI-compatible server, the runtime, the SQLite file."""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autotrade_tui import services
from autotrade_tui.ai.openai_compat import OpenAICompatModel
from autotrade_tui.cli import main
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.core.text import RAW_ANSWER_LIMIT, utf8_head
from autotrade_tui.market.sim import SimMarket
from autotrade_tui.runtime.link import LocalLink
from autotrade_tui.store.store import Store
from tests.api_fixtures import START, api_of, engine, engine_settings, http
from tests.openai_server import OpenAIServer, Recorded, Reply, answer
from tests.test_sanitize import HOSTILE, raw_controls

BTC = "BTC/USDT"
# Valid, with escapes around and inside the JSON (the parser finds the object in the prose).
HOSTILE_RAW = "\x1b]0;PWNED\x07 sure: " + answer("BUY", 0.8, HOSTILE) + " \x1b[2J"
UNPARSEABLE = "no json here " + HOSTILE


def huge_raw() -> str:
    """A 2 MB answer that does not compress away: the JSON first (the vote parses), then a
    million seeded random 2-byte characters (the bound falls inside one)."""
    rng = random.Random(18)
    return answer("HOLD", 0.5, "big") + "".join(rng.choices(TWO_BYTE, k=1_000_000))


TWO_BYTE = [chr(c) for c in range(0x100, 0x800)]  # UTF-8 writes each as 2 bytes


# ---- the bound ------------------------------------------------------------------------------
@given(st.text(), st.integers(min_value=0, max_value=64))
def test_utf8_head_is_the_longest_whole_character_start_within_the_limit(
        text: str, limit: int) -> None:
    head, size = utf8_head(text, limit)
    assert text.startswith(head)
    assert size == len(text.encode("utf-8", "surrogatepass"))
    assert len(head.encode("utf-8", "surrogatepass")) <= limit
    if head != text:  # one more character would not fit
        assert len(text[:len(head) + 1].encode("utf-8", "surrogatepass")) > limit


def test_a_megabyte_answer_keeps_its_first_16_kib() -> None:
    raw = huge_raw()
    head, size = utf8_head(raw, RAW_ANSWER_LIMIT)
    assert size == len(raw.encode()) > 2_000_000
    assert RAW_ANSWER_LIMIT - 1 <= len(head.encode()) <= RAW_ANSWER_LIMIT
    assert raw.startswith(head) and head[-1] in TWO_BYTE


# ---- through the runtime, back from the SQLite file -----------------------------------------
@asynccontextmanager
async def llm_engine(tmp_path: Path, server: OpenAIServer) -> AsyncIterator[LocalLink]:
    """An engine as headless opens it (API served) whose two voters are real API models."""
    settings = engine_settings(tmp_path)
    clock = VirtualClock(START)
    models = tuple(OpenAICompatModel(name, server.url, "k-secret", None, 5.0, 0)
                   for name in ("test/a", "test/b"))
    link = await services.open_engine(settings, clock=clock,
                                      feed=SimMarket(settings.symbols, clock, 7),
                                      models=models, store=Store(tmp_path / "api.db",
                                                                 writer=True))
    try:
        await link.runtime.start()
        yield link
    finally:
        await link.close()


def exported(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["export", "decisions", "--format", fmt, "--db", str(tmp_path / "api.db")]) == 0
    return capsys.readouterr().out


async def test_raw_answers_are_stored_bounded_and_given_back_as_data(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    big = huge_raw()
    turn = {"n": 0}

    def by_model(req: Recorded) -> Reply:
        first = turn["n"] < 2  # the first cycle's two calls
        turn["n"] += 1
        if req.body["model"] == "test/a":
            return Reply(content=HOSTILE_RAW if first else UNPARSEABLE)
        return Reply(content=big) if first else Reply(status=400, error_message=HOSTILE)

    async with OpenAIServer() as server:
        server.default = by_model
        async with llm_engine(tmp_path, server) as link, http(api_of(link).path) as c:
            [first] = await link.runtime.decision_cycle([BTC])
            [second] = await link.runtime.decision_cycle([BTC])
            assert first.id is not None and second.id is not None
            assert first.votes[0].ok and first.votes[1].ok
            assert not second.votes[0].ok and not second.votes[1].ok
            one = (await c.get(f"/api/ai-decisions/{first.id}")).json()["input_data"]
            two = (await c.get(f"/api/ai-decisions/{second.id}")).json()["input_data"]

    head = utf8_head(big, RAW_ANSWER_LIMIT)[0]
    # The API gives the raw answers back exactly: escapes and all, the huge one cut.
    assert one["raw_answers"] == {"test/a": HOSTILE_RAW, "test/b": head}
    assert one["raw_answers_cut"] == {"test/b": len(big.encode())}
    # An unparseable answer is kept (the audit's case); an HTTP error sent no answer.
    assert two["raw_answers"] == {"test/a": UNPARSEABLE} and "raw_answers_cut" not in two

    # The file: the 2 MB did not reach it (16 KiB of noise, JSON-escaped, then compressed).
    with sqlite3.connect(tmp_path / "api.db") as con:
        sizes = dict(con.execute("select id, length(input_data) from ai_decisions"))
    assert sizes[first.id] < 2 * RAW_ANSWER_LIMIT

    # `export` (here to stdout, as on a terminal): inert bytes, the same data inside.
    out = exported(tmp_path, "json", capsys)
    assert raw_controls(out.replace("\n", "")) == [] and "\\u001b]0;PWNED" in out
    rows = {r["id"]: r["input_data"] for r in json.loads(out)}
    assert rows[first.id]["raw_answers"] == one["raw_answers"]
    assert rows[second.id]["raw_answers"] == two["raw_answers"]
    limit = csv.field_size_limit(1_000_000)
    try:
        out = exported(tmp_path, "csv", capsys)
        cells = {int(r["id"]): r["input_data"] for r in csv.DictReader(io.StringIO(out))}
    finally:
        csv.field_size_limit(limit)
    assert raw_controls(out.replace("\n", "")) == []
    assert json.loads(cells[first.id])["raw_answers"]["test/a"] == HOSTILE_RAW

    # `report` prints the decisions, never the raw answer, and nothing raw.
    assert main(["report", "--db", str(tmp_path / "api.db")]) == 0
    printed = capsys.readouterr().out
    assert raw_controls(printed.replace("\n", "")) == [] and "sure:" not in printed


async def test_offline_models_store_no_raw_answer(tmp_path: Path) -> None:
    async with engine(tmp_path) as link, http(api_of(link).path) as c:
        [rec] = await link.runtime.decision_cycle([BTC])
        assert all(v.raw is None for v in rec.votes)
        stored: dict[str, Any] = (await c.get(f"/api/ai-decisions/{rec.id}")).json()
    assert "raw_answers" not in stored["input_data"]
    assert "raw_answers_cut" not in stored["input_data"]


async def test_an_answer_that_echoes_the_api_key_never_stores_it(tmp_path: Path) -> None:
    """A gateway that copies the request into its answer: the key is a secret (SPEC §4), so
    neither the stored raw answer, the reasoning nor the file holds it."""
    echoed = answer("BUY", 0.8, "your key is k-secret, thanks") + " Authorization: k-secret"

    async with OpenAIServer() as server:
        server.default = lambda req: Reply(content=echoed if req.body["model"] == "test/a"
                                           else "k-secret is not json")
        async with llm_engine(tmp_path, server) as link, http(api_of(link).path) as c:
            [rec] = await link.runtime.decision_cycle([BTC])
            data = (await c.get(f"/api/ai-decisions/{rec.id}")).json()
    assert "k-secret" not in json.dumps(data)
    assert data["input_data"]["raw_answers"]["test/a"].endswith("Authorization: ****")
    assert "****" in data["model_1_reasoning"]
    assert b"k-secret" not in (tmp_path / "api.db").read_bytes()

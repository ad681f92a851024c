"""Untrusted text never reaches the terminal raw (issue 18): a model answer, a server's or an
exchange's error message, a fundamentals field or an old database row may carry escape
sequences (clear screen, window title, OSC 52 clipboard, OSC 8 links, cursor moves), `\\r`
overwrites, NUL, bidi overrides, lone surrogates or invalid UTF-8. They are made visible and
inert where they enter (core.text, used by the model client, the adapters) and again where
they are shown (cockpit, headless lines, report, export); the database is owner-only."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import signal
import stat
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.widgets import Static

from autotrade_tui.ai.openai_compat import OpenAICompatModel
from autotrade_tui.cli import main
from autotrade_tui.config import defaults
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.core.models import DecisionContext, ModelVote
from autotrade_tui.core.text import (
    REASONING_LIMIT,
    clean,
    one_line,
    spreadsheet_safe,
    storable,
)
from autotrade_tui.market.sim import SimMarket
from autotrade_tui.runtime.history import load_history
from autotrade_tui.runtime.link import LocalLink
from autotrade_tui.runtime.trader import Runtime
from autotrade_tui.runtime.updates import Notice
from autotrade_tui.services import open_engine
from autotrade_tui.store.store import Store
from autotrade_tui.store.tables import DecisionRow, EventRow, TradeRow
from autotrade_tui.tui.app import AutotradeApp
from autotrade_tui.tui.views import history_view
from autotrade_tui.tui.widgets.candle_chart import CandleChart
from tests.openai_server import OpenAIServer, Recorded, Reply, answer
from tests.tui_fixtures import (
    NARROW,
    SEED,
    START,
    SYMBOLS,
    ready,
    runtime_of,
    screen_text,
    settle,
    wait_for,
)

# The corpus, then an OSC 8 hyperlink, CSI cursor moves and erase, a `\r` overwrite,
# NUL, the one-byte CSI (C1), a bidi isolate and DEL.
CORPUS = "ok \x1b[2J\x1b]0;PWNED\x07 \x1b]52;c;ZXZpbA==\x07 [bold red]HACK[/] \u202eRTL"
HOSTILE = (CORPUS + " \x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"
           " \x1b[10A\x1b[2K\x1b[5;5H up fine\rFAKE \x00nul \x9b2J \u2066iso\u2069 \x7f")
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
CTX = DecisionContext(symbol="BTC/USDT", ts=1_700_000_000.0, price=68_000.0,
                      indicators={"rsi_14": 55.0}, signals={}, support=[], resistance=[],
                      account={"equity": 100_000.0, "capital": 100_000.0})


def raw_controls(text: str) -> list[str]:
    """The characters a terminal would obey (or that cannot be written as UTF-8)."""
    return [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0
            or c in BIDI or 0xD800 <= ord(c) < 0xE000]


def assert_inert(text: str) -> None:
    assert raw_controls(text) == []
    text.encode("utf-8")  # no lone surrogate left


# ---- core.text -----------------------------------------------------------------------------
def test_every_control_is_shown_visibly_and_the_words_stay() -> None:
    out = clean(HOSTILE + " \ud800")
    assert_inert(out)
    assert out.startswith("ok ␛[2J␛]0;PWNED␇ ␛]52;c;ZXZpbA==␇ [bold red]HACK[/] \\u202eRTL")
    for shown in ("␛]8;;https://evil.example␛\\click", "␛[10A␛[2K␛[5;5H", "fine␍FAKE",
                  "␀nul", "\\x9b2J", "\\u2066iso\\u2069", "␡", "\ufffd"):
        assert shown in out


def test_newlines_and_tabs_stay_crlf_is_a_newline_one_line_joins() -> None:
    assert clean("a\r\nb\tc\n") == "a\nb\tc\n"
    assert one_line(" a\r\n\n b\tc \x1b ", None) == "a b c ␛"


def test_limits_cut_with_an_ellipsis() -> None:
    assert clean("x" * 5000, REASONING_LIMIT) == "x" * (REASONING_LIMIT - 1) + "…"
    assert clean("abc", 3) == "abc"
    assert clean("\x1b" * 10, 4) == "␛␛␛…"
    assert one_line("word " * 1000, 20) == "word word word word…"


@given(st.text(), st.integers(min_value=1, max_value=50))
def test_any_text_comes_out_inert_bounded_and_stable(text: str, limit: int) -> None:
    out = clean(text)
    assert_inert(out)
    assert clean(out) == out  # cleaning twice changes nothing (boundary + display)
    assert len(clean(text, limit)) <= limit
    line = one_line(text, limit)
    assert_inert(line) and "\n" not in line and len(line) <= limit


def test_storable_replaces_lone_surrogates_only() -> None:
    assert storable("a\ud800b\x1b") == "a\ufffdb\x1b"


def test_spreadsheet_guard_is_for_formula_starts() -> None:
    for cell in ("=1+2", "+1", "-2+3", "@SUM(A1)", "\tx"):
        assert spreadsheet_safe(cell) == "'" + cell
    assert spreadsheet_safe("BTC/USDT") == "BTC/USDT"


# ---- the real model client against the loopback server --------------------------------------
@pytest.fixture
async def server() -> Any:
    async with OpenAIServer() as srv:
        yield srv


def model(server: OpenAIServer, name: str = "test/a") -> OpenAICompatModel:
    return OpenAICompatModel(name, server.url, "k-secret", None, 5.0, 0)


async def ask(server: OpenAIServer, reply: Reply) -> tuple[ModelVote, OpenAICompatModel]:
    """One decision of a real client whose server answers `reply`."""
    server.push(reply)
    m = model(server)
    try:
        return await m.decide(CTX), m
    finally:
        await m.close()


async def test_hostile_reasoning_arrives_inert_and_the_raw_answer_is_kept(
        server: OpenAIServer) -> None:
    raw = "\x1b]0;PWNED\x07 sure \ud800: " + answer("BUY", 0.8, HOSTILE + " \ud800")
    vote, m = await ask(server, Reply(content=raw))
    assert vote.ok, vote.error
    assert_inert(vote.reasoning)
    assert "␛]0;PWNED␇" in vote.reasoning and "[bold red]HACK[/]" in vote.reasoning
    # The raw answer stays for audit (writable as UTF-8), escapes and all.
    assert m.last_raw == raw.replace("\ud800", "\ufffd")


async def test_invalid_utf8_from_the_server_is_replaced_not_an_error(
        server: OpenAIServer) -> None:
    content = json.dumps(answer("SELL", 0.7, "ok BAD \x1b[2J"))
    body = ('{"choices": [{"message": {"content": ' + content + "}}]}").encode()
    vote, _ = await ask(server, Reply(raw=body.replace(b"BAD", b"\xff\xfe\xc3")))
    assert vote.ok, vote.error
    assert vote.reasoning.startswith("ok \ufffd") and vote.reasoning.endswith("␛[2J")


async def test_a_megabyte_of_reasoning_is_cut_to_the_limit(server: OpenAIServer) -> None:
    vote, _ = await ask(server, Reply(content=answer("HOLD", 0.5, "\x1b[2J" + "x" * 1_000_000)))
    assert vote.ok, vote.error
    assert len(vote.reasoning) == REASONING_LIMIT and vote.reasoning.endswith("…")
    assert vote.reasoning.startswith("␛[2Jxxx")


@pytest.mark.parametrize("reply", [
    Reply(status=400, error_message=HOSTILE),
    Reply(json_body={"error": {"code": 403, "message": HOSTILE}}),
    Reply(content="no json here " + HOSTILE),
], ids=["http-400", "provider-error", "unparseable"])
async def test_error_texts_from_the_server_arrive_inert(
        server: OpenAIServer, reply: Reply, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        vote, _ = await ask(server, reply)
    assert vote.error is not None and not vote.ok
    assert_inert(vote.error)
    assert "\n" not in vote.error and ("␛" in vote.error or "\\x1b" in vote.error)
    logged = [r.getMessage() for r in caplog.records if "test/a" in r.getMessage()]
    assert logged and all(raw_controls(t) == [] for t in logged)


async def test_exchange_error_text_is_one_inert_line() -> None:
    from autotrade_tui.errors import AutotradeError
    from autotrade_tui.market.ccxt_feed import CcxtFeed
    from tests.kraken_server import KrakenServer

    with KrakenServer() as kraken:
        feed = CcxtFeed("kraken", ["BTC/USDT"], kraken.url, VirtualClock(START),
                        timeout_seconds=2.0, retry_attempts=1, rate_limit_ms=1)
        kraken.fail("Ticker", "status", status=400, body=HOSTILE)  # ccxt quotes the body
        try:
            with pytest.raises(AutotradeError) as caught:
                await feed.fetch_tickers(["BTC/USDT"])
        finally:
            await feed.close()
    text = str(caught.value)
    assert_inert(text)
    assert "400 Bad Request ok ␛[2J␛]0;PWNED␇" in text and "fine FAKE" in text


async def test_fundamentals_label_and_errors_are_cleaned() -> None:
    from aiohttp import web

    from autotrade_tui.market.fundamentals import Fundamentals

    async def fng(_r: web.Request) -> web.Response:
        return web.json_response({"data": [{"value": "40", "value_classification": HOSTILE}]})

    async def broken(_r: web.Request) -> web.Response:
        return web.Response(status=200, text="not json " + HOSTILE)

    app = web.Application()
    app.router.add_get("/fng/", fng)
    app.router.add_get("/api/v3/global", broken)
    app.router.add_get("/api/v3/simple/price", broken)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    f = Fundamentals(VirtualClock(START), fear_greed_url=f"{url}/fng/",
                     coingecko_url=f"{url}/api/v3", timeout_seconds=2.0)
    try:
        data = await f.get()
    finally:
        await f.close()
        await runner.cleanup()
    assert data is not None and data["status"] == "partial"
    label = data["fear_greed"]["classification"]
    assert_inert(label) and label.startswith("ok ␛[2J") and len(label) <= 80
    assert all(raw_controls(e) == [] for e in data["errors"])


# ---- the cockpit: what the terminal is sent ---------------------------------------------------
def hostile_models(server: OpenAIServer) -> None:
    """Model A answers with hostile reasoning, model B with a hostile HTTP 400."""

    def by_model(req: Recorded) -> Reply:
        if req.body.get("model") == "test/a":
            return Reply(content=answer("HOLD", 0.4, HOSTILE))
        return Reply(status=400, error_message=HOSTILE)

    server.default = by_model


def hostile_app(tmp_path: Path, server: OpenAIServer) -> AutotradeApp:
    db = tmp_path / "t.db"
    settings = defaults(database_url=str(db), market_source="sim", symbols=SYMBOLS)

    async def factory(s: Any) -> LocalLink:
        clock = VirtualClock(START)
        return await open_engine(
            s, clock=clock, feed=SimMarket(s.symbols, clock, SEED),
            models=(model(server, "test/a"), model(server, "test/b")),
            store=Store(db, writer=True))

    return AutotradeApp(settings, runtime_factory=factory)


def assert_screen_inert(app: AutotradeApp) -> str:
    """What the terminal shows (the screenshot with its overlays, and the screen's strips)."""
    svg = app.export_screenshot()
    assert raw_controls(svg.replace("\n", "")) == [], "the screenshot holds raw controls"
    text = screen_text(app)
    assert raw_controls(text) == [], "the screen holds raw control characters"
    return text


async def test_the_cockpit_shows_hostile_model_text_inert(
        tmp_path: Path, server: OpenAIServer) -> None:
    hostile_models(server)
    app = hostile_app(tmp_path, server)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:  # toasts shown
        await ready(pilot)
        await pilot.press("right_square_bracket")  # the Decisions tab
        await settle(pilot)
        text = assert_screen_inert(app)
        assert "␛]0;PWNED␇" in text and "[bold red]HACK[/]" in text  # shown, literally
        assert "HTTP 400" in text

        runtime_of(app).publish(Notice("error", "market data unavailable: " + HOSTILE))
        app.cockpit.query_one(CandleChart).say("no candles (" + HOSTILE + ")")
        app.cockpit.show_alert("STOPPED " + HOSTILE)
        await settle(pilot)
        text = assert_screen_inert(app)
        assert "STOPPED ok ␛[2J" in text
        said = str(app.cockpit.query_one(CandleChart).query_one(".placeholder", Static).render())
        assert said.startswith("no candles (ok ␛[2J") and raw_controls(said) == []
        assert "unavailable:" in app.export_screenshot()  # the toast, in the overlay
        assert any(n.message.startswith("market data unavailable: ok ␛[2J␛]0;PWNED␇")
                   for n in app._notifications)


async def test_an_exit_message_is_printed_inert(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from autotrade_tui.errors import MarketDataError

    async def refused(_s: Any) -> Runtime:
        raise MarketDataError(HOSTILE)

    app = AutotradeApp(defaults(database_url=str(tmp_path / "t.db")), runtime_factory=refused)
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(pilot, lambda: app._exit, "the exit")
    err = capsys.readouterr().err
    assert app.return_code == 1
    assert raw_controls(err.replace("\n", "")) == [] and "[bold red]HACK[/]" in err


# ---- headless: the bytes on stdout ------------------------------------------------------------
async def test_headless_lines_carry_no_escape_bytes(tmp_path: Path,
                                                    server: OpenAIServer) -> None:
    hostile_models(server)
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENROUTER_API_KEY", "DATABASE_URL", "AUTOTRADE_CONFIG")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               PYTHONUNBUFFERED="1", OPENROUTER_API_KEY="k-secret", AI_BASE_URL=server.url,
               AI_MODEL_PRIMARY="test/a", AI_MODEL_SECONDARY="test/b")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "autotrade_tui", "--headless", "--market", "sim", "--speed",
        "60", "--symbols", "BTC/USDT", env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    seen = b""
    try:
        async with asyncio.timeout(60):
            while b"DECISION" not in seen:
                line = await proc.stdout.readline()
                assert line, seen.decode(errors="replace")
                seen += line
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await proc.communicate()
    seen += out
    assert proc.returncode == 0, err.decode(errors="replace")
    text = seen.decode("utf-8")  # valid UTF-8 throughout
    assert raw_controls(text.replace("\n", "")) == [], "raw control bytes on stdout"
    decision = next(x for x in text.splitlines() if " DECISION " in x)
    assert "test/b: ERROR (HTTP 400: ok ␛[2J␛]0;PWNED␇" in decision


def test_log_lines_clean_whatever_they_are_given() -> None:
    from autotrade_tui.headless import LogLines

    out = io.StringIO()
    LogLines(VirtualClock(START), out)(Notice("warning", "feed: " + HOSTILE))
    assert raw_controls(out.getvalue().replace("\n", "")) == []
    assert out.getvalue().startswith("15:07:00 WARNING feed: ok ␛[2J␛]0;PWNED␇")


# ---- report and export over rows written raw (before the sanitiser, or by anyone) ----------
@pytest.fixture
def raw_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from sqlmodel import Session

    for key in ("DATABASE_URL", "AUTOTRADE_CONFIG", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    db = tmp_path / "old.db"
    store = Store(db, writer=True)
    at = datetime.fromtimestamp(START, UTC)
    with Session(store.engine) as s:
        s.add(DecisionRow(timestamp=at, ts=START, symbol="BTC/USDT", final_decision="HOLD",
                          model_1_decision="BUY", model_1_confidence=0.7,
                          model_1_reasoning=HOSTILE + "\n" + "y" * 1_000_000,
                          model_2_error="=HYPERLINK(\"http://evil\",\"x\")",
                          vote_reason="@SUM(1+1)", execution_note="HOLD: " + HOSTILE))
        s.add(TradeRow(timestamp=at, ts=START, symbol="BTC/USDT", order_type="CLOSE",
                       side="LONG", amount=0.1, price=67_000.0, pnl=-155.64, fee=6.7,
                       margin=335.0, leverage=20.0, reason="-2+3 " + HOSTILE))
        s.add(EventRow(timestamp=at, ts=START, symbol="BTC/USDT", event_type="FLASH_CRASH",
                       severity="HIGH", description=HOSTILE, suggested_action="+1"))
        s.commit()
    store.close()
    yield db


def test_report_prints_old_hostile_rows_inert(raw_rows: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(raw_rows)]) == 0
    out = capsys.readouterr().out
    assert raw_controls(out.replace("\n", "")) == []
    assert "HOLD: ok ␛[2J␛]0;PWNED␇" in out


def test_csv_export_cells_are_inert_and_formula_guarded(
        raw_rows: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tables: dict[str, list[dict[str, str]]] = {}
    limit = csv.field_size_limit(2_000_000)  # the old row's megabyte of reasoning, whole
    try:
        for what in ("decisions", "trades", "events"):
            assert main(["export", what, "--format", "csv", "--db", str(raw_rows)]) == 0
            tables[what] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    finally:
        csv.field_size_limit(limit)
    for what in tables:
        assert all(raw_controls(v.replace("\n", "")) == []
                   for row in tables[what] for v in row.values())
    [d], [t], [e] = tables["decisions"], tables["trades"], tables["events"]
    assert d["model_2_error"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert d["vote_reason"] == "'@SUM(1+1)"
    assert d["model_1_reasoning"].startswith("ok ␛[2J␛]0;PWNED␇")
    assert t["pnl"] == "-155.64" and float(t["pnl"]) == -155.64  # a number stays a number
    assert t["reason"].startswith("'-2+3 ok ␛[2J")
    assert e["suggested_action"] == "'+1" and e["description"].startswith("ok ␛")

    assert main(["export", "decisions", "--format", "json", "--db", str(raw_rows)]) == 0
    out = capsys.readouterr().out
    assert raw_controls(out.replace("\n", "")) == []  # JSON escapes them itself
    assert json.loads(out)[0]["model_1_reasoning"].startswith(HOSTILE)  # data, unchanged


def test_the_cockpit_history_of_old_rows_is_inert_and_bounded(raw_rows: Path) -> None:
    with Store(raw_rows) as store:
        history = history_view(load_history(store))
    [d], [t], [e] = history.decisions, history.trades, history.events
    texts = [d.note, d.vote_reason, d.models[0].reasoning, d.models[1].error or "", t.reason,
             e.description]
    assert all(raw_controls(x.replace("\n", "")) == [] for x in texts)
    assert len(d.models[0].reasoning) == REASONING_LIMIT


# ---- file permissions ------------------------------------------------------------------------
def test_database_wal_shm_and_lock_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: files would be 0644 without care
    try:
        store = Store(tmp_path / "acct.db", writer=True)
        try:
            names = ["acct.db", "acct.db-wal", "acct.db-shm", "acct.db.lock"]
            modes = {n: stat.S_IMODE((tmp_path / n).stat().st_mode) for n in names}
        finally:
            store.close()
    finally:
        os.umask(old)
    assert modes == dict.fromkeys(names, 0o600)

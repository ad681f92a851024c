"""A backtest's two caches: history fetched through ccxt (loopback Kraken) is kept in
`market_data_cache`, and the configured LLMs' answers (loopback OpenAI-compatible server)
in `llm_cache`: the same backtest again makes zero HTTP calls and gives the same result."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from autotrade_tui.backtest import fetch
from autotrade_tui.backtest.command import run
from autotrade_tui.backtest.store import BacktestStore, trades
from autotrade_tui.config import defaults
from tests.kraken_server import KrakenServer
from tests.openai_server import OpenAIServer, Recorded, Reply, answer
from tests.test_backtest import SYMBOLS, home, market, run_cli, write  # noqa: F401
from tests.test_backtest_parity import request

NOW = 1_750_000_000.0  # the Kraken server's clock: its 720 5m bars end here (2025-06-15 15:05)
TIMING = {"seconds", "candles_per_second", "load_seconds", "save_seconds", "run_id", "source",
          "llm_cache_hits"}


@pytest.fixture
def kraken(monkeypatch: pytest.MonkeyPatch) -> Iterator[KrakenServer]:
    monkeypatch.setattr(fetch, "CCXT_OPTIONS", {"rate_limit_ms": 1, "timeout_seconds": 5.0,
                                                "retry_wait_seconds": 0.01,
                                                "retry_max_wait_seconds": 0.05})
    with KrakenServer(now=NOW) as server:
        yield server


def test_history_from_the_exchange_is_cached(home: Path, kraken: KrakenServer,  # noqa: F811
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EXCHANGE_API_URL", kraken.url)
    db = home / "bt.db"
    args = ["--from", "2025-06-14T18:00", "--to", "2025-06-15T12:00", "--results-db", str(db),
            "--json"]
    rc, out, err = run_cli(args, capsys)
    assert rc == 0, err
    first = json.loads(out)
    ohlc = kraken.requests_to("OHLC")
    assert sorted(r.query["pair"] for r in ohlc) == ["ETHUSDT", "SOLUSDT", "XBTUSDT"]
    start = datetime(2025, 6, 14, 18, tzinfo=UTC).timestamp()
    # asked from 200 candles before --from (ccxt asks Kraken from one bar earlier still):
    # the indicators are warm at the first decision
    lo = start - 200 * 300
    assert all(lo - 300 <= int(r.query["since"]) <= lo for r in ohlc)
    assert first["source"] == "kraken (downloaded BTC/USDT, ETH/USDT, SOL/USDT)"
    assert first["candles"] == 3 * 18 * 12 and first["symbols"] == SYMBOLS
    assert (first["from"], first["to"]) == ("2025-06-14T18:00:00Z", "2025-06-15T12:00:00Z")

    kraken.clear_requests()
    rc, out, err = run_cli(args, capsys)
    assert rc == 0, err
    again = json.loads(out)
    assert kraken.requests == []  # not even the market list: nothing to ask
    assert again["source"] == "kraken (market_data_cache)"
    assert {k: v for k, v in first.items() if k not in TIMING} == \
        {k: v for k, v in again.items() if k not in TIMING}
    with BacktestStore(db) as store:
        cached = {sym: store.cached_bars("kraken", sym, "5m") for sym in SYMBOLS}
    for sym, rows in cached.items():
        assert len(rows) == 1, sym
        lo, hi, bars = rows[0]
        assert (lo, hi) == (start - 200 * 300, start + 18 * 3600)
        assert len(bars) == 200 + 18 * 12 and bars[0][0] == lo


def test_a_longer_range_downloads_only_the_new_tail(home: Path,  # noqa: F811
                                                    kraken: KrakenServer,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EXCHANGE_API_URL", kraken.url)
    base = ["--from", "2025-06-14T18:00", "--results-db", str(home / "bt.db"), "--json",
            "--symbols", "BTC/USDT"]
    assert run_cli([*base, "--to", "2025-06-15T06:00"], capsys)[0] == 0
    kraken.clear_requests()
    rc, out, _ = run_cli([*base, "--to", "2025-06-15T12:00"], capsys)
    assert rc == 0 and json.loads(out)["candles"] == 18 * 12
    (ohlc,) = kraken.requests_to("OHLC")  # only from where the cached download ended
    tail = datetime(2025, 6, 15, 6, tzinfo=UTC).timestamp()
    assert tail - 300 <= int(ohlc.query["since"]) <= tail


def test_exchange_range_without_closed_candles(home: Path, kraken: KrakenServer,  # noqa: F811
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EXCHANGE_API_URL", kraken.url)
    rc, out, err = run_cli(["--from", "2030-01-01", "--results-db", str(home / "bt.db")], capsys)
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert "no closed candles in 2030-01-01 00:00 UTC" in err
    assert kraken.requests == []


# --- the configured models, cached --------------------------------------------------------

def _model_answer(req: Recorded) -> Reply:
    """A deterministic 'LLM': BUY when the price's last digit before the point is even."""
    prompt = req.body["messages"][1]["content"]
    price = float(re.search(r"^Price: ([0-9.]+)$", prompt, re.M).group(1))  # type: ignore[union-attr]
    side = "BUY" if int(price) % 2 == 0 else "SELL"
    conf = 0.9 if req.body["model"].endswith("a") else 0.7
    return Reply(content=answer(side, conf, f"price {price}"))


async def test_configured_models_are_asked_once(tmp_path: Path) -> None:
    data = write(market(n=40, symbols=["BTC/USDT", "ETH/USDT"]), tmp_path / "m.csv")
    async with OpenAIServer() as server:
        server.default = _model_answer
        settings = defaults(symbols=["BTC/USDT", "ETH/USDT"], ai_base_url=server.url,
                            reentry_cooldown_minutes=0.0,
                            ai_model_primary="test/model-a", ai_model_secondary="test/model-b",
                            model_max_retries=0)
        assert not settings.use_offline_models  # a self-hosted endpoint needs no key
        req = request(data, tmp_path / "bt.db", symbols=["BTC/USDT", "ETH/USDT"],
                      models="configured")
        out = io.StringIO()
        assert await run(req, settings, out=out) == 0
        first = json.loads(out.getvalue())
        asked = len(server.requests)
        assert asked == 2 * 2 * 40  # both models, both symbols, every candle
        assert first["models"] == ["test/model-a", "test/model-b"]
        assert first["llm_cache_hits"] == 0 and first["fills"] > 5

        out = io.StringIO()
        assert await run(req, settings, out=out) == 0
        again = json.loads(out.getvalue())
        assert len(server.requests) == asked  # the rerun cost no HTTP call, no token
        assert again["llm_cache_hits"] == asked
    # the scorecard's usage is what each run spent: the rerun, all cached, spent nothing
    spent = ("tokens", "cost", "pnl_per_dollar")
    assert sum(r["tokens"] for r in first["scorecard"]) > 0
    assert sum(r["tokens"] for r in again["scorecard"]) == 0
    for run_ in (first, again):
        run_["scorecard"] = [{k: v for k, v in r.items() if k not in spent}
                             for r in run_["scorecard"]]
    assert {k: v for k, v in first.items() if k not in TIMING} == \
        {k: v for k, v in again.items() if k not in TIMING}
    with BacktestStore(tmp_path / "bt.db") as store:
        one, two = (store.run_rows(trades, r) for r in (first["run_id"], again["run_id"]))
    strip = ("id", "run_id")
    assert [{k: v for k, v in t.items() if k not in strip} for t in one] == \
        [{k: v for k, v in t.items() if k not in strip} for t in two]

"""A backtest without a file and without an exchange: the simulated market's history
(market=sim, or market=auto when the exchange does not answer, as the app falls back)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from autotrade_tui.backtest import fetch
from autotrade_tui.backtest.store import BacktestStore
from tests.test_backtest import SYMBOLS, home, run_cli  # noqa: F401

TIMING = {"seconds", "candles_per_second", "load_seconds", "save_seconds", "run_id"}
RANGE = ["--from", "2025-03-01", "--to", "2025-03-01T12:00"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_market_sim_is_seeded_history_and_nothing_is_cached(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    db = home / "bt.db"
    runs = []
    for seed in ("42", "42", "7"):
        rc, out, err = run_cli(["--market", "sim", "--seed", seed, *RANGE, "--results-db",
                                str(db), "--json"], capsys)
        assert rc == 0 and err == "", err
        runs.append({k: v for k, v in json.loads(out).items() if k not in TIMING})
    first, again, other = runs
    assert first["source"] == "simulated market (seed 42)" and first["symbols"] == SYMBOLS
    assert first["candles"] == 3 * 12 * 12 and first["decisions"] == first["candles"]
    assert first == again  # same range and seed: the same candles, the same run
    assert other["source"] == "simulated market (seed 7)"
    assert other["final_equity"] != first["final_equity"]
    with BacktestStore(db) as store:
        assert all(store.cached_bars("sim", s, "5m") == [] for s in SYMBOLS)
        assert all(store.cached_bars("kraken", s, "5m") == [] for s in SYMBOLS)


def test_market_auto_falls_back_to_the_simulated_market_with_one_warning(
        home: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(fetch, "CCXT_OPTIONS", {"timeout_seconds": 2.0,
                                                "retry_wait_seconds": 0.01})
    monkeypatch.setenv("EXCHANGE_API_URL", f"http://127.0.0.1:{_closed_port()}")
    rc, out, err = run_cli([*RANGE, "--results-db", str(home / "bt.db"), "--json"], capsys)
    assert rc == 0, err
    assert err.count("\n") == 1 and err.startswith(
        "autotrade-tui: warning: market=auto: Kraken unreachable; using the simulated market")
    got = json.loads(out)
    assert got["source"] == "Kraken unreachable — simulated market (seed 42)"
    assert got["candles"] == 3 * 12 * 12


def test_market_ccxt_unreachable_is_an_error_not_a_fallback(
        home: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(fetch, "CCXT_OPTIONS", {"timeout_seconds": 2.0,
                                                "retry_wait_seconds": 0.01,
                                                "retry_max_wait_seconds": 0.02})
    monkeypatch.setenv("EXCHANGE_API_URL", f"http://127.0.0.1:{_closed_port()}")
    rc, out, err = run_cli(["--market", "ccxt", *RANGE, "--results-db", str(home / "bt.db")],
                           capsys)
    assert rc == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("autotrade-tui: error: Kraken") and "Traceback" not in err


def test_the_simulated_market_has_a_limit(home: Path,  # noqa: F811
                                          capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(["--market", "sim", "--from", "2020-01-01", "--to", "2025-01-01",
                            "--results-db", str(home / "bt.db")], capsys)
    assert rc == 2 and out == ""
    assert "the simulated market makes at most 400 days of history" in err
    assert not (home / "bt.db").exists()

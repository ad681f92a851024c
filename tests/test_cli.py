"""The command line as a user meets it (SPEC §2, §4, §12): real subprocesses of the console
script / `python -m autotrade_tui`, isolated from the user's real dirs through XDG_* and an
environment stripped of every setting. Checks exit codes, one-line stderr, no traceback,
nothing written on a mistake, and `report`/`export` against an account traded in the test."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autotrade_tui import __version__
from autotrade_tui.config import KEYS, defaults, example_toml
from autotrade_tui.core.engine import EngineConfig, TradingEngine
from autotrade_tui.core.models import (
    Action,
    EventType,
    MarketEvent,
    ModelVote,
    Severity,
    Side,
    Trade,
    VoteResult,
)
from autotrade_tui.errors import EngineLockedError
from autotrade_tui.store.store import Store
from autotrade_tui.store.tables import DecisionRow, EventRow, TradeRow

SCRIPT = Path(sys.executable).with_name("autotrade-tui")
SPEC_REPORT_KEYS = {"equity", "capital", "realized_pnl", "unrealized_pnl", "total_fees",
                    "total_trades", "winning_trades", "losing_trades", "win_rate",
                    "max_drawdown", "initial_capital", "positions"}
SPEC_POSITION_KEYS = {"symbol", "side", "quantity", "entry_price", "margin", "leverage",
                      "liquidation_price"}
SETTING_ENV = {k.env for k in KEYS if k.env} | {"AUTOTRADE_CONFIG"}


@dataclass
class Home:
    """A user's home for one test: XDG config/data dirs under tmp."""

    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def config_file(self) -> Path:
        return self.root / "xdg-config" / "autotrade-tui" / "config.toml"

    @property
    def data_dir(self) -> Path:
        return self.root / "xdg-data" / "autotrade-tui"

    @property
    def default_db(self) -> Path:
        return self.data_dir / "autotrade.db"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SETTING_ENV}
        env.update(XDG_CONFIG_HOME=str(self.root / "xdg-config"),
                   XDG_DATA_HOME=str(self.root / "xdg-data"), **self.extra_env, **extra)
        return env

    def run(self, *args: str, module: bool = False, timeout: float = 90,
            **env: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "autotrade_tui"] if module else [str(SCRIPT)]
        return subprocess.run([*cmd, *args], env=self.env(**env), capture_output=True,
                              text=True, timeout=timeout, cwd=self.root)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([str(SCRIPT), *args], env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.root)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


def assert_user_error(res: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, exactly one line on stderr holding every needle, no traceback, no stdout."""
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert "error" in lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert res.stdout == ""
    return lines[0]


def tree_digest(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- an account traded here
T0 = 1_700_000_000.0


@dataclass
class Account:
    engine: TradingEngine
    prices: dict[str, float]  # the last price of each symbol the store was given
    trades: list[Trade]
    snapshots: list[float]
    decisions: int
    events: int


def trade_account(store: Store) -> Account:
    """Stack a BTC long, win on an ETH short, lose on a SOL long, get a SOL long liquidated,
    keep an ETH short open; record a snapshot, decisions and events."""
    # no re-entry cooldown: the fixture reopens SOL a minute after closing it
    engine = TradingEngine(EngineConfig.from_settings(defaults(reentry_cooldown_minutes=0.0)))
    acct = Account(engine, {}, [], [], 0, 0)

    def step(trades: list[Trade], prices: dict[str, float], ts: float) -> None:
        acct.prices.update(prices)
        acct.trades += trades
        store.save_state(engine.state, trades=trades, prices=prices, ts=ts)

    step([engine.open("BTC/USDT", Side.LONG, 50_000.0, T0)], {"BTC/USDT": 50_000.0}, T0)
    step([engine.open("BTC/USDT", Side.LONG, 51_000.0, T0 + 60)], {"BTC/USDT": 51_000.0}, T0 + 60)
    step([engine.open("ETH/USDT", Side.SHORT, 3_000.0, T0 + 120)], {"ETH/USDT": 3_000.0}, T0 + 120)
    step([engine.close("ETH/USDT", 2_900.0, T0 + 180)], {"ETH/USDT": 2_900.0}, T0 + 180)  # win
    peak = engine.equity(acct.prices)
    store.record_snapshot(T0 + 190, equity=peak, capital=engine.ledger.capital,
                          unrealized=engine.unrealized_pnl(acct.prices), positions=[],
                          ledger=engine.ledger, prices={})
    acct.snapshots.append(peak)
    step([engine.open("SOL/USDT", Side.LONG, 150.0, T0 + 240)], {"SOL/USDT": 150.0}, T0 + 240)
    step([engine.close("SOL/USDT", 149.0, T0 + 300)], {"SOL/USDT": 149.0}, T0 + 300)  # loss
    step([engine.open("SOL/USDT", Side.LONG, 150.0, T0 + 360)], {"SOL/USDT": 150.0}, T0 + 360)
    liq = engine.mark({"SOL/USDT": 100.0}, T0 + 420)  # far below its liquidation price
    assert [t.order_type.value for t in liq] == ["LIQUIDATION"]
    step(liq, {"SOL/USDT": 100.0}, T0 + 420)
    step([engine.open("ETH/USDT", Side.SHORT, 2_900.0, T0 + 480)], {"ETH/USDT": 2_900.0}, T0 + 480)
    step([], {"BTC/USDT": 49_800.0, "ETH/USDT": 2_950.0}, T0 + 540)  # marks only

    for i in range(3):
        v1 = ModelVote("trend", Action.BUY, 0.8, f"up {i}", prompt_tokens=100, completion_tokens=20,
                       cost=0.001)
        v2 = ModelVote("meanrev", None, error="timeout")
        store.record_decision(symbol="BTC/USDT", ts=T0 + i, price=50_000.0, votes=[v1, v2],
                              result=VoteResult(Action.BUY, 0.8, "one model answered", 0.55),
                              executed=i == 0, note="" if i == 0 else "stale price",
                              input_data={"price": 50_000.0, "rsi": 55.5, "i": i})
    acct.decisions = 3
    store.record_events([
        MarketEvent(T0 + 10, "BTC/USDT", EventType.FLASH_CRASH, Severity.HIGH, "-3.2 % in 5 min",
                    "reduce exposure", {"change_pct": -3.2}),
        MarketEvent(T0 + 20, "SOL/USDT", EventType.LIQUIDATION_RISK, Severity.CRITICAL,
                    "1.5 % to liquidation", "close or add margin", {"distance_pct": 1.5}),
    ])
    acct.events = 2
    return acct


@pytest.fixture
def traded(home: Home) -> tuple[Home, Account]:
    with Store(home.default_db, writer=True) as store:
        acct = trade_account(store)
    return home, acct


# ---------------------------------------------------------------- version, help
def test_version_from_script_and_module(home: Home) -> None:
    for module in (False, True):
        res = home.run("--version", module=module)
        assert res.returncode == 0 and res.stdout.strip() == f"autotrade-tui {__version__}"
        assert res.stderr == ""


def test_help_lists_commands_and_common_flags(home: Home) -> None:
    res = home.run("--help")
    assert res.returncode == 0 and res.stderr == ""
    for word in ("backtest", "report", "export", "config", "--headless", "--config", "--db",
                 "--market", "--exchange", "--symbols", "--speed", "--seed", "--offline-models",
                 "--version", "paper"):
        assert word in res.stdout, word
    market = ("--market", "--speed", "--seed", "--exchange", "--offline-models")
    for sub, absent in (("report", market), ("export", market), ("config", market),
                        ("backtest", ("--db", "--speed", "--offline-models"))):
        res = home.run(sub, "--help")
        assert res.returncode == 0 and "usage: autotrade-tui " + sub in res.stdout
        listed = {w.strip("[],") for w in res.stdout.split() if w.strip("[").startswith("--")}
        for flag in absent:  # each subcommand lists only the flags it uses (SPEC §11)
            assert flag not in listed, (sub, flag)
    assert not home.data_dir.exists()


# ---------------------------------------------------------------- bad flags and config
@pytest.mark.parametrize("args, needles", [
    (["--market", "moon"], ["--market", "moon"]),
    (["--market", "moon", "report"], ["--market", "moon"]),
    (["report", "--market", "sim"], ["report does not use --market"]),
    (["backtest", "--db", "x.db"], ["backtest does not use --db"]),
    (["--sped", "60"], ["unrecognized flag --sped", "did you mean --speed?"]),
    (["--market", "sim", "--hedless"], ["--hedless", "did you mean --headless?"]),
    (["export", "orders"], ["orders"]),
    (["export", "trades", "--format", "xml"], ["--format", "xml"]),
    (["export", "trades", "--limit", "0"], ["--limit", "'0'"]),
    (["export", "trades", "--limit", "many"], ["--limit", "'many'"]),
    (["config", "edit"], ["edit"]),
    (["report", "--bogus"], ["--bogus"]),
    (["frobnicate"], ["frobnicate"]),
])
def test_bad_flag_is_one_line_exit_2(home: Home, args: list[str], needles: list[str]) -> None:
    assert_user_error(home.run(*args), *needles)
    assert not home.data_dir.exists()


@pytest.mark.parametrize("args, needles", [
    (["--speed", "fast", "report"], ["'speed'", "flag --speed", "'fast'"]),
    (["--speed", "0", "report"], ["'speed'", "flag --speed", "'0'"]),
    (["--seed", "-4", "report"], ["'seed'", "flag --seed", "'-4'"]),
    (["--symbols", "BTC", "report"], ["'symbols'", "flag --symbols", "BTC"]),
    (["--symbols", "BTC/USDT,BTC/USDT", "report"], ["'symbols'", "flag --symbols", "twice"]),
    (["--exchange", "no such", "export", "trades"], ["'exchange_id'", "flag --exchange"]),
])
def test_bad_flag_value_names_key_flag_and_value(home: Home, args: list[str],
                                                 needles: list[str]) -> None:
    assert_user_error(home.run(*args), *needles)
    assert not home.data_dir.exists()


@pytest.mark.parametrize("args, env, source", [
    (["--headless", "--market", "ccxt", "--exchange", "nosuchex"], {}, "flag --exchange"),
    (["--headless", "--market", "ccxt"], {"EXCHANGE_ID": "nosuchex"},
     "environment variable EXCHANGE_ID"),
    (["backtest", "--exchange", "nosuchex", "--json"], {}, "flag --exchange"),  # fetches
], ids=["flag", "env", "backtest"])
def test_unknown_exchange_id_is_exit_2_and_nothing_written(home: Home, args: list[str],
                                                           env: dict[str, str],
                                                           source: str) -> None:
    # well-formed, but ccxt has no such exchange: still a bad configuration value (SPEC §4)
    assert_user_error(home.run(*args, **env), "'exchange_id'", source, "'nosuchex'",
                      "unknown exchange id")
    assert not home.data_dir.exists()


BAD_ENV = [
    ({"LEVERAGE": "-1"}, ["'leverage'", "environment variable LEVERAGE", "'-1'"]),
    ({"CONFIDENCE_THRESHOLD": "1.5"}, ["'confidence_threshold'", "CONFIDENCE_THRESHOLD"]),
    ({"AI_VOTING_STRATEGY": "coin"}, ["'ai_voting_strategy'", "'coin'"]),
    ({"INITIAL_CAPITAL": "nan"}, ["'initial_capital'", "'nan'"]),
    ({"SYMBOLS": "BTCUSDT"}, ["'symbols'", "SYMBOLS", "BTCUSDT"]),
    ({"MAX_POSITIONS": "2.5"}, ["'max_positions'", "'2.5'"]),
]


@pytest.mark.parametrize("env, needles", BAD_ENV, ids=[next(iter(e)) for e, _ in BAD_ENV])
@pytest.mark.parametrize("command", [["report"], ["report", "--json"], ["export", "trades"],
                                     ["config", "show"]], ids=" ".join)
def test_bad_env_value_exit_2_and_nothing_written(home: Home, env: dict[str, str],
                                                  needles: list[str], command: list[str]) -> None:
    assert_user_error(home.run(*command, **env), *needles)
    assert not home.data_dir.exists()


def test_bad_config_file_exit_2_and_existing_database_untouched(home: Home) -> None:
    with Store(home.default_db, writer=True) as store:
        trade_account(store)
    before = tree_digest(home.data_dir)
    assert "autotrade.db" in before
    home.config_file.parent.mkdir(parents=True)
    cases: list[tuple[str, list[str], list[str]]] = [
        ("[account]\nleverage = -5\n", ["report"], ["'leverage'", "-5"]),
        ("foo = 1\n", ["report", "--json"], ["'foo'", "unknown key"]),
        ('leverage = "high"\n', ["export", "trades"], ["'leverage'", "'high'"]),
        ("confidence_threshold = 1.5\n", ["export", "events", "--format", "json"],
         ["'confidence_threshold'", "1.5"]),
        ('ai_voting_strategy = "random"\n', ["report"], ["'ai_voting_strategy'", "'random'"]),
        ("max_positions = 2.0\n", ["report"], ["'max_positions'", "2.0"]),
        ("leverage = nan\n", ["report"], ["'leverage'", "nan"]),
        ('symbols = ["BTC-USDT"]\n', ["report"], ["'symbols'", "BTC-USDT"]),
        ("leverage = = 3\n", ["report"], ["not valid TOML"]),
        ("offline_models = 1\n", ["config", "show"], ["'offline_models'"]),
    ]
    for text, command, needles in cases:
        home.config_file.write_text(text, encoding="utf-8")
        assert_user_error(home.run(*command), str(home.config_file), *needles)
        assert tree_digest(home.data_dir) == before, text
    # an explicit --config that does not exist, or is malformed
    missing = home.root / "missing.toml"
    assert_user_error(home.run("report", "--config", str(missing)), str(missing),
                      "does not exist")
    assert_user_error(home.run("--config", str(missing), "report", module=True), str(missing))
    assert tree_digest(home.data_dir) == before


def test_directory_as_database_is_a_clear_error(home: Home) -> None:
    folder = home.root / "a-folder"
    folder.mkdir()
    for args in (["report", "--db", str(folder)], ["--db", str(folder), "export", "trades"]):
        assert_user_error(home.run(*args), "'database_url'", "flag --db", str(folder),
                          "is a directory")
    assert_user_error(home.run("report", DATABASE_URL=str(folder)),
                      "environment variable DATABASE_URL", "is a directory")
    assert list(folder.iterdir()) == []


def test_unsupported_or_malformed_database_url_is_a_user_error(home: Home) -> None:
    line = assert_user_error(home.run("report", "--db", "mysql://u:secretpw@h/x"),
                             "'database_url'", "--db", "mysql://u:****@h/x")
    assert "secretpw" not in line
    line = assert_user_error(home.run("report", "--db", "postgresql://u:secretpw@h:port/x"),
                             "'database_url'", "--db")
    assert "secretpw" not in line


def test_unreachable_postgres_is_exit_1_one_line_without_password(home: Home) -> None:
    url = "postgresql://u:secretpw@127.0.0.1:1/x"
    for res in (home.run("report", "--db", url), home.run("report", "--json", DATABASE_URL=url),
                home.run("export", "trades", DATABASE_URL=url)):
        assert res.returncode == 1, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in res.stderr
        assert "secretpw" not in res.stderr + res.stdout
        assert "cannot open the database" in lines[0] and "u:****@127.0.0.1" in lines[0]
        assert res.stdout == ""
    assert not home.data_dir.exists()


# ---------------------------------------------------------------- config path / init / show
def test_config_path_prints_the_isolated_paths(home: Home) -> None:
    res = home.run("config", "path")
    assert res.returncode == 0, res.stderr
    assert f"config file: {home.config_file}  (not present" in res.stdout
    assert f"database:    {home.default_db}" in res.stdout
    assert "api socket:  " in res.stdout and res.stdout.rstrip().endswith(".sock")
    assert res.stderr == ""  # nothing else: no library's warning either
    res = home.run("config", "path", "--db", "rel.db")
    assert f"database:    {home.root / 'rel.db'}" in res.stdout
    res = home.run("config", "path", DATABASE_URL="postgresql://u:secretpw@h/x")
    assert "database:    postgresql://u:****@h/x" in res.stdout and "secretpw" not in res.stdout
    # the database set in the config file is the one shown
    home.config_file.parent.mkdir(parents=True)
    home.config_file.write_text(f'database_url = "{home.root / "mine.db"}"\n', encoding="utf-8")
    res = home.run("config", "path")
    assert res.returncode == 0
    assert f"config file: {home.config_file}\n" in res.stdout
    assert f"database:    {home.root / 'mine.db'}" in res.stdout
    # a broken file: the paths are still printed (that is how to find it), then the error
    home.config_file.write_text("leverage = -1\n", encoding="utf-8")
    res = home.run("config", "path")
    assert res.returncode == 2 and f"config file: {home.config_file}" in res.stdout
    assert "'leverage'" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not home.data_dir.exists()


def test_config_init_writes_the_example_and_refuses_to_overwrite(home: Home) -> None:
    res = home.run("config", "init")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"wrote {home.config_file}"
    assert home.config_file.read_text(encoding="utf-8") == example_toml()
    assert home.config_file.stat().st_mode & 0o777 == 0o600  # it may hold the API key
    home.config_file.write_text("leverage = 3\n", encoding="utf-8")
    assert_user_error(home.run("config", "init"), str(home.config_file), "already exists",
                      "--force")
    assert home.config_file.read_text(encoding="utf-8") == "leverage = 3\n"
    res = home.run("config", "init", "--force")
    assert res.returncode == 0 and home.config_file.read_text(encoding="utf-8") == example_toml()
    # the written example is itself a valid config that changes nothing
    res = home.run("config", "show", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["leverage"] == 20.0
    assert not home.data_dir.exists()


def test_config_init_repairs_a_broken_file_and_honours_explicit_paths(home: Home) -> None:
    home.config_file.parent.mkdir(parents=True)
    home.config_file.write_text("leverage = = broken\n", encoding="utf-8")
    assert_user_error(home.run("config", "init"), "already exists")
    assert home.run("config", "init", "--force").returncode == 0
    assert home.run("config", "show").returncode == 0
    target = home.root / "sub" / "dir" / "my.toml"
    res = home.run("config", "init", "--config", str(target))
    assert res.returncode == 0 and target.read_text(encoding="utf-8") == example_toml()
    via_env = home.root / "env.toml"
    res = home.run("config", "init", AUTOTRADE_CONFIG=str(via_env))
    assert res.returncode == 0 and via_env.read_text(encoding="utf-8") == example_toml()


def test_config_show_marks_where_each_value_came_from(home: Home) -> None:
    home.config_file.parent.mkdir(parents=True)
    home.config_file.write_text("[account]\nleverage = 7\n[market]\nexchange_id = 'binance'\n",
                                encoding="utf-8")
    res = home.run("--seed", "9", "config", "show", "--db", "x.db", MAX_POSITIONS="5",
                   EXCHANGE_ID="bybit")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"# config file: {home.config_file}"
    assert "leverage = 7.0   # config file" in lines
    assert "max_positions = 5   # environment variable MAX_POSITIONS" in lines
    assert 'exchange_id = "bybit"   # environment variable EXCHANGE_ID' in lines
    assert "seed = 9   # flag --seed" in lines
    assert 'database_url = "x.db"   # flag --db' in lines
    assert "commission_rate = 0.001" in lines  # a default carries no mark
    assert len([line for line in lines if " = " in line]) == len(KEYS)
    res = home.run("--seed", "9", "config", "show", "--json", MAX_POSITIONS="5")
    shown = json.loads(res.stdout)
    assert (shown["leverage"], shown["max_positions"], shown["seed"]) == (7.0, 5, 9)
    assert list(shown) == [k.name for k in KEYS]
    assert not home.data_dir.exists()


# ---------------------------------------------------------------- report
def test_report_on_a_new_database_is_the_initial_account_and_writes_nothing(home: Home) -> None:
    for env, capital in (({}, 100_000.0), ({"INITIAL_CAPITAL": "5000"}, 5_000.0)):
        res = home.run("report", "--json", **env)
        assert res.returncode == 0, res.stderr
        rep = json.loads(res.stdout)
        assert set(rep) >= SPEC_REPORT_KEYS
        assert rep["equity"] == rep["capital"] == rep["initial_capital"] == capital
        assert rep["positions"] == [] and rep["total_trades"] == 0 and rep["win_rate"] == 0
        assert rep["realized_pnl"] == rep["unrealized_pnl"] == rep["total_fees"] == 0
        assert rep["max_drawdown"] == 0 and rep["return_pct"] == 0
        assert rep["database"] == str(home.default_db)
        assert "no database" in res.stderr and "Traceback" not in res.stderr
    res = home.run("report")
    assert res.returncode == 0 and "100,000.00" in res.stdout and "Open positions (0)" in \
        res.stdout
    other = home.root / "typo.db"
    assert home.run("report", "--db", str(other)).returncode == 0
    assert home.run("export", "trades", "--db", str(other)).returncode == 0
    assert not other.exists() and not home.data_dir.exists()


def test_report_matches_the_engine(traded: tuple[Home, Account]) -> None:
    home, acct = traded
    eng, prices = acct.engine, acct.prices
    res = home.run("report", "--json")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert set(rep) >= SPEC_REPORT_KEYS
    approx = pytest.approx
    lg = eng.ledger
    assert rep["equity"] == approx(eng.equity(prices), rel=1e-12)
    assert rep["capital"] == approx(lg.capital, rel=1e-12)
    assert rep["realized_pnl"] == approx(lg.realized_pnl, rel=1e-12)
    assert rep["unrealized_pnl"] == approx(eng.unrealized_pnl(prices), rel=1e-12)
    assert rep["total_fees"] == approx(lg.total_fees, rel=1e-12)
    assert rep["total_fees"] == approx(sum(t.fee for t in acct.trades), rel=1e-12)
    assert (rep["total_trades"], rep["winning_trades"], rep["losing_trades"],
            rep["liquidations"]) == (3, 1, 2, 1)
    assert rep["win_rate"] == approx(100 / 3)
    assert rep["initial_capital"] == 100_000.0
    assert rep["return_pct"] == approx((eng.equity(prices) / 100_000 - 1) * 100)
    assert rep["model_tokens"] == 360 and rep["model_cost"] == approx(0.003)
    # the ledger invariant, from the report's own figures
    open_margin = sum(p["margin"] for p in rep["positions"])
    assert rep["initial_capital"] + rep["realized_pnl"] - rep["total_fees"] == \
        approx(rep["capital"] + open_margin, rel=1e-12)
    assert rep["equity"] == approx(rep["capital"] + open_margin + rep["unrealized_pnl"])
    # positions, one by one
    assert [p["symbol"] for p in rep["positions"]] == ["BTC/USDT", "ETH/USDT"]
    for p in rep["positions"]:
        assert set(p) >= SPEC_POSITION_KEYS
        pos = eng.positions[p["symbol"]]
        assert p["side"] == pos.side.value
        assert p["quantity"] == approx(pos.quantity, rel=1e-12)
        assert p["entry_price"] == approx(pos.entry_price, rel=1e-12)
        assert p["margin"] == approx(pos.margin, rel=1e-12)
        assert p["leverage"] == approx(20.0)
        assert p["liquidation_price"] == approx(eng.liquidation_price(p["symbol"]), rel=1e-12)
        assert p["mark_price"] == prices[p["symbol"]]
        assert p["unrealized_pnl"] == approx(pos.unrealized_pnl(prices[p["symbol"]]))
    btc = rep["positions"][0]
    assert btc["side"] == "LONG" and btc["entries"] == 2
    assert 50_000 < btc["entry_price"] < 51_000 and btc["liquidation_price"] < 50_000
    assert rep["positions"][1]["side"] == "SHORT"
    assert rep["positions"][1]["liquidation_price"] > 2_900
    # drawdown over initial capital → snapshot → now
    series = [100_000.0, *acct.snapshots, eng.equity(prices)]
    peak, worst = 0.0, 0.0
    for eq in series:
        peak = max(peak, eq)
        worst = max(worst, (peak - eq) / peak * 100)
    assert worst > 0 and rep["max_drawdown"] == approx(worst)
    assert len(rep["recent_trades"]) == len(acct.trades) == 9
    assert rep["recent_trades"][0]["order_type"] == "OPEN"  # newest first: the ETH re-open
    assert len(rep["recent_decisions"]) == 3
    assert all("input_data" not in d for d in rep["recent_decisions"])
    # the text report shows the same account
    text = home.run("report")
    assert text.returncode == 0 and "Open positions (2)" in text.stdout
    assert f"{rep['equity']:,.2f}" in text.stdout
    assert "BTC/USDT" in text.stdout and "LIQUIDATION" in text.stdout


def test_drawdown_counts_a_loss_before_the_first_snapshot(home: Home) -> None:
    engine = TradingEngine(EngineConfig.from_settings(defaults()))
    with Store(home.default_db, writer=True) as store:
        store.save_state(engine.state, trades=[engine.open("BTC/USDT", Side.LONG, 50_000.0, T0)],
                         prices={"BTC/USDT": 50_000.0})
        store.save_state(engine.state, prices={"BTC/USDT": 49_000.0})  # no snapshot at all
    equity = engine.equity({"BTC/USDT": 49_000.0})
    rep = json.loads(home.run("report", "--json").stdout)
    assert rep["equity"] == pytest.approx(equity) and equity < 100_000
    assert rep["max_drawdown"] == pytest.approx((100_000 - equity) / 100_000 * 100)
    assert rep["max_drawdown"] == pytest.approx(-rep["return_pct"])


def test_two_reports_while_a_writer_trades(home: Home) -> None:
    store = Store(home.default_db, writer=True)
    try:
        acct = trade_account(store)
        with pytest.raises(EngineLockedError):  # the writer really holds the lock
            Store(home.default_db, writer=True)
        procs = [home.popen("report", "--json"), home.popen("report", "--json")]
        outs = [p.communicate(timeout=90) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        reps = [json.loads(out) for out, _ in outs]
        assert reps[0]["equity"] == reps[1]["equity"] == \
            pytest.approx(acct.engine.equity(acct.prices), rel=1e-12)
        # and the writer goes on writing after them
        trade = acct.engine.close("BTC/USDT", 49_900.0, T0 + 600)
        store.save_state(acct.engine.state, trades=[trade], prices={"BTC/USDT": 49_900.0})
    finally:
        store.close()
    rep = json.loads(home.run("report", "--json").stdout)
    assert [p["symbol"] for p in rep["positions"]] == ["ETH/USDT"]
    assert rep["total_trades"] == 4


# ---------------------------------------------------------------- export
TABLES = {"trades": TradeRow, "decisions": DecisionRow, "events": EventRow}
SEED_COLUMNS = {
    "trades": "id timestamp symbol order_type side amount price pnl fee margin leverage",
    "decisions": "id timestamp symbol model_1_decision model_2_decision final_decision "
                 "model_1_confidence model_2_confidence model_1_reasoning model_2_reasoning "
                 "executed input_data",
    "events": "id timestamp symbol event_type severity description suggested_action metrics "
              "processed",
}


def expected_rows(acct: Account, what: str) -> int:
    return {"trades": len(acct.trades), "decisions": acct.decisions, "events": acct.events}[what]


@pytest.mark.parametrize("what", ["trades", "decisions", "events"])
def test_export_csv_and_json(traded: tuple[Home, Account], what: str) -> None:
    home, acct = traded
    n = expected_rows(acct, what)
    res = home.run("export", what, "--format", "csv")
    assert res.returncode == 0 and res.stderr == ""
    reader = csv.DictReader(io.StringIO(res.stdout))
    assert reader.fieldnames == list(TABLES[what].model_fields)
    assert set(SEED_COLUMNS[what].split()) <= set(reader.fieldnames)
    rows = list(reader)
    assert len(rows) == n and [int(r["id"]) for r in rows] == list(range(1, n + 1))
    js = home.run("export", what, "--format", "json")
    assert js.returncode == 0
    assert res.stdout.endswith("\n") and js.stdout.endswith("]\n")  # text ends with a newline
    data = json.loads(js.stdout)
    assert len(data) == n and list(data[0]) == list(TABLES[what].model_fields)
    for row, obj in zip(rows, data, strict=True):
        assert row["symbol"] == obj["symbol"] and row["timestamp"] == obj["timestamp"]
    if what == "trades":
        assert [r["order_type"] for r in rows] == [t.order_type.value for t in acct.trades]
        assert [float(r["fee"]) for r in rows] == pytest.approx([t.fee for t in acct.trades])
        assert [o["amount"] for o in data] == pytest.approx([t.amount for t in acct.trades])
    if what == "decisions":
        assert [json.loads(r["input_data"])["i"] for r in rows] == [0, 1, 2]
        assert data[1]["execution_note"] == "stale price" and data[0]["executed"] is True
    if what == "events":
        assert json.loads(rows[0]["metrics"]) == {"change_pct": -3.2}
        assert data[1]["event_type"] == "LIQUIDATION_RISK"
    # -o FILE: the same text, in the file; nothing on stdout
    out = home.root / f"{what}.csv"
    res = home.run("export", what, "-o", str(out))
    assert res.returncode == 0 and res.stdout == "" and f"wrote {out}" in res.stderr
    assert out.read_text(encoding="utf-8") == home.run("export", what).stdout
    # --limit N: the first N rows
    res = home.run("export", what, "--format", "json", "--limit", "2")
    assert [o["id"] for o in json.loads(res.stdout)] == [1, 2]


def test_export_on_a_new_database_and_to_an_unwritable_place(home: Home) -> None:
    res = home.run("export", "trades")
    assert res.returncode == 0
    assert res.stdout.splitlines() == [",".join(TradeRow.model_fields)]
    res = home.run("export", "events", "--format", "json")
    assert res.returncode == 0 and res.stdout == "[]\n"
    bad = home.root / "no" / "such" / "dir" / "x.csv"
    assert_user_error(home.run("export", "trades", "-o", str(bad)), str(bad))
    assert_user_error(home.run("export", "trades", "-o", str(home.root)), str(home.root))
    assert not home.data_dir.exists()


def test_export_into_a_closed_pipe_is_quiet(traded: tuple[Home, Account]) -> None:
    home, _ = traded
    script = (f"{SCRIPT} export trades --format json | head -c 10 >/dev/null; "
              "echo status=${PIPESTATUS[0]}")
    res = subprocess.run(["bash", "-c", script], env=home.env(), capture_output=True,
                         text=True, timeout=90)
    assert "Traceback" not in res.stderr and "BrokenPipe" not in res.stderr
    assert res.stdout.strip() in ("status=0", "status=141")  # finished, or SIGPIPE


def test_paused_account_says_so(home: Home) -> None:
    engine = TradingEngine(EngineConfig.from_settings(defaults()))
    with Store(home.default_db, writer=True) as store:
        store.save_state(engine.state, paused=True)
    rep = json.loads(home.run("report", "--json").stdout)
    assert rep["paused"] is True and rep["equity"] == 100_000.0
    assert "automatic trading PAUSED" in home.run("report").stdout


def test_a_file_that_is_not_a_database_is_one_line_exit_1_and_left_alone(home: Home) -> None:
    junk = home.root / "notes.db"
    junk.write_text("my trading notes, not a database\n" * 20, encoding="utf-8")
    before = junk.read_bytes()
    for args in (["report", "--db", str(junk)], ["export", "trades", "--db", str(junk)]):
        res = home.run(*args)
        assert res.returncode == 1 and "Traceback" not in res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and str(junk) in lines[0] and "not a database" in lines[0]
    assert junk.read_bytes() == before

"""Configuration (SPEC §4): defaults = config.toml.example = README, precedence
flags > env > TOML > defaults, every seed environment name, and the rejection of every kind of
bad value with one message naming the key, where it came from and the value; secrets masked."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotrade_tui import config
from autotrade_tui.config import (
    KEY_BY_NAME,
    KEYS,
    Secret,
    Settings,
    defaults,
    example_toml,
    load_settings,
    mask_url,
)
from autotrade_tui.errors import ConfigError, UserError

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "sk-or-v1-VERYSECRETKEY0123456789"
DB_PASSWORD = "dbPASSw0rdSECRET"
DB_URL = f"postgresql://trader:{DB_PASSWORD}@db.example:5432/autotrade"


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """platformdirs reads XDG_* at call time: the user's real config file is never read."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return tmp_path


def toml_file(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def plain(value: Any) -> Any:
    return value.get() if isinstance(value, Secret) else value


# ---------------------------------------------------------------- defaults and documentation
def test_example_file_is_what_example_toml_generates() -> None:
    assert (ROOT / "config.toml.example").read_text(encoding="utf-8") == example_toml()


def test_example_documents_every_key_with_its_default_and_env_name() -> None:
    text = (ROOT / "config.toml.example").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    flat: dict[str, Any] = {}
    for name, value in data.items():
        assert isinstance(value, dict), f"{name} outside a section"
        for key, v in value.items():
            assert key not in flat, f"{key} twice"
            flat[key] = v
    assert list(flat) == [k.name for k in KEYS]
    for key in KEYS:
        want = plain(key.default)
        assert flat[key.name] == want, key.name
        assert type(flat[key.name]) is type(want), key.name  # 20.0 not 20, 100 not 100.0
        assert f"(env {key.env})" in text, key.name
    # and the example, used as a config file, is accepted and changes nothing
    assert load_settings(env={}, config_path=ROOT / "config.toml.example").values == \
        defaults().values


def test_readme_table_lists_every_key_as_config_has_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("## Layout", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    want = [f"| `{k.name}` | `{k.env}` | `{config._toml_value(k.default)}` | {k.help} |"
            for k in KEYS]
    assert rows == want


def test_every_key_has_a_unique_environment_name() -> None:
    envs = [k.env for k in KEYS]
    assert all(envs) and len(set(envs)) == len(envs)


SPEC_DEFAULTS = {  # SPEC §4, with the seed's environment names
    "initial_capital": 100_000.0, "leverage": 20.0, "commission_rate": 0.001,
    "trading_interval_minutes": 5.0, "max_positions": 100,
    "confidence_threshold": 0.60, "ai_model_primary": "deepseek/deepseek-chat-v3.1",
    "ai_model_secondary": "qwen/qwen3-vl-235b-a22b-instruct", "ai_voting_strategy": "majority",
    "event_interval_seconds": 5.0, "single_model_threshold": 0.55,
    "symbols": ["BTC/USDT", "ETH/USDT", "SOL/USDT"], "exchange_id": "kraken",
    "ai_base_url": "https://openrouter.ai/api/v1", "market_source": "auto",
    # SPEC §8.1: the risk rules on by default, values from benchmarks/strategy.py
    "position_size_percent": 0.75, "stop_loss_percent": 60.0, "take_profit_percent": 80.0,
    "max_drawdown_percent": 15.0, "drawdown_action": "flatten", "max_entries_per_position": 2,
    "stack_only_in_profit": True, "max_exposure_percent": 200.0,
    "reentry_cooldown_minutes": 1440.0, "sim_profile": "realistic",
    "flash_move_percent": 2.0, "volume_spike_ratio": 2.0, "volume_dry_ratio": 0.2,
    "volatility_spike_ratio": 1.5, "liquidation_risk_percent": 10.0,
    "flash_cooldown_seconds": 300.0, "volume_dry_cooldown_seconds": 600.0,
    "liquidation_cooldown_seconds": 120.0,
}


def test_no_file_no_env_gives_the_spec_defaults() -> None:
    s = load_settings(env={})
    for name, want in SPEC_DEFAULTS.items():
        assert getattr(s, name) == want, name
    assert s.api_key == "" and s.use_offline_models
    assert plain(s.database_url) == ""
    assert set(s.sources.values()) == {"default"}
    assert s.config_path is None
    assert s.values == defaults().values


# ---------------------------------------------------------------- precedence
PRECEDENCE = [
    # key, TOML literal, env text, flag value, expected from file / env / flag
    ("leverage", "7", "9", "11", 7.0, 9.0, 11.0),
    ("max_positions", "3", "4", "5", 3, 4, 5),
    ("initial_capital", "1000.5", "2000", "3e3", 1000.5, 2000.0, 3000.0),
    ("confidence_threshold", "0.7", "0.75", "0.8", 0.7, 0.75, 0.8),
    ("symbols", '["ADA/USDT"]', "xrp/usdt, dot/usdt", "LTC/USDT,BTC/EUR",
     ["ADA/USDT"], ["XRP/USDT", "DOT/USDT"], ["LTC/USDT", "BTC/EUR"]),
    ("offline_models", "true", "no", True, True, False, True),
    ("fundamentals_enabled", "false", "1", "off", False, True, False),
    ("ai_voting_strategy", '"unanimous"', "Weighted", "majority",
     "unanimous", "weighted", "majority"),
    ("exchange_id", '"binance"', "coinbase", "bitstamp", "binance", "coinbase", "bitstamp"),
    ("speed", "2", "60", "600", 2.0, 60.0, 600.0),
    ("seed", "1", "2", "3", 1, 2, 3),
]


@pytest.mark.parametrize("row", PRECEDENCE, ids=[r[0] for r in PRECEDENCE])
def test_flags_beat_env_beat_file_beat_defaults(tmp_path: Path, row: tuple) -> None:
    name, literal, env_text, flag, from_file, from_env, from_flag = row
    key = KEY_BY_NAME[name]
    path = toml_file(tmp_path, f"[{key.section}]\n{name} = {literal}\n")
    assert from_file != key.default and from_env != from_file and from_flag != from_env

    s = load_settings(env={}, config_path=path)
    assert getattr(s, name) == from_file and s.sources[name] == "file"
    s = load_settings(env={key.env: env_text}, config_path=path)
    assert getattr(s, name) == from_env
    assert s.sources[name] == f"environment variable {key.env}"
    s = load_settings(flags={name: flag}, env={key.env: env_text}, config_path=path)
    assert getattr(s, name) == from_flag and s.sources[name].startswith("flag --")
    # a flag the user did not give (None) does not override
    s = load_settings(flags={name: None}, env={key.env: env_text}, config_path=path)
    assert getattr(s, name) == from_env
    # and the other keys stay at their defaults, marked so
    other = "commission_rate" if name != "commission_rate" else "leverage"
    assert s.sources[other] == "default"


def test_flag_source_names_the_flag_the_user_typed() -> None:
    s = load_settings(flags={"database_url": "x.db"}, env={},
                      flag_names={"database_url": "--db"})
    assert s.sources["database_url"] == "flag --db"
    with pytest.raises(ConfigError, match="from flag --db: "):
        load_settings(flags={"database_url": "mysql://h/x"}, env={},
                      flag_names={"database_url": "--db"})


def test_config_file_choice_explicit_then_autotrade_config_then_user_dir(
        tmp_path: Path) -> None:
    user = config.user_config_path()
    assert str(user).startswith(str(tmp_path / "xdg-config"))
    user.parent.mkdir(parents=True)
    user.write_text("leverage = 3\n", encoding="utf-8")
    via_env = toml_file(tmp_path, "leverage = 4\n", "env.toml")
    explicit = toml_file(tmp_path, "leverage = 5\n", "explicit.toml")
    s = load_settings(env={})
    assert (s.leverage, s.config_path) == (3.0, user)
    s = load_settings(env={"AUTOTRADE_CONFIG": str(via_env)})
    assert (s.leverage, s.config_path) == (4.0, via_env)
    s = load_settings(env={"AUTOTRADE_CONFIG": str(via_env)}, config_path=explicit)
    assert (s.leverage, s.config_path) == (5.0, explicit)


# ---------------------------------------------------------------- environment names
SEED_ENV = [
    ("OPENROUTER_API_KEY", "openrouter_api_key", API_KEY, API_KEY),
    ("DATABASE_URL", "database_url", DB_URL, DB_URL),
    ("INITIAL_CAPITAL", "initial_capital", "5000", 5000.0),
    ("LEVERAGE", "leverage", "10", 10.0),
    ("COMMISSION_RATE", "commission_rate", "0.0004", 0.0004),
    ("TRADING_INTERVAL_MINUTES", "trading_interval_minutes", "15", 15.0),
    ("MAX_POSITIONS", "max_positions", "3", 3),
    ("POSITION_SIZE_PERCENT", "position_size_percent", "100", 100.0),
    ("CONFIDENCE_THRESHOLD", "confidence_threshold", "0.65", 0.65),
    ("AI_MODEL_PRIMARY", "ai_model_primary", "openai/gpt-4o-mini", "openai/gpt-4o-mini"),
    ("AI_MODEL_SECONDARY", "ai_model_secondary", "llama3.1:8b", "llama3.1:8b"),
    ("AI_VOTING_STRATEGY", "ai_voting_strategy", "weighted", "weighted"),
    ("AI_BASE_URL", "ai_base_url", "http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1"),
    ("EXCHANGE_ID", "exchange_id", "binance", "binance"),
    ("EXCHANGE_API_URL", "exchange_api_url", "http://127.0.0.1:8080",
     "http://127.0.0.1:8080"),
    ("MARKET_SOURCE", "market_source", "sim", "sim"),
    ("SYMBOLS", "symbols", " btc/usdt ,ETH/USDT,", ["BTC/USDT", "ETH/USDT"]),
    ("AUTOTRADE_SPEED", "speed", "60", 60.0),
    ("AUTOTRADE_SEED", "seed", "7", 7),
]


@pytest.mark.parametrize("env_name, key, text, want", SEED_ENV, ids=[r[0] for r in SEED_ENV])
def test_seed_environment_names_are_honoured(env_name: str, key: str, text: str,
                                             want: Any) -> None:
    assert KEY_BY_NAME[key].env == env_name
    s = load_settings(env={env_name: text})
    assert plain(getattr(s, key)) == want
    assert plain(getattr(s, key)) != plain(KEY_BY_NAME[key].default)
    assert s.sources[key] == f"environment variable {env_name}"


def test_autotrade_config_env_names_the_file(tmp_path: Path) -> None:
    path = toml_file(tmp_path, "[market]\nseed = 99\n")
    s = load_settings(env={"AUTOTRADE_CONFIG": str(path)})
    assert s.seed == 99 and s.config_path == path and s.sources["seed"] == "file"


def test_api_key_switches_models_from_offline() -> None:
    assert load_settings(env={}).use_offline_models
    s = load_settings(env={"OPENROUTER_API_KEY": API_KEY})
    assert s.api_key == API_KEY and not s.use_offline_models
    s = load_settings(env={"OPENROUTER_API_KEY": API_KEY, "AUTOTRADE_OFFLINE_MODELS": "1"})
    assert s.use_offline_models


# ---------------------------------------------------------------- sections
def test_keys_may_sit_at_top_level_or_in_any_section(tmp_path: Path) -> None:
    path = toml_file(tmp_path, 'leverage = 5\n[account]\nmax_positions = 4\n'
                               '[my_own_group]\nexchange_id = "bybit"\n'
                               '[market]\nsymbols = ["DOGE/USDT"]\n')
    s = load_settings(env={}, config_path=path)
    assert (s.leverage, s.max_positions, s.exchange_id, s.symbols) == \
        (5.0, 4, "bybit", ["DOGE/USDT"])


# ---------------------------------------------------------------- rejections
# (label, TOML text, bad value as the message shows it, key named)
FILE_REJECTIONS = [
    ("unknown key", "levrage = 5", None, "levrage"),
    ("unknown key in a section", "[account]\nfoo = 1", None, "account.foo"),
    ("string for a number", 'leverage = "10"', "'10'", "leverage"),
    ("number for a string", "exchange_id = 5", "5", "exchange_id"),
    ("float for an int", "max_positions = 10.5", "10.5", "max_positions"),
    ("float 10.0 for an int", "max_positions = 10.0", "10.0", "max_positions"),
    ("bool for a number", "leverage = true", "True", "leverage"),
    ("bool for an int", "max_positions = false", "False", "max_positions"),
    ("number for a bool", "offline_models = 1", "1", "offline_models"),
    ("string for a bool", 'offline_models = "yes"', "'yes'", "offline_models"),
    ("string for a list", 'symbols = "BTC/USDT"', "'BTC/USDT'", "symbols"),
    ("list of numbers", "symbols = [1, 2]", "[1, 2]", "symbols"),
    ("table for a number", "[leverage]\nx = 1", "{'x': 1}", "leverage"),
    ("date for a number", "leverage = 2024-01-01", "datetime.date(2024, 1, 1)", "leverage"),
    ("negative leverage", "leverage = -5", "-5", "leverage"),
    ("leverage 0", "leverage = 0", "0", "leverage"),
    ("leverage above 125", "leverage = 200", "200", "leverage"),
    ("threshold 1.5", "confidence_threshold = 1.5", "1.5", "confidence_threshold"),
    ("negative threshold", "single_model_threshold = -0.1", "-0.1", "single_model_threshold"),
    ("zero capital", "initial_capital = 0", "0", "initial_capital"),
    ("unknown voting strategy", 'ai_voting_strategy = "random"', "'random'",
     "ai_voting_strategy"),
    ("unknown market", 'market_source = "moon"', "'moon'", "market_source"),
    ("bad symbol", 'symbols = ["BTCUSDT"]', "BTCUSDT", "symbols"),
    ("symbol with two slashes", 'symbols = ["BTC/USDT/X"]', "BTC/USDT/X", "symbols"),
    ("symbol with a space", 'symbols = ["BTC /USDT"]', "BTC /USDT", "symbols"),
    ("symbol twice", 'symbols = ["BTC/USDT", "btc/usdt"]', "btc/usdt", "symbols"),
    ("empty symbol list", "symbols = []", "[]", "symbols"),
    ("NaN", "leverage = nan", "nan", "leverage"),
    ("inf", "initial_capital = inf", "inf", "initial_capital"),
    ("negative cooldown", "flash_cooldown_seconds = -1", "-1", "flash_cooldown_seconds"),
    ("position size 0", "position_size_percent = 0", "0", "position_size_percent"),
    ("position size 101", "position_size_percent = 101", "101", "position_size_percent"),
    ("negative seed", "seed = -1", "-1", "seed"),
    ("empty model id", 'ai_model_primary = ""', "''", "ai_model_primary"),
    ("base url not http", 'ai_base_url = "openrouter.ai"', "'openrouter.ai'", "ai_base_url"),
    ("bad log level", 'log_level = "LOUD"', "'LOUD'", "log_level"),
    ("bad exchange id", 'exchange_id = "kra ken"', "'kra ken'", "exchange_id"),
    ("key twice", "leverage = 5\n[account]\nleverage = 6", None, "leverage"),
]


@pytest.mark.parametrize("label, text, shown, key", FILE_REJECTIONS,
                         ids=[r[0] for r in FILE_REJECTIONS])
def test_bad_file_value_is_rejected_naming_key_file_and_value(
        tmp_path: Path, label: str, text: str, shown: str | None, key: str) -> None:
    path = toml_file(tmp_path, text + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, config_path=path)
    msg = str(info.value)
    assert f"'{key}'" in msg
    assert str(path) in msg
    if shown is not None:
        assert shown in msg
    assert "\n" not in msg
    assert isinstance(info.value, UserError)


# (label, env, env name, bad value shown, key)
ENV_REJECTIONS = [
    ("negative leverage", {"LEVERAGE": "-1"}, "'-1'", "leverage"),
    ("threshold 1.5", {"CONFIDENCE_THRESHOLD": "1.5"}, "'1.5'", "confidence_threshold"),
    ("unknown voting", {"AI_VOTING_STRATEGY": "dice"}, "'dice'", "ai_voting_strategy"),
    ("text for a number", {"INITIAL_CAPITAL": "lots"}, "'lots'", "initial_capital"),
    ("empty number", {"LEVERAGE": ""}, "''", "leverage"),
    ("float for an int", {"MAX_POSITIONS": "2.5"}, "'2.5'", "max_positions"),
    ("exponent for an int", {"MAX_POSITIONS": "1e3"}, "'1e3'", "max_positions"),
    ("NaN", {"INITIAL_CAPITAL": "nan"}, "'nan'", "initial_capital"),
    ("inf", {"STALE_AFTER_SECONDS": "inf"}, "'inf'", "stale_after_seconds"),
    ("-inf", {"FLASH_COOLDOWN_SECONDS": "-inf"}, "'-inf'", "flash_cooldown_seconds"),
    ("not a boolean", {"AUTOTRADE_OFFLINE_MODELS": "maybe"}, "'maybe'", "offline_models"),
    ("bad symbol", {"SYMBOLS": "BTC/USDT,ETH"}, "'ETH'", "symbols"),
    ("empty symbols", {"SYMBOLS": " , "}, "' , '", "symbols"),
    ("bad seed", {"AUTOTRADE_SEED": "abc"}, "'abc'", "seed"),
    ("speed 0", {"AUTOTRADE_SPEED": "0"}, "'0'", "speed"),
    ("unknown market", {"MARKET_SOURCE": "moon"}, "'moon'", "market_source"),
    ("exchange url junk", {"EXCHANGE_API_URL": "localhost:8080"}, "'localhost:8080'",
     "exchange_api_url"),
    ("empty exchange", {"EXCHANGE_ID": ""}, "''", "exchange_id"),
    ("unsupported database", {"DATABASE_URL": "mysql://u@h/x"}, "'mysql://u@h/x'",
     "database_url"),
    ("database bad port", {"DATABASE_URL": "postgresql://u@h:port/x"},
     "'postgresql://u@h:port/x'", "database_url"),
]


@pytest.mark.parametrize("label, env, shown, key", ENV_REJECTIONS,
                         ids=[r[0] for r in ENV_REJECTIONS])
def test_bad_env_value_is_rejected_naming_key_variable_and_value(
        label: str, env: dict[str, str], shown: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    msg = str(info.value)
    (env_name,) = env
    assert f"'{key}'" in msg and f"environment variable {env_name}" in msg and shown in msg
    assert "\n" not in msg


FLAG_REJECTIONS = [  # what argparse passes on: text
    ("speed", "fast", "--speed"), ("seed", "-1", "--seed"), ("symbols", "BTC", "--symbols"),
    ("database_url", "sqlite:///" + os.sep, "--db"), ("market_source", "moon", "--market"),
]


@pytest.mark.parametrize("key, text, flag", FLAG_REJECTIONS, ids=[r[0] for r in FLAG_REJECTIONS])
def test_bad_flag_value_is_rejected_naming_key_flag_and_value(key: str, text: str,
                                                              flag: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(flags={key: text}, env={}, flag_names={key: flag})
    msg = str(info.value)
    assert f"'{key}'" in msg and f"from flag {flag}:" in msg and repr(text) in msg


def test_flag_beats_a_bad_env_value_only_if_valid_itself() -> None:
    # env is still read and validated: a bad env value is an error even when a flag is given
    with pytest.raises(ConfigError, match="LEVERAGE"):
        load_settings(flags={"leverage": "5"}, env={"LEVERAGE": "x"})


def test_malformed_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = toml_file(tmp_path, "leverage = 5\nmax_positions = = 3\n")
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, config_path=path)
    assert str(path) in str(info.value) and "not valid TOML" in str(info.value)
    assert "line 2" in str(info.value)


def test_missing_or_unreadable_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=f"{missing} \\(from --config\\) does not exist"):
        load_settings(env={}, config_path=missing)
    with pytest.raises(ConfigError, match=f"{missing} \\(from environment variable "
                                          "AUTOTRADE_CONFIG\\) does not exist"):
        load_settings(env={"AUTOTRADE_CONFIG": str(missing)})
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(env={}, config_path=tmp_path)  # a directory
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"leverage = 5\n\xff\xfe\n")
    with pytest.raises(ConfigError, match=str(binary)):
        load_settings(env={}, config_path=binary)


def test_broken_user_config_is_reported_even_without_explicit_path() -> None:
    user = config.user_config_path()
    user.parent.mkdir(parents=True)
    user.write_text("leverage = 'high'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(env={})
    assert str(user) in str(info.value) and "'leverage'" in str(info.value)


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    path = toml_file(tmp_path, "max_position = 5\n")
    with pytest.raises(ConfigError, match="did you mean 'max_positions'"):
        load_settings(env={}, config_path=path)


def test_database_url_that_is_a_directory_is_rejected(tmp_path: Path) -> None:
    for text in (str(tmp_path), f"sqlite:///{tmp_path}"):
        with pytest.raises(ConfigError, match="is a directory"):
            load_settings(env={"DATABASE_URL": text})
    for ok in (str(tmp_path / "a.db"), f"sqlite:///{tmp_path}/a.db", ":memory:", "sqlite://",
               "postgresql://u@h/x", "postgres://h:5432/x", "postgresql+psycopg://h/x"):
        assert plain(load_settings(env={"DATABASE_URL": ok}).database_url) == ok


def test_inconsistent_thresholds_name_all_keys_and_sources() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={"FLASH_HIGH_PERCENT": "6"})
    msg = str(info.value)
    for name in ("flash_move_percent", "flash_high_percent", "flash_critical_percent"):
        assert f"'{name}'" in msg
    assert "environment variable FLASH_HIGH_PERCENT" in msg and "6" in msg
    with pytest.raises(ConfigError, match="liquidation_critical_percent"):
        load_settings(env={"LIQUIDATION_CRITICAL_PERCENT": "20"})


def test_replay_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="replay_file"):
        load_settings(env={"MARKET_SOURCE": "replay"})
    with pytest.raises(ConfigError, match="'replay_file' from environment variable REPLAY_FILE"):
        load_settings(env={"MARKET_SOURCE": "replay", "REPLAY_FILE": str(tmp_path / "x.csv")})
    data = tmp_path / "x.csv"
    data.write_text("timestamp,open,high,low,close,volume\n", encoding="utf-8")
    s = load_settings(env={"MARKET_SOURCE": "replay", "REPLAY_FILE": str(data)})
    assert s.replay_file == str(data)


def test_replace_and_defaults_validate_too() -> None:
    with pytest.raises(ConfigError, match="'leverage' from override"):
        defaults(leverage=-1)
    s = defaults().replace(leverage=3, symbols=["eth/usdt"])
    assert s.leverage == 3.0 and s.symbols == ["ETH/USDT"] and s.sources["leverage"] == "override"
    with pytest.raises(ConfigError, match="unknown setting 'levrage'"):
        load_settings(flags={"levrage": 1}, env={})


NUMERIC = [k for k in KEYS if k.kind in (int, float)
           and not k.name.startswith(("flash_move", "flash_high", "flash_critical",
                                      "liquidation_risk", "liquidation_high",
                                      "liquidation_critical"))]


def _in_range(key: config.Key, v: float) -> bool:
    if key.low is not None and (v <= key.low if key.low_open else v < key.low):
        return False
    return key.high is None or v <= key.high


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(NUMERIC), st.floats(-1e6, 1e6, allow_nan=False), st.booleans())
def test_numbers_accepted_exactly_within_their_range(key: config.Key, x: float,
                                                     as_int: bool) -> None:
    value: float = round(x) if key.kind is int or as_int else x
    text = str(value)
    try:
        s = load_settings(env={key.env: text})
    except ConfigError as exc:
        assert f"'{key.name}'" in str(exc) and key.env in str(exc) and repr(text) in str(exc)
        assert not _in_range(key, value)
    else:
        assert _in_range(key, value)
        got = getattr(s, key.name)
        assert got == value and type(got) is key.kind


# ---------------------------------------------------------------- secrets
def secret_settings(tmp_path: Path) -> Settings:
    path = toml_file(tmp_path, f'openrouter_api_key = "{API_KEY}"\n')
    return load_settings(env={"DATABASE_URL": DB_URL}, config_path=path)


def test_secrets_are_usable_but_never_shown(tmp_path: Path) -> None:
    s = secret_settings(tmp_path)
    assert s.api_key == API_KEY and s.database_url.get() == DB_URL
    texts = [repr(s), str(s), repr(s.values), str(s.shown()), json.dumps(s.shown()),
             repr(s.openrouter_api_key), str(s.database_url), f"{s.database_url}"]
    for text in texts:
        assert API_KEY not in text and DB_PASSWORD not in text
    shown = s.shown()
    assert shown["openrouter_api_key"] == "****"
    assert shown["database_url"] == "postgresql://trader:****@db.example:5432/autotrade"


def test_error_messages_never_carry_secrets(tmp_path: Path) -> None:
    cases: list[tuple[dict[str, str], str]] = [
        ({"DATABASE_URL": f"mysql://u:{DB_PASSWORD}@h/x"}, ""),
        ({"DATABASE_URL": f"postgresql://u:{DB_PASSWORD}@h:port/x"}, ""),
        ({"DATABASE_URL": f"postgresql://h/x?password={DB_PASSWORD}",
          "OPENROUTER_API_KEY": API_KEY, "LEVERAGE": "-2"}, ""),
        ({"OPENROUTER_API_KEY": API_KEY}, f'openrouter_apikey = "{API_KEY}"\n'),  # misspelt
        ({}, f"openrouter_api_key = {1234567890123}\n"),
        ({}, f'database_url = "mysql://u:{DB_PASSWORD}@h/x"\n'),
        ({"DATABASE_URL": DB_URL}, "leverage = 'x'\n"),
    ]
    for env, text in cases:
        kw: dict[str, Any] = {"env": env}
        if text:
            kw["config_path"] = toml_file(tmp_path, text)
        with pytest.raises(ConfigError) as info:
            load_settings(**kw)
        msg = str(info.value)
        for secret in (API_KEY, DB_PASSWORD, "1234567890123"):
            assert secret not in msg, (env, text, msg)


@pytest.mark.parametrize("url, shown", [
    ("postgresql://u:pw@h/db", "postgresql://u:****@h/db"),
    ("postgresql://u:p@ss@h:5432/db", "postgresql://u:****@h:5432/db"),
    ("postgresql://u:pa/ss?x@h/db", "postgresql://u:****@h/db"),
    ("postgresql://:pw@h/db", "postgresql://:****@h/db"),
    ("postgresql://h/db?sslmode=require&password=pw", "postgresql://h/db?sslmode=require&"
                                                      "password=****"),
    ("host=h password=pw dbname=x", "host=h password=**** dbname=x"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("/home/me/autotrade.db", "/home/me/autotrade.db"),
    ("https://user:tok@proxy.example/v1", "https://user:****@proxy.example/v1"),
])
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_url_credentials_in_other_keys_are_masked_when_shown() -> None:
    s = load_settings(env={"EXCHANGE_API_URL": f"https://me:{DB_PASSWORD}@proxy.example/"})
    assert s.exchange_api_url == f"https://me:{DB_PASSWORD}@proxy.example/"
    assert DB_PASSWORD not in json.dumps(s.shown()) and DB_PASSWORD not in repr(s)


def _cli_env(tmp_path: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {key.env for key in KEYS} | {"AUTOTRADE_CONFIG"}}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
               XDG_DATA_HOME=str(tmp_path / "xdg-data"), **extra)
    return env


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_config_show_masks_secrets(tmp_path: Path, as_json: bool) -> None:
    path = toml_file(tmp_path, f'[decisions]\nopenrouter_api_key = "{API_KEY}"\n')
    env = _cli_env(tmp_path, {"DATABASE_URL": DB_URL})
    args = [sys.executable, "-m", "autotrade_tui", "config", "show", "--config", str(path)]
    out = subprocess.run(args + (["--json"] if as_json else []), env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for secret in (API_KEY, DB_PASSWORD):
        assert secret not in out.stdout and secret not in out.stderr
    if as_json:
        shown = json.loads(out.stdout)
        assert shown["openrouter_api_key"] == "****"
        assert shown["database_url"] == "postgresql://trader:****@db.example:5432/autotrade"
        assert set(shown) == set(KEY_BY_NAME)
    else:
        assert 'openrouter_api_key = "****"   # config file' in out.stdout
        assert "postgresql://trader:****@db.example" in out.stdout


def test_finite_numbers_only_anywhere() -> None:
    # every float key refuses inf from the environment, whatever its range
    for key in KEYS:
        if key.kind is float:
            with pytest.raises(ConfigError, match=key.name):
                load_settings(env={key.env: "inf"})
    assert math.isfinite(load_settings(env={}).initial_capital)


def test_self_hosted_endpoint_needs_no_key_but_openrouter_does() -> None:
    assert defaults().use_offline_models
    assert not defaults(ai_base_url="http://127.0.0.1:11434/v1").use_offline_models
    assert defaults(ai_base_url="http://127.0.0.1:11434/v1", offline_models=True
                    ).use_offline_models
    assert not defaults(openrouter_api_key=Secret("k")).use_offline_models


def test_log_level_accepts_warn() -> None:
    assert load_settings(env={"AUTOTRADE_LOG_LEVEL": "warn"}, config_path=None).log_level \
        == "WARNING"

"""Settings: built-in defaults < TOML file < environment < CLI flags, validated once at start-up.

Every key is declared once in `KEYS` (name, default, environment name, range, help); the TOML
example, `config show` and the validation all read that table. A bad value raises ConfigError
naming the key, where it came from and the value. Secrets are `Secret`s: they print masked.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from autotrade_tui.errors import ConfigError
from autotrade_tui.notify import urls as notify_urls

APP_NAME = "autotrade-tui"
DEFAULT_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")


class Secret:
    """A string that never shows itself: repr/str are masked; `.get()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('****')" if self._value else "Secret('')"

    __str__ = __repr__


_PASSWORD_PARAM = re.compile(r"(password=)[^&;\s]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """`postgresql://u:pw@h/db` → `postgresql://u:****@h/db`; other strings unchanged.

    The user info is everything between `scheme://` and the LAST `@`, so a password holding
    `@`, `/`, `?` or `#` unencoded is masked whole; `password=` parameters (query string,
    libpq key=value) are masked too.
    """
    text = _PASSWORD_PARAM.sub(r"\1****", url)
    scheme, sep, rest = text.partition("://")
    if not sep or "@" not in rest:
        return text
    userinfo, _, host = rest.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    if not colon:
        return text
    return f"{scheme}://{user}:****@{host}"


@dataclass(frozen=True)
class Key:
    name: str
    default: Any
    help: str
    env: str | None = None
    kind: type = float
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: value must be > low (not >=)
    choices: tuple[str, ...] = ()
    secret: bool = False
    section: str = "general"
    # Further check of a text value: returns why it is bad, or None. Empty text is always
    # allowed when the default is empty (the feature is off / built in).
    check: Callable[[str], str | None] | None = None


def _http_url(text: str) -> str | None:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http:// or https:// URL"
    return None


def _nonempty(text: str) -> str | None:
    return "is empty" if not text else None


def _exchange_id(text: str) -> str | None:
    if not text:
        return "is empty"
    return None if re.fullmatch(r"[a-z0-9_]+", text) else "is not a ccxt exchange id"


_DB_SCHEMES = ("sqlite", "postgres", "postgresql")


def _database_url(text: str) -> str | None:
    """A file path, `sqlite:///path`, `sqlite://` (memory) or `postgres(ql)://...`."""
    if not text or text == ":memory:":
        return None
    if "://" in text:
        scheme = text.partition("://")[0].lower()
        if scheme.partition("+")[0] not in _DB_SCHEMES:
            return "is not a file path, sqlite:/// or postgresql:// URL"
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            return "is not a valid URL (bad port?)"
        if not scheme.startswith("sqlite"):
            return None if parts.hostname or parts.path.strip("/") else "names no database"
        text = text[len(scheme) + 4:]  # sqlite:///abs → /abs
        if not text:
            return None
    path = Path(text).expanduser()
    if path.is_dir():
        return "is a directory, not a database file"
    if path.parent.exists() and not path.parent.is_dir():
        return f"is inside {path.parent}, which is a file, not a directory"
    return None


API_TOKEN_MIN = 16  # characters: a guessable token on a TCP port is an open door
SOCKET_PATH_MAX = 107  # bytes: sockaddr_un's sun_path (108 on Linux, with its NUL)


def _socket_path(text: str) -> str | None:
    if len(os.fsencode(Path(text).expanduser())) > SOCKET_PATH_MAX:
        return f"is longer than a Unix socket path may be ({SOCKET_PATH_MAX} bytes)"
    return "is a directory, not a socket path" if Path(text).expanduser().is_dir() else None


def _host_port(text: str) -> str | None:
    """`HOST:PORT`, `[v6]:PORT`; port 0 = any free port."""
    host, colon, port = text.rpartition(":")
    if not colon or not host.strip("[]") or not port.isdigit() or int(port) > 65535:
        return "is not HOST:PORT (e.g. 127.0.0.1:8765)"
    return None


def _api_token(text: str) -> str | None:
    return (f"is shorter than {API_TOKEN_MIN} characters" if len(text) < API_TOKEN_MIN
            else None)


def _k(name: str, default: Any, help: str, **kw: Any) -> Key:
    kind = kw.pop("kind", type(default))
    return Key(name, default, help, kind=kind, **kw)


KEYS: tuple[Key, ...] = (
    # --- account and engine (SPEC §8)
    _k("initial_capital", 100_000.0, "Paper account size in USDT.", env="INITIAL_CAPITAL",
       low=0, low_open=True, section="account"),
    _k("leverage", 20.0, "Leverage of every new entry.", env="LEVERAGE", low=1, high=125,
       section="account"),
    _k("commission_rate", 0.001, "Fee rate on notional, per fill (0.001 = 0.1 %).",
       env="COMMISSION_RATE", low=0, high=0.1, section="account"),
    _k("maintenance_margin_rate", 0.005, "Maintenance margin rate m for liquidation.",
       env="MAINTENANCE_MARGIN_RATE", low=0, high=0.5, section="account"),
    _k("position_size_percent", 0.75, "Entry margin as % of free capital (0.75 at 20x: 15 % "
       "of equity a position; the seed's 100 puts the whole account into one trade).",
       env="POSITION_SIZE_PERCENT", low=0, high=100,
       low_open=True, section="account"),
    _k("max_positions", 100, "Most positions open at once (a stack is still one position).",
       env="MAX_POSITIONS", low=1, high=10_000, section="account"),
    _k("stop_loss_percent", 60.0, "Close a position when its loss reaches this % of its "
       "margin (0 = off). 60 at 20x is a 3 % price move, inside the ~4.5 % to "
       "liquidation.", env="STOP_LOSS_PERCENT", low=0, high=100, section="risk"),
    _k("take_profit_percent", 80.0, "Close a position when its gain reaches this % of its "
       "margin (0 = off).", env="TAKE_PROFIT_PERCENT", low=0, high=10_000, section="risk"),
    _k("max_drawdown_percent", 15.0, "Drawdown guard: act when equity falls this % below its "
       "peak (0 = off).", env="MAX_DRAWDOWN_PERCENT", low=0, high=100, section="risk"),
    _k("drawdown_action", "flatten", "What the drawdown guard does: flatten (close every "
       "position, then pause automatic trading) or pause (only pause).",
       env="DRAWDOWN_ACTION", choices=("flatten", "pause"), section="risk"),
    _k("max_entries_per_position", 2, "Most entries in one position, the first included "
       "(bounds stacking; 1 = no stacking).", env="MAX_ENTRIES_PER_POSITION", low=1,
       high=1000, section="risk"),
    _k("stack_only_in_profit", True, "Automatic stacking only while the position is in "
       "profit after fees (no averaging down).", env="STACK_ONLY_IN_PROFIT", section="risk"),
    _k("max_exposure_percent", 200.0, "Most open notional as % of equity; an entry that "
       "would pass it is sized down to fit, or refused (0 = off).",
       env="MAX_EXPOSURE_PERCENT", low=0, high=100_000, section="risk"),
    _k("reentry_cooldown_minutes", 1440.0, "After a close, automatic entries on that symbol "
       "wait this long (0 = off).", env="REENTRY_COOLDOWN_MINUTES", low=0, high=100_000,
       section="risk"),
    # --- decisions (SPEC §7)
    _k("trading_interval_minutes", 5.0, "Minutes between decision cycles.",
       env="TRADING_INTERVAL_MINUTES", low=0, low_open=True, high=1440, section="decisions"),
    _k("confidence_threshold", 0.60, "Minimum final confidence to execute with two answers.",
       env="CONFIDENCE_THRESHOLD", low=0, high=1, section="decisions"),
    _k("single_model_threshold", 0.55, "Minimum confidence when only one model answered.",
       env="SINGLE_MODEL_THRESHOLD", low=0, high=1, section="decisions"),
    _k("ai_voting_strategy", "majority", "How the two votes combine.", env="AI_VOTING_STRATEGY",
       choices=("majority", "unanimous", "weighted"), section="decisions"),
    _k("model_primary_weight", 0.5, "Weight of the primary model (weighted voting).",
       env="MODEL_PRIMARY_WEIGHT", low=0, high=1, section="decisions"),
    _k("model_secondary_weight", 0.5, "Weight of the secondary model (weighted voting).",
       env="MODEL_SECONDARY_WEIGHT", low=0, high=1, section="decisions"),
    _k("ai_model_primary", "deepseek/deepseek-chat-v3.1", "Primary model id.",
       env="AI_MODEL_PRIMARY", check=_nonempty, section="decisions"),
    _k("ai_model_secondary", "qwen/qwen3-vl-235b-a22b-instruct", "Secondary model id.",
       env="AI_MODEL_SECONDARY", check=_nonempty, section="decisions"),
    _k("ai_base_url", "https://openrouter.ai/api/v1", "OpenAI-compatible endpoint (OpenRouter, "
       "Ollama, vLLM, llama.cpp ...).", env="AI_BASE_URL", check=_http_url, section="decisions"),
    _k("openrouter_api_key", Secret(""), "API key (bearer); empty with OpenRouter = built-in "
       "offline models (a self-hosted ai_base_url needs none).",
       env="OPENROUTER_API_KEY", kind=Secret, secret=True, section="decisions"),
    _k("offline_models", False, "Force the built-in offline models even with a key.",
       env="AUTOTRADE_OFFLINE_MODELS", section="decisions"),
    _k("offline_trend_adx", 20.0, "Offline mean reverter: ADX at or above which, with ±DI the "
       "way of a stretch, it sees a trend it does not fade.",
       env="OFFLINE_TREND_ADX", low=5, high=35, section="decisions"),
    _k("offline_rsi_extreme", 30.0, "Offline mean reverter: RSI at or below this is oversold, "
       "at or above 100 minus this overbought.", env="OFFLINE_RSI_EXTREME", low=5, high=45,
       section="decisions"),
    _k("offline_fee_margin", 3.0, "Offline models: the move a rule expects must pay this many "
       "round-trip fees before it enters (0 = no fee check).", env="OFFLINE_FEE_MARGIN",
       low=0, high=20, section="decisions"),
    _k("offline_reverse_confidence", 0.8, "Offline models: confidence a signal needs to reverse "
       "or add to an open position (below it they keep the position).",
       env="OFFLINE_REVERSE_CONFIDENCE", low=0, high=1, section="decisions"),
    _k("model_timeout_seconds", 30.0, "Per-call timeout of a model request.",
       env="MODEL_TIMEOUT_SECONDS", low=0, low_open=True, high=600, section="decisions"),
    _k("model_max_retries", 2, "Retries of a model call on 429/5xx/timeout.",
       env="MODEL_MAX_RETRIES", low=0, high=10, section="decisions"),
    _k("max_concurrent_model_calls", 8, "Model calls in flight at once.",
       env="MAX_CONCURRENT_MODEL_CALLS", low=1, high=64, section="decisions"),
    _k("event_triggered_decisions", False, "A CRITICAL event triggers an immediate decision "
       "for its symbol.", env="EVENT_TRIGGERED_DECISIONS", section="decisions"),
    # --- market (SPEC §5)
    _k("market_source", "auto", "Where prices come from.", env="MARKET_SOURCE",
       choices=("auto", "ccxt", "sim", "replay"), section="market"),
    _k("exchange_id", "kraken", "ccxt exchange id.", env="EXCHANGE_ID", check=_exchange_id,
       section="market"),
    _k("exchange_api_url", "", "Override of the exchange's REST base URL (proxy, test server).",
       env="EXCHANGE_API_URL", check=_http_url, section="market"),
    _k("symbols", list(DEFAULT_SYMBOLS), "Symbols traded.", env="SYMBOLS", kind=list,
       section="market"),
    _k("speed", 1.0, "Clock multiplier for sim/replay.", env="AUTOTRADE_SPEED", low=0,
       low_open=True, high=100_000, section="market"),
    _k("sim_profile", "realistic", "Simulated market: realistic (calibrated to crypto's "
       "statistics) or eventful (dense flash moves, for demos of the event monitor).",
       env="SIM_PROFILE", choices=("realistic", "eventful"), section="market"),
    _k("seed", 42, "Random seed of the simulated market.", env="AUTOTRADE_SEED", low=0,
       section="market"),
    _k("replay_file", "", "OHLCV file for --market replay.", env="REPLAY_FILE",
       section="market"),
    _k("stale_after_seconds", 60.0, "Prices older than this are stale: no trade on them.",
       env="STALE_AFTER_SECONDS", low=0, low_open=True, section="market"),
    _k("auto_probe_seconds", 5.0, "market=auto: how long ccxt gets to answer before sim.",
       env="AUTO_PROBE_SECONDS", low=0, low_open=True, high=120, section="market"),
    _k("fundamentals_enabled", True, "Fetch Fear & Greed and CoinGecko data.",
       env="FUNDAMENTALS_ENABLED", section="market"),
    _k("fear_greed_url", "https://api.alternative.me/fng/", "Fear & Greed endpoint.",
       env="FEAR_GREED_URL", check=_http_url, section="market"),
    _k("coingecko_url", "https://api.coingecko.com/api/v3", "CoinGecko API base.",
       env="COINGECKO_URL", check=_http_url, section="market"),
    # --- events (SPEC §9)
    _k("event_interval_seconds", 5.0, "Seconds between event-monitor ticks.",
       env="EVENT_INTERVAL_SECONDS", low=0, low_open=True, high=3600, section="events"),
    _k("flash_move_percent", 2.0, "Price change (1/5/15 min) that is a flash move (MEDIUM).",
       env="FLASH_MOVE_PERCENT", low=0, low_open=True, high=100, section="events"),
    _k("flash_high_percent", 3.0, "Flash move that is HIGH.", env="FLASH_HIGH_PERCENT",
       low=0, low_open=True, high=100, section="events"),
    _k("flash_critical_percent", 5.0, "Flash move above which it is CRITICAL.",
       env="FLASH_CRITICAL_PERCENT", low=0, low_open=True, high=100, section="events"),
    _k("volume_spike_ratio", 2.0, "Volume / 24 h average that is a spike.",
       env="VOLUME_SPIKE_RATIO", low=1, low_open=True, high=1000, section="events"),
    _k("volume_dry_ratio", 0.2, "Volume / 24 h average that is a drought.",
       env="VOLUME_DRY_RATIO", low=0, low_open=True, high=1, section="events"),
    _k("volatility_spike_ratio", 1.5, "Short ATR / long ATR that is a volatility spike.",
       env="VOLATILITY_SPIKE_RATIO", low=1, low_open=True, high=100, section="events"),
    _k("liquidation_risk_percent", 10.0, "Distance to liquidation that is a risk (MEDIUM).",
       env="LIQUIDATION_RISK_PERCENT", low=0, low_open=True, high=100, section="events"),
    _k("liquidation_high_percent", 5.0, "Distance to liquidation that is HIGH.",
       env="LIQUIDATION_HIGH_PERCENT", low=0, low_open=True, high=100, section="events"),
    _k("liquidation_critical_percent", 2.0, "Distance to liquidation below which CRITICAL.",
       env="LIQUIDATION_CRITICAL_PERCENT", low=0, low_open=True, high=100, section="events"),
    _k("flash_cooldown_seconds", 300.0, "Cooldown of FLASH_CRASH / FLASH_RALLY per symbol.",
       env="FLASH_COOLDOWN_SECONDS", low=0, section="events"),
    _k("volume_spike_cooldown_seconds", 300.0, "Cooldown of VOLUME_SPIKE.",
       env="VOLUME_SPIKE_COOLDOWN_SECONDS", low=0, section="events"),
    _k("volume_dry_cooldown_seconds", 600.0, "Cooldown of VOLUME_DRY.",
       env="VOLUME_DRY_COOLDOWN_SECONDS", low=0, section="events"),
    _k("volatility_cooldown_seconds", 300.0, "Cooldown of VOLATILITY_SPIKE.",
       env="VOLATILITY_COOLDOWN_SECONDS", low=0, section="events"),
    _k("liquidation_cooldown_seconds", 120.0, "Cooldown of LIQUIDATION_RISK.",
       env="LIQUIDATION_COOLDOWN_SECONDS", low=0, section="events"),
    _k("event_repeat_minutes", 30.0, "A lasting condition is news once: the same event at the "
       "same or a lower severity is raised again only after this long (an escalation at once); "
       "in between the feed updates its line in place.", env="EVENT_REPEAT_MINUTES", low=0,
       high=10_080, section="events"),
    # --- storage and logs (SPEC §10)
    _k("database_url", Secret(""), "SQLite path or sqlite:/// / postgresql:// URL; empty = the "
       "user data dir.", env="DATABASE_URL", kind=Secret, secret=True, check=_database_url,
       section="storage"),
    _k("log_level", "INFO", "Log level of --headless.", env="AUTOTRADE_LOG_LEVEL",
       choices=("DEBUG", "INFO", "WARNING", "ERROR"), section="storage"),
    # --- alerts out of the terminal (SPEC §14)
    _k("notify_urls", [], "Apprise URLs alerts go to (tgram://, discord://, ntfy://, json://, "
       "mailto:// ...); they hold tokens: secrets, never shown. Empty = no alerts.",
       env="NOTIFY_URLS", kind=list, secret=True, check=notify_urls.why_bad, section="notify"),
    _k("notify_on", list(notify_urls.DEFAULT_KINDS), "Which alerts are sent ([] = none).",
       env="NOTIFY_ON", kind=list, choices=notify_urls.KINDS, section="notify"),
    _k("notify_max_per_minute", 20, "Most alerts a minute; more are sent as one '+N more' "
       "message.", env="NOTIFY_MAX_PER_MINUTE", low=1, high=1000, section="notify"),
    # --- the engine's API: watch and steer it from another terminal (SPEC §13)
    _k("api", True, "Serve the engine's HTTP + WebSocket API (for `autotrade-tui attach`); "
       "false = no server.", env="AUTOTRADE_API", section="service"),
    _k("api_socket", "", "Unix socket of the API (mode 0600); empty = <user runtime dir, or "
       "the data dir>/engine-<hash of the database URL>.sock.", env="AUTOTRADE_API_SOCKET",
       check=_socket_path, section="service"),
    _k("api_listen", "", "HOST:PORT to serve the API over TCP as well (needs api_token); "
       "empty = the socket only.", env="AUTOTRADE_API_LISTEN", check=_host_port,
       section="service"),
    _k("api_token", Secret(""), f"Bearer token every TCP request must carry (at least "
       f"{API_TOKEN_MIN} characters); a secret, never shown.", env="AUTOTRADE_API_TOKEN",
       kind=Secret, secret=True, check=_api_token, section="service"),
)
KEY_BY_NAME = {k.name: k for k in KEYS}


def field_type(key: Key) -> str:
    """The type of a key's value once loaded, as `SettingsFields` spells it."""
    if key.kind is list:
        return "list[Secret]" if key.secret else "list[str]"
    if key.kind is str and key.choices:
        return "Literal[" + ", ".join(f'"{c}"' for c in key.choices) + "]"
    return key.kind.__name__


def typed_fields() -> str:
    """The body of `SettingsFields`, from KEYS: `python -c "from autotrade_tui.config import
    typed_fields; print(typed_fields())"` prints it to paste after adding a key."""
    lines, section = [], None
    for key in KEYS:
        if key.section != section:
            section = key.section
            lines.append(f"    # [{section}]")
        lines.append(f"    {key.name}: {field_type(key)}")
    return "\n".join(lines)


class SettingsFields:
    """Every key of `KEYS` as a typed attribute of `Settings`, for type checkers and readers.

    Not a second declaration of the keys: this body is `typed_fields()`'s output (KEYS' names,
    order and types) and tests/test_types.py fails, printing the body to paste, when the two
    differ. At run time the values come from `Settings.values` (`Settings.__getattr__`).
    """

    # [account]
    initial_capital: float
    leverage: float
    commission_rate: float
    maintenance_margin_rate: float
    position_size_percent: float
    max_positions: int
    # [risk]
    stop_loss_percent: float
    take_profit_percent: float
    max_drawdown_percent: float
    drawdown_action: Literal["flatten", "pause"]
    max_entries_per_position: int
    stack_only_in_profit: bool
    max_exposure_percent: float
    reentry_cooldown_minutes: float
    # [decisions]
    trading_interval_minutes: float
    confidence_threshold: float
    single_model_threshold: float
    ai_voting_strategy: Literal["majority", "unanimous", "weighted"]
    model_primary_weight: float
    model_secondary_weight: float
    ai_model_primary: str
    ai_model_secondary: str
    ai_base_url: str
    openrouter_api_key: Secret
    offline_models: bool
    offline_trend_adx: float
    offline_rsi_extreme: float
    offline_fee_margin: float
    offline_reverse_confidence: float
    model_timeout_seconds: float
    model_max_retries: int
    max_concurrent_model_calls: int
    event_triggered_decisions: bool
    # [market]
    market_source: Literal["auto", "ccxt", "sim", "replay"]
    exchange_id: str
    exchange_api_url: str
    symbols: list[str]
    speed: float
    sim_profile: Literal["realistic", "eventful"]
    seed: int
    replay_file: str
    stale_after_seconds: float
    auto_probe_seconds: float
    fundamentals_enabled: bool
    fear_greed_url: str
    coingecko_url: str
    # [events]
    event_interval_seconds: float
    flash_move_percent: float
    flash_high_percent: float
    flash_critical_percent: float
    volume_spike_ratio: float
    volume_dry_ratio: float
    volatility_spike_ratio: float
    liquidation_risk_percent: float
    liquidation_high_percent: float
    liquidation_critical_percent: float
    flash_cooldown_seconds: float
    volume_spike_cooldown_seconds: float
    volume_dry_cooldown_seconds: float
    volatility_cooldown_seconds: float
    liquidation_cooldown_seconds: float
    event_repeat_minutes: float
    # [storage]
    database_url: Secret
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    # [notify]
    notify_urls: list[Secret]
    notify_on: list[str]
    notify_max_per_minute: int
    # [service]
    api: bool
    api_socket: str
    api_listen: str
    api_token: Secret


@dataclass(frozen=True)
class Settings(SettingsFields):
    """The effective configuration; built by `load_settings`, passed down, never re-read.

    Each key reads as a typed attribute (`settings.leverage: float`, see SettingsFields)."""

    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)
    config_path: Path | None = None

    def __repr__(self) -> str:  # the shown (masked) values: a repr may end up in a log
        return f"Settings({self.shown()!r}, config_path={self.config_path!r})"

    if not TYPE_CHECKING:  # type checkers see SettingsFields: a misspelt key is an error

        def __getattr__(self, name: str) -> Any:
            try:
                return self.values[name]
            except KeyError:
                raise AttributeError(name) from None

    def replace(self, **changes: Any) -> Settings:
        values = dict(self.values)
        for name, value in changes.items():
            values[name] = _coerce(KEY_BY_NAME[name], value, "override")
        return Settings(values, {**self.sources, **dict.fromkeys(changes, "override")},
                        self.config_path)

    @property
    def api_key(self) -> str:
        return self.values["openrouter_api_key"].get()

    @property
    def use_offline_models(self) -> bool:
        """Offline when forced, or when OpenRouter is the endpoint and there is no key.

        A self-hosted server (Ollama, vLLM, llama.cpp) needs no key: pointing `ai_base_url`
        elsewhere is enough to use it.
        """
        if self.values["offline_models"]:
            return True
        return not self.api_key and "openrouter.ai" in self.values["ai_base_url"]

    def shown(self) -> dict[str, Any]:
        """Effective values with secrets masked (for `config show` and logs)."""
        out: dict[str, Any] = {}
        for key in KEYS:
            value = self.values[key.name]
            if key.name == "database_url":
                value = mask_url(value.get()) if value else ""
            elif isinstance(value, Secret):
                value = "****" if value else ""
            elif isinstance(value, str):  # a proxy URL may carry user:password@
                value = mask_url(value)
            elif isinstance(value, list):  # an Apprise URL shows as its scheme only
                value = [notify_urls.masked(v.get()) if isinstance(v, Secret) else v
                         for v in value]
            out[key.name] = value
        return out


def user_config_path() -> Path:
    from platformdirs import user_config_path as _ucp

    return _ucp(APP_NAME, appauthor=False) / "config.toml"


def user_data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def default_db_path() -> Path:
    return user_data_dir() / "autotrade.db"


def _where(source: str, path: Path | None) -> str:
    if source == "file":
        return f"config file {path}" if path else "config file"
    return source


def _coerce(key: Key, raw: Any, source: str, path: Path | None = None) -> Any:
    """Turn `raw` into the key's type and check its range; ConfigError otherwise."""

    def bad(why: str, shown: str | None = None) -> ConfigError:
        if shown is None and key.secret:  # a URL shows with its password masked; a key not
            shown = repr(mask_url(raw)) if key.check is _database_url and isinstance(
                raw, str) else "****"
        elif shown is None:
            shown = repr(raw)
        return ConfigError(f"config key '{key.name}' from {_where(source, path)}: {shown} {why}")

    # Environment variables and flags arrive as text; TOML values arrive typed.
    from_text = isinstance(raw, str) and source != "file"
    converter = _CONVERTERS.get(key.kind, _to_str)
    return converter(key, raw, from_text, bad)


Bad = Callable[..., ConfigError]  # (why, shown=None): shown replaces the raw value
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _to_bool(key: Key, raw: Any, from_text: bool, bad: Bad) -> bool:
    if isinstance(raw, bool):
        return raw
    if from_text and raw.strip().lower() in _TRUE + _FALSE:
        return raw.strip().lower() in _TRUE
    raise bad("is not a boolean (true/false)")


def _to_number(key: Key, raw: Any, from_text: bool, bad: Bad) -> float | int:
    what = "a whole number" if key.kind is int else "a number"
    if isinstance(raw, bool):
        raise bad(f"is not {what}")
    try:
        value = key.kind(raw.strip()) if from_text else raw
    except ValueError:
        raise bad(f"is not {what}") from None
    if key.kind is int and not isinstance(value, int):
        raise bad(f"is not {what}")
    if not isinstance(value, int | float) or value != value:  # NaN is not a number here
        raise bad(f"is not {what}")
    if not math.isfinite(value):
        raise bad("is not a finite number")
    _check_range(key, value, bad)
    return float(value) if key.kind is float else value


def _to_list(key: Key, raw: Any, from_text: bool, bad: Bad) -> list[Any]:
    if from_text:
        value = [s.strip() for s in raw.split(",") if s.strip()]
    elif isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        value = [s.strip() for s in raw]
    else:
        raise bad("is not a list of strings", "****" if key.secret else None)
    if key.secret:
        return _secret_items(key, value, bad)
    if key.choices:
        return _choice_items(key, value, bad)
    if not value:
        raise bad("is empty")
    seen: set[str] = set()
    for sym in value:
        if not _SYMBOL.fullmatch(sym.upper()):
            raise bad(f"has '{sym}', which is not a BASE/QUOTE symbol")
        if sym.upper() in seen:
            raise bad(f"has '{sym}' twice")
        seen.add(sym.upper())
    return [s.upper() for s in value]


def _secret_items(key: Key, value: list[str], bad: Bad) -> list[Secret]:
    """Each item checked; a bad one named by its place (from 1) and shown masked."""
    for n, item in enumerate(value, 1):
        why = key.check(item) if key.check else None
        if why:
            raise bad(f"{why}", f"item {n} ({notify_urls.masked(item)!r})")
    return [Secret(item) for item in value]


def _choice_items(key: Key, value: list[str], bad: Bad) -> list[str]:
    """Words from `key.choices` (any case), each once; an empty list is allowed."""
    words = [item.lower() for item in value]
    for item in words:
        if item not in key.choices:
            raise bad(f"has '{item}', which is not one of {', '.join(key.choices)}")
    return list(dict.fromkeys(words))


# BASE/QUOTE, optionally :SETTLE (ccxt's derivatives); letters, digits, '.', '_', '-'
_SYMBOL = re.compile(r"[A-Z0-9._-]+/[A-Z0-9._-]+(:[A-Z0-9._-]+)?")


def _to_secret(key: Key, raw: Any, from_text: bool, bad: Bad) -> Secret:
    if isinstance(raw, Secret):
        return raw
    if isinstance(raw, str):
        value = raw.strip()
        why = key.check(value) if key.check and value else None
        if why:
            raise bad(why)
        return Secret(value)
    raise bad("is not a string")


def _to_str(key: Key, raw: Any, from_text: bool, bad: Bad) -> str:
    if not isinstance(raw, str):
        raise bad("is not a string")
    value = raw.strip()
    if key.choices:
        value = value.upper() if key.name == "log_level" else value.lower()
        value = {"WARN": "WARNING"}.get(value, value)
        if value not in key.choices:
            raise bad(f"is not one of {', '.join(key.choices)}")
    if key.name == "exchange_id":
        value = value.lower()
    if key.check and (value or key.default):
        why = key.check(value)
        if why:
            raise bad(why)
    return value


_CONVERTERS: dict[type, Callable[[Key, Any, bool, Bad], Any]] = {
    bool: _to_bool, int: _to_number, float: _to_number, list: _to_list, Secret: _to_secret,
}


def _check_range(key: Key, value: float, bad: Bad) -> None:
    if key.low is not None:
        if key.low_open and value <= key.low:
            raise bad(f"is out of range (must be > {key.low:g})")
        if not key.low_open and value < key.low:
            raise bad(f"is out of range (must be ≥ {key.low:g})")
    if key.high is not None and value > key.high:
        raise bad(f"is out of range (must be ≤ {key.high:g})")


def read_toml(path: Path, origin: str = "") -> dict[str, Any]:
    """Read the config file; sections are only for grouping, keys are flat and unique.

    Raises ConfigError for an unreadable or malformed file, a key given twice (at the top
    level and in a section, or in two sections) and an unknown key (the message names it with
    its section, never its value: a misspelt secret must not be printed). `origin` says where
    the path came from (`--config`, AUTOTRADE_CONFIG) for the file-not-found message.
    """
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}{f' (from {origin})' if origin else ''} does "
                          "not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    flat: dict[str, Any] = {}
    where: dict[str, str] = {}
    for name, value in data.items():
        if isinstance(value, dict) and name not in KEY_BY_NAME:
            items = [(sub, subvalue, f"{name}.{sub}", f"section [{name}]")
                     for sub, subvalue in value.items()]
        else:
            items = [(name, value, name, "the top level")]
        for key, val, dotted, place in items:
            if key not in KEY_BY_NAME:
                hint = difflib.get_close_matches(key, KEY_BY_NAME, n=1)
                raise ConfigError(f"config file {path}: unknown key '{dotted}'"
                                  + (f" (did you mean '{hint[0]}'?)" if hint else
                                     " (see config.toml.example for the keys)"))
            if key in flat:
                raise ConfigError(f"config file {path}: key '{key}' is set twice ({where[key]} "
                                  f"and {place})")
            flat[key], where[key] = val, place
    return flat


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_path: str | Path | None = None,
    flag_names: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from defaults < TOML < env < flags. Raises ConfigError on any bad value.

    `flags` holds only the options the user gave (None values are ignored), keyed by setting
    name; `flag_names` maps a setting to the flag the user typed (`database_url` → `--db`)
    so messages name what the user wrote. `config_path`: explicit path (`--config`); else
    AUTOTRADE_CONFIG; else the user config file if it exists.
    """
    env = os.environ if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    for name in flags:
        if name not in KEY_BY_NAME:
            raise ConfigError(f"unknown setting '{name}'")
    explicit = config_path or env.get("AUTOTRADE_CONFIG") or None
    path = Path(explicit).expanduser() if explicit else user_config_path()
    used_file = bool(explicit) or path.exists()
    origin = ("--config" if config_path else "environment variable AUTOTRADE_CONFIG") \
        if explicit else ""
    file_values = read_toml(path, origin) if used_file else {}

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in KEYS:
        value, source = key.default, "default"
        if key.name in file_values:
            value, source = _coerce(key, file_values[key.name], "file", path), "file"
        if key.env and key.env in env:
            source = f"environment variable {key.env}"
            value = _coerce(key, env[key.env], source)
        if key.name in flags:
            flag = (flag_names or {}).get(key.name) or f"--{key.name.replace('_', '-')}"
            source = f"flag {flag}"
            value = _coerce(key, flags[key.name], source)
        values[key.name] = value
        sources[key.name] = source
    _check_consistency(values, sources)
    return Settings(values, sources, path if used_file else None)


def _check_consistency(values: dict[str, Any], sources: dict[str, str]) -> None:
    def order(names: tuple[str, str, str]) -> None:
        got = [values[n] for n in names]
        if got[0] <= got[1] <= got[2]:
            return
        parts = [f"'{n}' = {values[n]:g} ({_where(sources[n], None)})" for n in names]
        raise ConfigError("config keys must satisfy " + " ≤ ".join(f"'{n}'" for n in names)
                          + "; got " + ", ".join(parts))

    order(("flash_move_percent", "flash_high_percent", "flash_critical_percent"))
    order(("liquidation_critical_percent", "liquidation_high_percent",
           "liquidation_risk_percent"))
    if values["api"] and values["api_listen"] and not values["api_token"]:
        raise ConfigError(f"config key 'api_listen' from {_where(sources['api_listen'], None)}:"
                          f" serving the API over TCP needs 'api_token' (or AUTOTRADE_API_TOKEN"
                          f", at least {API_TOKEN_MIN} characters)")
    if values["market_source"] == "replay" and not values["replay_file"]:
        raise ConfigError(f"config key 'market_source' from {sources['market_source']}: 'replay' "
                          "needs 'replay_file' (an OHLCV file or a freqtrade data folder)")
    if values["market_source"] == "replay" and not Path(values["replay_file"]).expanduser() \
            .exists():  # a file, or a freqtrade data folder (one file per pair)
        raise ConfigError(f"config key 'replay_file' from {_where(sources['replay_file'], None)}:"
                          f" {values['replay_file']!r} is not a file or folder")


def defaults(**overrides: Any) -> Settings:
    """Built-in defaults only, plus validated overrides (tests, benchmarks, backtests)."""
    base = Settings({k.name: k.default for k in KEYS}, dict.fromkeys(KEY_BY_NAME, "default"))
    return base.replace(**overrides) if overrides else base


SECTION_NOTES = {
    "risk": (
        "Risk rules (SPEC §8.1), on by default. The values were chosen with",
        "benchmarks/strategy.py (40 seeds x 30 days of the realistic simulated market, 11",
        "months of real 2024 Binance candles and GARCH data, offline models): at 20x with 1 %",
        "entries, a 60 % stop (3 % price move) and an 80 % take-profit (4 % move), one day",
        "between a close and the next automatic entry on that symbol, the median month lost",
        "1-3 % (fees ~2 % of capital), the worst ~11-14 % (the drawdown guard), with no",
        "liquidation. Larger entries, tighter stops or shorter cooldowns trade more and pay",
        "it in fees; see benchmarks/README.md.",
    ),
}


def example_toml() -> str:
    """The commented example config: every key, its default, its environment name."""
    lines = ["# autotrade-tui configuration. Every key is optional; shown with its default.",
             "# Precedence: command-line flags > environment variables > this file > defaults.",
             "# Keys may sit at the top level or under any of the [section] headers below.", ""]
    section = None
    for key in KEYS:
        if key.section != section:
            section = key.section
            lines += [f"# {line}" for line in SECTION_NOTES.get(section, ())]
            lines += [f"[{section}]"]
        env = f" (env {key.env})" if key.env else ""
        lines.append(f"# {key.help}{env}")
        if key.choices:  # a list key takes several of them
            lines.append(f"# {'any' if key.kind is list else 'one'} of: {', '.join(key.choices)}")
        lines.append(f"{key.name} = {_toml_value(key.default)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, Secret):
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


__all__ = ["KEYS", "Key", "Secret", "Settings", "SettingsFields", "defaults", "field_type",
           "load_settings", "mask_url", "typed_fields"]

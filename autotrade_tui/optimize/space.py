"""The search space: config key → a range (low, high) or a list of choices.

In TOML both are arrays: for a numeric key a pair is its range (`leverage = [2, 20]`), more
values are choices (`leverage = [5, 10, 20]`); a text or true/false key takes choices.

The default (SPEC §15) is one table beside the config KEYS and is checked against them, as a
`--space FILE` (TOML) is: every key must be a config key, every range inside the key's own
limits and of its type, every choice one the key accepts.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autotrade_tui.config import KEY_BY_NAME, Key
from autotrade_tui.errors import UserError


@dataclass(frozen=True)
class Dimension:
    key: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    integer: bool = False

    def suggest(self, trial: Any) -> Any:
        if self.choices:
            return trial.suggest_categorical(self.key, list(self.choices))
        assert self.low is not None and self.high is not None
        if self.integer:
            return trial.suggest_int(self.key, int(self.low), int(self.high))
        return trial.suggest_float(self.key, self.low, self.high)


# SPEC §15's default: the vote, the leverage and sizing, the guards, how long a symbol waits
# after a close, and the offline models' own parameters (`OFFLINE_KEYS`: left out when the
# trials ask the configured LLMs, on whom they have no effect).
DEFAULT_SPACE: dict[str, Any] = {
    "confidence_threshold": (0.5, 0.8),
    "ai_voting_strategy": ["majority", "unanimous", "weighted"],
    "leverage": (2, 20),
    "position_size_percent": (0.5, 5.0),
    "stop_loss_percent": (20.0, 80.0),
    "take_profit_percent": (20.0, 200.0),
    "reentry_cooldown_minutes": (0.0, 2880.0),
    "offline_trend_adx": (15.0, 30.0),
    "offline_rsi_extreme": (20.0, 40.0),
    "offline_fee_margin": (1.0, 6.0),
    "offline_reverse_confidence": (0.6, 0.9),
}
OFFLINE_KEYS = ("offline_trend_adx", "offline_rsi_extreme", "offline_fee_margin",
                "offline_reverse_confidence")


def dimension(key: str, spec: Any, where: str) -> Dimension:
    """One entry of a space, checked against the config key it names."""
    k: Key | None = KEY_BY_NAME.get(key)
    if k is None:
        raise UserError(f"{where}: '{key}' is not a config key")
    numeric = k.kind in (int, float) and not k.choices
    if isinstance(spec, list) and numeric and len(spec) == 2:
        spec = tuple(spec)  # `key = [low, high]`: a numeric key's pair is its range
    if isinstance(spec, list):
        if not spec:
            raise UserError(f"{where}: '{key}' has no choices")
        for choice in spec:
            _check_value(k, choice, where)
        return Dimension(key, choices=tuple(spec))
    if not (isinstance(spec, (tuple | list, dict))):
        raise UserError(f"{where}: '{key}' must be [low, high] numbers or a list of choices")
    low, high = _range(spec, key, where)
    if k.kind not in (int, float):
        raise UserError(f"{where}: '{key}' takes {k.kind.__name__} values, not a range")
    if not low < high:
        raise UserError(f"{where}: '{key}' range [{low:g}, {high:g}] is empty (low must be "
                        "below high)")
    for v in (low, high):
        _check_value(k, v, where)
    return Dimension(key, float(low), float(high), integer=k.kind is int)


def _range(spec: Any, key: str, where: str) -> tuple[float, float]:
    if isinstance(spec, dict):
        spec = (spec.get("low"), spec.get("high"))
    if len(spec) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                 for v in spec):
        raise UserError(f"{where}: '{key}' must be [low, high] numbers or a list of choices")
    return float(spec[0]), float(spec[1])


def _check_value(k: Key, value: Any, where: str) -> None:
    if k.choices:
        if value not in k.choices:
            raise UserError(f"{where}: '{k.name}' choice {value!r} is not one of "
                            f"{', '.join(k.choices)}")
        return
    if k.kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"{where}: '{k.name}' value {value!r} is not a number")
        if k.kind is int and value != int(value):
            raise UserError(f"{where}: '{k.name}' value {value!r} is not a whole number")
        too_low = k.low is not None and (value <= k.low if k.low_open else value < k.low)
        if too_low or (k.high is not None and value > k.high):
            lo = "" if k.low is None else f"{'>' if k.low_open else '≥'} {k.low:g}"
            hi = "" if k.high is None else f"≤ {k.high:g}"
            raise UserError(f"{where}: '{k.name}' value {value:g} is out of its range "
                            f"({', '.join(x for x in (lo, hi) if x)})")
        return
    if k.kind is bool and not isinstance(value, bool):
        raise UserError(f"{where}: '{k.name}' choice {value!r} is not true or false")


def parse_space(table: dict[str, Any], where: str) -> list[Dimension]:
    if not table:
        raise UserError(f"{where}: the search space is empty")
    return [dimension(key, spec, where) for key, spec in table.items()]


def load_space(path: str | None, offline: bool = True) -> list[Dimension]:
    """`--space FILE` (TOML: `key = [low, high]` or `key = ["a", "b"]`), or the default (without
    the offline models' keys when `offline` is false: the trials ask LLMs)."""
    if not path:
        table = {k: v for k, v in DEFAULT_SPACE.items() if offline or k not in OFFLINE_KEYS}
        return parse_space(table, "the default search space")
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"--space {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--space {path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"--space {path}: not valid TOML ({exc})") from None
    flat: dict[str, Any] = {}
    for key, value in table.items():  # sections only group, as in config.toml
        if isinstance(value, dict) and not {"low", "high"} >= set(value):
            flat.update(value)
        else:
            flat[key] = value
    return parse_space(flat, f"--space {path}")

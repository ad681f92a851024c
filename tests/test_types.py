"""Typed seams (issue 19): strict mypy on core/ and runtime/ as pyproject's [tool.mypy] says,
and Settings' typed attributes (config.SettingsFields) agreeing with the KEYS table."""

from __future__ import annotations

import ast
import subprocess
import sys
import typing
from pathlib import Path

from autotrade_tui import config
from autotrade_tui.config import KEYS, Secret, SettingsFields, field_type, typed_fields

ROOT = Path(__file__).resolve().parent.parent


def test_settings_fields_are_the_keys_table() -> None:
    """One line a key, in KEYS' order, of the key's type: a key added to KEYS fails here
    until the printed body is pasted into config.SettingsFields."""
    declared = list(SettingsFields.__annotations__.items())  # as Python re-spells them
    expected = [(key.name, ast.unparse(ast.parse(field_type(key), mode="eval")))
                for key in KEYS]
    assert declared == expected, (
        "config.SettingsFields differs from config.KEYS; its body should be:\n" + typed_fields())


def _conforms(value: object, hint: object) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and all(isinstance(v, args[0]) for v in value)
    return isinstance(value, hint) and not (hint is not bool and isinstance(value, bool)) \
        if isinstance(hint, type) else False


def test_every_default_has_its_declared_type() -> None:
    hints = typing.get_type_hints(SettingsFields, vars(config))
    settings = config.defaults(notify_urls=["json://localhost"])  # a list[Secret] not empty
    for key in KEYS:
        value = settings.values[key.name]
        assert _conforms(value, hints[key.name]), (key.name, value, hints[key.name])
        assert getattr(settings, key.name) is value
    assert isinstance(settings.notify_urls[0], Secret)


def test_mypy_strict_on_core_and_runtime_is_clean() -> None:
    """`python -m mypy` from the repository root: the files and strictness of [tool.mypy]."""
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr

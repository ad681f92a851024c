"""The process's standard streams, shared by the command line and the headless front end."""

from __future__ import annotations

import os
import sys


def detach_stdout() -> None:
    """The reader of stdout has gone (`| head`): send whatever is still written there to
    os.devnull, so neither later output nor the interpreter's final flush raises
    BrokenPipeError (the recipe of Python's `signal` documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no file descriptor behind sys.stdout
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115

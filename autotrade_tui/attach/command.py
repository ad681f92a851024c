"""`autotrade-tui attach` and the cockpit that finds its database's engine already running:
the same cockpit (AutotradeApp), fed by a RemoteLink instead of an engine of its own."""

from __future__ import annotations

import argparse
import os
from typing import Any

from autotrade_tui.attach.client import RemoteLink, Target
from autotrade_tui.errors import EngineLockedError, EngineUnreachable, UserError

TOKEN_ENV = "AUTOTRADE_API_TOKEN"


def target_from(args: argparse.Namespace, settings: Any) -> Target:
    """--socket or --url as given; else the socket of the engine on the configured
    database (the default `api_socket`, or the one the config names)."""
    from autotrade_tui.api.service import socket_path

    socket, url = getattr(args, "socket", None), getattr(args, "url", None)
    if socket and url:
        raise UserError("attach: give --socket or --url, not both")
    token = getattr(args, "token", None) or os.environ.get(TOKEN_ENV) or _token(settings)
    if url:
        if not url.startswith(("http://", "https://")):
            raise UserError(f"attach: --url must start with http:// or https:// (got {url!r})")
        return Target(url=url, token=token)
    return Target(socket=socket or str(socket_path(settings)))


def _token(settings: Any) -> str:
    secret = getattr(settings, "api_token", None)
    return secret.get() if secret is not None else ""


def run_attach(args: argparse.Namespace, settings: Any) -> int:
    """The cockpit on the engine at the target until `q` (the engine keeps trading)."""
    from autotrade_tui.tui.app import AutotradeApp

    target = target_from(args, settings)
    if target.socket:
        from autotrade_tui.api.service import engine_listening

        if not engine_listening(target.socket):  # said before the screen takes the terminal
            raise EngineUnreachable(
                f"no engine is listening on {target.socket}: start one (`autotrade-tui "
                "--headless`, or `systemctl --user start autotrade-tui`), or give --socket "
                "/ --url")

    async def factory(_settings: Any) -> RemoteLink:
        return await RemoteLink.open(target)

    app = AutotradeApp(settings, runtime_factory=factory)
    app.run()
    return app.return_code or 0


async def attach_running(settings: Any, locked: EngineLockedError) -> RemoteLink:
    """The engine that holds the database's lock, if it serves its API on the socket the
    settings name: a second cockpit attaches to it instead of exiting 3 (SPEC §13).
    Re-raises `locked` when nothing answers there (its API is off, or on TCP only)."""
    from autotrade_tui.api.service import engine_listening, socket_path

    path = socket_path(settings)
    if not settings.api or not engine_listening(path):
        raise locked
    return await RemoteLink.open(Target(socket=str(path)))

"""Where and how the API is served (SPEC §13): the socket's place and mode, a stale socket
replaced and a live one refused, the socket removed on close, `api = false`; TCP only with a
token of ≥ 16 characters (exit 2 otherwise), every TCP request and the stream without the
right Bearer token refused with 401, the token never logged or shown."""

from __future__ import annotations

import logging
import signal
import socket
import stat
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from autotrade_tui.api.service import ApiError, engine_listening, socket_path
from autotrade_tui.cli import main
from autotrade_tui.store.store import Store
from tests.api_fixtures import TOKEN, api_of, engine, engine_settings, http, open_engine


def test_the_default_socket_is_per_database_under_the_runtime_dir(
        tmp_path: Path, api_runtime_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    here = socket_path(engine_settings(tmp_path, database_url="api.db"))  # relative = same
    assert here == socket_path(engine_settings(tmp_path))
    assert here.parent == api_runtime_dir / "autotrade-tui"
    assert here.name.startswith("engine-") and here.suffix == ".sock" and len(here.name) == 24
    assert socket_path(engine_settings(tmp_path, database_url="other.db")) != here
    given = tmp_path / "my.sock"
    assert socket_path(engine_settings(tmp_path, api_socket=str(given))) == given


async def test_socket_mode_0600_and_removed_on_close(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    link = await open_engine(tmp_path)
    path = api_of(link).path
    try:
        assert path == socket_path(link.runtime.settings)
        assert stat.S_ISSOCK(path.stat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert engine_listening(path)
        # uvicorn's own signal handlers are not installed: the front end owns the signals
        assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    finally:
        await link.close()
    assert not path.exists() and not engine_listening(path)


def stale_socket(path: Path) -> None:
    """A socket file nobody listens on: what a killed engine leaves."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
    assert path.exists() and not engine_listening(path)


async def test_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = socket_path(engine_settings(tmp_path))
    stale_socket(path)
    async with engine(tmp_path) as link, http(path) as c:
        assert api_of(link).path == path and engine_listening(path)
        assert (await c.get("/api/status")).status_code == 200


async def test_a_live_socket_is_another_engine_and_refused(tmp_path: Path) -> None:
    path = socket_path(engine_settings(tmp_path))
    path.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket(socket.AF_UNIX) as other:
        other.bind(str(path))
        other.listen()
        with pytest.raises(ApiError, match="another engine serves its API at"):
            await open_engine(tmp_path)
        assert engine_listening(path)  # left alone
    # the engine that could not serve was closed again: its database lock is free
    Store(tmp_path / "api.db", writer=True).close()


async def test_a_file_that_is_not_a_socket_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    with pytest.raises(ApiError, match="is not a socket"):
        await open_engine(tmp_path, api_socket=str(path))
    assert path.read_text() == "mine"


async def test_api_false_serves_nothing(tmp_path: Path, api_runtime_dir: Path) -> None:
    async with engine(tmp_path, api=False) as link:
        assert api_of(link).path is None
        assert sockets_under(api_runtime_dir) == []


def sockets_under(folder: Path) -> list[Path]:
    return list(folder.rglob("*.sock"))


async def test_tcp_needs_the_bearer_token(tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with engine(tmp_path, api_listen="127.0.0.1:0", api_token=TOKEN) as link:
        host, port = api_of(link).tcp_address
        base = f"http://{host}:{port}"
        async with httpx.AsyncClient(base_url=base) as c:
            for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                            {"Authorization": f"Basic {TOKEN}"},
                            {"Authorization": f"Bearer {TOKEN}x"}):
                for r in (await c.get("/api/account", headers=headers),
                          await c.post("/api/pause", headers=headers)):
                    assert r.status_code == 401 and TOKEN not in r.text
            assert not link.trading_off  # the refused pause did nothing
            auth = {"Authorization": f"Bearer {TOKEN}"}
            assert (await c.get("/api/account", headers=auth)).status_code == 200
            assert (await c.post("/api/pause", headers=auth)).status_code == 200
            assert link.trading_off
        ws_url = f"ws://{host}:{port}/api/ws"
        with pytest.raises(InvalidStatus) as refused:
            await connect(ws_url)
        assert refused.value.response.status_code == 401
        async with connect(ws_url, additional_headers=auth) as ws:
            assert '"type":"status"' in await ws.recv()
        async with http(api_of(link).path) as c:  # the socket (mode 0600) needs none
            assert (await c.get("/api/status")).status_code == 200
    served = [r.getMessage() for r in caplog.records  # the engine's side (clients log theirs)
              if r.name.startswith(("uvicorn", "autotrade_tui", "fastapi", "starlette"))]
    assert TOKEN not in "\n".join(served)


def test_a_short_token_or_tcp_without_one_exits_2_with_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    db = str(tmp_path / "x.db")
    monkeypatch.setenv("AUTOTRADE_API_TOKEN", "short-token")
    assert main(["--headless", "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "api_token" in err and "16 characters" in err
    assert "short-token" not in err
    monkeypatch.delenv("AUTOTRADE_API_TOKEN")
    monkeypatch.setenv("AUTOTRADE_API_LISTEN", "127.0.0.1:8765")
    assert main(["--headless", "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "api_listen" in err and "api_token" in err
    monkeypatch.setenv("AUTOTRADE_API_LISTEN", "localhost")
    assert main(["--headless", "--db", db]) == 2
    assert "HOST:PORT" in capsys.readouterr().err
    assert not Path(db).exists()  # nothing written


def test_config_show_masks_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.setenv("AUTOTRADE_API_TOKEN", TOKEN)
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert 'api_token = "****"' in out and TOKEN not in out


def test_engine_listening_is_false_for_nothing_there(tmp_path: Path) -> None:
    assert not engine_listening(tmp_path / "none.sock")
    (tmp_path / "file").write_text("")
    assert not engine_listening(tmp_path / "file")

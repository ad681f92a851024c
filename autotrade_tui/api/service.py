"""The API served by every engine (SPEC §13): uvicorn inside the engine's own loop, on a Unix
socket (mode 0600) and, with `api_listen` and `api_token`, on TCP with a Bearer token.

    service = await start(link, settings)   # after the runtime opened (LocalLink.open)
    ...
    await service.close()                   # stops serving, removes the socket

Where the socket is: `socket_path(settings)`; whether an engine serves there now:
`engine_listening(path)` (a connect that succeeds). A socket file nobody listens on (left by
a killed engine) is replaced; a live one means another engine serves there, and this one
refuses to start (ApiError, exit 2). uvicorn's own signal handlers are off: the cockpit and
headless own SIGINT/SIGTERM; its log lines go to the root logger at WARNING and above, with
no access log (nothing ever logs a request's headers, so never a token).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import socket
import warnings
from pathlib import Path
from typing import Any

from autotrade_tui.errors import UserError

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 1.0
SHUTDOWN_GRACE_S = 2.0  # open connections (viewers' streams) get this long to close


class ApiError(UserError):
    """The API cannot be served as configured (its socket is another engine's, the address is
    taken): one line, exit code 2."""


def runtime_dir() -> Path:
    """The user's runtime dir for this app (`$XDG_RUNTIME_DIR/autotrade-tui`), or the data dir
    when the system has none (no `/run/user/<uid>`: a container, a cron job)."""
    from platformdirs import user_runtime_path

    from autotrade_tui.config import APP_NAME, user_data_dir

    with warnings.catch_warnings():  # no XDG_RUNTIME_DIR: a warning on stderr, not for us
        warnings.simplefilter("ignore")
        path = user_runtime_path(APP_NAME, appauthor=False)
    return path if path.parent.is_dir() and os.access(path.parent, os.W_OK) else user_data_dir()


def socket_path(settings: Any) -> Path:
    """The API socket of the engine on `settings`' database: `api_socket`, or
    `<runtime dir>/engine-<12 hex of sha256 of the database URL>.sock` (the URL resolved
    as the store resolves it, its password masked first: no secret shapes a file name)."""
    if settings.api_socket:
        return Path(settings.api_socket).expanduser()
    from autotrade_tui.config import default_db_path, mask_url
    from autotrade_tui.store.db import resolve_url

    url = mask_url(resolve_url(settings.database_url.get(), default_db_path()))
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return runtime_dir() / f"engine-{digest}.sock"


def engine_listening(path: str | Path) -> bool:
    """Whether something accepts connections on the Unix socket `path` now (a stale socket
    file, a missing file or a non-socket: False). Blocking, but a local connect is
    immediate: refused at once when nobody listens."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(CONNECT_TIMEOUT_S)
        try:
            probe.connect(os.fspath(path))
        except (OSError, ValueError):  # refused, missing, not a socket, timed out, too long
            return False
        return True


def _parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def bind_unix(path: Path) -> socket.socket:
    """A listening socket at `path`, mode 0600 from its first moment under that name: bound
    under a temporary name beside it, chmod-ed, then renamed over (atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists() or path.is_symlink():
        if engine_listening(path):
            raise ApiError(f"another engine serves its API at {path} (set api_socket to "
                           "another path, or api = false)")
        if not path.is_socket():
            raise ApiError(f"{path} exists and is not a socket: not replaced (set api_socket)")
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(os.fspath(temp))
        os.chmod(temp, 0o600)
        os.replace(temp, path)  # a stale socket of a killed engine goes here
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        with contextlib.suppress(OSError):
            temp.unlink()
        raise ApiError(f"cannot serve the API at {path}: {exc.strerror or exc}") from None
    return sock


def bind_tcp(listen: str) -> socket.socket:
    host, port = _parse_listen(listen)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ApiError(f"cannot serve the API on {listen}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ApiError(f"cannot serve the API on {listen}: {exc.strerror or exc}") from None
    return sock


class BearerGuard:
    """ASGI middleware: every HTTP request and WebSocket needs `Authorization: Bearer <token>`
    (compared in constant time); 401 otherwise. The token is never logged or echoed."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self._token = app, token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and not self._allowed(scope):
            await self._deny(scope, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Any) -> bool:
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, given = value.partition(b" ")
                if scheme.lower() != b"bearer":
                    given = b""
                break
        return hmac.compare_digest(given.strip(), self._token)

    @staticmethod
    async def _deny(scope: Any, send: Any) -> None:
        body = b'{"detail":"a valid Authorization: Bearer <token> header is needed"}'
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()),
                   (b"www-authenticate", b"Bearer")]
        prefix = ""
        if scope["type"] == "websocket":
            if "websocket.http.response" not in scope.get("extensions", {}):
                await send({"type": "websocket.close", "code": 1008})  # a 403 handshake
                return
            prefix = "websocket."
        await send({"type": f"{prefix}http.response.start", "status": 401, "headers": headers})
        await send({"type": f"{prefix}http.response.body", "body": body})


class ApiService:
    """The running servers (socket, and TCP when configured) of one engine."""

    def __init__(self, link: Any, settings: Any, *, queue_limit: int | None = None) -> None:
        self.link, self.settings = link, settings
        self.path: Path | None = None
        self.tcp_address: tuple[str, int] | None = None  # (host, port) as bound (port 0 → real)
        self.hub: Any = None
        self._queue_limit = queue_limit
        self._servers: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._identity: tuple[int, int] | None = None  # our socket file's (dev, inode)
        self._unsubscribe = lambda: None

    async def start(self) -> None:
        import importlib

        # FastAPI, pydantic and uvicorn (~0.3 s) are imported off the loop: the cockpit's
        # frames go on meanwhile
        await asyncio.to_thread(importlib.import_module, "autotrade_tui.api.server")
        from autotrade_tui.api.server import Server, build_app
        from autotrade_tui.api.stream import QUEUE_LIMIT

        store = self.link.runtime.store  # the paged reads (LocalLink: the engine's own)
        app = build_app(self.link, store, queue_limit=self._queue_limit or QUEUE_LIMIT)
        self.hub = app.state.engine.hub
        path = socket_path(self.settings)
        listeners = [(app, await asyncio.to_thread(bind_unix, path))]
        self.path = path
        st = path.stat()
        self._identity = (st.st_dev, st.st_ino)
        listen = self.settings.api_listen
        try:
            if listen:
                sock = bind_tcp(listen)
                self.tcp_address = sock.getsockname()[:2]
                listeners.append((BearerGuard(app, self.settings.api_token.get()), sock))
            for asgi, sock in listeners:
                server = Server(asgi, grace_s=SHUTDOWN_GRACE_S)
                self._servers.append(server)
                self._tasks.append(asyncio.create_task(server.serve(sockets=[sock]),
                                                       name="api server"))
            for server, task in zip(self._servers, self._tasks, strict=True):
                await server.wait_started(task)
        except BaseException:
            await self.close()
            raise
        self._unsubscribe = self.link.subscribe(self.hub)

    async def close(self) -> None:
        """Stop serving (viewers' streams are closed), then remove our socket file."""
        self._unsubscribe()
        self._unsubscribe = lambda: None
        for server in self._servers:
            server.should_exit = True
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._servers, self._tasks = [], []
        self._remove_socket()

    def _remove_socket(self) -> None:
        """Only the file we bound: a socket that replaced it since is someone else's."""
        if self.path is None or self._identity is None:
            return
        with contextlib.suppress(OSError):
            st = self.path.stat()
            if (st.st_dev, st.st_ino) == self._identity:
                self.path.unlink()
        self._identity = None


class Off:
    """`api = false`: nothing served."""

    path: Path | None = None
    tcp_address: tuple[str, int] | None = None

    async def close(self) -> None:
        pass


async def start(link: Any, settings: Any, *, queue_limit: int | None = None) -> ApiService | Off:
    """The API of the engine behind `link` (a LocalLink), serving once this returns."""
    if not settings.api:
        return Off()
    service = ApiService(link, settings, queue_limit=queue_limit)
    await service.start()
    where = f"{service.path}" + (f" and {settings.api_listen}" if service.tcp_address else "")
    log.info("API serving at %s", where)
    return service

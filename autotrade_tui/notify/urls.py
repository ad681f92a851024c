"""Apprise URLs as secrets: the alert kinds, the check of a URL, how a URL is shown (masked),
how Apprise is loaded (its own log silenced: it prints whole URLs), and the scrubbing of
a service's error text.

An Apprise URL holds tokens (a Telegram bot token, a Discord webhook secret, an ntfy topic),
so it is a secret (SPEC §4, §14): nothing here lets one reach a log, the screen or a notice.
A service is shown as `#2 tgram://****`: its place in `notify_urls` (from 1) and its scheme.
Light at import (config.py imports it); Apprise itself is imported only when used.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from typing import Any
from urllib.parse import unquote, urlsplit

# Every kind of alert (SPEC §14); the first six are on by default.
DEFAULT_KINDS = ("trade", "liquidation", "critical_event", "halt", "model_errors",
                 "daily_summary")
KINDS = (*DEFAULT_KINDS, "high_event", "decision")
MASK = "****"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_MIN_SECRET = 3  # parts of a URL shorter than this are not looked for in error texts


def masked(url: str) -> str:
    """`tgram://123:ABC/456` → `tgram://****`; a text without a scheme → `****`."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme.lower()}://{MASK}" if sep and _SCHEME.fullmatch(scheme) else MASK


def label(index: int, url: str) -> str:
    """How a service is named to the user: `#1 json://****` (`index` counts from 0)."""
    return f"#{index + 1} {masked(url)}"


def secret_parts(url: str) -> list[str]:
    """The pieces of `url` that may be tokens (user, password, host, path segments, query
    values), longest first, as written and percent-decoded: what `scrub` hides."""
    try:
        parts = urlsplit(url)
        pieces = [parts.username or "", parts.password or "", parts.hostname or "",
                  parts.netloc, *re.split(r"[:@]", parts.netloc), *parts.path.split("/"),
                  *(v for kv in parts.query.split("&") for v in kv.split("=")[1:])]
    except ValueError:  # a malformed URL: hide what follows the scheme, piece by piece
        pieces = re.split(r"[/:@?&=#]+", url.partition("://")[2])
    found = {p for piece in pieces for p in (piece, unquote(piece)) if len(p) >= _MIN_SECRET}
    return sorted(found, key=len, reverse=True)


def scrub(text: str, urls: list[str]) -> str:
    """`text` (an error Apprise or a server wrote) with every piece of `urls` masked."""
    for url in urls:
        for piece in [url, *secret_parts(url)]:
            text = text.replace(piece, MASK)
    return text


# Apprise, and the HTTP stack only it uses here (requests → urllib3 logs each request's
# path at DEBUG: a webhook's token). Kept off the root logger, so off stdout and the screen.
QUIET_LOGGERS = ("apprise", "urllib3", "requests_oauthlib", "oauthlib")
_LOADED: list[Any] = []  # the apprise module once imported and quieted
_LOAD_LOCK = threading.Lock()


def load_apprise() -> Any:
    """Import Apprise with its loggers kept to themselves: it logs URLs ("Unparseable URL
    tgram://…") at ERROR, and a record reaching the root logger (or Python's last-resort
    handler on stderr) would print a token. A send's own log lines come back with its
    result (`AppriseResult.logs()`), which is where failures are read. Slow the first time
    (~0.5 s: its plugins): call it off the event loop."""
    with _LOAD_LOCK:
        if not _LOADED:
            for name in QUIET_LOGGERS:
                logger = logging.getLogger(name)
                logger.propagate = False
                logger.handlers = [logging.NullHandler()]
            with warnings.catch_warnings():  # its PGP plugin imports the deprecated imghdr
                warnings.simplefilter("ignore", DeprecationWarning)
                import apprise

                apprise.NotificationManager().load_modules()  # the plugins, now: the slow part

            _LOADED.append(apprise)
        return _LOADED[0]


def why_bad(url: str) -> str | None:
    """Why Apprise cannot use `url` (None when it can). Never quotes the URL."""
    if not url:
        return "is empty"
    apprise = load_apprise()
    try:
        ok = apprise.Apprise.instantiate(url) is not None
    except Exception:  # a plugin's parser may raise on odd input: still just "unusable"
        ok = False
    if ok:
        return None
    scheme, sep, _ = url.partition("://")
    if not sep:
        return "is not a URL (no scheme://)"
    if scheme.lower() not in apprise.NotificationManager():
        return f"names no service Apprise knows ({scheme.lower()}://)"
    return "is not a URL Apprise can use (a token or a part missing?)"

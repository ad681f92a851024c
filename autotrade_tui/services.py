"""An engine as the cockpit and `--headless` run it: the in-process runtime (runtime.link)
with what every engine serves wired in, its alerts (SPEC §14, notify/) and its API (§13,
api/). Here, above runtime/, so that runtime never imports its own subscribers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autotrade_tui.runtime.link import LocalLink

if TYPE_CHECKING:
    from autotrade_tui.config import Settings


async def open_engine(settings: Settings, **parts: Any) -> LocalLink:
    """`Runtime.open(settings, **parts)` behind a LocalLink, its alerts and API started
    (ApiError when the API cannot be served: the engine is closed again)."""
    from autotrade_tui.api.service import start as start_api
    from autotrade_tui.notify.service import attach as attach_notifier

    link = await LocalLink.open(settings, **parts)
    link.extras.append(attach_notifier(link.runtime))
    try:
        link.extras.append(await start_api(link, settings))
    except BaseException:
        await link.close()
        raise
    return link

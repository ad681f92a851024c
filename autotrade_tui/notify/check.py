"""`autotrade-tui notify test`: one test message to every configured URL, one line per URL
("#1 tgram://****: ok" or the error, scrubbed), exit 1 if any failed (SPEC §14)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from autotrade_tui.core.text import clean
from autotrade_tui.errors import UserError
from autotrade_tui.notify.delivery import Delivery
from autotrade_tui.notify.messages import Alert
from autotrade_tui.notify.urls import label

if TYPE_CHECKING:
    from autotrade_tui.config import Settings

TEST_ALERT = Alert("test", "autotrade-tui: test alert",
                   "Alerts from autotrade-tui reach this service (paper trading).")


async def send_test(urls: list[str]) -> list[str | None]:
    """Per URL: None when the test message went through, else why not."""
    delivery = Delivery(urls)
    try:
        await delivery.prepare()
        return list(await asyncio.gather(*(delivery.send(s, TEST_ALERT)
                                           for s in delivery.services)))
    finally:
        await delivery.close(grace_s=0.0)


def notify_test(settings: Settings) -> int:
    urls = [u.get() for u in settings.notify_urls]
    if not urls:
        raise UserError("no alert URLs configured: set notify_urls in the config file or "
                        "NOTIFY_URLS (comma-separated Apprise URLs)")
    results = asyncio.run(send_test(urls))
    for i, (url, why) in enumerate(zip(urls, results, strict=True)):
        print(clean(f"{label(i, url)}: {'ok' if why is None else 'FAILED: ' + why}"), flush=True)
    return 1 if any(why is not None for why in results) else 0

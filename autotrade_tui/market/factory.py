"""Builds the MarketFeed the settings ask for: sim, ccxt, replay, or auto (ccxt, else sim)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from autotrade_tui.core.clock import Clock
from autotrade_tui.errors import AutotradeError, ConfigError
from autotrade_tui.market.base import MarketFeed

if TYPE_CHECKING:
    from autotrade_tui.config import Settings
    from autotrade_tui.market.sim import SimMarket

log = logging.getLogger(__name__)


async def open_feed(settings: Settings, clock: Clock, **ccxt_options: Any) -> MarketFeed:
    """The feed for `settings.market_source`; its `mode` and `note` say what it is.

    `ccxt_options` go to `CcxtFeed` (e.g. `rate_limit_ms=1`, `retry_wait_seconds=0.01` so
    tests against the loopback Kraken server do not wait out Kraken's 1 request/s limit).

    auto: ask the exchange for tickers once (no retries) within `auto_probe_seconds`; on any
    failure or silence fall back to the simulated market, whose `note` then reads e.g.
    "Kraken unreachable — simulated market" and whose `fallback_reason` holds the detail.
    Heavy modules (ccxt, pandas) are imported only for the source that needs them.
    `DataFileError` (replay) and `ConfigError` (ccxt: unknown exchange id) propagate.
    """
    source = settings.market_source
    symbols = list(settings.symbols)
    if source == "sim":
        return _sim(settings, clock)
    if source == "replay":
        from autotrade_tui.market.replay import ReplayFeed

        return ReplayFeed(settings.replay_file, clock, symbols).cued()  # its data's time
    if source == "ccxt":
        from autotrade_tui.market.ccxt_feed import CcxtFeed

        check_settings(settings)
        return CcxtFeed(settings.exchange_id, symbols, settings.exchange_api_url or None, clock,
                        **ccxt_options)
    return await _auto(settings, clock, symbols, ccxt_options)


def check_settings(settings: Settings, market: str | None = None) -> None:
    """ConfigError for market settings that cannot work, raised before anything opens the
    database (SPEC §4: a bad value exits 2 and writes nothing), for `market` (else
    `settings.market_source`; a backtest fetching history says "ccxt"): on the sim, symbols
    it does not know (§5.2); on ccxt, an unknown exchange id (auto falls back to the sim)."""
    market = market or settings.market_source
    if market == "sim":  # the simulator prices only the markets it knows (SPEC §5.2 Symbols)
        from autotrade_tui.market.symbols import UnknownSymbolError, unknown

        bad = unknown(settings.symbols)
        if bad:
            raise UnknownSymbolError(*bad)
    if market != "ccxt":
        return
    from autotrade_tui.market.ccxt_feed import UnknownExchangeError, check_exchange_id

    try:
        check_exchange_id(settings.exchange_id)
    except UnknownExchangeError as exc:  # name the key and where it came from, like config.py
        source = getattr(settings, "sources", {}).get("exchange_id", "default")
        where = f"config file {settings.config_path}" if source == "file" else source
        raise ConfigError(f"config key 'exchange_id' from {where}: {exc}") from None


def _sim(settings: Settings, clock: Clock) -> SimMarket:
    from autotrade_tui.market.sim import SimMarket

    return SimMarket(list(settings.symbols), clock, settings.seed, settings.sim_profile)


async def _auto(settings: Settings, clock: Clock, symbols: list[str],
                ccxt_options: dict[str, Any]) -> MarketFeed:
    from autotrade_tui.market.ccxt_feed import CcxtFeed

    name = str(settings.exchange_id).capitalize()
    try:
        feed = CcxtFeed(settings.exchange_id, symbols, settings.exchange_api_url or None, clock,
                        **ccxt_options)
    except AutotradeError as exc:
        return _fallback(settings, clock, f"{name} unavailable", str(exc))
    name = feed.name
    limit = float(settings.auto_probe_seconds)
    try:
        await asyncio.wait_for(feed.probe(symbols), timeout=limit)
    except TimeoutError:
        await feed.close()
        return _fallback(settings, clock, f"{name} unreachable",
                         f"{name} did not answer within {limit:g} s")
    except AutotradeError as exc:
        await feed.close()
        return _fallback(settings, clock, f"{name} unreachable", str(exc))
    feed.note = f"{name} answered — live market data (read-only, paper trading)"
    return feed


def _fallback(settings: Settings, clock: Clock, headline: str, reason: str) -> SimMarket:
    log.warning("market=auto: %s; using the simulated market (%s)", headline, reason)
    sim = _sim(settings, clock)
    sim.note = f"{headline} — simulated market"
    sim.fallback_reason = reason
    return sim


__all__ = ["check_settings", "open_feed"]

"""The markets the simulator knows (SPEC §5.2 Symbols): the defaults and the other majors, each
with a realistic price level, volatility and volume; stablecoin and fiat quotes. Light (no
numpy): the command line checks `--symbols` with it before anything starts."""

from __future__ import annotations

from collections.abc import Iterable

from autotrade_tui.errors import ConfigError

# Base asset → (price low, price high in USD, per-minute volatility, USD volume per minute).
PROFILES: dict[str, tuple[float, float, float, float]] = {
    "BTC": (60_000.0, 100_000.0, 0.0005, 2_000_000.0),
    "ETH": (2_000.0, 4_000.0, 0.0007, 1_000_000.0),
    "SOL": (100.0, 250.0, 0.0009, 400_000.0),
    "BNB": (450.0, 700.0, 0.0007, 150_000.0),
    "XRP": (0.4, 0.8, 0.0009, 200_000.0),
    "ADA": (0.3, 0.7, 0.0009, 80_000.0),
    "DOGE": (0.08, 0.2, 0.0011, 150_000.0),
    "AVAX": (20.0, 50.0, 0.0010, 60_000.0),
    "LINK": (10.0, 25.0, 0.0009, 60_000.0),
    "DOT": (4.0, 10.0, 0.0009, 40_000.0),
    "LTC": (60.0, 110.0, 0.0008, 60_000.0),
    "TRX": (0.08, 0.16, 0.0006, 40_000.0),
}
STABLES = {"USDT", "USD", "USDC", "BUSD", "DAI", "TUSD", "FDUSD", "ZUSD"}
FIAT = {"EUR": 1.08, "GBP": 1.27}



def _asset_known(asset: str) -> bool:
    return asset in PROFILES or asset in STABLES or asset in FIAT


def unknown(symbols: Iterable[str]) -> list[str]:
    """The symbols of `symbols` the simulator cannot price: not BASE/QUOTE, or an asset it
    does not know, or both sides the same."""
    bad = []
    for symbol in symbols:
        base, sep, quote = symbol.partition("/")
        if not (sep and _asset_known(base) and _asset_known(quote) and base != quote):
            bad.append(symbol)
    return bad


def known_text() -> str:
    return (f"{', '.join(PROFILES)} against {', '.join(sorted(STABLES))}, "
            f"{', '.join(FIAT)} or each other")


class UnknownSymbolError(ConfigError):
    """One line: the symbols the simulated market does not know, and those it does."""

    def __init__(self, *symbols: str) -> None:
        names = ", ".join(symbols)
        super().__init__(f"config key 'symbols': the simulated market does not know {names} "
                         f"(it knows {known_text()}); it never trades on an invented price")

"""autotrade-tui: autonomous crypto paper trading in the terminal."""

__version__ = "0.1.0"

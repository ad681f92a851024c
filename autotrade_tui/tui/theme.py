"""The registered gold-on-black theme, and the colours panes use for Rich text."""

from __future__ import annotations

from textual.theme import Theme

AUTOTRADE = Theme(
    name="autotrade",
    primary="#eab308",  # gold
    secondary="#ca8a04",
    accent="#fbbf24",  # amber: stays yellow (not red) on 16-colour terminals
    foreground="#ede4c8",
    background="#0a0a0a",
    surface="#151410",
    panel="#221e12",
    success="#22c55e",
    warning="#ea7a0c",  # orange; yellow on 16 colours, so HIGH never looks CRITICAL
    error="#ef4444",
    dark=True,
    variables={
        # Explicit (not "auto 60%"): dark grey on 16-colour terminals too, so MEDIUM events
        # and labels stay visibly dimmer than the figures.
        "text-muted": "#7f7a6b",
        "footer-key-foreground": "#eab308",
        "block-cursor-background": "#eab308",
        "block-cursor-foreground": "#0a0a0a",
        "block-cursor-text-style": "bold",
        "input-selection-background": "#eab308 35%",
    },
)


def colour(app: object, name: str, fallback: str) -> str:
    """A theme colour (`success`, `error`, ...) as a hex string for Rich `Text` styles."""
    variables = getattr(app, "theme_variables", {}) or {}
    value = variables.get(name, fallback)
    return value if isinstance(value, str) and value.startswith("#") else fallback

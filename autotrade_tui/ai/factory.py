"""Build the two voters from Settings: the offline pair without a key, else two API models."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING

from autotrade_tui.ai.base import DecisionModel
from autotrade_tui.ai.offline import MeanReverter, RuleParams, TrendFollower
from autotrade_tui.config import Settings

if TYPE_CHECKING:
    import httpx


def build_models(
    settings: Settings,
    client: httpx.AsyncClient | None,
    cache: MutableMapping[str, str] | None = None,
) -> tuple[DecisionModel, DecisionModel]:
    """(primary, secondary). Offline when `settings.use_offline_models` (no key, or forced).

    `client` is shared by both API models and stays the caller's to close; with None each
    model opens (and closes) its own. `cache` is the optional response cache (backtests).
    """
    if settings.use_offline_models:
        fee = settings.commission_rate
        params = RuleParams(trend_adx=settings.offline_trend_adx,
                            rsi_extreme=settings.offline_rsi_extreme,
                            fee_margin=settings.offline_fee_margin,
                            reverse_at=settings.offline_reverse_confidence)
        return TrendFollower(fee, params), MeanReverter(fee, params)
    # Imported here so an offline start does not pay for httpx and tenacity.
    from autotrade_tui.ai.openai_compat import OpenAICompatModel

    primary, secondary = settings.ai_model_primary, settings.ai_model_secondary
    same = primary == secondary  # the same id twice: labels keep the two votes apart

    def api(model: str, tag: str) -> OpenAICompatModel:
        return OpenAICompatModel(model, settings.ai_base_url, settings.api_key, client,
                                 settings.model_timeout_seconds, settings.model_max_retries,
                                 label=f"{model} ({tag})" if same else None, cache=cache)

    return api(primary, "A"), api(secondary, "B")

__all__ = ["build_models"]

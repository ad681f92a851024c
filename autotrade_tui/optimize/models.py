"""The models a trial asks: the offline ones (default), or the configured LLMs answering from
the backtest's response cache (`backtest --models configured` fills it). An answer that is not
cached is not bought unless `--allow-model-calls`: without it the request never leaves the
machine and the trial stops with one line saying how many answers were missing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from autotrade_tui.errors import UserError

if TYPE_CHECKING:
    from autotrade_tui.config import Settings

Models = tuple[Any, Any]
Closer = Callable[[], Awaitable[None]]


class ModelSource:
    """Per worker process: builds each trial's models (inside the trial's event loop)."""

    def __init__(self, kind: str, results_db: str, allow_calls: bool) -> None:
        self.kind, self.results_db, self.allow_calls = kind, results_db, allow_calls
        self._store: Any = None
        self._cache: Any = None

    def build(self, settings: Settings) -> tuple[Models, Closer]:
        from autotrade_tui.ai.factory import build_models

        if self.kind == "offline" or settings.use_offline_models:
            models = build_models(settings.replace(offline_models=True), None)
            return models, _nothing
        import httpx

        cache = self._llm_cache()
        before = cache.misses
        transport = None if self.allow_calls else httpx.MockTransport(_refuse)
        client = httpx.AsyncClient(transport=transport)
        models = build_models(settings, client, cache=cache)

        async def close() -> None:
            for m in models:
                await m.close()
            await client.aclose()
            cache.flush()
            missing = cache.misses - before
            if missing and not self.allow_calls:
                raise UserError(f"optimize: {missing} model answers of this trial are not in "
                                "the backtest cache: run `backtest --models configured` over "
                                "the period first, or pass --allow-model-calls to pay for them")

        return models, close

    def _llm_cache(self) -> Any:
        if self._cache is None:
            from autotrade_tui.backtest.store import BacktestStore

            self._store = BacktestStore(self.results_db or None)
            self._cache = _Counting(self._store.llm_cache())
        return self._cache


async def _nothing() -> None:
    return None


def _refuse(request: Any) -> Any:
    import httpx

    raise httpx.ConnectError("not cached, and --allow-model-calls was not given",
                             request=request)


class _Counting:
    """The response cache, counting the lookups it could not answer."""

    def __init__(self, cache: Any) -> None:
        self.cache, self.misses = cache, 0

    def get(self, key: str, default: Any = None) -> Any:
        value = self.cache.get(key)
        if value is None:
            self.misses += 1
            return default
        return value

    def __setitem__(self, key: str, value: str) -> None:
        self.cache[key] = value

    def flush(self) -> None:
        self.cache.flush()

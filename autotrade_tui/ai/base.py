"""The `DecisionModel` seam: a model reads a DecisionContext and votes."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from autotrade_tui.core.models import DecisionContext, ModelVote


@runtime_checkable
class DecisionModel(Protocol):
    """One voter.

    `name` is shown on every front end (offline models say so in their name).
    `decide` never raises for anything the model or the network does wrong: it returns a
    ModelVote whose `error` says why (timeout, HTTP status after retries, unparseable answer).
    `last_prompt` holds the exact messages of the latest call, for `ai_decisions.input_data`;
    a model that sends none (an offline rule reads the context alone) says so with a class
    attribute `sends_prompt = False` (absent: True), and a decision none of whose models sent
    one stores no prompt.
    A vote's `raw` is the answer's text as the model sent it (None for a rule that sends
    none), stored bounded with the decision for audit.
    """

    name: str

    async def decide(self, context: DecisionContext) -> ModelVote: ...

    async def close(self) -> None: ...

"""One decision in full: the two models side by side (decision, confidence, reasoning or
error), then the vote and why it was or was not executed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from autotrade_tui.tui.format import price, stamp
from autotrade_tui.tui.views import DecisionView, ModelView

TONE = {"BUY": "bold $success", "SELL": "bold $error", "HOLD": "bold $foreground"}


def model_text(m: ModelView) -> Content:
    if m.error or m.decision is None:
        return Content.assemble(("ERROR", "bold $error"), "\n", (m.error or "no answer",
                                                                 "$error"))
    return Content.assemble((m.decision, TONE.get(m.decision, "bold")), "  ",
                            (f"confidence {m.confidence:.2f}", "$accent"), "\n",
                            m.reasoning or "(no reasoning given)")


def vote_text(d: DecisionView) -> Content:
    """Three lines: what was decided on, the vote, and what became of it."""
    verdict = ("EXECUTED", "bold reverse $success") if d.executed else (
        "NOT EXECUTED", "bold $warning")
    note = d.note
    if d.vote_reason and note.endswith(d.vote_reason):  # "HOLD: <vote reason>"
        note = note[: -len(d.vote_reason)].rstrip(" :—-") or note
    return Content.assemble(
        (d.symbol, "bold"), f" @ {price(d.price)} · {stamp(d.ts)} · ",
        (f"by {d.source}", "$text-muted"), "\n",
        ("VOTE ", "$text-muted"), (d.final, TONE.get(d.final, "bold")),
        f" {_conf(d)}  {d.vote_reason}", "\n", verdict, f"  {note}")


def _conf(d: DecisionView) -> str:
    from autotrade_tui.tui.widgets.decision_list import shown_confidence

    conf = shown_confidence(d)
    return f"{conf:.2f}" if conf is not None else "—"


class DecisionDetail(Vertical):
    decision: reactive[DecisionView | None] = reactive(None, always_update=True)

    def compose(self) -> ComposeResult:
        # The vote first: three lines that say what happened, never the ones cut off when
        # the reasoning is long (each model's box scrolls within its own height).
        yield Static("no decision selected", id="vote")
        with Horizontal(id="models"):
            yield VerticalScroll(Static(id="model-1-text"), id="model-1", classes="model")
            yield VerticalScroll(Static(id="model-2-text"), id="model-2", classes="model")

    def watch_decision(self, d: DecisionView | None) -> None:
        panes = (self.query_one("#model-1"), self.query_one("#model-2"))
        texts = (self.query_one("#model-1-text", Static), self.query_one("#model-2-text", Static))
        vote = self.query_one("#vote", Static)
        if d is None:
            for i, (pane, text) in enumerate(zip(panes, texts, strict=True)):
                pane.border_title = f"model {i + 1}"
                text.update("")
            vote.update("no decisions yet: the first cycle runs at start, `d` decides now")
            return
        for m, pane, text in zip(d.models, panes, texts, strict=True):
            pane.border_title = m.name
            text.update(model_text(m))
        vote.update(vote_text(d))

"""The runtime's updates on their way to the cockpit: each update becomes a Textual message
(tui.messages) posted to the app, and each message goes to the pane that shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import App

from autotrade_tui.tui import messages as m
from autotrade_tui.tui.views import (
    decision_from_update,
    event_from_ongoing,
    event_from_update,
    trade_from_update,
)
from autotrade_tui.tui.widgets.decision_list import DecisionList

if TYPE_CHECKING:
    from autotrade_tui.runtime.interface import EngineLink
    from autotrade_tui.runtime.updates import Update
    from autotrade_tui.tui.screens.cockpit import CockpitScreen
    from autotrade_tui.tui.views import DecisionView

SEVERITY = {"info": "information", "warning": "warning", "error": "error"}


class UpdateRouting(App[None]):
    """The app's half that turns updates into what the panes show (a mixin of the app)."""

    runtime: EngineLink | None
    _cockpit: CockpitScreen

    def __init__(self) -> None:
        super().__init__()
        self._decisions: list[DecisionView] = []  # decisions waiting for the list (one rebuild)

    @property
    def cockpit(self) -> CockpitScreen:
        return self._cockpit

    def _forward(self, update: Update) -> None:
        """The runtime's subscriber: it only posts, so no pane's work runs inside the engine's
        tick."""
        message = m.from_update(update)
        if message is not None:
            self.post_message(message)

    def on_prices_tick(self, _msg: m.PricesTick) -> None:
        self.cockpit.prices_moved()

    def on_account_changed(self, msg: m.AccountChanged) -> None:
        now = self.runtime.now() if self.runtime else 0.0
        self.cockpit.show_account(msg.account, now)

    def on_status_updated(self, msg: m.StatusUpdated) -> None:
        self.cockpit.show_status(msg.status)

    def on_decision_made(self, msg: m.DecisionMade) -> None:
        # A cycle's decisions arrive together: the list is rebuilt once for all of them
        # (after the messages already waiting), not once each (SPEC §11: never starve).
        if not self._decisions:
            self.call_later(self._show_decisions)
        self._decisions.append(decision_from_update(msg.decision))

    def _show_decisions(self) -> None:
        batch, self._decisions = self._decisions, []
        if len(batch) == 1:
            self.cockpit.add_decision(batch[0])
        elif batch:
            self.cockpit.query_one(DecisionList).load(batch)

    def on_trade_made(self, msg: m.TradeMade) -> None:
        self.cockpit.add_trade(trade_from_update(msg.trade))

    def on_event_seen(self, msg: m.EventSeen) -> None:
        self.cockpit.add_event(event_from_update(msg.event))

    def on_event_still_there(self, msg: m.EventStillThere) -> None:
        self.cockpit.add_event(event_from_ongoing(msg.ongoing))

    def on_notice_posted(self, msg: m.NoticePosted) -> None:
        severity: Any = SEVERITY.get(msg.level, "information")
        self.notify(msg.text, severity=severity, timeout=6 if msg.level == "info" else 10)

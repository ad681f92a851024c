"""The cockpit's one action table (tui.actions): the bindings, the command palette, the help
screen and the confirmations are built from it, so each says what the table says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from autotrade_tui.tui.actions import ACTIONS, BY_INTENT, keys_of, palette_entries
from autotrade_tui.tui.app import AutotradeApp
from autotrade_tui.tui.screens.cockpit import CockpitScreen
from autotrade_tui.tui.screens.confirm import ConfirmScreen
from autotrade_tui.tui.screens.help import KEYS
from tests.tui_fixtures import SYMBOLS, running, wait_for

OWNER = {"cockpit": CockpitScreen, "app": AutotradeApp, "dialog": ConfirmScreen}


def test_every_bound_key_runs_an_action_its_scope_has_and_no_key_is_bound_twice() -> None:
    for scope, owner in OWNER.items():
        keys = keys_of(scope)
        assert len({k.key for k in keys}) == len(keys), scope
        for k in keys:
            name = k.run.split("(", 1)[0]
            assert callable(getattr(owner, f"action_{name}", None)), (scope, k.run)
        assert [b.key for b in owner.BINDINGS] == [k.key for k in keys]  # type: ignore[union-attr]


def test_the_help_screen_lists_every_action_in_the_tables_words() -> None:
    assert list(KEYS) == [(a.shown, a.help) for a in ACTIONS]
    assert {k for k, _ in KEYS} >= {"b", "s", "x", "X", "p", "d", "1–9", "t", "?", "q"}


def test_the_palette_offers_what_the_keys_do_and_names_the_key() -> None:
    entries = palette_entries("ETH/USDT", SYMBOLS)
    names = [e.name for e in entries]
    assert names == ["Open / add LONG ETH/USDT", "Open / add SHORT ETH/USDT",
                     "Close position ETH/USDT", "Close all positions",
                     "Pause / resume automatic trading", "Decide now ETH/USDT",
                     "Cycle chart timeframe", "Select BTC/USDT", "Select ETH/USDT",
                     "Select SOL/USDT", "Help: keys and panes"]
    bound = {(k.run, k.key) for scope in OWNER for k in keys_of(scope)}  # type: ignore[arg-type]
    for e in entries:
        key = e.help.split()[1]
        key = {"?": "question_mark"}.get(key, key)
        assert (e.run, key) in bound, e


def test_every_manual_action_has_its_confirmation_and_its_cancel_note() -> None:
    for intent in ("long", "short", "close", "close_all", "decide"):
        assert BY_INTENT[intent].confirm and BY_INTENT[intent].cancelled.startswith("cancelled")
    assert [BY_INTENT[i].confirm for i in ("long", "short", "close", "close_all", "decide")] == [
        "Open LONG", "Open SHORT", "Close position", "Close ALL positions", "Decide now"]


async def from_palette(pilot: Pilot[Any], words: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*words)
    await pilot.pause(0.3)
    await pilot.press("enter")


async def test_the_palette_runs_an_action_as_its_key_does(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        await from_palette(pilot, "select sol")
        await wait_for(pilot, lambda: app.cockpit.symbol == "SOL/USDT", "SOL selected")
        await from_palette(pilot, "decide now")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.title_text == "Decide now"
        assert app.screen.text.startswith("Ask both models about SOL/USDT now.")
        await pilot.press("n")
        await wait_for(pilot, lambda: any(n.message == "cancelled: no decision was asked for"
                                          for n in app._notifications), "the cancel note")

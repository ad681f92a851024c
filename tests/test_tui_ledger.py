"""The screen tells the ledger's truth (SPEC §11, issue 21): a position row shows the side the
engine holds at every moment, through flips both ways, stacked or not, by key or by vote."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from autotrade_tui.core.models import Action, ModelVote, OrderType, Side, Trade, TradeSource
from autotrade_tui.core.voting import vote
from autotrade_tui.headless import LogLines
from autotrade_tui.report import build_report, render_report
from autotrade_tui.runtime.updates import TradeExecuted
from autotrade_tui.tui.app import AutotradeApp
from autotrade_tui.tui.format import money
from autotrade_tui.tui.screens.confirm import ConfirmScreen
from autotrade_tui.tui.views import DecisionView, ModelView
from autotrade_tui.tui.widgets.account_cards import Card
from autotrade_tui.tui.widgets.decision_detail import DecisionDetail
from autotrade_tui.tui.widgets.decision_list import DecisionList, short_name, shown_confidence
from autotrade_tui.tui.widgets.event_feed import EventFeed
from autotrade_tui.tui.widgets.positions_table import PositionsTable
from tests.runtime_fixtures import ScriptedModel, make_runtime
from tests.tui_fixtures import running, runtime_of, screen_text, settle, wait_for

# Manual and automatic entries alike may stack and flip at once in these tests.
FREE = {"reentry_cooldown_minutes": 0.0, "stack_only_in_profit": False,
        "max_entries_per_position": 3}


def shown_side(app: AutotradeApp, symbol: str = "BTC/USDT") -> str:
    return app.cockpit.query_one(PositionsTable).get_row(symbol)[1].plain.strip()


def received_side(app: AutotradeApp, symbol: str = "BTC/USDT") -> str | None:
    """The side in the last account the cockpit was given (what the table must show)."""
    acc = app.cockpit.account
    pos = acc.position(symbol) if acc else None
    return pos.side if pos else None


async def flip_by_key(pilot: Any, side: Side) -> None:
    await pilot.press("b" if side is Side.LONG else "s")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the dialog")
    await pilot.press("y")


async def flip_by_vote(app: AutotradeApp, side: Side) -> None:
    runtime = runtime_of(app)
    vote = ("BUY" if side is Side.LONG else "SELL", 0.9)
    runtime.models = (ScriptedModel("m1", vote), ScriptedModel("m2", vote))
    await runtime.decision_cycle(["BTC/USDT"])


@pytest.mark.parametrize("how", ["manual", "automatic"])
async def test_a_flipped_position_shows_its_new_side_at_once(tmp_path: Path, how: str) -> None:
    async with running(tmp_path, **FREE) as (app, pilot):
        runtime = runtime_of(app)
        # (side to take, entries already stacked before it): unstacked and stacked, both ways
        for side, stack in ((Side.LONG, 1), (Side.SHORT, 1), (Side.LONG, 2), (Side.SHORT, 2)):
            if how == "manual":
                await flip_by_key(pilot, side)
            else:
                await flip_by_vote(app, side)

            def held(side: Side = side) -> bool:
                pos = runtime.engine.positions.get("BTC/USDT")
                return pos is not None and pos.side is side

            await wait_for(pilot, held, f"the engine to hold {side.value}")
            for _ in range(stack - 1):  # stack onto the new side
                await runtime.manual_open("BTC/USDT", side)
            assert len(runtime.engine.positions["BTC/USDT"].entries) == stack
            await wait_for(pilot, lambda s=side.value: received_side(app) == s, "the account")
            await settle(pilot)
            assert shown_side(app) == side.value
            assert re.findall(r"BTC/USDT\s+(LONG|SHORT)\s+\d", screen_text(app)) == [side.value]


# ---- one P&L vocabulary: after fees everywhere, fees beside it, colour = its sign


async def test_pnl_card_is_after_fees_with_fees_beside_and_coloured_by_its_sign(
        tmp_path: Path) -> None:
    async with running(tmp_path, **FREE) as (app, pilot):
        runtime = runtime_of(app)
        await runtime.manual_open("BTC/USDT", Side.LONG)
        await runtime.manual_close("BTC/USDT")  # a round trip at one price: only its fees
        lg = runtime.engine.ledger
        await wait_for(pilot, lambda: getattr(app.cockpit.account, "total_trades", 0) == 1,
                       "the account after the close")
        await settle(pilot)
        card = app.cockpit.query_one("#card-pnl", Card)
        label, value, detail = str(card.render()).splitlines()
        assert label == "P&L AFTER FEES"
        assert value == money(lg.realized_pnl - lg.total_fees, signed=True)
        assert value.startswith("−") and card.has_class("-loss")
        assert not card.has_class("-profit")
        assert detail.startswith(f"fees {lg.total_fees:.2f}")
        # the report says the same, in the same words
        text = render_report(build_report(runtime.store, app.settings))
        assert f"P&L after fees{value:>16}   fees {lg.total_fees:,.2f}" in text
        assert "CLOSE       LONG" in text and f"P&L {value} after fee" not in text  # 1 fee
        assert "realized P&L" not in text and "pnl " not in text


async def test_report_win_rate_without_a_closed_trade_is_a_dash(tmp_path: Path) -> None:
    buy = (ScriptedModel("m1", ("BUY", 0.9)), ScriptedModel("m2", ("BUY", 0.9)))
    runtime = await make_runtime(tmp_path, models=buy, **FREE)
    try:
        await runtime.monitor_tick()
        await runtime.manual_open("BTC/USDT", Side.LONG)
        await runtime.decision_cycle()
        text = render_report(build_report(runtime.store, runtime.settings))
    finally:
        await runtime.close()
    assert "win rate —   liquidations" in text
    assert "executed: executed:" not in text and "executed: not executed" not in text


def test_headless_and_report_say_pnl_after_fees_with_a_typographic_minus() -> None:
    trade = Trade(0.0, "BTC/USDT", OrderType.CLOSE, Side.LONG, 0.5, 80_000.0, 44.40, 200.04,
                  2_000.0, 20.0, TradeSource.MANUAL)
    line = LogLines.format(TradeExecuted(trade))
    assert line is not None and "P&L −155.64 after fee" in line and "pnl" not in line
    assert "-155.64" not in line


# ---- one selection for header, chart, positions and keys


def highlighted(app: AutotradeApp) -> str | None:
    """The symbol whose row the positions table shows highlighted, if any."""
    table = app.cockpit.query_one(PositionsTable)
    if not table.show_cursor or not table.row_count:
        return None
    return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)


async def test_the_highlighted_position_is_the_symbol_the_keys_act_on(tmp_path: Path) -> None:
    async with running(tmp_path, **FREE) as (app, pilot):
        runtime = runtime_of(app)
        await runtime.manual_open("SOL/USDT", Side.SHORT)  # the selection stays on BTC
        await wait_for(pilot, lambda: received_side(app, "SOL/USDT") == "SHORT", "the row")
        await settle(pilot)
        assert app.cockpit.symbol == "BTC/USDT"
        assert highlighted(app) is None  # no row claims to be the selection
        assert "SOL/USDT" in screen_text(app)
        await pilot.press("3")
        await settle(pilot)
        assert highlighted(app) == "SOL/USDT" == app.cockpit.symbol
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the dialog")
        assert app.screen.text.startswith("Close SHORT SOL/USDT")  # type: ignore[attr-defined]
        await pilot.press("n")
        await pilot.press("1")  # back to BTC: the highlight goes with it
        await settle(pilot)
        assert highlighted(app) is None and app.cockpit.symbol == "BTC/USDT"
        table = app.cockpit.query_one(PositionsTable)
        table.focus()
        await pilot.press("down")  # an arrow in the table selects what it highlights
        await settle(pilot)
        assert highlighted(app) == "SOL/USDT" == app.cockpit.symbol


# ---- a lasting condition is news once: one line, updated in place


async def test_a_lasting_liquidation_risk_is_one_line_updated_in_place(tmp_path: Path) -> None:
    async with running(tmp_path, size=(160, 50), stop_loss_percent=0.0,
                       take_profit_percent=0.0) as (app, pilot):
        runtime = runtime_of(app)
        await runtime.manual_open("BTC/USDT", Side.LONG)  # 20x: ~4.5 % from liquidation
        for _ in range(12):  # six minutes: three cooldowns of LIQUIDATION_RISK
            runtime.clock.advance(30)  # type: ignore[attr-defined]
            await runtime.monitor_tick()
        await settle(pilot)
        feed = app.cockpit.query_one("#market-events", EventFeed)
        lines = [e for e in feed.events if e.event_type == "LIQUIDATION_RISK"]
        assert len(lines) == 1 and lines[0].count >= 3
        shown = [line for line in screen_text(app).splitlines() if "LIQUIDATION_RISK" in line]
        assert len(shown) == 1 and f"×{lines[0].count} since" in shown[0]


# ---- the decisions pane


def view(final: str, conf: float, *votes: tuple[str, float]) -> DecisionView:
    models = tuple(ModelView(f"prov/m{i}", d, c, "", None) for i, (d, c) in enumerate(votes))
    return DecisionView(1, 0.0, "SOL/USDT", 1.0, models, final, conf,  # type: ignore[arg-type]
                        "", False, "", "auto")


def test_a_hold_shows_the_holds_confidence_never_the_missed_buys() -> None:
    assert shown_confidence(view("HOLD", 0.63, ("HOLD", 0.41), ("BUY", 0.63))) == 0.41
    both_hold = view("HOLD", 0.46, ("HOLD", 0.5), ("HOLD", 0.42))
    assert shown_confidence(both_hold) == pytest.approx(0.46)
    assert shown_confidence(view("HOLD", 0.55, ("BUY", 0.6), ("BUY", 0.5))) is None
    assert shown_confidence(view("BUY", 0.72, ("BUY", 0.8), ("BUY", 0.64))) == 0.72
    assert vote(ModelVote("a", Action.HOLD, 0.5), ModelVote("b", Action.HOLD, 0.42)).reason \
        == "both HOLD, avg 0.46"  # no threshold named: a HOLD never trades


async def test_decisions_tab_at_80x24_lists_rows_named_models_and_arrows_work(
        tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        await pilot.press("right_square_bracket")  # the Decisions tab, by key only
        await settle(pilot)
        listing = app.cockpit.query_one(DecisionList)
        assert listing.has_focus  # no Tab needed
        assert listing.region.height - 1 >= 6  # rows under the header
        names = [m.name for m in listing.decisions[0].models]
        labels = [c.label.plain for c in listing.columns.values()]
        assert labels[2:4] == [short_name(n) for n in names] != ["Model 1", "Model 2"]
        text = screen_text(app)
        assert short_name(names[0]) in text and "Model 1" not in text
        first = app.cockpit.query_one(DecisionDetail).decision
        await pilot.press("down")
        await settle(pilot)
        assert listing.cursor_row == 1
        assert app.cockpit.query_one(DecisionDetail).decision is listing.decisions[1] != first

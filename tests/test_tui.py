"""The cockpit through Textual's Pilot on the simulated market (seed 42, virtual clock): every
key end to end down to the database, confirmations, layouts at 80x24 and 160x50, the
connecting state and the engine-lock exit (the cheap import path: test_import_hygiene.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static, TabbedContent

from autotrade_tui.core.account import AccountView
from autotrade_tui.core.models import Side
from autotrade_tui.errors import EngineLockedError, StoreFileChanged
from autotrade_tui.store.store import Store
from autotrade_tui.tui import messages as m
from autotrade_tui.tui.app import AutotradeApp
from autotrade_tui.tui.screens.confirm import ConfirmScreen
from autotrade_tui.tui.screens.help import KEYS, HelpScreen
from autotrade_tui.tui.views import EventView
from autotrade_tui.tui.widgets.account_cards import AccountCards
from autotrade_tui.tui.widgets.candle_chart import CandleChart
from autotrade_tui.tui.widgets.decision_detail import DecisionDetail
from autotrade_tui.tui.widgets.decision_list import DecisionList
from autotrade_tui.tui.widgets.equity_chart import EquityChart
from autotrade_tui.tui.widgets.event_feed import event_line
from autotrade_tui.tui.widgets.positions_table import PositionsTable
from autotrade_tui.tui.widgets.status_bar import StatusBar
from tests.account_fixtures import view
from tests.tui_fixtures import (
    NARROW,
    SYMBOLS,
    WIDE,
    busy,
    make_app,
    ready,
    rows,
    running,
    runtime_of,
    screen_text,
    settle,
    wait_for,
)


def header(app: AutotradeApp) -> str:
    return app.cockpit.query_one(StatusBar).render().plain


def position_rows(app: AutotradeApp) -> list[str]:
    return [str(k.value) for k in app.cockpit.query_one(PositionsTable).rows]


async def confirm_text(pilot: Any) -> str:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the dialog")
    screen = pilot.app.screen
    assert isinstance(screen, ConfirmScreen)
    return screen.text


# ---- manual orders: b / s / x / X, with confirmation


async def test_b_then_y_opens_long_shown_and_recorded_as_manual(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        assert position_rows(app) == []
        await pilot.press("b")
        text = await confirm_text(pilot)
        price = runtime_of(app).tickers["BTC/USDT"].last
        assert text.startswith(f"Open LONG BTC/USDT at ~{price:,.2f} with 0.75 % of free "
                               "capital (margin ~750, 20x)?")
        assert "liquidation ~" in text and "fee ~15.00" in text
        assert "y / Enter confirm" in screen_text(app) and "n / Esc cancel" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: position_rows(app) == ["BTC/USDT"], "the position row")
        await settle(pilot)
        table = app.cockpit.query_one(PositionsTable)
        assert [c.plain.strip() for c in table.get_row("BTC/USDT")[:2]] == ["BTC/USDT", "LONG"]
        assert "BTC/USDT" in screen_text(app).splitlines()[-2]
        cards = app.cockpit.query_one(AccountCards).query_one("#card-positions").render()
        assert "1" in str(cards)
    got = rows(tmp_path / "t.db", "SELECT symbol, order_type, side, source FROM trades")
    assert got == [("BTC/USDT", "OPEN", "LONG", "manual")]


async def test_s_then_enter_opens_short(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        await pilot.press("s")
        assert (await confirm_text(pilot)).startswith("Open SHORT BTC/USDT at ~")
        await pilot.press("enter")
        await wait_for(pilot, lambda: position_rows(app) == ["BTC/USDT"], "the position row")
        assert runtime_of(app).engine.positions["BTC/USDT"].side is Side.SHORT
    assert rows(tmp_path / "t.db", "SELECT side, source FROM trades") == [("SHORT", "manual")]


async def test_n_and_escape_cancel_without_trading(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        for answer in ("n", "escape"):
            await pilot.press("b")
            await confirm_text(pilot)
            await pilot.press(answer)
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "closing")
            await settle(pilot)
        assert position_rows(app) == [] and not runtime_of(app).engine.positions
        assert any("cancelled" in n.message for n in app._notifications)
    assert rows(tmp_path / "t.db", "SELECT COUNT(*) FROM trades") == [(0,)]


async def test_opposite_side_says_it_closes_first(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        await runtime_of(app).manual_open("BTC/USDT", Side.LONG)
        await pilot.press("s")
        text = await confirm_text(pilot)
        assert text.startswith("Close LONG BTC/USDT (P&L ~")
        assert ", then open SHORT BTC/USDT at ~" in text
        await pilot.press("b")  # not an answer: the dialog stays, nothing happens
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await pilot.press("b")
        assert (await confirm_text(pilot)).startswith("Add to LONG BTC/USDT at ~")
        await pilot.press("n")


async def test_x_closes_the_selected_position(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        rt = runtime_of(app)
        await rt.manual_open("BTC/USDT", Side.LONG)
        await rt.manual_open("ETH/USDT", Side.SHORT)
        await wait_for(pilot, lambda: len(position_rows(app)) == 2, "two rows")
        await pilot.press("2")  # ETH/USDT
        await pilot.press("x")
        text = await confirm_text(pilot)
        assert text.startswith("Close SHORT ETH/USDT (") and "P&L ~" in text
        await pilot.press("y")
        await wait_for(pilot, lambda: position_rows(app) == ["BTC/USDT"], "ETH closed")
        await settle(pilot)
        assert any("closed SHORT ETH/USDT" in n.message for n in app._notifications)
    got = rows(tmp_path / "t.db", "SELECT symbol, order_type, source FROM trades ORDER BY id")
    assert got[-1] == ("ETH/USDT", "CLOSE", "manual")


async def test_x_without_a_position_says_so_and_asks_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        await pilot.press("x")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert any(n.message == "no open position on BTC/USDT" for n in app._notifications)
        await pilot.press("X")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert any(n.message == "no open positions" for n in app._notifications)


async def test_shift_x_closes_all(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        await pilot.press("b", "y")
        await wait_for(pilot, lambda: position_rows(app) == ["BTC/USDT"], "BTC row")
        await pilot.press("3", "s", "y")
        await wait_for(pilot, lambda: position_rows(app) == ["BTC/USDT", "SOL/USDT"], "SOL row")
        await pilot.press("X")
        text = await confirm_text(pilot)
        assert text.startswith("Close all 2 positions (LONG BTC/USDT, SHORT SOL/USDT) at market?")
        await pilot.press("y")
        await wait_for(pilot, lambda: position_rows(app) == [], "no rows")
        await settle(pilot)
    got = rows(tmp_path / "t.db", "SELECT symbol, order_type, source FROM trades ORDER BY id")
    assert sorted(got[-2:]) == [("BTC/USDT", "CLOSE", "manual"), ("SOL/USDT", "CLOSE", "manual")]
    assert rows(tmp_path / "t.db", "SELECT COUNT(*) FROM position_entries") == [(0,)]


async def test_a_refusal_is_shown_with_its_reason(tmp_path: Path) -> None:
    async with running(tmp_path, max_positions=1) as (app, pilot):
        await runtime_of(app).manual_open("ETH/USDT", Side.LONG)
        await pilot.press("b")
        text = await confirm_text(pilot)
        assert "The engine would refuse it now: max positions reached (1)." in text
        await pilot.press("y")
        await wait_for(pilot, lambda: any(n.title == "refused" for n in app._notifications),
                       "the refusal")
        (note,) = [n for n in app._notifications if n.title == "refused"]
        assert note.message == "max positions reached (1)"
    assert rows(tmp_path / "t.db", "SELECT symbol FROM trades") == [("ETH/USDT",)]


# ---- p, d, 1-9, t, ?


async def test_p_pauses_and_resumes_in_header_and_database(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    async with running(tmp_path) as (app, pilot):
        assert "AUTO ON" in header(app)
        await pilot.press("p")
        await wait_for(pilot, lambda: "AUTO PAUSED" in header(app), "PAUSED in the header")
        assert app.cockpit.query_one(StatusBar).has_class("-paused")
        assert rows(db, "SELECT paused FROM account_state") == [(1,)]
        await pilot.press("p")
        await wait_for(pilot, lambda: "AUTO ON" in header(app), "ON in the header")
        assert not app.cockpit.query_one(StatusBar).has_class("-paused")
        assert rows(db, "SELECT paused FROM account_state") == [(0,)]


async def test_p_resumes_after_a_drawdown_halt(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        rt = runtime_of(app)
        rt.engine.ledger.halted_reason = "max drawdown 5.1 % ≥ 5 %: automatic trading paused"
        await pilot.press("p")
        await wait_for(pilot, lambda: not rt.engine.ledger.halted_reason, "the halt cleared")
        assert not rt.paused
        assert rows(tmp_path / "t.db", "SELECT paused, halted_reason FROM account_state") == [
            (0, "")]


async def test_d_records_a_manual_decision_for_the_selected_symbol(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        runtime_of(app).clock.advance(1)  # a moment after the cycle
        decisions = app.cockpit.query_one(DecisionList)
        await pilot.press("2", "d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "ETH/USDT" in str(app.screen.query_one("#question", Static).render())
        await pilot.press("n")  # cancelled: nothing asked, nothing recorded
        await settle(pilot)
        assert len(decisions.decisions) == 3 and not isinstance(app.screen, ConfirmScreen)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(decisions.decisions) == 4, "the new decision")
        await settle(pilot)
        newest = decisions.decisions[0]
        assert (newest.symbol, newest.source) == ("ETH/USDT", "manual")
        assert any(n.title == "decision (manual)" and n.message.startswith("ETH/USDT: ")
                   for n in app._notifications)
    got = rows(tmp_path / "t.db", "SELECT symbol, source FROM ai_decisions ORDER BY id")
    assert got[-1] == ("ETH/USDT", "manual")
    assert sorted(got[:3]) == [(s, "auto") for s in SYMBOLS]


async def test_number_keys_select_symbols(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        chart = app.cockpit.query_one(CandleChart)
        assert "BTC/USDT 5m" in header(app) and chart.title == "BTC/USDT 5m"
        for key, sym in (("3", "SOL/USDT"), ("2", "ETH/USDT"), ("1", "BTC/USDT"),
                         ("3", "SOL/USDT")):
            await pilot.press(key)
            await wait_for(pilot, lambda s=sym: chart.title == f"{s} 5m", f"chart of {sym}")
            assert f"{sym} 5m" in header(app)
        await settle(pilot)
        assert "SOL/USDT 5m ·" in screen_text(app)  # the plot's own title
        await pilot.press("9")  # only 3 symbols: a warning, the selection stays
        await pilot.pause()
        assert app.cockpit.symbol == "SOL/USDT"
        assert any("no symbol 9" in n.message for n in app._notifications)


async def test_t_cycles_the_timeframe(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        chart = app.cockpit.query_one(CandleChart)
        seen = []
        for _ in range(6):
            await pilot.press("t")
            await wait_for(pilot, lambda: chart.title.endswith(" " + app.cockpit.timeframe)
                           and not busy(app, "chart"), "the chart")
            seen.append(app.cockpit.timeframe)
        assert seen == ["15m", "1h", "4h", "1d", "1m", "5m"]
        await pilot.press("t")
        await wait_for(pilot, lambda: chart.title == "BTC/USDT 15m", "the 15m chart")
        assert "BTC/USDT 15m" in header(app)


async def test_question_mark_opens_help_listing_every_key(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await wait_for(pilot, lambda: app.screen.query_one("#help-text").region.height > 15,
                       "help laid out")
        await settle(pilot)
        shown = screen_text(app)
        assert {k for k, _ in KEYS} >= {"b", "s", "x", "X", "p", "d", "1–9", "t", "?", "q"}
        for key, what in KEYS[:8]:  # the first screenful
            assert f"{key}  {what[:40]}" in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), "closing help")


async def test_footer_shows_the_keys(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, _pilot):
        footer = screen_text(app).splitlines()[-1]
        for item in ("b long", "s short", "x close", "X close all", "p pause", "d decide",
                     "t tf", "1-9 sym", "? help", "q quit"):
            assert item in footer, item


async def test_decision_detail_shows_both_models_side_by_side(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        app.cockpit.query_one(TabbedContent).active = "tab-decisions"
        await settle(pilot)
        detail = app.cockpit.query_one(DecisionDetail)
        first = app.cockpit.query_one(DecisionList).decisions[0]
        assert detail.decision == first
        db = rows(tmp_path / "t.db", "SELECT model_1_name, model_2_name, model_1_decision, "
                  "model_2_decision, model_1_reasoning, model_2_reasoning, execution_note "
                  f"FROM ai_decisions WHERE id = {first.id}")[0]
        assert db[:2] == ("offline/trend-follower", "offline/mean-reversion")
        shown = screen_text(app)
        assert "offline/trend-follower" in shown and "offline/mean-reversion" in shown
        assert db[4].split()[0] in shown and db[5].split()[0] in shown
        assert f"{db[2]}  confidence" in shown and f"{db[3]}  confidence" in shown
        assert "NOT EXECUTED" in shown and "VOTE " in shown
        # down arrow moves through the list; the detail follows
        await pilot.press("tab")
        app.cockpit.query_one(DecisionList).focus()
        await pilot.press("down")
        await settle(pilot)
        assert detail.decision == app.cockpit.query_one(DecisionList).decisions[1]


async def test_keys_work_while_a_table_has_focus(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        rt = runtime_of(app)
        await rt.manual_open("BTC/USDT", Side.LONG)
        await rt.manual_open("SOL/USDT", Side.LONG)
        table = app.cockpit.query_one(PositionsTable)
        await wait_for(pilot, lambda: table.row_count == 2, "two rows")
        table.focus()
        await pilot.press("down")  # arrows still move the cursor, and select its symbol
        await wait_for(pilot, lambda: app.cockpit.symbol == "SOL/USDT", "SOL selected")
        assert table.cursor_row == 1
        await pilot.press("x")
        assert (await confirm_text(pilot)).startswith("Close LONG SOL/USDT")
        await pilot.press("n")
        await pilot.press("t")
        assert app.cockpit.timeframe == "15m"


async def test_command_palette_offers_the_actions(tmp_path: Path) -> None:
    async with running(tmp_path) as (_app, pilot):
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"open long")
        await pilot.pause(0.3)
        await pilot.press("enter")
        assert (await confirm_text(pilot)).startswith("Open LONG BTC/USDT at ~")
        await pilot.press("escape")


# ---- layouts


async def test_narrow_layout_uses_tabs_and_keeps_cards_visible(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        # the header repaints at most 4 times a second: wait for the countdown to be drawn
        await wait_for(pilot, lambda: "next decision 5:00" in screen_text(app).splitlines()[1],
                       "the countdown in the header")
        lines = screen_text(app).splitlines()
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        assert lines[0].startswith(" SIM PAPER") and "(offline)" in lines[0]
        assert "15:07:00 UTC" in lines[1] and "next decision 5:00" in lines[1]
        assert "EQUITY" in lines[2] and "WIN RATE" in lines[2]
        assert "Market" in lines[5] and "Decisions" in lines[5] and "Trades" in lines[5]
        assert app.cockpit.has_class("-narrow")
        assert app.cockpit.query_one("#market-events").region.width == 0
        for tab in ("tab-decisions", "tab-events", "tab-trades", "tab-equity", "tab-market"):
            app.cockpit.query_one(TabbedContent).active = tab
            await settle(pilot)
            assert "EQUITY" in screen_text(app).splitlines()[2], tab


async def test_wide_layout_shows_more_side_by_side(tmp_path: Path) -> None:
    async with running(tmp_path, size=WIDE) as (app, pilot):
        cockpit = app.cockpit
        assert cockpit.has_class("-wide")
        events = cockpit.query_one("#market-events")
        chart = cockpit.query_one(CandleChart)
        assert events.region.width >= 50 and chart.region.width >= 80
        assert events.region.x > chart.region.x  # beside the chart, same tab
        cockpit.query_one(TabbedContent).active = "tab-decisions"
        await settle(pilot)
        listing, detail = cockpit.query_one(DecisionList), cockpit.query_one(DecisionDetail)
        assert detail.region.x >= listing.region.right - 1  # side by side
        assert listing.region.height > 30
        for i in (1, 2):  # each model's box as tall as its text and its border (§11)
            box, text = cockpit.query_one(f"#model-{i}"), cockpit.query_one(f"#model-{i}-text")
            assert 3 <= box.region.height <= text.region.height + 2


# ---- the runtime's life in the app


async def test_first_frame_comes_before_the_runtime_is_ready(tmp_path: Path) -> None:
    gate = asyncio.Event()
    base = make_app(tmp_path)

    async def slow_factory(settings: Any) -> Any:
        await gate.wait()
        return await base.runtime_factory(settings)

    app = AutotradeApp(base.settings, runtime_factory=slow_factory)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        assert "connecting…" in header(app)
        assert "connecting…" in screen_text(app)  # the cards
        assert "waiting for market data" in screen_text(app)
        await pilot.press("b")  # nothing to trade on yet: says so, does not crash
        await pilot.pause()
        assert any("still connecting" in n.message for n in app._notifications)
        gate.set()
        await ready(pilot)
        assert header(app).startswith(" SIM PAPER")


async def test_engine_lock_exits_with_code_3_and_a_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "t.db"
    holder = Store(db, writer=True)
    try:
        app = make_app(tmp_path)
        async with app.run_test(size=NARROW) as pilot:
            await wait_for(pilot, lambda: app._exit, "the exit")
        assert app.return_code == 3
        err = " ".join(capsys.readouterr().err.split())  # printed once the terminal is back
        assert err.startswith("autotrade-tui: another autotrade-tui engine (pid ")
        assert "is already trading on" in err and "autotrade-tui report" in err
        assert "Traceback" not in err
    finally:
        holder.close()


@pytest.mark.parametrize(("fault", "code"), [
    # another engine took the database: 3, as at start
    (EngineLockedError("another autotrade-tui engine is trading on this database"), 3),
    # the file was deleted or replaced under us: 1, no other engine holds it
    (StoreFileChanged("the database file was deleted or replaced"), 1),
])
async def test_losing_the_database_while_running_stops_with_its_exit_code(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], fault: Exception,
        code: int) -> None:
    async with running(tmp_path) as (app, pilot):
        rt = runtime_of(app)

        def refused(*_a: object, **_k: object) -> None:
            raise fault

        rt.store.save_state = refused  # type: ignore[method-assign]
        await pilot.press("b", "y")
        await wait_for(pilot, lambda: app._exit, "the exit")
        assert rt.stopping and not rt.engine.positions
    assert app.return_code == code
    assert f"autotrade-tui: {fault}" in capsys.readouterr().err
    assert rows(tmp_path / "t.db", "SELECT COUNT(*) FROM trades") == [(0,)]


async def test_a_runtime_that_fails_says_so_in_the_header(tmp_path: Path) -> None:
    async def broken(_settings: Any) -> Any:
        raise RuntimeError("boom")

    app = AutotradeApp(make_app(tmp_path).settings, runtime_factory=broken)
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(pilot, lambda: "STOPPED" in header(app), "the alert")
        assert "STOPPED trading runtime: RuntimeError: boom — q quits" in header(app)
        assert any("RuntimeError: boom" in n.message for n in app._notifications)
        await pilot.press("q")
        await wait_for(pilot, lambda: app._exit, "the exit")
    assert app.return_code == 0


async def test_quit_stops_and_closes_the_runtime(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        rt = runtime_of(app)
        await pilot.press("q")
        await wait_for(pilot, lambda: app._exit, "the exit")
        assert rt.stopping and app.runtime is None
    assert app.return_code == 0
    Store(tmp_path / "t.db", writer=True).close()  # the lock was released


async def test_live_updates_reach_the_panes(tmp_path: Path) -> None:
    async with running(tmp_path) as (app, pilot):
        rt = runtime_of(app)
        equity = app.cockpit.query_one(EquityChart)
        assert equity.points  # the snapshot of the first cycle
        before = app.cockpit.status.now
        rt.clock.advance(5)  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: app.cockpit.status.now == before + 5, "the next tick")
        await settle(pilot)
        assert "15:07:05 UTC" in header(app)


# ---- pieces


def test_price_ticks_coalesce_but_decisions_do_not() -> None:
    a, b = m.PricesTick({}, frozenset(), 1.0), m.PricesTick({}, frozenset(), 2.0)
    assert b.can_replace(a)
    assert m.AccountChanged({}).can_replace(m.AccountChanged({}))
    assert not m.DecisionMade(None).can_replace(m.DecisionMade(None))
    assert not b.can_replace(m.AccountChanged({}))


def test_event_lines_are_coloured_by_severity() -> None:
    def styles(sev: str) -> set[str]:
        e = EventView(0.0, "BTC/USDT", "FLASH_CRASH", sev, "down 6 %", "reduce")
        return {str(s.style) for s in event_line(e).spans}

    assert "bold $error" in styles("CRITICAL")
    assert "bold $warning" in styles("HIGH")
    assert "$text-muted" in styles("MEDIUM") and "bold $error" not in styles("MEDIUM")


def test_tables_take_no_letter_keys() -> None:
    """The trading keys are screen bindings; a focused table must not swallow them."""
    letters = {b.key for b in DataTable.BINDINGS if hasattr(b, "key")}  # type: ignore[union-attr]
    assert not letters & {"b", "s", "x", "X", "p", "d", "t", "q", *"123456789"}


async def test_a_cell_that_grows_widens_its_column_instead_of_being_cut() -> None:
    from textual.app import App, ComposeResult

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield PositionsTable()

    def account(upnl: float) -> AccountView:
        return view([{"symbol": "SOL/USDT", "side": "LONG", "quantity": 885.233,
                      "entry_price": 202.884, "mark_price": 201.577,
                      "liquidation_price": 193.709, "margin": 8980.0,
                      "unrealized_pnl": upnl, "liquidation_distance_pct": 3.9}])

    async with One().run_test(size=(80, 10)) as pilot:
        table = pilot.app.query_one(PositionsTable)
        table.account = account(824.07)
        await pilot.pause()
        table.account = account(-1157.12)  # the same row, a wider number
        await pilot.pause()
        cell = table.get_cell("SOL/USDT", "uP&L")
        assert cell.plain == " −1,157.12"
        assert table.columns["uP&L"].get_render_width(table) >= cell.cell_len  # type: ignore[index]

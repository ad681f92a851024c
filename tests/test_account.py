"""core.account: the one account view (report, cockpit, headless, alerts, prompt), its JSON form
(`report --json`'s account keys, served by the API) and the way back from it."""

from __future__ import annotations

import json
import math

import pytest

from autotrade_tui.core.account import AccountView, PositionFigures, RiskFigures
from autotrade_tui.core.decision import account_view, position_dict
from autotrade_tui.core.engine import EngineConfig, EngineState, Ledger, TradingEngine
from autotrade_tui.core.models import Side

BTC, ETH = "BTC/USDT", "ETH/USDT"
# `report --json`'s account keys, in their order (the API serves them: never rename one)
REPORT_ACCOUNT_KEYS = [
    "equity", "capital", "realized_pnl", "unrealized_pnl", "pnl_after_fees", "total_fees",
    "total_trades", "winning_trades", "losing_trades", "win_rate", "liquidations",
    "initial_capital", "open_margin", "halted_reason", "exposure_pct", "max_exposure_pct",
    "drawdown_pct", "max_drawdown_limit_pct", "drawdown_action", "positions"]
POSITION_KEYS = [
    "symbol", "side", "quantity", "entry_price", "mark_price", "margin", "leverage",
    "liquidation_price", "liquidation_distance_pct", "unrealized_pnl", "entries", "opened_at"]


def busy_engine() -> TradingEngine:
    """A win, a loss, a stacked long on BTC and a short on ETH, with the risk rules on."""
    eng = TradingEngine(EngineConfig(
        initial_capital=100_000.0, leverage=20.0, commission_rate=0.001,
        maintenance_margin_rate=0.005, position_size_percent=10.0, max_positions=100,
        max_exposure_percent=500.0, max_drawdown_percent=15.0, max_entries_per_position=3))
    eng.open(BTC, Side.LONG, 50_000.0, 1.0)
    eng.close(BTC, 51_000.0, 2.0)
    eng.open(ETH, Side.LONG, 2_000.0, 3.0)
    eng.close(ETH, 1_990.0, 4.0)
    eng.open(BTC, Side.LONG, 50_000.0, 5.0)
    eng.open(BTC, Side.LONG, 50_500.0, 6.0)
    eng.open(ETH, Side.SHORT, 2_000.0, 7.0)
    return eng


def test_to_dict_has_the_reports_keys_in_its_order() -> None:
    view = AccountView.of(busy_engine(), {BTC: 50_800.0, ETH: 1_950.0})
    d = view.to_dict()
    assert list(d) == REPORT_ACCOUNT_KEYS
    assert [list(p) for p in d["positions"]] == [POSITION_KEYS, POSITION_KEYS]
    assert [p["symbol"] for p in d["positions"]] == [BTC, ETH]  # by symbol
    assert d["capital"] == view.free_capital and d["win_rate"] == view.win_rate_pct == 50.0
    assert d["pnl_after_fees"] == view.realized_pnl - view.total_fees
    assert d["positions"][0]["side"] == "LONG" and d["positions"][0]["entries"] == 2
    assert "scorecard" not in d  # only the running engine's view carries it


def test_figures_are_the_engines() -> None:
    eng = busy_engine()
    prices = {BTC: 50_800.0, ETH: 1_950.0}
    view = AccountView.of(eng, prices)
    lg = eng.ledger
    assert view.equity == eng.equity(prices)
    assert view.equity == pytest.approx(view.free_capital + view.open_margin
                                        + view.unrealized_pnl, rel=1e-12)
    assert (view.realized_pnl, view.total_fees, view.total_trades) == (
        lg.realized_pnl, lg.total_fees, lg.total_trades)
    assert view.risk.exposure_pct == eng.exposure_percent(prices)
    assert (view.risk.max_exposure_pct, view.risk.max_drawdown_limit_pct) == (500.0, 15.0)
    btc = view.position(BTC)
    assert btc is not None and btc == PositionFigures.of(eng.positions[BTC], 50_800.0, 0.005)
    assert btc.to_dict() == position_dict(eng.positions[BTC], 50_800.0, 0.005)
    assert view.position("SOL/USDT") is None


def test_a_position_without_a_price_is_marked_at_its_entry() -> None:
    eng = busy_engine()
    view = AccountView.of(eng, {BTC: 50_800.0})  # no ETH price
    eth = view.position(ETH)
    assert eth is not None and eth.mark_price == eth.entry_price and eth.unrealized_pnl == 0.0
    # the same equity, to the bit, as the engine's own (which leaves it out): the prompt's
    # equity did not move when it came to be read from the view
    assert view.equity == eng.equity({BTC: 50_800.0})


@pytest.mark.parametrize("with_scorecard", [False, True])
def test_round_trip_through_json(with_scorecard: bool) -> None:
    view = AccountView.of(busy_engine(), {BTC: 50_800.0, ETH: 1_950.0})
    if with_scorecard:
        view = view.with_scorecard([{"model": "a", "equity": 1.0}, {"model": "ensemble"}],
                                   {"a": [1.0, 2.0]})
    d = view.to_dict()
    back = AccountView.from_dict(json.loads(json.dumps(d)))
    assert back.to_dict() == d
    assert back == AccountView.from_dict(d)
    if not with_scorecard:
        assert back == view
    else:
        assert back.scorecard == view.scorecard and back.scorecard_curves == {"a": [1.0, 2.0]}


def test_round_trip_of_a_flat_account_and_of_an_unbounded_exposure() -> None:
    flat = AccountView.of(TradingEngine(EngineConfig(initial_capital=1_000.0)), {})
    assert AccountView.from_dict(flat.to_dict()) == flat
    assert flat.positions == () and flat.equity == flat.free_capital == 1_000.0
    risk = RiskFigures(math.inf, 200.0, 100.0, 15.0, "flatten")
    assert RiskFigures.from_dict(json.loads(json.dumps(risk.to_dict()))) == risk
    assert RiskFigures.from_dict({**risk.to_dict(), "exposure_pct": None}) == risk  # the API's


def test_the_prompt_keeps_its_names_from_the_view() -> None:
    eng = busy_engine()
    prices = {BTC: 50_800.0, ETH: 1_950.0}
    view = AccountView.of(eng, prices)
    assert account_view(eng, prices) == view.prompt_dict() == {
        "equity": view.equity, "free_capital": view.free_capital, "open_positions": 2,
        "realized_pnl": view.realized_pnl, "win_rate_pct": 50.0, "closed_trades": 2}
    assert list(view.prompt_dict()) == ["equity", "free_capital", "open_positions",
                                        "realized_pnl", "win_rate_pct", "closed_trades"]


def test_risk_text_names_the_rules_that_are_on() -> None:
    assert RiskFigures(45.2, 200.0, 2.14, 15.0, "flatten").text() == "exp 45/200% DD 2.1/15%"
    assert RiskFigures(45.2, 0.0, 2.14, 15.0, "pause").text() == "DD 2.1/15%"
    assert RiskFigures(45.2, 0.0, 2.14, 0.0, "pause").text() == ""


def test_drawdown_is_measured_from_the_peak_equity() -> None:
    eng = TradingEngine(EngineConfig(initial_capital=100_000.0, leverage=10.0,
                                     commission_rate=0.0, position_size_percent=10.0))
    eng.open(BTC, Side.LONG, 100.0, 0.0)  # 1,000 BTC on 10,000 margin
    assert AccountView.of(eng, {BTC: 105.0}).risk.drawdown_pct == 0.0  # above every peak
    eng.mark({BTC: 110.0}, 1.0)  # equity 110,000: the peak
    view = AccountView.of(eng, {BTC: 104.5})  # equity 104,500: 5 % below it
    assert view.risk.drawdown_pct == pytest.approx(5.0, rel=1e-12)
    assert view.to_dict()["drawdown_pct"] == view.risk.drawdown_pct
    # a paper account under 1 USDT has its drawdown too (50 % of 0.8)
    tiny = TradingEngine(EngineConfig(initial_capital=0.8), EngineState(Ledger(0.8, 0.4)))
    tiny.ledger.peak_equity = 0.8
    assert RiskFigures.of(tiny, {}).drawdown_pct == pytest.approx(50.0, rel=1e-12)


def test_no_peak_and_no_equity_is_no_drawdown() -> None:
    # a drained account whose state carries no peak (a new account row stores 0)
    eng = TradingEngine(EngineConfig(initial_capital=100.0), EngineState(Ledger(100.0, 0.0)))
    assert eng.ledger.peak_equity == 0.0
    assert RiskFigures.of(eng, {}).drawdown_pct == 0.0


def test_a_position_at_a_zero_mark_has_no_liquidation_distance_and_reads_back() -> None:
    eng = busy_engine()
    fig = PositionFigures.of(eng.positions[ETH], 0.0, 0.005)
    assert fig.liquidation_distance_pct is None
    back = PositionFigures.from_dict(json.loads(json.dumps(fig.to_dict())))
    assert back == fig and back.liquidation_distance_pct is None

"""The Models tab (SPEC §16): each model's shadow ledger beside the real account, live."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import TabbedContent

from autotrade_tui.tui.widgets.model_scorecard import ModelScorecard, spark
from tests.tui_fixtures import NARROW, running, runtime_of, screen_text, settle, wait_for


async def test_the_models_tab_shows_each_shadow_and_the_ensemble(tmp_path: Path) -> None:
    async with running(tmp_path, size=NARROW) as (app, pilot):
        rt = runtime_of(app)
        app.cockpit.query_one(TabbedContent).active = "tab-models"
        await settle(pilot)
        table = app.cockpit.query_one(ModelScorecard)
        await wait_for(pilot, lambda: table.row_count == 3, "the scorecard rows")
        text = screen_text(app)
        assert "trend-follower" in text and "mean-reversion" in text and "ensemble" in text
        assert "Max DD" in text and "EQUITY" in text.splitlines()[2]  # cards stay at 80x24
        rows = rt.account()["scorecard"]
        assert [r["model"] for r in rows] == [*(m.name for m in rt.models), "ensemble"]
        assert rows[-1]["equity"] == rt.account()["equity"]


def test_a_sparkline_runs_from_the_lowest_to_the_highest_point() -> None:
    assert spark([1.0, 2.0, 3.0]) == "▁▅█"
    assert spark([5.0, 5.0]) == "▄▄" and spark([7.0]) == ""
    assert len(spark(list(range(100)))) == 12


async def test_the_header_shows_the_risk_rules_state(tmp_path: Path) -> None:
    """SPEC §8.1 / issue 17: exposure and drawdown against their limits, live."""
    from autotrade_tui.core.models import Side
    from tests.tui_fixtures import WIDE

    async with running(tmp_path, size=WIDE) as (app, pilot):
        rt = runtime_of(app)
        assert rt.status().risk == "exp 0/200% DD 0.0/15%"
        await rt.manual_open("BTC/USDT", Side.LONG)  # 0.75 % at 20x: 15 % of equity
        risk = rt.status().risk
        assert risk.startswith("exp 15/200% DD 0.0") and risk.endswith("/15%")
        await wait_for(pilot, lambda: "exp 15/200%" in screen_text(app).splitlines()[1],
                       "the header's risk text")

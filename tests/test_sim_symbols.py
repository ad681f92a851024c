"""The simulator prices only the markets it knows (SPEC §5.2 Symbols, issue 21 point 6): any
other symbol is refused at start-up, exit 2, one line naming it and the known ones, nothing
written; never traded on an invented price."""

from __future__ import annotations

from pathlib import Path

import pytest

from autotrade_tui.cli import main
from autotrade_tui.core.clock import VirtualClock
from autotrade_tui.market.sim import SimMarket
from autotrade_tui.market.symbols import UnknownSymbolError, unknown


def test_the_table_knows_the_majors_and_nothing_else() -> None:
    assert unknown(["BTC/USDT", "ETH/BTC", "SOL/USDC", "DOGE/USDT", "BTC/EUR"]) == []
    assert unknown(["FOO/BAR", "PEPE/USDT", "BTCUSDT", "USDT/USDT", "BTC/"]) == [
        "FOO/BAR", "PEPE/USDT", "BTCUSDT", "USDT/USDT", "BTC/"]


def test_the_sim_refuses_an_unknown_symbol() -> None:
    with pytest.raises(UnknownSymbolError, match=r"does not know FOO/BAR \(it knows BTC, ETH"):
        SimMarket(["BTC/USDT", "FOO/BAR"], VirtualClock(1_750_000_000.0))


@pytest.mark.parametrize("front", [["--headless"], []])
def test_unknown_symbols_exit_2_with_one_line_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], front: list[str]) -> None:
    db = tmp_path / "never.db"
    code = main([*front, "--market", "sim", "--symbols", "BTC/USDT,FOO/BAR", "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "FOO/BAR" in err and "BTC, ETH, SOL" in err and "BTC/USDT" not in err
    assert not db.exists()

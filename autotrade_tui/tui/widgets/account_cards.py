"""The four account cards: equity, P&L (realized after fees, the fees beside it), open
positions (with their unrealized P&L), win rate."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from autotrade_tui.core.account import AccountView
from autotrade_tui.tui.format import money, pct, short


class Card(Widget):
    """Label, value, detail: three short lines; `-profit` / `-loss` colour the value. Its size
    is fixed by the stylesheet, so an update repaints it without a layout pass."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._content = Content("")

    def show(self, label: str, value: str, detail: str, tone: float | None = None) -> None:
        content = Content.assemble((label, "$text-muted"), "\n", (value, "bold"), "\n",
                                   (detail, "$text-muted"))
        self.set_class(tone is not None and tone > 0, "-profit")
        self.set_class(tone is not None and tone < 0, "-loss")
        if not content.is_same(self._content):
            self._content = content
            self.refresh()

    def render(self) -> Content:
        return self._content


LABELS = {"equity": "EQUITY", "pnl": "P&L AFTER FEES", "positions": "OPEN POSITIONS",
          "winrate": "WIN RATE"}


class AccountCards(Horizontal):
    account: reactive[AccountView | None] = reactive(None, always_update=True)

    def compose(self) -> ComposeResult:
        for name in LABELS:
            yield Card(id=f"card-{name}", classes="card")

    def _show(self, name: str, value: str, detail: str, tone: float | None = None) -> None:
        self.query_one(f"#card-{name}", Card).show(LABELS[name], value, detail, tone)

    def on_mount(self) -> None:
        for name in LABELS:
            self._show(name, "connecting…", "")

    def watch_account(self, acc: AccountView | None) -> None:
        if acc is None:
            return
        eq, initial = acc.equity, acc.initial_capital or 1.0
        ret = (eq / initial - 1.0) * 100.0
        self._show("equity", money(eq),
                   f"{pct(ret, signed=True, compact=True)} free {short(acc.free_capital)}", ret)
        # One vocabulary (SPEC §11): realized P&L after every fee, the fees beside it, and the
        # colour the sign of that number, never of another (the unrealized is only a detail).
        net = acc.pnl_after_fees
        self._show("pnl", money(net, signed=True), f"fees {short(acc.total_fees)}", net)
        # The unrealized P&L goes with the open positions (it is theirs): at 80 columns a
        # card has room for one figure beside its value.
        n, unrealized = len(acc.positions), acc.unrealized_pnl
        self._show("positions", str(n), f"uP&L {short(unrealized, signed=True)}" if n
                   else "flat")
        closed = acc.total_trades
        self._show("winrate", pct(acc.win_rate_pct) if closed else "—",
                   f"{acc.winning_trades}W {acc.losing_trades}L")

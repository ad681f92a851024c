"""The header: data mode, paper trading, the two models, the runtime clock, the countdown to
the next decision, automatic trading on/paused, data freshness, and the selected symbol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from autotrade_tui.tui.format import clock, duration

SEP = ("  │  ", "$foreground 35%")
TIGHT = "  "  # between the parts when a line would not fit with SEP (80 columns)


def _model_names(status: Any) -> str:
    names = [n.split("/", 1)[-1] for n in status.models]
    text = " · ".join(names)
    return f"{text} (offline)" if status.offline_models else text


class StatusBar(Widget):
    """Two lines; the clock reads the runtime's clock every second (virtual in tests)."""

    status: reactive[Any] = reactive(None, layout=False)
    symbol: reactive[str] = reactive("")
    timeframe: reactive[str] = reactive("5m")
    phase: reactive[str] = reactive("connecting…")  # shown until the runtime is ready
    alert: reactive[str] = reactive("")  # the runtime stopped: replaces the second line

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.now: Callable[[], float] | None = None

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh, name="header clock")

    def watch_status(self, status: Any) -> None:
        if status is None:
            return
        self.set_class(bool(status.paused or status.halted_reason), "-paused")
        self.set_class(bool(status.stale), "-stale")

    def render(self) -> Content:
        width = max(self.size.width, 20)
        right1 = Content.assemble((self.symbol, "bold $primary"), " ", (self.timeframe, "$accent"))
        wide, tight = self._lines(SEP), self._lines(TIGHT)
        # Each line with its parts closer together before anything of it is cut.
        return Content("\n").join([self._fit(line, tight_line, right, width) for line, tight_line,
                                   right in zip(wide, tight, (right1, Content("")), strict=True)])

    @staticmethod
    def _fit(left: Content, tight: Content, right: Content, width: int) -> Content:
        room = width - right.cell_length - 2
        if left.cell_length > room:
            left = tight
        if left.cell_length > room:
            left = left.truncate(max(room, 0), ellipsis=True)
        gap = " " * max(width - left.cell_length - right.cell_length - 1, 1)
        return Content.assemble(" ", left, gap, right)

    @staticmethod
    def _speed(st: Any) -> list[Any]:
        """The clock's speed beside the mode (a sim or replay at --speed N)."""
        speed = getattr(st, "speed", 1.0)
        return [" ", (f"×{speed:g}", "bold $accent")] if speed and speed != 1.0 else []

    def _lines(self, sep: Any) -> tuple[Content, Content]:
        first, second = self._normal_lines(sep)
        return (first, Content.styled(self.alert, "bold $error")) if self.alert else (first,
                                                                                        second)

    def _normal_lines(self, sep: Any) -> tuple[Content, Content]:
        st = self.status
        if st is None:
            return (Content.assemble(("autotrade-tui", "bold $primary"), sep,
                                     ("PAPER", "bold $accent")),
                    Content.assemble((self.phase, "$text-muted")))
        mode_style = "bold $success" if st.mode == "LIVE DATA" else "bold $primary"
        line1 = Content.assemble((st.mode, mode_style), *self._speed(st), " ",
                                 ("PAPER", "bold reverse $accent"), *self._link(st, sep), sep,
                                 (_model_names(st), "$foreground"))
        now = self.now() if self.now else st.now
        parts: list[Any] = [(clock(now) + " UTC", "bold"), sep]
        if st.next_decision_at is not None:
            parts += ["next decision ", (duration(st.next_decision_at - now), "bold"), sep]
        if st.halted_reason:
            parts.append((f"PAUSED: {st.halted_reason}", "bold $error"))
        elif st.paused:
            parts.append(("AUTO PAUSED", "bold reverse $warning"))
        else:
            parts.append(("AUTO ON", "bold $success"))
        parts += [sep, *self._freshness(st, now)]
        if getattr(st, "risk", ""):
            parts += [sep, (st.risk, "$text-muted")]
        return line1, Content.assemble(*parts)

    @staticmethod
    def _link(st: Any, sep: Any) -> list[Any]:
        """An engine in another process (`attach`): where, and whether it is reachable."""
        link = getattr(st, "link", "")
        if not link:
            return []
        style = "bold reverse $error" if link.startswith("DISCONNECTED") else "bold $warning"
        return [sep, (link, style)]

    @staticmethod
    def _freshness(st: Any, now: float) -> list[Any]:
        if st.stale:
            return [("STALE " + ",".join(s.split("/")[0] for s in sorted(st.stale)),
                     "bold reverse $error")]
        if st.last_data_ts is None:
            return [("no data", "$warning")]
        age = max(0.0, now - st.last_data_ts)
        return [("data ", "$text-muted"), (f"{age:.0f}s" if age < 120 else duration(age),
                                          "$success" if age < 30 else "$warning")]

"""`autotrade-tui report` and `export`: read-only views of the account from the database.

Texts in the database may quote a model, a server or an exchange (and rows older than the
sanitiser may hold them raw), so what is printed is cleaned (core.text): the report as a
whole; each text cell of a CSV export, which also gets the spreadsheet guard (a leading `'`
before = + - @: a cell is never run as a formula). JSON escapes control characters itself.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import LargeBinary, select, type_coerce

from autotrade_tui.core.account import AccountView, RiskFigures
from autotrade_tui.core.engine import EngineConfig, TradingEngine
from autotrade_tui.core.text import clean, spreadsheet_safe
from autotrade_tui.store.codec import ZJSON, raw_json
from autotrade_tui.store.db import sqlite_path
from autotrade_tui.store.queries import stop_outs
from autotrade_tui.store.store import Store
from autotrade_tui.store.tables import DecisionRow, EventRow, TradeRow
from autotrade_tui.tui.format import money, pct

if TYPE_CHECKING:
    from autotrade_tui.config import Settings

EXPORT_TABLES = {"trades": TradeRow, "decisions": DecisionRow, "events": EventRow}


def account_dict(engine: TradingEngine, prices: dict[str, float]) -> dict[str, Any]:
    """The account figures every front end shows (percentages are 0–100)."""
    return AccountView.of(engine, prices).to_dict()


def risk_dict(engine: TradingEngine, marks: dict[str, float]) -> dict[str, Any]:
    """The risk rules' state (SPEC §8.1): exposure and drawdown against their limits."""
    return RiskFigures.of(engine, marks).to_dict()


def build_report(store: Store, settings: Settings, recent: int = 10) -> dict[str, Any]:
    loaded = store.load_state()
    engine = TradingEngine(EngineConfig.from_settings(settings), loaded[0] if loaded else None)
    prices = store.last_prices()
    out = account_dict(engine, prices)
    out["max_drawdown"] = store.max_drawdown_pct(out["initial_capital"], out["equity"])
    out["return_pct"] = (out["equity"] / out["initial_capital"] - 1.0) * 100.0
    out["paused"] = bool(loaded and loaded[1])
    out["stop_outs"] = stop_outs(store)
    out["scorecard"] = scorecard_rows(store.load_scorecard(), engine, prices, settings,
                                      out["max_drawdown"])
    tokens, cost = store.usage_totals()
    out["model_tokens"], out["model_cost"] = tokens, cost
    path = sqlite_path(store.url)
    out["database"] = str(path) if path is not None else store.shown_url
    out["recent_trades"] = [_row(r) for r in store.rows(TradeRow, recent)]
    out["recent_decisions"] = [
        {k: v for k, v in _row(r).items() if k != "input_data"}
        for r in store.rows(DecisionRow, recent)
    ]
    return out


def scorecard_rows(saved: dict[str, Any], engine: TradingEngine, prices: dict[str, float],
                   settings: Settings, ensemble_dd: float) -> list[dict[str, Any]]:
    """SPEC §16 from the saved shadows: one row per model, then the real account."""
    from autotrade_tui.core.scorecard import Scorecard

    card = Scorecard(engine.config, list(saved), float(settings.single_model_threshold),
                     float(settings.trading_interval_minutes) * 60.0)
    card.restore(saved)
    rows = card.rows(prices, engine)
    rows[-1]["max_drawdown"] = ensemble_dd
    return rows


def render_report(rep: dict[str, Any]) -> str:
    def sign(value: float, width: int = 0) -> str:  # +1,234.50 / −1,234.50: one minus sign
        return f"{money(value, signed=True):>{width}}"

    closed = rep["total_trades"]
    win_rate = f"{rep['win_rate']:.1f} %" if closed else "—"  # no close yet: no rate
    lines = [
        f"autotrade-tui report  ({rep['database']})",
        f"  equity        {rep['equity']:>16,.2f} USDT   return {pct(rep['return_pct'], True)}",
        f"  free capital  {rep['capital']:>16,.2f}   initial {rep['initial_capital']:,.2f}",
        # P&L after every fee, the fees beside it (SPEC §11: one vocabulary everywhere)
        f"  P&L after fees{sign(rep['pnl_after_fees'], 16)}   fees {rep['total_fees']:,.2f}"
        f"   unrealized {sign(rep['unrealized_pnl'])}",
        f"  max drawdown  {rep['max_drawdown']:>14.2f} %",
        f"  closed trades {closed:>16}   won {rep['winning_trades']} / lost "
        f"{rep['losing_trades']}   win rate {win_rate}   liquidations "
        f"{rep['liquidations']}   stop-outs {rep['stop_outs']}",
        f"  risk          exposure {rep['exposure_pct']:.0f} % / {rep['max_exposure_pct']:g} %"
        f"   drawdown {rep['drawdown_pct']:.1f} % / {rep['max_drawdown_limit_pct']:g} % "
        f"({rep['drawdown_action']})",
        f"  model usage   {rep['model_tokens']:>16,} tokens   cost ${rep['model_cost']:.4f}",
    ]
    if rep["paused"] or rep["halted_reason"]:
        lines.append(f"  automatic trading PAUSED {rep['halted_reason']}")
    lines.append("")
    lines.append(f"Open positions ({len(rep['positions'])})")
    for p in rep["positions"]:
        lines.append(f"  {p['symbol']:<10} {p['side']:<5} qty {p['quantity']:.6g}  entry "
                     f"{p['entry_price']:,.2f}  mark {p['mark_price']:,.2f}  liq "
                     f"{p['liquidation_price']:,.2f}  margin {p['margin']:,.2f}  "
                     f"{p['leverage']:.0f}x  uP&L {sign(p['unrealized_pnl'])}")
    lines.append("")
    lines.append("Models (each one's own answers traded alone; ensemble = this account)")
    for r in rep["scorecard"]:
        acc = "—" if r["accuracy_1"] is None else f"{r['accuracy_1']:.0f} %"
        cost = "—" if not r["cost"] else f"${r['cost']:.4f}"
        lines.append(f"  {r['model'][:28]:<28} equity {r['equity']:>12,.2f}  return "
                     f"{pct(r['return_pct'], True):>9}  trades {r['trades']:>4}  max DD "
                     f"{r['max_drawdown']:.1f} %  accuracy {acc}  errors {r['errors']}  "
                     f"cost {cost}")
    lines.append("")
    lines.append("Recent trades")
    for t in rep["recent_trades"]:
        pnl = (f"P&L {sign(t['pnl'] - t['fee'])} after fee {t['fee']:,.2f}"
               if t["order_type"] in ("CLOSE", "LIQUIDATION") else f"fee {t['fee']:,.2f}")
        lines.append(f"  {t['timestamp']}  {t['symbol']:<10} {t['order_type']:<11} {t['side']:<5}"
                     f" {t['amount']:.6g} @ {t['price']:,.2f}  {pnl}  [{t['source']}]")
    lines.append("")
    lines.append("Recent decisions")
    for d in rep["recent_decisions"]:
        lines.append(f"  {d['timestamp']}  {d['symbol']:<10} {d['model_1_decision'] or 'ERR':<4}"
                     f" / {d['model_2_decision'] or 'ERR':<4} → {d['final_decision']:<4} "
                     f"{_outcome(d)}")
    return clean("\n".join(lines))


def _outcome(d: dict[str, Any]) -> str:
    """"executed: ADD LONG …" once: the note may already begin with the word."""
    word = "executed" if d["executed"] else "not executed"
    note = d["execution_note"] or d["vote_reason"] or ""
    return note if note.startswith(word) else f"{word}: {note}"


def _row(row: Any) -> dict[str, Any]:
    """A table row as a dict in the table's column order (a loaded row's own attribute order
    varies from row to row)."""
    d = row.model_dump()
    d["timestamp"] = d["timestamp"].isoformat(sep=" ", timespec="seconds")
    return {name: d[name] for name in type(row).model_fields if name in d}


EXPORT_BATCH = 2_000  # rows read at once: a year of decisions never sits in memory


def export(store: Store, kind: str, fmt: str, out: TextIO, limit: int | None = None) -> int:
    """Stream the rows of `kind` (oldest first) to `out` as CSV or JSON; returns how many.

    Read in batches by id (keyset: each batch is an index seek, however far in), written as
    they come. Columns in the table's order; the timestamp to the second; compressed JSON
    (`input_data`) is written as its text, never parsed (store/codec.py). JSON is an array
    with one row per line. Each column's conversion is chosen once, not per cell (a year of
    decisions is millions of cells)."""
    model = EXPORT_TABLES[kind]
    table = model.__table__  # type: ignore[attr-defined]
    names = [n for n in model.model_fields if n in table.c]
    raw = {n for n in names if isinstance(table.c[n].type, ZJSON)}
    cols = [type_coerce(table.c[n], LargeBinary) if n in raw else table.c[n] for n in names]
    kinds = ["raw" if n in raw else "timestamp" if n == "timestamp" else "value" for n in names]
    write_rows = (_csv_writer if fmt == "csv" else _json_writer)(out, names, kinds)
    key = names.index("id")
    raw_at = [i for i, k in enumerate(kinds) if k == "raw"]

    def fetch(after: int, size: int) -> Sequence[Sequence[Any]]:
        """A batch, its compressed JSON cells already inflated to their text (zlib leaves
        the GIL: in the reader thread, beside the writing of the batch before)."""
        q = select(*cols).where(table.c.id > after).order_by(table.c.id).limit(size)
        rows = store._read(lambda s, q=q: s.connection().execute(q).all())
        if not raw_at:
            return rows
        out_rows = []
        for row in rows:
            cells = list(row)
            for i in raw_at:
                cells[i] = _raw_text(cells[i])
            out_rows.append(cells)
        return out_rows

    def batch_size(done: int) -> int:
        return EXPORT_BATCH if limit is None else min(EXPORT_BATCH, limit - done)

    done = 0
    # One reader thread reads (and inflates) the next batch while this one is written.
    with ThreadPoolExecutor(1, thread_name_prefix="export-reader") as reader:
        size = batch_size(0)
        ahead = reader.submit(fetch, 0, size)
        while True:
            rows = ahead.result()
            done += len(rows)
            more = len(rows) == size and (limit is None or done < limit)
            if more:
                size = batch_size(done)
                ahead = reader.submit(fetch, rows[-1][key], size)
            write_rows(rows)
            if not more:
                break
    if fmt == "json":
        out.write("\n]\n" if done else "[]\n")  # a text file ends with a newline
    return done


def _stamp(value: Any) -> Any:
    """A `timestamp` cell: to the second (the database keeps microseconds)."""
    return None if value is None else value.isoformat(sep=" ", timespec="seconds")


def _raw_text(value: Any) -> str:
    """A compressed JSON cell as its JSON text, unparsed (ASCII: store/codec.py)."""
    return raw_json(value) or "null"


Rows = Callable[[Sequence[Sequence[Any]]], None]

# A batch is written in slices of WRITE_ROWS rows, each converted column by column and made
# by one `writerows` / one `join`, the raw JSON texts (kilobytes each) joined in last at their
# placeholders: no per-row buffer, no per-row replace of an ~8 KB line. Placeholders are
# found by splitting the slice's text; a count that is not one per raw cell (a text holding a
# placeholder: cleaned CSV texts never do, JSON ones might) writes that slice row by row as
# before. Same bytes either way.
WRITE_ROWS = 200  # ~1.7 MB of decisions: a batch's ~17 MB as one string is made ~2x slower
# (fresh memory each time; measured on year-db decisions, csv 33k -> 60k rows/s of CPU)


def _csv_writer(out: TextIO, names: list[str], kinds: list[str]) -> Rows:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    out.write(buf.getvalue())
    raw_at = [i for i, k in enumerate(kinds) if k == "raw"]

    def columns(rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        cell = _csv_cell  # looked up per batch (tests replace it)
        n = len(rows)
        return [[_CSV_SLOT] * n if k == "raw" else list(map(_stamp, col))
                if k == "timestamp" else _csv_column(col, cell)
                for k, col in zip(kinds, zip(*rows, strict=True), strict=True)]

    def one_by_one(rows: Sequence[Sequence[Any]], cells: list[Sequence[Any]]) -> str:
        lines = []
        for values, converted in zip(rows, zip(*cells, strict=True), strict=True):
            buf.seek(0)
            buf.truncate()
            writer.writerow(converted)
            line = buf.getvalue()
            for i in raw_at:
                line = line.replace(_CSV_SLOT, '"' + values[i].replace('"', '""') + '"', 1)
            lines.append(line)
        return "".join(lines)

    def write_some(rows: Sequence[Sequence[Any]]) -> None:
        # A raw JSON text (kilobytes of quotes) is quoted with one str.replace instead of
        # csv's character loop; it goes in through a placeholder that needs no quoting
        # (\x01: cleaned texts never hold it). A slice is one write to `out`.
        cells = columns(rows)
        buf.seek(0)
        buf.truncate()
        writer.writerows(zip(*cells, strict=True))
        text = buf.getvalue()
        if raw_at:
            filled = _fill(text, _CSV_SLOT, [values[i].replace('"', '""') for values in rows
                                             for i in raw_at], quote='"')
            text = one_by_one(rows, cells) if filled is None else filled
        out.write(text)

    return _sliced(write_some)


_CSV_SLOT = "\x01raw\x01"
_PLAIN = frozenset({int, float, bool, type(None)})  # cells `_csv_cell` gives back as they are
_TEXT = frozenset({str, type(None)})


def _csv_column(col: Sequence[Any], cell: Callable[[Any], Any]) -> Sequence[Any]:
    """A column's cells through `cell`: numbers as they are, each distinct text once (a
    year's decisions repeat their symbols, actions, model names and notes)."""
    types = set(map(type, col))
    if types <= _PLAIN:
        return col
    if types <= _TEXT:
        done = {v: cell(v) for v in set(col)}
        return list(map(done.__getitem__, col))
    return list(map(cell, col))


def _json_writer(out: TextIO, names: list[str], kinds: list[str]) -> Rows:
    first = True
    raw_at = [i for i, k in enumerate(kinds) if k == "raw"]
    stamp_at = [i for i, k in enumerate(kinds) if k == "timestamp"]

    def row_text(values: Sequence[Any]) -> str:
        cells = list(values)
        for i in stamp_at:
            cells[i] = _stamp(cells[i])
        for i in raw_at:  # a raw JSON text goes in through a placeholder: none parsed
            cells[i] = _PLACEHOLDER
        return json.dumps(dict(zip(names, cells, strict=True)), default=str)

    def one_by_one(rows: Sequence[Sequence[Any]], texts: list[str]) -> str:
        lines = []
        for values, row in zip(rows, texts, strict=True):
            for i in raw_at:
                row = row.replace(_PLACEHOLDER_JSON, values[i], 1)
            lines.append(row)
        return ",\n".join(lines)

    def write_some(rows: Sequence[Sequence[Any]]) -> None:
        nonlocal first
        texts = list(map(row_text, rows))
        body = ",\n".join(texts)
        if raw_at:
            filled = _fill(body, _PLACEHOLDER_JSON, [values[i] for values in rows
                                                     for i in raw_at])
            body = one_by_one(rows, texts) if filled is None else filled
        out.write(("[\n" if first else ",\n") + body)
        first = False

    return _sliced(write_some)


def _sliced(write_some: Rows) -> Rows:
    """A writer of batches: `write_some` for each slice of WRITE_ROWS rows."""
    def write(rows: Sequence[Sequence[Any]]) -> None:
        for k in range(0, len(rows), WRITE_ROWS):
            write_some(rows[k:k + WRITE_ROWS])

    return write


def _fill(text: str, slot: str, raws: list[str], quote: str = "") -> str | None:
    """`text` with its placeholders `slot`, in order, replaced by `raws` (each between two
    `quote`s); None when `text` holds another number of them (a cell's own text held one)."""
    parts = text.split(slot)
    if len(parts) != len(raws) + 1:
        return None
    pieces = [parts[0]]
    for raw, part in zip(raws, parts[1:], strict=True):
        pieces += (quote, raw, quote, part)
    return "".join(pieces)


_PLACEHOLDER = "\x00raw json\x00"  # a cleaned text never holds NUL: no clash
_PLACEHOLDER_JSON = json.dumps(_PLACEHOLDER)


def _csv_cell(value: Any) -> Any:
    """Numbers stay numbers (−155.64 is a number, not a formula); texts are cleaned and
    guarded against formula injection; dicts and lists are JSON (escaped: inert), and so is
    a raw JSON text (ASCII: store/codec.py), quoted by the writer."""
    if isinstance(value, str):
        if value.isprintable():  # no control, bidi or surrogate character: clean keeps it
            return spreadsheet_safe(value)
        return spreadsheet_safe(clean(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value

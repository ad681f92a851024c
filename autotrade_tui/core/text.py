"""Foreign text made safe to show: no terminal control sequences, no bidi tricks, bounded.

Text from outside (model answers, exchange and HTTP error messages, fundamentals, data
files) may carry ESC sequences (clear screen, window title, OSC 52 clipboard writes, OSC 8
links, cursor moves), `\\r` overwrites, NUL, Unicode bidi overrides and lone surrogates. A
terminal obeys them; Rich strips BEL and CR but passes ESC. So every such character is made
visible and inert here, once, where the text enters, and again where it is shown:

- C0 controls other than newline and tab become their Control Pictures (ESC → ␛, NUL → ␀,
  a lone CR → ␍; CR LF is a newline), DEL → ␡; C1 controls (U+0080–U+009F, e.g. the
  one-byte CSI U+009B) become `\\x9b`;
- bidi embeddings, overrides, isolates and marks (U+202E …) become `\\u202e`, so a line
  reads in the order it is stored ("Trojan Source");
- lone surrogates (undecodable bytes smuggled through JSON `\\ud800`) become U+FFFD;
- a limit cuts the text to at most `limit` characters, the last one "…".

Markup (`[bold]`) is not touched: front ends show foreign text as plain text, never markup.
Pure: no I/O.
"""

from __future__ import annotations

REASONING_LIMIT = 4_000  # a model's reasoning, as stored and shown
ERROR_LIMIT = 300  # one error message (a model's, an exchange's, a server's)
FIELD_LIMIT = 80  # one short value from a server (a label, a name)
RAW_ANSWER_LIMIT = 16 * 1024  # UTF-8 bytes of a model's raw answer kept for audit
ELLIPSIS = "…"

_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_SURROGATES = range(0xD800, 0xE000)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection


def _table() -> dict[int, str]:
    table: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c not in (9, 10)}
    table[0x7F] = "\u2421"  # ␡
    table.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})
    table.update({c: f"\\u{c:04x}" for c in _BIDI})
    table.update({c: "\ufffd" for c in _SURROGATES})
    return table


_TABLE = _table()
_UNPAIRED = {c: "\ufffd" for c in _SURROGATES}


def clean(text: object, limit: int | None = None) -> str:
    """`text` with every control, bidi and surrogate character visible and inert; newlines
    and tabs kept; at most `limit` characters (the last one "…" when it was cut)."""
    if not isinstance(text, str):
        text = str(text)
    cut = limit is not None and len(text) > limit
    if limit is not None:
        text = text[:limit]  # every character shows as one or more: no work on the rest
    out = text.replace("\r\n", "\n").translate(_TABLE)
    return _fit(out, limit, cut)


def one_line(text: object, limit: int | None = ERROR_LIMIT) -> str:
    """`clean`, on one line: runs of whitespace (newlines, tabs, CR …) become one space."""
    if not isinstance(text, str):
        text = str(text)
    cut = limit is not None and len(text) > 4 * limit  # whitespace runs may shrink a lot
    if limit is not None:
        text = text[:4 * limit]
    return _fit(" ".join(text.split()).translate(_TABLE), limit, cut)


def _fit(text: str, limit: int | None, cut: bool) -> str:
    if limit is None or (not cut and len(text) <= limit):
        return text
    return text[:max(limit - 1, 0)] + ELLIPSIS


def storable(text: str) -> str:
    """`text` with lone surrogates replaced (U+FFFD), everything else as it was: raw text
    that can still be written as UTF-8 (to the database, a cache, a file)."""
    return text.translate(_UNPAIRED)


def utf8_head(text: str, limit: int) -> tuple[str, int]:
    """(the longest start of `text` that is at most `limit` bytes of UTF-8, cut between
    characters; the whole text's size in bytes). Raw text, nothing translated: for storing a
    bounded copy (a lone surrogate counts as the 3 bytes it is written as)."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text, len(data)
    end = max(limit, 0)
    while end and data[end] & 0xC0 == 0x80:  # a continuation byte: back to its start
        end -= 1
    return data[:end].decode("utf-8", "surrogatepass"), len(data)


def spreadsheet_safe(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP: a leading `'` before
    =, +, -, @, tab or CR). Only for text: numbers are written as numbers."""
    return "'" + text if text.startswith(_FORMULA_START) else text


__all__ = ["ERROR_LIMIT", "FIELD_LIMIT", "RAW_ANSWER_LIMIT", "REASONING_LIMIT", "clean",
           "one_line", "spreadsheet_safe", "storable", "utf8_head"]

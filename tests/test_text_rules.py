"""The sanitiser's rules (core/text.py), one boundary at a time: which characters the table
makes visible (and which it leaves), text that is not a `str` (an exception), and where
`one_line` cuts before it joins whitespace (issue 24: mutation testing of the new core
modules)."""

from __future__ import annotations

from autotrade_tui.core import text
from autotrade_tui.core.text import clean, one_line


def test_the_table_shows_exactly_the_controls_bidi_marks_and_surrogates() -> None:
    # Built afresh: the module's table is built once at import, so its rules are checked on
    # the builder itself too (and on `clean`, which uses the imported one).
    for table in (text._table(), text._TABLE):
        # C0: Control Pictures, except tab and newline; space and printable ASCII untouched.
        assert table[0x00] == "␀" and table[0x1B] == "␛" and table[0x0D] == "␍"
        assert table[0x08] == "␈" and table[0x0B] == "␋" and table[0x1F] == "␟"
        assert 0x09 not in table and 0x0A not in table
        assert 0x20 not in table and 0x7E not in table
        # DEL; C1 as an escape, the first and the last of them; NBSP is text.
        assert table[0x7F] == "␡"
        assert (table[0x80], table[0x9B], table[0x9F]) == ("\\x80", "\\x9b", "\\x9f")
        assert 0xA0 not in table
        # Bidi embeddings, overrides, isolates and marks; their neighbours are text.
        for c in (0x061C, 0x200E, 0x200F, 0x202A, 0x202E, 0x2066, 0x2069):
            assert table[c] == f"\\u{c:04x}"
        assert 0x200D not in table and 0x202F not in table and 0x206A not in table
        # Lone surrogates, the whole block; the private-use area after it is text.
        assert table[0xD800] == table[0xDBFF] == table[0xDC00] == table[0xDFFF] == "\ufffd"
        assert 0xE000 not in table and 0xD7FF not in table
        assert len(table) == 30 + 1 + 32 + 12 + 2048


def test_clean_shows_the_edges_of_each_range() -> None:
    assert clean("\x00\x1f \x7e\x7f\x80\x9f\xa0") == "␀␟ ~␡\\x80\\x9f\xa0"
    assert clean("a\u200d\u202eb\u202f\u2069\u206a") == "a\u200d\\u202eb\u202f\\u2069\u206a"


def test_an_exception_is_shown_as_its_message_cleaned() -> None:
    error = RuntimeError("refused \x1b[2J\r\nretry")
    assert clean(error) == "refused ␛[2J\nretry"  # type: ignore[arg-type]
    assert clean(error, 10) == "refused ␛…"  # type: ignore[arg-type]
    assert one_line(error) == "refused ␛[2J retry"  # type: ignore[arg-type]
    assert one_line(404, 10) == "404"  # type: ignore[arg-type]


def test_one_line_keeps_a_short_text_whole() -> None:
    assert one_line("ok", 10) == "ok"
    assert one_line("  a \r\n\t b  ", 10) == "a b"
    assert one_line("0123456789", 10) == "0123456789"
    assert one_line("01234567890", 10) == "012345678…"


def test_one_line_reads_four_times_the_limit_and_says_when_it_cut() -> None:
    # Exactly 4 × limit characters: all read, nothing cut, the whitespace run joined.
    assert one_line("a" + " " * 38 + "b", 10) == "a b"
    # One more: only the first 40 are read, so "b" is left out, and the line says so even
    # though what was read fits.
    assert one_line("a" + " " * 39 + "b", 10) == "a…"
    assert one_line("a" + " " * 38 + "bcdefghij", 10) == "a b…"
    assert one_line("a" + " " * 38 + "b" + "c" * 10, 10) == "a b…"


def test_storable_and_the_spreadsheet_guard_touch_only_what_they_must() -> None:
    assert text.storable("a\udfff\ud800b\x1b\u202e") == "a\ufffd\ufffdb\x1b\u202e"
    for cell in ("=A1", "+1", "-1", "@x", "\tx", "\rx"):
        assert text.spreadsheet_safe(cell) == "'" + cell
    for cell in ("", "a=1", "'=1", " =1", "BTC/USDT"):
        assert text.spreadsheet_safe(cell) == cell


def test_utf8_head_cuts_between_characters_within_the_limit() -> None:
    """(the longest start of at most `limit` bytes, the whole size), by character width."""
    assert text.utf8_head("abc", 3) == ("abc", 3)  # exactly the limit: whole
    assert text.utf8_head("abcd", 3) == ("abc", 4)
    assert text.utf8_head("aé", 2) == ("a", 3)  # é is 2 bytes: never half of it
    assert text.utf8_head("€€", 4) == ("€", 6)  # 3 bytes each
    assert text.utf8_head("😀x", 3) == ("", 5)  # 4 bytes: back to the start
    assert text.utf8_head("abc", 0) == ("", 3)
    assert text.utf8_head("abc", -1) == ("", 3)  # a negative limit keeps nothing
    assert text.utf8_head("", -1) == ("", 0)
    lone = "a\ud800b"  # a lone surrogate: kept raw, 3 bytes as written
    assert text.utf8_head(lone, 5) == (lone, 5)
    assert text.utf8_head(lone, 4) == ("a\ud800", 5)
    assert text.utf8_head(lone, 3) == ("a", 5)

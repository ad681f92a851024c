"""A DataTable that never shows a row drawn with its old column widths.

Textual (8.x) measures new or updated cells when idle (`_update_dimensions`,
`_update_column_widths`) but keys its row and line caches on an update counter the new
widths do not change: a row painted between `add_row` and that idle pass (a loaded machine
paints first) stays cut to the header widths (` BTC/US LONG 2.41 82,84 …`) until the next
cell update. Here the caches are dropped whenever the widths are recomputed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.cache import LRUCache
from textual.widgets import DataTable

# Render caches a screenful deep (SPEC §10: RSS flat). Textual keys them on an update counter,
# so after a live update (marks 4 times a second) the old entries are never read again, yet
# each table kept up to 10,000 cells and 1,000 rows and lines of them: the cockpit's memory
# grew for hours before they were full.
CACHED_CELLS = 600
CACHED_LINES = 120


class FreshTable(DataTable[Text]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._row_render_cache = LRUCache(CACHED_LINES)
        self._cell_render_cache = LRUCache(CACHED_CELLS)
        self._row_renderable_cache = LRUCache(CACHED_LINES)
        self._line_cache = LRUCache(CACHED_LINES)

    def _update_dimensions(self, new_rows: Iterable[Any]) -> None:
        super()._update_dimensions(new_rows)
        self._drop_stale_rows()

    def _update_column_widths(self, updated_cells: set[Any]) -> None:
        super()._update_column_widths(updated_cells)
        self._drop_stale_rows()

    def _drop_stale_rows(self) -> None:
        self._clear_caches()
        self.refresh()

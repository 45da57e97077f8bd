"""The normalized form every source produces: rows per table, plus post status findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol


@dataclass
class Rows:
    tables: dict[str, list[dict]] = field(default_factory=dict)
    # (platform, post_id, status, at): 'not_found' (a lookup did not find it: deleted once a
    # later run confirms), 'deleted' (the source says so itself, e.g. an archive's
    # deleted-tweets.js), 'protected', 'suspended', ...
    post_status: list[tuple[str, str, str, str]] = field(default_factory=list)
    items: int = 0          # result items in the page (tweets or users in `data`)
    skipped: list[str] = field(default_factory=list)   # items dropped, with the reason

    def add(self, table: str, row: dict) -> None:
        self.tables.setdefault(table, []).append(row)

    def count(self, table: str) -> int:
        return len(self.tables.get(table, []))


class PageReader(Protocol):
    """What the loader asks of the sources about a raw page (the sources' registry answers).

    The store names no source: it hands each page to ``normalize`` and keeps the cursors in
    the order ``cursor_rank`` gives.
    """

    def normalize(self, record: dict) -> Rows:
        """The page's rows; MalformedPage (quarantined) or KeyError (no such source)."""

    def cursor_rank(self, source: str) -> Callable[[dict], tuple] | None:
        """How the source orders its cursors by what they cover (None: the later load
        wins)."""

    def batch_size(self, record: dict) -> int | None:
        """The page's size if its source normalizes pages in batches and it may join one."""

    def batch_bytes(self, source: str | None) -> tuple[int, int]:
        """(smallest batch worth the batched path, largest batch) in body bytes."""

    def batch_pack(self, record: dict) -> dict:
        """The page as it waits for its batch (its source may hold it smaller, in place)."""

    def normalize_batch(self, records: list[dict]
                        ) -> list[tuple[dict, Rows | None, Exception | None]]:
        """Pages of one source at once: per page (record, rows or None, error or None)."""

    def read_ahead(self, rel: str) -> bool:
        """Whether a raw file (path relative to the archive) may be read ahead of its turn."""

"""The normalized form every source produces: rows per table, plus post status findings."""

from __future__ import annotations

from dataclasses import dataclass, field


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

"""The press source's normalizer: one archived page → rows (pure; see normalize.py).

Feeds, GDELT answers and pages go through normalize.py; article re-fetches and Wayback
answers through revisions.py and cdx.py; a page fetched by URL also gives its version.
"""

from __future__ import annotations

from tracker.core.errors import MalformedPage
from tracker.sources.press import normalize as base
from tracker.sources.press.cdx import cdx_rows
from tracker.sources.press.revisions import article_rows, memento_rows, page_version
from tracker.store.rows import Rows

_VERSIONS = {"article": article_rows, "wayback_memento": memento_rows}


def normalize(record: dict) -> Rows:
    """Turn one archived press page into rows. Raises MalformedPage for an unreadable page."""
    purpose = record.get("purpose")
    if purpose in _VERSIONS:
        rows = Rows()
        if not record.get("fetched_at"):
            raise MalformedPage("page has no fetched_at")
        _VERSIONS[purpose](record, rows)
        return rows
    if purpose == "wayback_cdx":
        rows = Rows()
        if base._ok(record):
            cdx_rows(record, rows)
        return rows
    rows = base.normalize(record)
    if purpose == "page" and base._ok(record):
        page_version(record, rows)
    return rows

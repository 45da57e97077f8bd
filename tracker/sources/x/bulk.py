"""X pages normalized in batches: the one way archived X v2 pages become rows.

Every path that carries X v2 pages goes through ``fast.vectorized`` (DuckDB's JSON reader over
many pages at once): collected raw files and ``tracker rebuild`` here, a run of a raw file's
X pages at a time (up to BULK_BATCH_BYTES of bodies, so a collected file is usually one
batch), and twarc2 imports in ``imports/normalize.py``, a chunk at a time. Each page becomes one
line of a twarc2-like chunk (its ``fetched_at`` spliced in as ``__twarc.retrieved_at``) and gets
back its own ``Rows``, equal to what ``normalize`` gives it (tests/sources/x/test_bulk.py
compares every table over the corpus, and with what an import of the same pages stores).

The per-page normalizer (``normalize.normalize``) is kept only where the batch cannot go:

- pages that are not a batch's: another status than 2xx (no rows), no body or no
  ``fetched_at``, a body that is not a JSON object or cannot be spliced into a line (a lone
  surrogate, a ``__twarc`` key of its own);
- pages the batch declines (invalid or truncated JSON, a value of another type than the API
  sends, an item without an id…): ``normalize`` also quarantines what it cannot read, so the
  loader sees the same results either way;
- a batch DuckDB refuses whole, or a failure no rule foresaw (logged): page by page;
- the polls and api_errors of every page (a handful per page, built by ``normalize`` itself);
- flattened tweets, v1.1 tweets and account archives (imports: turned into v2 pages first).

``TRACKER_LOAD_FAST=0`` normalizes every page on its own (the tests compare both ways).
"""

from __future__ import annotations

import logging
import os

import duckdb
import pyarrow as pa

from tracker.core.errors import MalformedPage
from tracker.store.rows import Rows
from tracker.sources.x import fast
from tracker.sources.x.normalize import Utf8Body, normalize

log = logging.getLogger(__name__)

# body bytes per batch (one DuckDB pass, ~0.03 s of fixed cost): a collected file of 100
# full pages (~19 MB) is one batch, normalized while the file before it commits
BULK_BATCH_BYTES = 32 << 20


def bulk_mode() -> str:
    """``TRACKER_LOAD_FAST``: ``1`` (default) or ``always``: every page the batch takes goes
    in a batch; ``0``: none (every page through ``normalize``)."""
    return os.environ.get("TRACKER_LOAD_FAST", "1")


def bulk_size(record: dict) -> int | None:
    """The body's length if the page may go in a batch (a 2xx X page with its body), else
    None. Cheap: the loader asks it of every page as it reads them."""
    if record.get("source") != "x" or record.get("body_ref") is not None:
        return None
    status, body = record.get("status"), record.get("body")
    if not isinstance(body, (str, Utf8Body)) or not isinstance(record.get("fetched_at"), str):
        return None
    if not isinstance(status, int) or not 200 <= status < 300:
        return None
    return len(body)


def pack(record: dict) -> dict:
    """The page as it waits for its batch: its body as UTF-8 bytes (``Utf8Body``, which
    ``normalize`` reads as the text), in place. A body that is not valid Unicode (a lone
    surrogate) stays as it is."""
    body = record.get("body")
    if isinstance(body, str):
        try:
            record["body"] = Utf8Body(body.encode("utf-8"))
        except UnicodeEncodeError:
            pass
    return record


_JSON_SPACE = b" \t\n\r"


def bulk_line(record: dict) -> bytes | None:
    """The page as one twarc2 line, or None if it must take the per-page path (not a 2xx page
    with a JSON object body, or a body that cannot be spliced safely)."""
    if bulk_size(record) is None:
        return None
    body, at = record["body"], record["fetched_at"]
    if isinstance(body, str):
        try:
            body = body.encode("utf-8")
        except UnicodeEncodeError:      # a lone surrogate: the per-page path replaces it
            return None
    text = body.strip(_JSON_SPACE)
    if not (text.startswith(b"{") and text.endswith(b"}")) or b'"__twarc"' in text \
            or '"' in at or "\\" in at or not at.isascii():
        return None
    inner = text[1:-1].strip(_JSON_SPACE)
    line = b"".join((b"{", inner, b"," if inner else b"",
                     b'"__twarc":{"retrieved_at":"', at.encode("ascii"), b'"}}'))
    if b"\n" in line or b"\r" in line:
        # raw newlines in JSON can only be whitespace between tokens
        line = line.replace(b"\r", b" ").replace(b"\n", b" ")
    return line


def normalize_pages(records: list[dict]) -> list[tuple[dict, Rows | None, Exception | None]]:
    """(record, rows, error) of each page, as ``normalize`` would give them, in order."""
    lines = [bulk_line(r) for r in records]
    ch = _PagesChunk(records)
    try:
        # a page that cannot be a line is a blank line there, left to ``normalize`` below
        fast.vectorized(ch, b"\n".join(line or b"" for line in lines), 1,
                        records[0]["fetched_at"])
    except (duckdb.Error, pa.ArrowException):   # DuckDB refused the batch: page by page
        ch = _PagesChunk(records)
        lines = [None] * len(records)
    except Exception:                           # a shape no rule foresaw: the per-page path
        log.warning("batch of %d pages normalized page by page", len(records), exc_info=True)
        ch = _PagesChunk(records)
        lines = [None] * len(records)
    for ln, line in enumerate(lines, 1):
        if line is None:
            ch.python_line(ln, "", "")
    out = []
    for ln, rec in enumerate(records, 1):
        rows, exc = ch.results.get(ln) or (ch.rows_of(ln), None)
        out.append((rec, rows, exc))
    return out


class _PagesChunk:
    """What ``fast.vectorized`` writes into, one ``Rows`` per line (= page)."""

    per_line = True

    def __init__(self, records: list[dict]):
        self.records = records
        self.record: dict = {}
        self.rows: dict[int, Rows] = {}
        # pages normalized on their own: line -> (rows, error)
        self.results: dict[int, tuple[Rows | None, Exception | None]] = {}

    def rows_of(self, line: int) -> Rows:
        return self.rows.setdefault(line, Rows())

    def _page_id(self, line: int) -> str:
        rec = self.records[line - 1]
        return rec.get("page_id") or f"{rec.get('run_id')}:{rec.get('seq')}"

    def add_tables(self, lo: int, hi: int, parts: dict, items: int) -> None:
        assert lo == hi
        rows = self.rows_of(lo)
        for name, part in parts.items():
            if part.num_rows:
                rows.tables.setdefault(name, []).append(part)
        rows.items += items

    def python_line(self, ln: int, line: str, at: str) -> None:
        try:
            self.results[ln] = (normalize(self.records[ln - 1]), None)
        except (MalformedPage, KeyError) as exc:
            self.results[ln] = (None, exc)

    def add(self, rows: Rows, line: int, file: str | None = None) -> None:
        """Polls, snapshots and errors of a vectorized page (built by ``normalize``)."""
        page_id = self._page_id(line)
        out = self.rows_of(line)
        for table, trows in rows.tables.items():
            for r in trows:
                if "page_id" in r:
                    r["page_id"] = page_id
            out.tables.setdefault(table, []).extend(trows)
        out.post_status.extend(rows.post_status)
        out.skipped.extend(rows.skipped)


class Batches:
    """X's batched normalizer as the loader asks for it (Source.batch)."""

    def size(self, record: dict) -> int | None:
        return bulk_size(record) if bulk_mode() != "0" else None

    def bytes(self) -> tuple[int, int]:
        return 0, BULK_BATCH_BYTES

    def pack(self, record: dict) -> dict:
        return pack(record)

    def normalize(self, records: list[dict]) -> list[tuple[dict, Rows | None,
                                                           Exception | None]]:
        return normalize_pages(records)

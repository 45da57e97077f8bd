"""Normalizing a raw file's pages ahead of storing them, in worker threads.

Normalizers are pure and DuckDB releases the GIL, so while one page (or file) is being stored
the next ones are normalized: a big load keeps both cores busy. Runs of pages of a source with
a batched normalizer (X's vectorized path) go through it in batches. Which normalizer a page
needs, and whether it may be batched, the loader asks its ``PageReader`` (the sources'
registry): no source is named here.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from tracker.core.errors import MalformedPage
from tracker.store.raw import read_raw_file
from tracker.store.refs import ReferencedFileError, RefReader, resolve_body
from tracker.store.rows import PageReader, Rows

# pages normalized ahead of the one being stored (each in its own worker thread)
NORMALIZE_AHEAD = 2
# a collected file up to this size is read and normalized while the previous one commits
READ_AHEAD_MAX_BYTES = 64 << 20

# Called with (page record, its Rows or None if quarantined) as each page is normalized.
_page_listeners: list[Callable[[dict, Rows | None], None]] = []


@contextmanager
def page_listener(callback: Callable[[dict, Rows | None], None]) -> Iterator[None]:
    """Call ``callback(record, rows)`` for every page normalized meanwhile (progress bars)."""
    _page_listeners.append(callback)
    try:
        yield
    finally:
        _page_listeners.remove(callback)


def listeners() -> list[Callable[[dict, Rows | None], None]]:
    return list(_page_listeners)


def normalize_page(reader: PageReader, rec: dict
                   ) -> tuple[dict, Rows | None, Exception | None]:
    """A page's rows, or the reason it cannot be read."""
    try:
        return rec, reader.normalize(rec), None
    except (MalformedPage, KeyError) as exc:
        return rec, None, exc


def _plain_ref(rec: dict) -> bool:
    """Whether the page's body is referenced in files read at any offset (not gzip, which is
    decompressed once, in file order, by the thread reading the raw file)."""
    ref = rec.get("body_ref")
    if ref is None or rec.get("body") is not None:
        return False
    refs = ref if isinstance(ref, list) else [ref]
    return all(isinstance(r, dict) and not r.get("compression") for r in refs)


def _read_and_normalize(reader: PageReader, rec: dict
                        ) -> tuple[dict, Rows | None, Exception | None]:
    """A referenced body read (and its sha256 checked) in the worker, then normalized: the
    thread storing pages does not read them. A file gone or changed fails this future."""
    with RefReader() as own:
        rec = resolve_body(rec, own)
    return normalize_page(reader, rec)


def _failed(exc: Exception) -> Future:
    fut: Future = Future()
    fut.set_exception(exc)
    return fut


def _batch_result(fut: Future, i: int) -> Future:
    """A future of the i-th page of a batch future."""
    out: Future = Future()

    def done(f: Future) -> None:
        exc = f.exception()
        if exc is not None:
            out.set_exception(exc)
        else:
            out.set_result(f.result()[i])

    fut.add_done_callback(done)
    return out


def ahead(reader: PageReader, lines: Iterator, refs: RefReader) -> Iterator[tuple]:
    """(raw line, future of its normalized page) in file order, normalized ahead in worker
    threads. Bodies in gzip files are read here, in file order (decompressed once); bodies
    in plain files by the worker that normalizes them."""
    with ThreadPoolExecutor(max_workers=NORMALIZE_AHEAD,
                            thread_name_prefix="tracker-normalize") as pool:
        units: deque = deque()           # lists of (raw line, future), submitted in order
        batch: list[tuple] = []          # (raw line, record), all of one source
        batch_bytes = 0

        def flush() -> None:
            nonlocal batch, batch_bytes
            if not batch:
                return
            source = batch[0][1].get("source")
            least, _ = reader.batch_bytes(source)
            if batch_bytes >= least:
                fut = pool.submit(reader.normalize_batch, [b[1] for b in batch])
                units.append([(b[0], _batch_result(fut, i)) for i, b in enumerate(batch)])
            else:
                units.append([(b[0], pool.submit(normalize_page, reader, b[1]))
                              for b in batch])
            batch, batch_bytes = [], 0

        for rl in lines:
            fut = None
            if rl.record is not None and rl.record.get("type") == "page" \
                    and _plain_ref(rl.record):
                fut = pool.submit(_read_and_normalize, reader, rl.record)
            elif rl.record is not None and rl.record.get("type") == "page":
                try:
                    rec = resolve_body(rl.record, refs)
                except ReferencedFileError as exc:
                    fut = _failed(exc)
                else:
                    size = reader.batch_size(rec)
                    if size is not None:
                        if batch and batch[0][1].get("source") != rec.get("source"):
                            flush()
                        batch.append((rl, reader.batch_pack(rec)))
                        batch_bytes += size
                        if batch_bytes >= reader.batch_bytes(rec.get("source"))[1]:
                            flush()
                    else:
                        fut = pool.submit(normalize_page, reader, rec)
            if fut is not None or rl.record is None or rl.record.get("type") != "page":
                flush()                  # keep file order: a batch ends at anything else
                units.append([(rl, fut)])
            while len(units) > NORMALIZE_AHEAD:
                yield from units.popleft()
        flush()
        while units:
            yield from units.popleft()


def prefetchable(reader: PageReader, raw_dir: Path, rel: str) -> bool:
    """A collected file of bounded size that its source lets be read ahead (an import's file
    references gigabytes)."""
    try:
        return reader.read_ahead(rel) and \
            (Path(raw_dir) / rel).stat().st_size <= READ_AHEAD_MAX_BYTES
    except OSError:
        return False


def read_ahead(reader: PageReader, raw_dir: Path, rel: str) -> list[tuple]:
    """A raw file read and its pages normalized, without the database: what ``load_file``
    consumes, made while the previous file commits."""
    out = []
    with RefReader() as refs:
        for rl, fut in ahead(reader, read_raw_file(Path(raw_dir) / rel), refs):
            # wait; load_file gets the result or the error. Once normalized, only the rows are
            # needed, not the body
            if fut is not None and fut.exception() is None and not _page_listeners:
                fut.result()[0].pop("body", None)
            out.append((rl, fut))
    return out

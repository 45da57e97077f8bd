"""The one shared loader: raw files → normalized rows → DuckDB, one transaction per raw file.

A file's pages, the cursors they carry, its raw_pages index rows and its run record commit
together, so a cursor never advances past rows that are not stored. Loading a file twice changes
nothing (upserts are idempotent; raw_files remembers what is loaded).

Imports (tracker/sources/imports) add two things: a page may reference its body in an input file
(``body_ref``, resolved and verified by store/refs.py) instead of carrying it, and a page marked
``commit_after`` commits what is staged so far in its own transaction, so a multi-GB import loads
in bounded memory. Its rows may come as a pyarrow Table instead of a list of dicts.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa

from tracker.core.errors import MalformedPage
from tracker.core.timeutil import iso, utcnow
from tracker.store.ahead import ahead as normalized_ahead
from tracker.store.ahead import listeners, prefetchable, read_ahead
from tracker.store.merge import apply_post_status, clear_missing, upsert
from tracker.store.raw import list_raw_files, read_raw_file
from tracker.store.refs import ReferencedFileError, RefReader
from tracker.store.rows import PageReader, Rows
from tracker.store.tables import SPECS
from tracker.store.tx import rollback

# WAL size between checkpoints while a file commits page by page (``commit_after``)
BATCH_CHECKPOINT = "128MB"
# DuckDB's memory for such a file (the rest of a big import's budget goes to normalizing)
BATCH_MEMORY = "384MB"
# DuckDB's memory while loading, unless the config says otherwise (storage.load_memory_limit):
# without a cap DuckDB keeps up to 80% of RAM (bench/load.py: 1M posts, 0.9 GB peak in all with it)
LOAD_MEMORY = "384MB"

@dataclass
class FileLoad:
    path: str
    pages: int = 0
    quarantined: int = 0
    bad_lines: list[str] = field(default_factory=list)
    new_rows: int = 0
    updated_rows: int = 0
    run_id: str | None = None
    error: str | None = None
    # table -> [rows read from the pages, new rows, updated rows]
    by_table: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class LoadResult:
    files: list[FileLoad] = field(default_factory=list)
    replica_error: str | None = None     # the load committed; the replica is older
    lake: object = None                  # the lake's write after the load (store/lake.py)
    backup: Path | None = None           # rebuild: where the previous database is kept
    moved_aside: tuple[Path, str] | None = None   # rebuild: an unreadable one, and why
    derived: object = None               # rebuild: what recomputing the derived tables gave

    @property
    def pages(self) -> int:
        return sum(f.pages for f in self.files)

    @property
    def new_rows(self) -> int:
        return sum(f.new_rows for f in self.files)

    @property
    def updated_rows(self) -> int:
        return sum(f.updated_rows for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def failed(self) -> list[FileLoad]:
        return [f for f in self.files if f.error]

    @property
    def damaged(self) -> list[FileLoad]:
        return [f for f in self.files if f.bad_lines]


def loaded_files(con: duckdb.DuckDBPyConnection, *, with_failed: bool = True) -> set[str]:
    """Files that need no loading: loaded ones, and (unless retrying) ones whose load failed."""
    cond = "loaded_at IS NOT NULL" + (" OR error IS NOT NULL" if with_failed else "")
    return {r[0] for r in con.execute(f"SELECT path FROM raw_files WHERE {cond}").fetchall()}


def damage_note(bad_lines: list[str]) -> str:
    """One line saying which lines of a raw file could not be read."""
    more = f" (and {len(bad_lines) - 3} more)" if len(bad_lines) > 3 else ""
    return (f"raw file damaged: {len(bad_lines)} unreadable line(s), the rest loaded: "
            + "; ".join(bad_lines[:3]) + more)[:2000]


def damaged_files(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Loaded raw files some of whose lines could not be read, with what was wrong."""
    return con.execute("SELECT path, damage FROM raw_files WHERE damage IS NOT NULL "
                       "ORDER BY path").fetchall()


def failed_files(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute("SELECT path, error FROM raw_files WHERE loaded_at IS NULL "
                       "AND error IS NOT NULL ORDER BY path").fetchall()


def pending_files(con: duckdb.DuckDBPyConnection, raw_dir: Path,
                  retry_failed: bool = False) -> list[str]:
    """Raw files not yet loaded, in run order."""
    done = loaded_files(con, with_failed=not retry_failed)
    return [f for f in list_raw_files(raw_dir) if f not in done]


def load_pending(con: duckdb.DuckDBPyConnection, raw_dir: Path, reader: PageReader,
                 progress: Callable[[FileLoad], None] | None = None,
                 retry_failed: bool = False,
                 memory_limit: str | None = LOAD_MEMORY) -> LoadResult:
    """Load every pending raw file in run order, with DuckDB's memory capped at
    ``memory_limit`` meanwhile (None: as it is). ``reader`` (the sources' registry) normalizes
    each page.

    A file that cannot be loaded (a bug or a page no rule foresaw) is rolled back, recorded in
    raw_files with its error and skipped, so one bad file never stops collection; its pages stay
    in raw for `tracker load --retry-failed`. A file that runs out of memory under the cap is
    loaded again without it.
    """
    result = LoadResult()
    files = pending_files(con, raw_dir, retry_failed)
    capped = bool(files and memory_limit)
    if capped:
        try:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        except duckdb.OutOfMemoryException:      # it already holds more: leave it as it is
            capped = False
    checkpoint_was = None
    if len(files) > 1:
        # one commit per file: checkpoint every BATCH_CHECKPOINT of WAL, not after nearly
        # every file (each checkpoint rewrites the growing key indexes)
        checkpoint_was = con.execute("SELECT current_setting('checkpoint_threshold')"
                                     ).fetchone()[0]
        con.execute(f"SET checkpoint_threshold = '{BATCH_CHECKPOINT}'")
    pre = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracker-read-ahead")
    nxt: tuple[str, Future] | None = None
    try:
        for i, rel in enumerate(files):
            lines = None
            if nxt is not None and nxt[0] == rel:
                try:
                    lines = nxt[1].result()
                except Exception:        # read it again below: load_file says what is wrong
                    lines = None
            nxt = None
            # the next file is read and normalized while this one is stored
            if i + 1 < len(files) and prefetchable(reader, raw_dir, files[i + 1]):
                nxt = (files[i + 1], pre.submit(read_ahead, reader, raw_dir, files[i + 1]))
            try:
                try:
                    fl = load_file(con, raw_dir, rel, reader, lines)
                except duckdb.OutOfMemoryException:
                    if not capped:
                        raise
                    con.execute("RESET memory_limit")    # the cap was too small
                    capped = False
                    fl = load_file(con, raw_dir, rel, reader)
            except (duckdb.IOException, duckdb.FatalException, duckdb.OutOfMemoryException,
                    OSError):
                raise     # the machine, not the file (disk full, read-only, out of memory):
                #           nothing recorded, retried next run
            except (duckdb.Error, pa.ArrowException, ValueError, TypeError,
                    ReferencedFileError) as exc:
                if _machine_trouble(exc):
                    raise                 # e.g. a COMMIT that could not write its log
                fl = FileLoad(rel, error=f"{type(exc).__name__}: {exc}"[:2000])
                con.execute("INSERT OR REPLACE INTO raw_files (path, error) VALUES (?, ?)",
                            [rel, fl.error])
            result.files.append(fl)
            if progress:
                progress(fl)
    finally:
        pre.shutdown(wait=True, cancel_futures=True)
        if checkpoint_was is not None:
            con.execute(f"SET checkpoint_threshold = '{checkpoint_was}'")
        if capped:
            # (the setting reads back rounded, "18.8 GiB": set again, it would not be the same)
            con.execute("RESET memory_limit")
    return result


_MACHINE = ("no space left on device", "read-only file system", "could not write file",
            "disk quota exceeded", "out of memory")


def _machine_trouble(exc: Exception) -> bool:
    """A failure of the disk or memory that DuckDB reports as another kind of error."""
    return isinstance(exc, duckdb.Error) and any(m in str(exc).lower() for m in _MACHINE)


def _page_row(rec: dict, rel: str, line: int, items: int | None, error: str | None) -> dict:
    return {
        "page_id": f"{rec.get('run_id')}:{rec.get('seq')}", "run_id": rec.get("run_id"),
        "seq": rec.get("seq"), "source": rec.get("source"), "purpose": rec.get("purpose"),
        "endpoint": rec.get("endpoint"), "params": json.dumps(rec.get("params") or {}),
        "scope": rec.get("scope"), "fetched_at": rec.get("fetched_at"),
        "http_status": rec.get("status"), "file": rel, "line": line, "items": items,
        "error": error,
    }


def _commit_rows(con: duckdb.DuckDBPyConnection, fl: FileLoad, merged: Rows,
                 cursors: dict, pages: list[dict], reader: PageReader) -> int:
    """Merge staged rows, post status, cursors and raw_pages rows (inside a transaction);
    every row written or changed carries the load's number (``load_seq``), returned."""
    stamp = con.execute("SELECT nextval('load_seq')").fetchone()[0]
    for table, spec in SPECS.items():
        trows = merged.tables.get(table, [])
        n, u = upsert(con, spec, trows, stamp)
        fl.new_rows += n
        fl.updated_rows += u
        if trows:
            counts = fl.by_table.setdefault(table, [0, 0, 0])
            counts[0] += sum(t.num_rows if isinstance(t, pa.Table) else 1 for t in trows)
            counts[1] += n
            counts[2] += u
    fl.updated_rows += clear_missing(con, pages, stamp)
    fl.updated_rows += apply_post_status(con, merged.post_status, stamp)
    for (source, scope), (cursor, at, page_id) in _advancing(con, cursors, reader).items():
        fl.updated_rows += con.execute(
            "INSERT INTO sync_state VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, scope) "
            "DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at, "
            "page_id = excluded.page_id, load_seq = excluded.load_seq "
            "WHERE sync_state.cursor::VARCHAR IS DISTINCT FROM excluded.cursor::VARCHAR",
            [source, scope, cursor, at, page_id, stamp]).fetchone()[0]
    if pages:
        con.register("_pages", pa.Table.from_pylist(pages))
        con.execute(f"INSERT INTO raw_pages BY NAME SELECT *, {int(stamp)} AS load_seq "
                    "FROM _pages ON CONFLICT DO NOTHING")
        con.unregister("_pages")
    return stamp


def _advancing(con: duckdb.DuckDBPyConnection, cursors: dict, reader: PageReader) -> dict:
    """The cursors that cover at least what the stored ones do, by the source's own order
    (ids, not the clock): a file loaded late (--retry-failed) never moves a cursor back."""
    ranked = {k: v for k, v in cursors.items() if reader.cursor_rank(k[0]) is not None}
    if not ranked:
        return cursors
    stored = dict(((src, scope), c) for src, scope, c in con.execute(
        "SELECT source, scope, cursor FROM sync_state WHERE source IN "
        "(SELECT unnest(?::VARCHAR[])) AND scope IN (SELECT unnest(?::VARCHAR[]))",
        [sorted({k[0] for k in ranked}), sorted({k[1] for k in ranked})]).fetchall())
    out = {}
    for key, value in cursors.items():
        rank = reader.cursor_rank(key[0])
        old = stored.get(key)
        if rank is not None and old is not None:
            try:
                if rank(json.loads(value[0])) < rank(json.loads(old)):
                    continue
            except (ValueError, TypeError, AttributeError):
                pass                   # an unreadable stored cursor gives way
        out[key] = value
    return out


def page_cursors(rec: dict) -> dict[str, dict]:
    """scope -> cursor a page justifies: its ``cursor_after`` for its ``scope``, and every
    cursor of a page that covers several scopes (``cursors_after``)."""
    out: dict[str, dict] = {}
    if rec.get("cursor_after") is not None and rec.get("scope"):
        out[rec["scope"]] = rec["cursor_after"]
    many = rec.get("cursors_after")
    if isinstance(many, dict):
        out.update({k: v for k, v in many.items() if isinstance(v, dict)})
    return out


def load_file(con: duckdb.DuckDBPyConnection, raw_dir: Path, rel: str, reader: PageReader,
              lines: list[tuple] | None = None) -> FileLoad:
    """Load one raw file in a single transaction (or, for pages marked ``commit_after``, in one
    transaction per such page and one for the rest: reloading after a crash changes nothing).
    ``lines``: the file as ``read_ahead`` gave it, if it was read ahead."""
    fl = FileLoad(rel)
    merged = Rows()
    cursors: dict[tuple[str, str], tuple[str, str, str]] = {}
    pages: list[dict] = []
    start: dict = {}
    end: dict | None = None
    deferred: str | None = None
    first_page: dict | None = None
    checkpoint_was: str | None = None
    memory_was: str | None = None
    with RefReader() as refs:
        for rl, ahead in (lines if lines is not None
                          else normalized_ahead(reader, read_raw_file(Path(raw_dir) / rel),
                                                refs)):
            if rl.record is None:
                fl.bad_lines.append(f"{rel}:{rl.line}: {rl.error}")
                continue
            rec = rl.record
            kind = rec.get("type")
            if kind == "run_start":
                start = rec
            elif kind == "run_end":
                end = rec
            elif kind == "load_deferred":
                deferred = deferred or rec.get("at")
            elif kind == "page":
                fl.pages += 1
                error, items, rows = None, None, None
                try:
                    rec, rows, exc = ahead.result()
                    if exc is not None:
                        raise exc
                    items = rows.items
                    for table, trows in rows.tables.items():
                        dest = merged.tables.setdefault(table, [])
                        if isinstance(trows, pa.Table):
                            dest.append(trows)
                        else:
                            dest.extend(trows)
                    merged.post_status.extend((*st, rec.get("run_id"))
                                              for st in rows.post_status)
                    if rows.skipped:
                        error = "kept the rest; skipped " + "; ".join(rows.skipped[:5])
                except (MalformedPage, KeyError) as exc:
                    error = f"quarantined: {exc}"
                    fl.quarantined += 1
                    rows = None
                else:
                    for scope, cursor in page_cursors(rec).items():
                        cursors[(rec["source"], scope)] = (
                            json.dumps(cursor, sort_keys=True), rec["fetched_at"],
                            f"{rec['run_id']}:{rec['seq']}")
                # a failed attempt (connection refused, cut-off body) says why in raw_pages too
                page_row = _page_row(rec, rel, rl.line, items, error or rec.get("error"))
                first_page = first_page or page_row
                pages.append(page_row)
                for listener in listeners():
                    listener(rec, rows)
                if rec.get("commit_after"):
                    if checkpoint_was is None:
                        # many commits in a row: checkpoint every BATCH_CHECKPOINT of WAL,
                        # not after each of them (each checkpoint rewrites the indexes); and
                        # keep DuckDB's memory bounded whatever the file's size
                        checkpoint_was, memory_was = con.execute(
                            "SELECT current_setting('checkpoint_threshold'), "
                            "current_setting('memory_limit')").fetchone()
                        con.execute(f"SET checkpoint_threshold = '{BATCH_CHECKPOINT}'")
                        con.execute(f"SET memory_limit = '{BATCH_MEMORY}'")
                    con.execute("BEGIN TRANSACTION")
                    try:
                        _commit_rows(con, fl, merged, cursors, pages, reader)
                        con.execute("COMMIT")
                    except Exception:
                        rollback(con)
                        raise
                    merged, cursors, pages = Rows(), {}, []
            else:
                fl.bad_lines.append(f"{rel}:{rl.line}: unknown record type {kind!r}")
    run_id = start.get("run_id") or (first_page["run_id"] if first_page else None)
    fl.run_id = run_id

    con.execute("BEGIN TRANSACTION")
    try:
        stamp = _commit_rows(con, fl, merged, cursors, pages, reader)
        if run_id:
            if end is None:
                status, error = "crashed", "run ended without a run_end record (killed?)"
            else:
                status, error = end.get("status", "ok"), end.get("error")
            if fl.bad_lines:
                error = (f"{error}; " if error else "") + damage_note(fl.bad_lines)
            e = end or {}
            con.execute(
                "INSERT INTO runs (run_id, job, source, started_at, finished_at, status, "
                "stop_reason, error, requests, pages, posts_read, load_deferred_at, new_rows, "
                "updated_rows, deferred, load_seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [run_id, start.get("job") or "unknown", start.get("source"),
                 start.get("started_at") or (first_page["fetched_at"] if first_page
                                             else iso(utcnow())),
                 e.get("finished_at"), status, e.get("stop_reason"), error, e.get("requests"),
                 fl.pages, e.get("posts_read"), deferred, fl.new_rows, fl.updated_rows,
                 json.dumps(e["deferred"]) if isinstance(e.get("deferred"), dict) else None,
                 stamp])
        con.execute("INSERT OR REPLACE INTO raw_files (path, run_id, lines, loaded_at, error, "
                    "damage) VALUES (?, ?, ?, ?, NULL, ?)",
                    [rel, run_id, fl.pages, iso(utcnow()),
                     damage_note(fl.bad_lines) if fl.bad_lines else None])
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    if checkpoint_was is not None:
        con.execute(f"SET checkpoint_threshold = '{checkpoint_was}'")
        con.execute(f"SET memory_limit = '{memory_was}'")
    return fl

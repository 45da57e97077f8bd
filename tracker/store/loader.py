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
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import pyarrow as pa

from tracker.core.errors import MalformedPage
from tracker.sources import cursor_rank, normalizer
from tracker.sources.rows import Rows
from tracker.sources.x.bulk import (BULK_BATCH_BYTES, BULK_MIN_BYTES, bulk_mode, bulk_size,
                              normalize_pages)
from tracker.core.timeutil import iso, utcnow
from tracker.store.raw import list_raw_files, read_raw_file
from tracker.store.refs import ReferencedFileError, RefReader, resolve_body
from tracker.store.schema import SPECS, TableSpec
from tracker.store.tx import rollback

# pages normalized ahead of the one being stored (each in its own worker thread)
NORMALIZE_AHEAD = 2
# WAL size between checkpoints while a file commits page by page (``commit_after``)
BATCH_CHECKPOINT = "128MB"
# DuckDB's memory for such a file (the rest of a big import's budget goes to normalizing)
BATCH_MEMORY = "384MB"
# DuckDB's memory while loading, unless the config says otherwise (storage.load_memory_limit):
# without a cap DuckDB keeps up to 80% of RAM (bench/load.py: 1M posts, 0.9 GB peak in all with it)
LOAD_MEMORY = "384MB"
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
    backup: Path | None = None           # rebuild: where the previous database is kept
    moved_aside: tuple[Path, str] | None = None   # rebuild: an unreadable one, and why

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


def load_pending(con: duckdb.DuckDBPyConnection, raw_dir: Path,
                 progress: Callable[[FileLoad], None] | None = None,
                 retry_failed: bool = False,
                 memory_limit: str | None = LOAD_MEMORY) -> LoadResult:
    """Load every pending raw file in run order, with DuckDB's memory capped at
    ``memory_limit`` meanwhile (None: as it is).

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
            if i + 1 < len(files) and _prefetchable(raw_dir, files[i + 1]):
                nxt = (files[i + 1], pre.submit(read_ahead, raw_dir, files[i + 1]))
            try:
                try:
                    fl = load_file(con, raw_dir, rel, lines)
                except duckdb.OutOfMemoryException:
                    if not capped:
                        raise
                    con.execute("RESET memory_limit")    # the cap was too small
                    capped = False
                    fl = load_file(con, raw_dir, rel)
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
        if capped:
            # (the setting reads back rounded, "18.8 GiB": set again, it would not be the same)
            con.execute("RESET memory_limit")
    return result


_MACHINE = ("no space left on device", "read-only file system", "could not write file",
            "disk quota exceeded", "out of memory")


def _machine_trouble(exc: Exception) -> bool:
    """A failure of the disk or memory that DuckDB reports as another kind of error."""
    return isinstance(exc, duckdb.Error) and any(m in str(exc).lower() for m in _MACHINE)


def _parts(rows: list) -> Iterator[pa.Table]:
    """Runs of row dicts, and runs of pyarrow Tables of one schema, in order, each as one
    Table with ``_ord``."""
    start = 0
    run: list[dict] = []
    arrow: list[pa.Table] = []

    def arrow_part() -> pa.Table:
        table = arrow[0] if len(arrow) == 1 else pa.concat_tables(arrow)
        return table.append_column("_ord", pa.array(range(start, start + table.num_rows),
                                                     pa.int64()))

    for item in rows + [None]:
        if isinstance(item, dict):
            if arrow:
                part = arrow_part()
                yield part
                start += part.num_rows
                arrow = []
            item["_ord"] = start + len(run)
            run.append(item)
            continue
        if run:
            yield pa.Table.from_pylist(run)
            start += len(run)
            run = []
        if isinstance(item, pa.Table) and item.num_rows:
            if arrow and item.schema != arrow[0].schema:
                part = arrow_part()
                yield part
                start += part.num_rows
                arrow = []
            arrow.append(item)
        elif item is None and arrow:
            yield arrow_part()


def _upsert(con: duckdb.DuckDBPyConnection, spec: TableSpec, rows: list) -> tuple[int, int]:
    """Merge rows (dicts and/or pyarrow Tables, in order) into a table by its write rule;
    return (new rows, updated rows)."""
    if not rows:
        return 0, 0
    parts = list(_parts(rows))
    if (len(parts) == 1 and all(isinstance(r, pa.Table) for r in rows)
            and set(spec.columns) <= set(parts[0].column_names)):
        # Arrow tables with every column, typed (the vectorized paths): read in place, not
        # copied
        con.execute("DROP TABLE IF EXISTS _stage")
        con.register("_stage", parts[0])
        try:
            return _merge(con, spec)
        finally:
            con.unregister("_stage")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS "
                f"SELECT *, 0::BIGINT AS _ord FROM {spec.name} LIMIT 0")
    for batch in parts:
        con.register("_batch", batch)
        try:
            con.execute("INSERT INTO _stage BY NAME SELECT * FROM _batch")
        finally:
            con.unregister("_batch")
    return _merge(con, spec)


# Times outside these are a source's nonsense (`created_at: 0000-01-01`), not history: they are
# stored as NULL, like any value no parser accepts, so every reader (CSV, pandas) can read them.
TIME_RANGE = ("1900-01-01 00:00:00+00", "2200-01-01 00:00:00+00")
_time_columns: dict[str, list[str]] = {}


def _drop_impossible_times(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> None:
    cols = _time_columns.get(spec.name)
    if cols is None:
        cols = _time_columns[spec.name] = [c for c, t in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? AND table_schema = 'main' AND is_nullable = 'YES'",
            [spec.name]).fetchall()
            if t.startswith("TIMESTAMP") and c in spec.columns and c not in spec.key]
    if not cols:
        return
    ok = "({c} IS NULL OR ({c} >= '{lo}'::TIMESTAMPTZ AND {c} < '{hi}'::TIMESTAMPTZ))"
    conds = [ok.format(c=c, lo=TIME_RANGE[0], hi=TIME_RANGE[1]) for c in cols]
    sets = [f"{c} = CASE WHEN {cond} THEN {c} END" for c, cond in zip(cols, conds)]
    con.execute(f"UPDATE _agg SET {', '.join(sets)} WHERE NOT ({' AND '.join(conds)})")


def _merge(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> tuple[int, int]:
    """Merge ``_stage`` (rows and their order, ``_ord``) into the table."""
    key = ", ".join(spec.key)
    aggs = []
    for c in spec.columns:
        if c in spec.key:
            aggs.append(c)
        elif spec.append_only:
            aggs.append(f"arg_min({c}, _ord) AS {c}")
        else:
            rule = spec.rules.get(c, "latest")
            fn = {"min": "min", "max": "max", "keep": "min"}.get(rule)
            # latest capture first, then file order; arg_max skips NULLs (never overwrite
            # a value with a missing one)
            aggs.append(f"{fn}({c}) AS {c}" if fn
                        else f"arg_max({c}, ({spec.order_by}, _ord)) AS {c}")
    cols = ", ".join(spec.columns)
    # a key staged once is its own aggregate: only keys staged more than once are grouped
    select = (f"WITH dup AS (SELECT {key} FROM _stage GROUP BY {key} HAVING count(*) > 1) "
              f"SELECT {cols} FROM _stage ANTI JOIN dup USING ({key}) UNION ALL "
              f"SELECT {', '.join(aggs)} FROM _stage SEMI JOIN dup USING ({key}) "
              f"GROUP BY {key}")
    on = " AND ".join(f"s.{k} = t.{k}" for k in spec.key)
    # one look at the table: keys it does not have yet are plain inserts (cheap); only the
    # others go through ON CONFLICT
    staged = con.execute(f"CREATE OR REPLACE TEMP TABLE _agg AS SELECT s.*, EXISTS "
                         f"(SELECT 1 FROM {spec.name} t WHERE {on}) AS _old "
                         f"FROM ({select}) s").fetchone()[0]
    _drop_impossible_times(con, spec)
    new = con.execute(f"INSERT INTO {spec.name} ({cols}) SELECT {cols} FROM _agg "
                      f"WHERE NOT _old").fetchone()[0]
    if spec.append_only or new == staged:
        return new, 0
    sets, changed = [], []
    for c in spec.columns:
        if c in spec.key:
            continue
        rule = spec.rules.get(c, "latest")
        t, x, ob = f"{spec.name}.{c}", f"excluded.{c}", spec.order_by
        expr = {
            "min": f"least({t}, {x})",
            "max": f"greatest({t}, {x})",
            "keep": f"coalesce({t}, {x})",
        # latest capture wins; an older one (e.g. an import) only fills what is missing
        }.get(rule, f"CASE WHEN excluded.{ob} >= {spec.name}.{ob} "
                    f"THEN coalesce({x}, {t}) ELSE coalesce({t}, {x}) END")
        sets.append(f"{c} = {expr}")
        changed.append(f"({expr}) IS DISTINCT FROM {t}")
    updated = con.execute(
        f"INSERT INTO {spec.name} ({cols}) SELECT {cols} FROM _agg WHERE _old "
        f"ON CONFLICT ({key}) DO UPDATE SET "
        f"{', '.join(sets)} WHERE {' OR '.join(changed)}").fetchone()[0]
    return new, updated


def _apply_post_status(con: duckdb.DuckDBPyConnection, found: list[tuple]) -> int:
    """Mark posts deleted/unavailable; set once, never cleared. Returns rows changed.

    ``found``: (platform, post_id, state, at, run_id). A 'not_found' is first recorded as a
    sighting (``missing_since``, ``missing_run``); ``deleted_at`` (= the first sighting) is set
    when a lookup in a later run does not find the post either. A post seen again in the
    meantime is cleared of the sighting (see ``_clear_missing``). 'deleted' (the source's own
    word) sets ``deleted_at`` at once.
    """
    if not found:
        return 0
    con.register("_status", pa.table({
        "platform": [f[0] for f in found], "post_id": [f[1] for f in found],
        "state": [f[2] for f in found], "found_at": [f[3] for f in found],
        "run_id": [f[4] if len(f) > 4 else None for f in found],
        "ord": list(range(len(found)))}))
    try:
        firsts = ("SELECT platform, post_id, arg_min(state, ord) AS state, "
                  "arg_min(found_at, ord)::TIMESTAMPTZ AS found_at, "
                  "arg_min(run_id, ord) AS run_id FROM _status WHERE {} "
                  "GROUP BY platform, post_id")
        match = "posts.platform = s.platform AND posts.post_id = s.post_id"
        changed = con.execute(
            "UPDATE posts SET deleted_at = s.found_at FROM (" + firsts.format("state = 'deleted'")
            + f") s WHERE {match} AND posts.deleted_at IS NULL").fetchone()[0]
        # a second sighting, from another run and later than the first, confirms it
        changed += con.execute(
            "UPDATE posts SET deleted_at = posts.missing_since FROM (SELECT s.platform, "
            "s.post_id FROM _status s JOIN posts p USING (platform, post_id) "
            "WHERE s.state = 'not_found' AND p.deleted_at IS NULL "
            "AND p.missing_since IS NOT NULL AND s.found_at::TIMESTAMPTZ > p.missing_since "
            "AND s.run_id IS DISTINCT FROM p.missing_run GROUP BY ALL) s "
            f"WHERE {match} AND posts.deleted_at IS NULL").fetchone()[0]
        changed += con.execute(
            "UPDATE posts SET missing_since = s.found_at, missing_run = s.run_id FROM ("
            + firsts.format("state = 'not_found'") + f") s WHERE {match} "
            "AND posts.deleted_at IS NULL AND posts.missing_since IS NULL").fetchone()[0]
        changed += con.execute(
            "UPDATE posts SET unavailable_reason = s.state, unavailable_at = s.found_at FROM ("
            + firsts.format("state NOT IN ('deleted', 'not_found')") + f") s WHERE {match} "
            "AND posts.unavailable_reason IS NULL").fetchone()[0]
    finally:
        con.unregister("_status")
    return changed


def _clear_missing(con: duckdb.DuckDBPyConnection, pages: list[dict]) -> int:
    """A post whose 'not found' sighting is followed by an answer that has it again (a lookup
    that failed once) is no longer a deletion candidate."""
    if not pages:
        return 0
    return con.execute(
        "UPDATE posts SET missing_since = NULL, missing_run = NULL "
        "WHERE missing_since IS NOT NULL AND deleted_at IS NULL "
        "AND last_seen_at > missing_since").fetchone()[0]


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
                 cursors: dict, pages: list[dict]) -> None:
    """Merge staged rows, post status, cursors and raw_pages rows (inside a transaction)."""
    for table, spec in SPECS.items():
        trows = merged.tables.get(table, [])
        n, u = _upsert(con, spec, trows)
        fl.new_rows += n
        fl.updated_rows += u
        if trows:
            counts = fl.by_table.setdefault(table, [0, 0, 0])
            counts[0] += sum(t.num_rows if isinstance(t, pa.Table) else 1 for t in trows)
            counts[1] += n
            counts[2] += u
    fl.updated_rows += _clear_missing(con, pages)
    fl.updated_rows += _apply_post_status(con, merged.post_status)
    for (source, scope), (cursor, at, page_id) in _advancing(con, cursors).items():
        fl.updated_rows += con.execute(
            "INSERT INTO sync_state VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, scope) "
            "DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at, "
            "page_id = excluded.page_id WHERE sync_state.cursor::VARCHAR "
            "IS DISTINCT FROM excluded.cursor::VARCHAR",
            [source, scope, cursor, at, page_id]).fetchone()[0]
    if pages:
        con.register("_pages", pa.Table.from_pylist(pages))
        con.execute("INSERT INTO raw_pages BY NAME SELECT * FROM _pages "
                    "ON CONFLICT DO NOTHING")
        con.unregister("_pages")


def _advancing(con: duckdb.DuckDBPyConnection, cursors: dict) -> dict:
    """The cursors that cover at least what the stored ones do, by the source's own order
    (ids, not the clock): a file loaded late (--retry-failed) never moves a cursor back."""
    ranked = {k: v for k, v in cursors.items() if cursor_rank(k[0]) is not None}
    if not ranked:
        return cursors
    stored = dict(((src, scope), c) for src, scope, c in con.execute(
        "SELECT source, scope, cursor FROM sync_state WHERE source IN "
        "(SELECT unnest(?::VARCHAR[])) AND scope IN (SELECT unnest(?::VARCHAR[]))",
        [sorted({k[0] for k in ranked}), sorted({k[1] for k in ranked})]).fetchall())
    out = {}
    for key, value in cursors.items():
        rank = cursor_rank(key[0])
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


def _normalize_page(rec: dict) -> tuple[dict, Rows | None, Exception | None]:
    """A page's rows, or the reason it cannot be read."""
    try:
        return rec, normalizer(rec.get("source", ""))(rec), None
    except (MalformedPage, KeyError) as exc:
        return rec, None, exc


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


def _ahead(lines: Iterator, refs: RefReader) -> Iterator[tuple]:
    """(raw line, future of its normalized page) in file order. Pages are normalized ahead,
    in worker threads, while the previous ones are being stored: normalizers are pure, and
    DuckDB releases the GIL, so a big load keeps both cores busy. Runs of X pages go in
    batches through the vectorized path (sources/x/bulk.py). Bodies are read here, in file
    order (a gzip input is decompressed once)."""
    mode = bulk_mode()
    with ThreadPoolExecutor(max_workers=NORMALIZE_AHEAD,
                            thread_name_prefix="tracker-normalize") as pool:
        units: deque = deque()           # lists of (raw line, future), submitted in order
        batch: list[tuple] = []          # (raw line, record)
        batch_bytes = 0

        def flush() -> None:
            nonlocal batch, batch_bytes
            if not batch:
                return
            if mode == "always" or batch_bytes >= BULK_MIN_BYTES:
                fut = pool.submit(normalize_pages, [b[1] for b in batch])
                units.append([(b[0], _batch_result(fut, i)) for i, b in enumerate(batch)])
            else:
                units.append([(b[0], pool.submit(_normalize_page, b[1])) for b in batch])
            batch, batch_bytes = [], 0

        for rl in lines:
            fut = None
            if rl.record is not None and rl.record.get("type") == "page":
                try:
                    rec = resolve_body(rl.record, refs)
                except ReferencedFileError as exc:
                    fut = _failed(exc)
                else:
                    size = bulk_size(rec) if mode != "0" else None
                    if size is not None:
                        batch.append((rl, rec))
                        batch_bytes += size
                        if batch_bytes >= BULK_BATCH_BYTES:
                            flush()
                    else:
                        fut = pool.submit(_normalize_page, rec)
            if fut is not None or rl.record is None or rl.record.get("type") != "page":
                flush()                  # keep file order: a batch ends at anything else
                units.append([(rl, fut)])
            while len(units) > NORMALIZE_AHEAD:
                yield from units.popleft()
        flush()
        while units:
            yield from units.popleft()


def _prefetchable(raw_dir: Path, rel: str) -> bool:
    """A collected X file of bounded size (an import's file references gigabytes)."""
    try:
        return rel.split("/", 1)[0] == "x" and \
            (Path(raw_dir) / rel).stat().st_size <= READ_AHEAD_MAX_BYTES
    except OSError:
        return False


def read_ahead(raw_dir: Path, rel: str) -> list[tuple]:
    """A raw file read and its pages normalized, without the database: what ``load_file``
    consumes, made while the previous file commits."""
    out = []
    with RefReader() as refs:
        for rl, fut in _ahead(read_raw_file(Path(raw_dir) / rel), refs):
            # wait; load_file gets the result or the error. Once normalized, only the rows are
            # needed, not the body
            if fut is not None and fut.exception() is None and not _page_listeners:
                fut.result()[0].pop("body", None)
            out.append((rl, fut))
    return out


def load_file(con: duckdb.DuckDBPyConnection, raw_dir: Path, rel: str,
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
                          else _ahead(read_raw_file(Path(raw_dir) / rel), refs)):
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
                page_row = _page_row(rec, rel, rl.line, items, error)
                first_page = first_page or page_row
                pages.append(page_row)
                for listener in list(_page_listeners):
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
                        _commit_rows(con, fl, merged, cursors, pages)
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
        _commit_rows(con, fl, merged, cursors, pages)
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
                "updated_rows, deferred) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [run_id, start.get("job") or "unknown", start.get("source"),
                 start.get("started_at") or (first_page["fetched_at"] if first_page
                                             else iso(utcnow())),
                 e.get("finished_at"), status, e.get("stop_reason"), error, e.get("requests"),
                 fl.pages, e.get("posts_read"), deferred, fl.new_rows, fl.updated_rows,
                 json.dumps(e["deferred"]) if isinstance(e.get("deferred"), dict) else None])
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

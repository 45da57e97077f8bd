"""The one shared loader: raw files → normalized rows → DuckDB, one transaction per raw file.

A file's pages, the cursors they carry, its raw_pages index rows and its run record commit
together, so a cursor never advances past rows that are not stored. Loading a file twice changes
nothing (upserts are idempotent; raw_files remembers what is loaded).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa

from ..errors import MalformedPage
from ..sources import normalizer
from ..sources.rows import Rows
from ..timeutil import iso, utcnow
from .raw import list_raw_files, read_raw_file
from .schema import SPECS, TableSpec


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


@dataclass
class LoadResult:
    files: list[FileLoad] = field(default_factory=list)

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


def loaded_files(con: duckdb.DuckDBPyConnection, *, with_failed: bool = True) -> set[str]:
    """Files that need no loading: loaded ones, and (unless retrying) ones whose load failed."""
    cond = "loaded_at IS NOT NULL" + (" OR error IS NOT NULL" if with_failed else "")
    return {r[0] for r in con.execute(f"SELECT path FROM raw_files WHERE {cond}").fetchall()}


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
                 retry_failed: bool = False) -> LoadResult:
    """Load every pending raw file in run order.

    A file that cannot be loaded (a bug or a page no rule foresaw) is rolled back, recorded in
    raw_files with its error and skipped, so one bad file never stops collection; its pages stay
    in raw for `tracker load --retry-failed`.
    """
    result = LoadResult()
    for rel in pending_files(con, raw_dir, retry_failed):
        try:
            fl = load_file(con, raw_dir, rel)
        except (duckdb.Error, pa.ArrowException, ValueError, TypeError) as exc:
            fl = FileLoad(rel, error=f"{type(exc).__name__}: {exc}"[:2000])
            con.execute("INSERT OR REPLACE INTO raw_files VALUES (?, NULL, NULL, NULL, ?)",
                        [rel, fl.error])
        result.files.append(fl)
        if progress:
            progress(fl)
    return result


def _upsert(con: duckdb.DuckDBPyConnection, spec: TableSpec, rows: list[dict]) -> tuple[int, int]:
    """Merge rows into a table by its write rule; return (new rows, updated rows)."""
    if not rows:
        return 0, 0
    for i, r in enumerate(rows):
        r["_ord"] = i
    batch = pa.Table.from_pylist(rows)
    con.register("_batch", batch)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS "
                    f"SELECT *, 0::BIGINT AS _ord FROM {spec.name} LIMIT 0")
        con.execute("INSERT INTO _stage BY NAME SELECT * FROM _batch")
    finally:
        con.unregister("_batch")
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
            aggs.append(f"{fn}({c}) AS {c}" if fn else f"arg_max({c}, _ord) AS {c}")
    select = f"SELECT {', '.join(aggs)} FROM _stage GROUP BY {key}"
    on = " AND ".join(f"s.{k} = t.{k}" for k in spec.key)
    new = con.execute(
        f"SELECT count(*) FROM ({select}) s WHERE NOT EXISTS "
        f"(SELECT 1 FROM {spec.name} t WHERE {on})").fetchone()[0]
    cols = ", ".join(spec.columns)
    if spec.append_only:
        con.execute(f"INSERT INTO {spec.name} ({cols}) {select} ON CONFLICT DO NOTHING")
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
        }.get(rule, f"CASE WHEN excluded.{ob} >= {spec.name}.{ob} "
                    f"THEN coalesce({x}, {t}) ELSE {t} END")
        sets.append(f"{c} = {expr}")
        changed.append(f"({expr}) IS DISTINCT FROM {t}")
    affected = con.execute(
        f"INSERT INTO {spec.name} ({cols}) {select} ON CONFLICT ({key}) DO UPDATE SET "
        f"{', '.join(sets)} WHERE {' OR '.join(changed)}").fetchone()[0]
    return new, affected - new


def _apply_post_status(con: duckdb.DuckDBPyConnection, found: list[tuple]) -> int:
    """Mark posts deleted/unavailable; set once, never cleared. Returns rows changed."""
    changed = 0
    for platform, post_id, state, at in found:
        if state == "deleted":
            sql = ("UPDATE posts SET deleted_at = ?::TIMESTAMPTZ WHERE platform = ? "
                   "AND post_id = ? AND deleted_at IS NULL")
            params = [at, platform, post_id]
        else:
            sql = ("UPDATE posts SET unavailable_reason = ?, unavailable_at = ?::TIMESTAMPTZ "
                   "WHERE platform = ? AND post_id = ? AND unavailable_reason IS NULL")
            params = [state, at, platform, post_id]
        changed += con.execute(sql, params).fetchone()[0]
    return changed


def _page_row(rec: dict, rel: str, line: int, items: int | None, error: str | None) -> dict:
    return {
        "page_id": f"{rec.get('run_id')}:{rec.get('seq')}", "run_id": rec.get("run_id"),
        "seq": rec.get("seq"), "source": rec.get("source"), "purpose": rec.get("purpose"),
        "endpoint": rec.get("endpoint"), "params": json.dumps(rec.get("params") or {}),
        "scope": rec.get("scope"), "fetched_at": rec.get("fetched_at"),
        "http_status": rec.get("status"), "file": rel, "line": line, "items": items,
        "error": error,
    }


def load_file(con: duckdb.DuckDBPyConnection, raw_dir: Path, rel: str) -> FileLoad:
    """Load one raw file in a single transaction."""
    fl = FileLoad(rel)
    merged = Rows()
    cursors: dict[tuple[str, str], tuple[str, str, str]] = {}
    pages: list[dict] = []
    start: dict = {}
    end: dict | None = None
    deferred: str | None = None
    for rl in read_raw_file(Path(raw_dir) / rel):
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
            error, items = None, None
            try:
                rows = normalizer(rec.get("source", ""))(rec)
                items = rows.items
                for table, trows in rows.tables.items():
                    merged.tables.setdefault(table, []).extend(trows)
                merged.post_status.extend(rows.post_status)
                if rows.skipped:
                    error = "kept the rest; skipped " + "; ".join(rows.skipped[:5])
            except (MalformedPage, KeyError) as exc:
                error = f"quarantined: {exc}"
                fl.quarantined += 1
            else:
                if rec.get("cursor_after") is not None and rec.get("scope"):
                    cursors[(rec["source"], rec["scope"])] = (
                        json.dumps(rec["cursor_after"], sort_keys=True), rec["fetched_at"],
                        f"{rec['run_id']}:{rec['seq']}")
            pages.append(_page_row(rec, rel, rl.line, items, error))
        else:
            fl.bad_lines.append(f"{rel}:{rl.line}: unknown record type {kind!r}")
    run_id = start.get("run_id") or (pages[0]["run_id"] if pages else None)
    fl.run_id = run_id

    con.execute("BEGIN TRANSACTION")
    try:
        for table, spec in SPECS.items():
            n, u = _upsert(con, spec, merged.tables.get(table, []))
            fl.new_rows += n
            fl.updated_rows += u
        fl.updated_rows += _apply_post_status(con, merged.post_status)
        for (source, scope), (cursor, at, page_id) in cursors.items():
            fl.updated_rows += con.execute(
                "INSERT INTO sync_state VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, scope) "
                "DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at, "
                "page_id = excluded.page_id WHERE sync_state.cursor::VARCHAR "
                "IS DISTINCT FROM excluded.cursor::VARCHAR "
                # a file loaded late (--retry-failed) must not move a cursor back
                "AND excluded.updated_at >= sync_state.updated_at",
                [source, scope, cursor, at, page_id]).fetchone()[0]
        if pages:
            con.register("_pages", pa.Table.from_pylist(pages))
            con.execute("INSERT INTO raw_pages BY NAME SELECT * FROM _pages "
                        "ON CONFLICT DO NOTHING")
            con.unregister("_pages")
        if run_id:
            if end is None:
                status, error = "crashed", "run ended without a run_end record (killed?)"
            else:
                status, error = end.get("status", "ok"), end.get("error")
            e = end or {}
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [run_id, start.get("job") or "unknown", start.get("source"),
                 start.get("started_at") or (pages[0]["fetched_at"] if pages else iso(utcnow())),
                 e.get("finished_at"), status, e.get("stop_reason"), error, e.get("requests"),
                 fl.pages, e.get("posts_read"), deferred, fl.new_rows, fl.updated_rows])
        con.execute("INSERT OR REPLACE INTO raw_files VALUES (?, ?, ?, ?, NULL)",
                    [rel, run_id, fl.pages, iso(utcnow())])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return fl

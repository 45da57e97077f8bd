"""The lake: the database as Parquet files that grow with each load (``storage.lake_dir``).

``tracker export --parquet`` writes every row every time; the lake writes, after each load,
only the rows that load added or changed, in the export's Hive layout, so a copy on shared
storage (what DuckDB over object storage, MotherDuck or Spark read) stays current at the cost of
what is new::

    LAKE/posts/platform=x/month=2022-10/000000000042-load.parquet    rows of loads ..42
    LAKE/posts/platform=x/month=2022-10/000000000040-base-….parquet  a full write or compaction
    LAKE/accounts/000000000042-load.parquet                           (small tables: no partitions)
    LAKE/_lake.json                                                   what the lake holds

**How a load's rows are found.** Every table a load writes carries ``load_seq``, the number of
the load (one raw file's transaction, the DuckDB sequence ``load_seq``) that last inserted or
changed the row: posts, articles and article_versions since migration 13, the others since
migration 15. The merge stamps the rows it inserts and the rows whose values it changes, and
the loader's own writes (deletions and their sightings, cursors, raw_pages, runs) stamp theirs.
So the lake needs no copy of what each load staged: ``WHERE load_seq > <what the lake holds>``
is exactly what changed since, for one load or for many (a lake that missed loads catches up
with one write), and it stays right whichever path wrote the rows. Staging each load's rows
instead would have lost every load made while the lake could not be written, and would have
missed the changes made outside the merge (a deletion, a cleared sighting).

**What readers see.** A row changed by several loads is in several files; each copy carries its
``load_seq``, and the newest copy is the database's row (``view_sql``: one view per table that
keeps, per key, the highest ``load_seq``; ``read_table``: the same with pyarrow alone). A
compaction (``compact``) rewrites each partition of several files (or of older copies) into one
file holding only those newest rows. Every file is written under ``.staging-…`` inside the lake and renamed into place
when complete; no file is ever rewritten in place. Columns the database keeps as JSON are text
in the lake (as in the export); ``month`` (and articles' ``platform``) are the partition
columns, written in the files too.

**Order and failures.** The lake is written after the load has committed: a lake that cannot
be written never undoes or blocks a load. ``_lake.json`` says which load the lake holds, and is
replaced (atomically) only after the files it covers are in place, so a write that fails part
way is written again, from the same point, by the next load; the failure is kept in the
database's ``lake_state`` and logged. The same rows written twice carry the same ``load_seq``
and the same values, so a repeated write changes nothing a reader sees. When the lake belongs to
another database (``tracker rebuild`` made a new one: its load numbers start again) or to
another schema version (a migration may have rewritten rows), holds loads the database lacks
(an older copy of it put back), or has no readable ``_lake.json``, the next write is a full
one: every table is written anew and swapped in.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import duckdb

from tracker import __version__
from tracker.core.errors import TrackerError
from tracker.core.timeutil import iso, parse_iso, utcnow
from tracker.store.export import PARTITIONED
from tracker.store.tables import REBUILT_TABLES
from tracker.store.tx import rollback

log = logging.getLogger(__name__)

MANIFEST = "_lake.json"
LOCK = "_lake.lock"
FORMAT = 1
# the tables loads write (the ones a rebuild gives back from the raw archive); the derived
# ones (story_items, stories…) are `tracker export`'s
TABLES = REBUILT_TABLES
STAMP = "load_seq"
# how long files a compaction replaced stay, for readers that listed them before it
GRACE_SECONDS = 600
# how long a load's lake write waits for another writer of the lake (a compaction)
SYNC_WAIT_SECONDS = 10


class LakeError(TrackerError):
    """The lake cannot be written or read."""


@dataclass
class LakeWrite:
    """What one write of the lake did."""

    lake_dir: Path
    mode: str = "unchanged"              # full | incremental | unchanged
    since: int = 0                       # the load the lake held before
    load_seq: int = 0                    # the load it holds now
    tables: dict[str, int] = field(default_factory=dict)    # table -> rows written
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass
class Compaction:
    lake_dir: Path
    tables: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # files in, out, rows
    superseded: int = 0                  # files replaced (deleted now or after the grace)
    deleted: int = 0                     # files deleted (this time's, or earlier ones' after it)
    seconds: float = 0.0


# ---- the manifest and the lock -------------------------------------------------------------


def read_manifest(lake: Path) -> dict | None:
    """The lake's ``_lake.json``, or None if it has none (not a lake yet)."""
    try:
        text = (Path(lake) / MANIFEST).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        m = json.loads(text)
    except ValueError as exc:
        raise LakeError(f"{Path(lake) / MANIFEST}: unreadable ({exc})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise LakeError(f"{Path(lake) / MANIFEST}: not a lake of format {FORMAT}")
    return m


def _write_manifest(lake: Path, m: dict) -> None:
    tmp = lake / f".{MANIFEST}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(m, indent=2, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, lake / MANIFEST)
    _fsync_dir(lake)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(lake: Path, wait: float) -> Iterator[None]:
    """One writer of the lake at a time (a load's write, a compaction, a full write)."""
    lake.mkdir(parents=True, exist_ok=True)
    fh = open(lake / LOCK, "a+")
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise LakeError(f"{lake}: another process is writing the lake (a "
                                    "compaction?); the next load writes what it lacks") from None
                time.sleep(0.1)
        yield
    finally:
        fh.close()


# ---- the database's side -------------------------------------------------------------------


def identity(con: duckdb.DuckDBPyConnection) -> tuple[str, int]:
    """(database id, schema version): the id is when the database's first migration ran, which
    a rebuild (a new database, numbering its loads from 1 again) changes and a copy keeps."""
    first, version = con.execute(
        "SELECT arg_min(applied_at, version), max(version) FROM schema_migrations").fetchone()
    return iso(first), int(version)


def last_load(con: duckdb.DuckDBPyConnection) -> int:
    """The number of the last load (0: none yet)."""
    row = con.execute("SELECT last_value FROM duckdb_sequences() "
                      "WHERE sequence_name = 'load_seq'").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def describe(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """table -> its key, its columns (the database's, in order) and its partition columns."""
    keys = {t: list(k) for t, k in con.execute(
        "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
        "WHERE constraint_type = 'PRIMARY KEY' AND schema_name = 'main'").fetchall()}
    cols: dict[str, list[str]] = {}
    for t, c in con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' "
            "AND table_name IN (SELECT unnest(?::VARCHAR[])) ORDER BY table_name, column_index",
            [list(TABLES)]).fetchall():
        cols.setdefault(t, []).append(c)
    out = {}
    for name in TABLES:
        if STAMP not in cols.get(name, ()):
            raise LakeError(f"table {name} has no {STAMP} column (migration 15 not applied?)")
        part = PARTITIONED.get(name)
        out[name] = {"key": keys[name], "columns": cols[name],
                     "partitioned_by": [part[0].split(" AS ")[-1], "month"] if part else []}
    return out


def _selects(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """table -> the SELECT list of its columns as the lake stores them (JSON as text, as the
    export: not every Parquet reader knows the JSON annotation)."""
    out: dict[str, list[str]] = {}
    for t, c, typ in con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND table_name IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY table_name, column_index", [list(TABLES)]).fetchall():
        q = '"' + c.replace('"', '""') + '"'
        out.setdefault(t, []).append(f"{q}::VARCHAR AS {q}" if typ.upper() == "JSON" else q)
    return {t: ", ".join(v) for t, v in out.items()}


def _query(select: str, name: str, where: str) -> str:
    """The SELECT of a table's rows as the lake stores them (partition columns added)."""
    if name not in PARTITIONED:
        return f"SELECT {select} FROM {name} WHERE {where}"
    part, clock = PARTITIONED[name]
    extra = f", {part}" if " AS " in part else ""
    return (f"SELECT {select}{extra}, coalesce(strftime({clock}, '%Y-%m'), 'unknown') AS month "
            f"FROM {name} WHERE {where}")


def _copy(con: duckdb.DuckDBPyConnection, sql: str, target: Path,
          partition_by: list[str]) -> int:
    """COPY the query's rows to Parquet under ``target`` (a folder of Hive partitions, or one
    file); the number of rows."""
    if partition_by:
        opts = (f"FORMAT parquet, PARTITION_BY ({', '.join(partition_by)}), "
                "WRITE_PARTITION_COLUMNS true, FILENAME_PATTERN 'part_{i}'")
    else:
        opts = "FORMAT parquet"
    return int(con.execute(f"COPY ({sql}) TO '{_sql_path(target)}' ({opts})").fetchone()[0])


def _sql_path(path: Path | str) -> str:
    return str(path).replace("'", "''")


def _place(staged: Path, table_dir: Path, name: str) -> list[Path]:
    """Move every Parquet file under ``staged`` to the same partition under ``table_dir``,
    named ``name`` (``name-1``… when a partition has several): each durable before its rename."""
    placed = []
    by_dir: dict[Path, list[Path]] = {}
    for f in sorted(staged.rglob("*.parquet")):
        by_dir.setdefault(f.parent.relative_to(staged), []).append(f)
    for rel, files in sorted(by_dir.items()):
        dest_dir = table_dir / rel
        dest_dir.mkdir(parents=True, exist_ok=True)
        for i, f in enumerate(files):
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
            dest = dest_dir / (f"{name}.parquet" if i == 0 else f"{name}-{i}.parquet")
            os.replace(f, dest)
            placed.append(dest)
        _fsync_dir(dest_dir)
    return placed


def _empty(con: duckdb.DuckDBPyConnection, select: str, name: str, table_dir: Path,
           file: str, partition_by: list[str]) -> Path:
    """A file of no rows, so that a reader's glob of an empty table still finds its columns
    (in a ``none`` partition, as the export does)."""
    folder = table_dir.joinpath(*(f"{p}=none" for p in partition_by))
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{file}.parquet"
    _copy(con, _query(select, name, "false"), dest, [])
    return dest


def _data_files(table_dir: Path) -> list[Path]:
    if not table_dir.is_dir():
        return []
    return sorted(f for f in table_dir.rglob("*.parquet")
                  if not any(p.startswith((".", "_")) for p in f.relative_to(table_dir).parts))


def _stamp(n: int) -> str:
    return f"{n:012d}"


def _purge(lake: Path, m: dict, now=None) -> int:
    """Delete the superseded files whose grace has passed; how many."""
    now = now or utcnow()
    keep, gone = [], 0
    for entry in m.get("superseded") or []:
        if parse_iso(entry["delete_after"]) <= now:
            try:
                (lake / entry["file"]).unlink()
            except FileNotFoundError:
                pass
            gone += 1
        else:
            keep.append(entry)
    m["superseded"] = keep
    return gone


# ---- writing -------------------------------------------------------------------------------


def write(con: duckdb.DuckDBPyConnection, lake_dir: Path, *, full: bool = False,
          wait: float = SYNC_WAIT_SECONDS) -> LakeWrite:
    """Bring the lake up to the database's last load: the rows changed since the load it holds
    (or every row: ``full``, a lake of another database or schema, or a new lake). Raises on
    failure (the lake is then as before, or holds files the next write writes again)."""
    lake = Path(lake_dir)
    t0 = time.perf_counter()
    _check_folder(lake)
    with _locked(lake, wait):
        try:
            m = read_manifest(lake)
        except LakeError as exc:       # e.g. a torn copy: what the lake holds is unknown
            log.warning("%s; the lake is written whole", exc)
            m = None
        db_id, version = identity(con)
        con.execute("BEGIN TRANSACTION")       # one snapshot for every table
        try:
            upto = last_load(con)
            tables = describe(con)
            if (full or m is None or m.get("database_id") != db_id
                    or m.get("schema_version") != version or m.get("tables") != tables
                    # an older copy of the database put back: the lake holds loads it lacks
                    or int(m.get("load_seq") or 0) > upto):
                res = _write_full(con, lake, tables, upto)
                m = {"superseded": []}
            else:
                res = _write_since(con, lake, tables, int(m["load_seq"]), upto)
                _purge(lake, m)
        except BaseException:
            rollback(con)
            raise
        con.execute("COMMIT")
        m.update({"format": FORMAT, "tool": f"tracker/{__version__}", "database_id": db_id,
                  "schema_version": version, "load_seq": upto, "written_at": iso(utcnow()),
                  "tables": tables,
                  "read_with": "tracker lake view (CREATE VIEW statements for DuckDB); "
                               "docs/lake.md"})
        _write_manifest(lake, m)
    res.seconds = time.perf_counter() - t0
    return res


def _check_folder(lake: Path) -> None:
    if lake.exists() and not lake.is_dir():
        raise LakeError(f"{lake}: a file, not a folder (storage.lake_dir names a folder)")
    if lake.is_dir() and not (lake / MANIFEST).exists():
        others = [p.name for p in lake.iterdir() if p.name not in (LOCK,)
                  and not p.name.startswith(".") and p.name not in TABLES]
        if others:
            raise LakeError(f"{lake}: not a lake (no {MANIFEST}) and not empty "
                            f"({', '.join(sorted(others)[:3])}…); choose an empty folder")


def _staging(lake: Path) -> Path:
    """A new folder for files being written (the caller holds the lock: any other one is
    what a killed writer left, and goes)."""
    for old in lake.glob(".staging-*"):
        shutil.rmtree(old, ignore_errors=True)
    stage = lake / f".staging-{os.getpid()}-{secrets.token_hex(3)}"
    stage.mkdir()
    return stage


def _write_since(con, lake: Path, tables: dict, since: int, upto: int) -> LakeWrite:
    res = LakeWrite(lake, since=since, load_seq=upto)
    if upto <= since:
        return res
    res.mode = "incremental"
    selects = _selects(con)
    stage = _staging(lake)
    try:
        for name, info in tables.items():
            target = stage / name
            sql = _query(selects[name], name, f"{STAMP} > {since} AND {STAMP} <= {upto}")
            if info["partitioned_by"]:
                n = _copy(con, sql, target, info["partitioned_by"])
            else:
                target.mkdir()
                n = _copy(con, sql, target / "part_0.parquet", [])
            if not n:
                continue
            placed = _place(target, lake / name, f"{_stamp(upto)}-load")
            res.tables[name] = n
            res.files += len(placed)
            res.bytes += sum(p.stat().st_size for p in placed)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return res


def _write_full(con, lake: Path, tables: dict, upto: int) -> LakeWrite:
    """Every row of every table, written beside the lake and swapped in table by table."""
    res = LakeWrite(lake, mode="full", load_seq=upto)
    stage = _staging(lake)
    name_of = f"{_stamp(upto)}-base-{secrets.token_hex(3)}"
    selects = _selects(con)
    try:
        for name, info in tables.items():
            target = stage / "out" / name
            ready = stage / "tables" / name
            ready.mkdir(parents=True)
            sql = _query(selects[name], name, "true")
            if info["partitioned_by"]:
                n = _copy(con, sql, target, info["partitioned_by"])
            else:
                target.mkdir(parents=True)
                n = _copy(con, sql, target / "part_0.parquet", [])
            placed = (_place(target, ready, name_of) if n else [_empty(
                con, selects[name], name, ready, name_of, info["partitioned_by"])])
            res.tables[name] = n
            res.files += len(placed)
            res.bytes += sum(p.stat().st_size for p in placed)
        old = stage / "old"
        old.mkdir()
        for name in tables:
            if (lake / name).exists():
                os.replace(lake / name, old / name)
            os.replace(stage / "tables" / name, lake / name)
        _fsync_dir(lake)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return res


def sync_after_load(con: duckdb.DuckDBPyConnection, cfg, *, full: bool = False
                    ) -> LakeWrite | None:
    """The lake's write after a load (None when ``storage.lake_dir`` is not set). Never
    raises: a failure is logged and kept in ``lake_state``, and the next load writes what the
    lake lacks."""
    setting = getattr(cfg.storage, "lake_dir", None)
    if not setting:
        return None
    lake = cfg.path(setting)
    try:
        lake = lake_path(cfg)
        res = write(con, lake, full=full)
    except Exception as exc:         # the load is committed; the lake catches up next time
        res = LakeWrite(lake, mode="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        log.error("lake %s not written (the load is in the database; the next load writes "
                  "what the lake lacks): %s", lake, res.error)
    record(con, str(setting), res)
    return res


def lake_path(cfg) -> Path:
    """``storage.lake_dir`` resolved, refused where the tracker keeps its data."""
    from tracker.core.outputs import _inside, _real, protected

    lake = cfg.path(cfg.storage.lake_dir)
    real = _real(lake)
    for kept, what in protected(cfg):
        if _inside(kept, real) or _inside(real, kept):
            raise LakeError(f"storage.lake_dir {lake}: it holds or is inside {what} ({kept}); "
                            "give the lake a folder of its own")
    return lake


def record(con: duckdb.DuckDBPyConnection, lake_dir: str, res: LakeWrite) -> None:
    """Keep what the write did (or why it failed) in ``lake_state``; never raises."""
    try:
        if res.error is None:
            con.execute(
                "INSERT INTO lake_state (lake_dir, load_seq, written_at, mode, files, "
                "rows_written, bytes, error, failed_at, failures) "
                "VALUES (?, ?, now(), ?, ?, ?, ?, NULL, NULL, 0) ON CONFLICT (lake_dir) DO "
                "UPDATE SET load_seq = excluded.load_seq, written_at = excluded.written_at, "
                "mode = excluded.mode, files = excluded.files, "
                "rows_written = excluded.rows_written, bytes = excluded.bytes, error = NULL, "
                "failed_at = NULL, failures = 0",
                [lake_dir, res.load_seq, res.mode, res.files, res.rows, res.bytes])
        else:
            con.execute(
                "INSERT INTO lake_state (lake_dir, error, failed_at, failures) "
                "VALUES (?, ?, now(), 1) ON CONFLICT (lake_dir) DO UPDATE SET "
                "error = excluded.error, failed_at = excluded.failed_at, "
                "failures = lake_state.failures + 1", [lake_dir, res.error])
    except duckdb.Error as exc:
        log.error("lake state not recorded: %s", str(exc).splitlines()[0])


# ---- compaction ----------------------------------------------------------------------------


def compact(lake_dir: Path, *, grace: float = GRACE_SECONDS, wait: float = 600,
            memory_limit: str | None = "1GB") -> Compaction:
    """Rewrite the partitions that hold more than one file, or an older copy of a row, into one
    file each holding only the newest copy of each row (by key, the highest ``load_seq``).

    The newest copies are found from the key columns alone (a cheap columnar read of the whole
    table); only the partitions that need it are rewritten, so a compaction after a day of
    loads rewrites the recent months, not the table. A row whose partition changed (a post's
    time filled in later) keeps its newest copy where it was written; the older copy's
    partition is rewritten without it.

    Safe beside readers: the new files are renamed into place first; the files they replace
    stay ``grace`` seconds more (listed in ``_lake.json``), so a reader that listed them
    before still opens them, and meanwhile the duplicates they hold are the same rows under
    the same ``load_seq`` (a reader keeping the newest copy sees no difference). They are
    deleted by the first write of the lake after that (``grace=0``: at once)."""
    lake = Path(lake_dir)
    t0 = time.perf_counter()
    if read_manifest(lake) is None:
        raise LakeError(f"{lake}: not a lake (no {MANIFEST})")
    out = Compaction(lake)
    with _locked(lake, wait):
        m = read_manifest(lake)
        out.deleted += _purge(lake, m)
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            if memory_limit:
                con.execute(f"SET memory_limit = '{memory_limit}'")
            stage = _staging(lake)
            con.execute(f"SET temp_directory = '{_sql_path(stage / 'spill')}'")
            superseded: list[Path] = []
            # files an earlier compaction replaced: what they hold is in its output
            pending = {lake / e["file"] for e in m.get("superseded") or []}
            name_of = f"{_stamp(int(m['load_seq']))}-base-{secrets.token_hex(3)}"
            try:
                for name, info in m["tables"].items():
                    live = [f for f in _data_files(lake / name) if f not in pending]
                    if len({f.name for f in live}) <= 1 and len(
                            {f.parent for f in live}) == len(live):
                        continue         # one write's files: one copy of each row
                    n, placed, replaced = _compact_table(con, stage / name, lake / name,
                                                         info, live, name_of)
                    if replaced:
                        out.tables[name] = (len(replaced), len(placed), n)
                        superseded.extend(replaced)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
        finally:
            con.close()
        after = utcnow() + timedelta(seconds=grace)
        entries = {e["file"]: e for e in m.get("superseded") or []}
        for f in superseded:
            rel = f.relative_to(lake).as_posix()
            entries.setdefault(rel, {"file": rel, "delete_after": iso(after)})
        out.superseded = len(superseded)
        m["superseded"] = sorted(entries.values(), key=lambda e: e["file"])
        if grace <= 0:
            out.deleted += _purge(lake, m, now=after)
        _write_manifest(lake, m)
    out.seconds = time.perf_counter() - t0
    return out


def _compact_table(con, stage: Path, table_dir: Path, info: dict, files: list[Path],
                   name_of: str) -> tuple[int, list[Path], list[Path]]:
    """Compact one table's files: (rows written, files placed, files they replace)."""
    key = ", ".join(f'"{k}"' for k in info["key"])
    paths = [str(f) for f in files]
    con.execute("CREATE OR REPLACE TEMP TABLE _files AS SELECT unnest(?::VARCHAR[]) AS filename, "
                "generate_subscripts(?::VARCHAR[], 1) AS f", [paths, paths])

    def src(subset: list[str]) -> str:
        return ("read_parquet([" + ", ".join(f"'{_sql_path(p)}'" for p in subset)
                + "], union_by_name = true, hive_partitioning = false, filename = true)")

    # the newest copy of each key, and the file holding it (ties: the same row; the later file)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _win AS SELECT {key}, f FROM {src(paths)} "
                f"JOIN _files USING (filename) QUALIFY row_number() OVER (PARTITION BY {key} "
                f"ORDER BY {STAMP} DESC NULLS LAST, f DESC) = 1")
    wins = dict(con.execute("SELECT f, count(*) FROM _win GROUP BY f").fetchall())
    copies = dict(con.execute(
        f"SELECT f, count(*) FROM (SELECT f FROM {src(paths)} JOIN _files USING (filename)) "
        "GROUP BY f").fetchall())
    by_dir: dict[Path, list[int]] = {}
    for i, f in enumerate(files, start=1):
        by_dir.setdefault(f.parent, []).append(i)
    written, placed, replaced = 0, [], []
    if not wins:
        return written, placed, replaced     # an empty table: its empty file stays
    for folder, idx in sorted(by_dir.items()):
        stale = any(copies.get(i, 0) != wins.get(i, 0) for i in idx)
        empty = not any(copies.get(i) for i in idx)   # the empty file of a new lake
        if len(idx) == 1 and not stale and not empty:
            continue
        rel = folder.relative_to(table_dir)
        out = stage / rel / "part_0.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        n = _copy(con, f"SELECT * EXCLUDE (filename, f) FROM {src([paths[i - 1] for i in idx])} "
                       f"JOIN _files USING (filename) SEMI JOIN _win USING ({key}, f)", out, [])
        if n:
            placed += _place(stage / rel, folder, name_of)
            written += n
        replaced += [files[i - 1] for i in idx]
    return written, placed, replaced


def _newest(key: list[str]) -> str:
    cols = ", ".join(f'"{k}"' for k in key)
    return f"row_number() OVER (PARTITION BY {cols} ORDER BY {STAMP} DESC NULLS LAST) = 1"


# ---- reading -------------------------------------------------------------------------------


def view_sql(lake_dir: Path, at: str | None = None, tables: list[str] | None = None) -> str:
    """CREATE VIEW statements, one per table of the lake, each giving the database's rows: the
    newest copy of each row, the database's columns in its order. ``at``: where readers find
    the lake, when not at ``lake_dir`` (e.g. ``s3://bucket/lake`` for a copy on object
    storage)."""
    lake = Path(lake_dir)
    m = read_manifest(lake)
    if m is None:
        raise LakeError(f"{lake}: not a lake (no {MANIFEST}); set storage.lake_dir and load, "
                        "or run `tracker lake rebuild`")
    base = (at or str(lake.resolve())).rstrip("/")
    out = [f"-- the lake at {base}: load {m['load_seq']}, written {m['written_at']} "
           "(docs/lake.md)"]
    for name, info in m["tables"].items():
        if tables and name not in tables:
            continue
        cols = ", ".join(f'"{c}"' for c in info["columns"])
        glob = _sql_path(f"{base}/{name}/**/*.parquet")
        out.append(f"CREATE OR REPLACE VIEW {name} AS\nSELECT {cols}\n"
                   f"FROM read_parquet('{glob}', union_by_name = true, "
                   f"hive_partitioning = false)\nQUALIFY {_newest(info['key'])};")
    return "\n\n".join(out) + "\n"


def read_table(lake_dir: Path, name: str, columns: list[str] | None = None):
    """One table of the lake as a pyarrow Table, with pyarrow alone (no DuckDB): the newest
    copy of each row (highest ``load_seq`` per key), the database's columns."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    lake = Path(lake_dir)
    m = read_manifest(lake)
    if m is None or name not in m["tables"]:
        raise LakeError(f"{lake}: no table {name} in the lake")
    info = m["tables"][name]
    key = info["key"]
    cols = columns or info["columns"]
    # the partition columns are in the files too: no need to read them from the paths
    dataset = ds.dataset(lake / name, format="parquet")
    t = dataset.to_table(columns=sorted(set(cols) | set(key) | {STAMP}))
    if t.num_rows == 0:
        return t.select(cols)
    # per key, the copy with the highest load_seq: sort, then keep each key's first row
    t = t.append_column("__order", pc.fill_null(t[STAMP], -1)).sort_by(
        [(k, "ascending") for k in key] + [("__order", "descending")])
    first = None
    for k in key:
        col = t[k].combine_chunks()
        differs = pc.not_equal(col.slice(1), col.slice(0, len(col) - 1))
        first = differs if first is None else pc.or_(first, differs)
    return t.filter(pa.concat_arrays([pa.array([True]), first])).select(cols)


def status(lake_dir: Path) -> dict:
    """What the lake holds: its manifest, and files and bytes per table."""
    lake = Path(lake_dir)
    m = read_manifest(lake)
    if m is None:
        return {"lake_dir": str(lake), "manifest": None, "tables": {}}
    tables = {}
    for name in m["tables"]:
        files = _data_files(lake / name)
        tables[name] = {"files": len(files), "bytes": sum(f.stat().st_size for f in files),
                        "partitions": len({f.parent for f in files})}
    return {"lake_dir": str(lake), "manifest": m, "tables": tables}

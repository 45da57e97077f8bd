"""`tracker export --parquet DIR`: every table as Parquet, the big ones Hive-partitioned.

    DIR/posts/platform=x/month=2022-10/data_0.parquet
    DIR/poll_snapshots/platform=x/month=2022-10/data_0.parquet
    DIR/accounts.parquet
    DIR/views/timeline.parquet
    DIR/_manifest.json

Tables that grow with time are partitioned by platform (or source) and month (UTC) of their
own clock, so DuckDB (``read_parquet('DIR/posts/**/*.parquet', hive_partitioning = true)``),
Spark, Polars, pyarrow or any Parquet reader can read one month without the rest, locally or
from object storage. JSON columns are written as text, times as UTC timestamps. The export
reads the read-only replica (the live database with ``live=True``), is written beside DIR and
moved into place only when complete, so a reader never sees half an export.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tracker import __version__
from tracker.core.config import BaseConfig as Config
from tracker.core.errors import TrackerError
from tracker.core.outputs import MANIFEST, check_output_dir
from tracker.store.db import open_db
from tracker.core.timeutil import iso, utcnow

# table -> (partition column (an existing column, or a literal), time column for the month)
PARTITIONED = {
    "posts": ("platform", "coalesce(created_at, first_seen_at)"),
    "post_versions": ("platform", "coalesce(created_at, first_seen_at)"),
    "poll_snapshots": ("platform", "captured_at"),
    "raw_pages": ("source", "fetched_at"),
    "api_errors": ("source", "fetched_at"),
    "articles": ("'press' AS platform", "coalesce(published_at, first_seen_at)"),
    "article_sources": ("source_kind", "coalesce(published_at, first_seen_at)"),
    "runs": ("source", "started_at"),
}


@dataclass
class ExportResult:
    path: Path
    tables: dict[str, int] = field(default_factory=dict)       # table -> rows
    partitions: dict[str, list[str]] = field(default_factory=dict)
    views: dict[str, int] = field(default_factory=dict)
    skipped_views: dict[str, str] = field(default_factory=dict)


def _columns(con, name: str) -> list[tuple[str, str]]:
    return con.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_name = ? ORDER BY ordinal_position", [name]).fetchall()


def _select(con, name: str) -> str:
    """Every column; JSON as text (not every Parquet reader knows the JSON annotation)."""
    cols = []
    for col, typ in _columns(con, name):
        q = '"' + col.replace('"', '""') + '"'
        cols.append(f"{q}::VARCHAR AS {q}" if typ.upper() == "JSON" else q)
    return ", ".join(cols)


def export_parquet(cfg: Config, out: Path, *, live: bool = False,
                   overwrite: bool = False) -> ExportResult:
    """Write every table (and view) of the database to ``out`` as Parquet; see the module."""
    out = Path(out)
    # a folder written whole and swapped in: never one holding the data, and --overwrite
    # replaces only a previous export
    check_output_dir(cfg, out, replace=True, option="--parquet")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise TrackerError(f"{out} exists and is not empty (pass --overwrite to replace it)")
    source = cfg.database if live else cfg.replica
    if not source.exists():
        raise TrackerError(f"{source}: no database to export yet (run a collection or "
                           "`tracker load` first)")
    tmp = out.with_name(f".{out.name}.exporting-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
    except OSError as exc:
        raise TrackerError(f"cannot write {tmp}: {exc.strerror or exc}") from None
    result = ExportResult(out)
    con = open_db(source, read_only=True)
    try:
        kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables "
                                 "WHERE table_schema = 'main'").fetchall())
        for name in sorted(kinds):
            if kinds[name] != "BASE TABLE":
                continue
            select = _select(con, name)
            if name in PARTITIONED:
                part, clock = PARTITIONED[name]
                part_col = part.split(" AS ")[-1]
                extra = f", {part}" if " AS " in part else ""
                if con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]:
                    con.sql(f"SELECT {select}{extra}, coalesce(strftime({clock}, '%Y-%m'), "
                            f"'unknown') AS month FROM {name}").write_parquet(
                        str(tmp / name), partition_by=[part_col, "month"])
                else:   # no rows: one empty file, so that a reader's glob still matches
                    empty = tmp / name / f"{part_col}=none" / "month=none"
                    empty.mkdir(parents=True)
                    con.sql(f"SELECT {select}{extra} FROM {name}").write_parquet(
                        str(empty / "data_0.parquet"))
                result.partitions[name] = [part_col, "month"]
            else:
                con.sql(f"SELECT {select} FROM {name}").write_parquet(str(tmp / f"{name}.parquet"))
            result.tables[name] = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
        views = [n for n, k in sorted(kinds.items()) if k == "VIEW"]
        if views:
            (tmp / "views").mkdir()
        for name in views:
            try:
                con.sql(f"SELECT {_select(con, name)} FROM {name}").write_parquet(
                    str(tmp / "views" / f"{name}.parquet"))
                result.views[name] = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            except Exception as exc:   # a view over a part not installed here: leave it out
                result.skipped_views[name] = str(exc).splitlines()[0]
        (tmp / MANIFEST).write_text(json.dumps({
            "exported_at": iso(utcnow()), "tool": f"tracker/{__version__}",
            "source": str(source), "tables": result.tables, "views": result.views,
            "partitioned_by": result.partitions,
            "read_with": "duckdb: SELECT * FROM read_parquet('DIR/posts/**/*.parquet', "
                         "hive_partitioning = true)"}, indent=2) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        con.close()
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
    return result

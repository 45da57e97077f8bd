"""Shared helpers of the import tests: a config without an API, imports, table snapshots."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from tracker.config import Config, parse_config
from tests.helpers import content_sql, import_files
from tracker.store.tables import REBUILT_TABLES

DATA_TABLES = ("accounts", "account_handles", "posts", "post_versions", "polls",
               "poll_snapshots", "api_errors")
RUN_ID = re.compile(r"^\d{8}T\d{6}\d*Z-[0-9a-f]{4}")


def config(base: Path):
    return parse_config({"storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
                         "accounts": []}, base_dir=base)


def run_import(cfg: Config, fmt: str, *paths, **kw):
    result = import_files(cfg, fmt, [str(p) for p in paths], **kw)
    assert result.status == "ok", result.error
    assert result.load_state == "loaded"
    return result


def query(cfg: Config, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(cfg.replica), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def tables(cfg: Config, names=REBUILT_TABLES, strip_page_ids: bool = False) -> dict:
    """Every row of the tables, sorted; page ids optionally reduced to their sequence number
    (they carry the run id, which differs between two databases)."""
    con = duckdb.connect(str(cfg.replica), read_only=True)
    try:
        out = {}
        for t in names:
            cur = con.execute(content_sql(con, t))
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
            if strip_page_ids and "page_id" in cols:
                i = cols.index("page_id")
                rows = [r[:i] + (RUN_ID.sub("<run>", r[i]),) + r[i + 1:] for r in rows]
            out[t] = sorted(rows, key=repr)
        return out
    finally:
        con.close()

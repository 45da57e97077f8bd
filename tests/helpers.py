"""Small helpers shared by tests."""

from __future__ import annotations

import duckdb

from tracker.config import Config
from tracker.runs import runner
from tracker.store.tables import REBUILT_TABLES


def rows(cfg: Config, sql: str, params=None) -> list[tuple]:
    """Query the read-only replica (what analysts read)."""
    con = duckdb.connect(str(cfg.replica), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def content_sql(con, table: str) -> str:
    """SELECT every column of ``table`` but the load stamp (load_seq numbers the loads of one
    database: two databases loaded in different steps hold the same rows under other
    numbers)."""
    stamped = con.execute("SELECT count(*) FROM duckdb_columns() WHERE table_name = ? "
                          "AND column_name = 'load_seq'", [table]).fetchone()[0]
    return f"SELECT * {'EXCLUDE (load_seq) ' if stamped else ''}FROM {table}"


def snapshot(path, tables=REBUILT_TABLES, exclude=()) -> dict[str, list[tuple]]:
    """Every row of the given tables (but load stamps), sorted, for exact comparisons."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for t in tables:
            if t in exclude:
                continue
            out[t] = sorted(con.execute(content_sql(con, t)).fetchall(), key=repr)
        return out
    finally:
        con.close()


# The commands' runs, by job name (as `tracker collect press`, `press add`, `import` run them)

def collect_press(cfg, **kw):
    return runner.run(cfg, "collect_press", **kw)


def add_pages(cfg, targets, url=None, **kw):
    return runner.run(cfg, "press_add", targets=list(targets), url=url, **kw)


def import_files(cfg, fmt, paths, **kw):
    return runner.run(cfg, "import", fmt=fmt, paths=[str(p) for p in paths], **kw)

"""Small helpers shared by tests."""

from __future__ import annotations

import duckdb

from tracker.config import Config
from tracker.store.schema import REBUILT_TABLES


def rows(cfg: Config, sql: str, params=None) -> list[tuple]:
    """Query the read-only replica (what analysts read)."""
    con = duckdb.connect(str(cfg.replica), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def snapshot(path, tables=REBUILT_TABLES, exclude=()) -> dict[str, list[tuple]]:
    """Every row of the given tables, sorted, for exact comparisons."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for t in tables:
            if t in exclude:
                continue
            out[t] = sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
        return out
    finally:
        con.close()

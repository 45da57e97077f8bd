"""`tracker sql`: run a query on the read-only replica (or the live file) and export results."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

from tracker.core.config import BaseConfig as Config
from tracker.core.errors import DatabaseDamaged, QueryError, TrackerError
from tracker.store.db import open_db

FORMATS = ("table", "csv", "json", "parquet")


def split_statements(sql: str) -> list[str]:
    """The statements of ``sql`` (``SELECT 1; SELECT 2``), each as its own text."""
    try:
        found = [s.query.strip().rstrip(";").strip() for s in duckdb.extract_statements(sql)]
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {str(exc).splitlines()[0]}") from None
    found = [s for s in found if s]
    if not found:
        raise QueryError("no SQL statement given")
    return found


def run_queries(cfg: Config, sql: str, *, live: bool = False) -> list[tuple[str, pd.DataFrame]]:
    """Every statement of ``sql``, read-only, in order: (statement, its result)."""
    statements = split_statements(sql)
    _refuse_writes(sql)
    return [(st, run_query(cfg, st, live=live)) for st in statements]


def run_query(cfg: Config, sql: str, *, live: bool = False,
              params: list | None = None) -> pd.DataFrame:
    """Run SQL read-only. The replica is the default so analysts never block collection."""
    path = cfg.database if live else cfg.replica
    if not path.exists():
        hint = "run `tracker init` or a collection" if live else "run `tracker load` first"
        raise TrackerError(f"{path}: no {'database' if live else 'read-only copy'} yet; {hint}")
    _refuse_writes(sql)
    try:
        con = analyst_connection(path)
    except DatabaseDamaged as exc:
        if live:
            raise
        raise TrackerError(f"the read-only replica {path} cannot be read ({exc}); the next "
                           "collection or `tracker load` writes a new one") from None
    try:
        return con.execute(sql, params or []).df()
    except duckdb.Error as exc:
        msg = str(exc).splitlines()[0]
        if "read-only" in msg.lower():
            raise QueryError(f"refused: `tracker sql` is read-only ({msg})") from None
        if isinstance(exc, duckdb.PermissionException):
            raise QueryError(f"refused: `tracker sql` reads only the database ({msg}); read "
                             "other files with DuckDB itself") from None
        raise QueryError(f"query failed: {msg}") from None
    finally:
        con.close()


def analyst_connection(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection that cannot reach anything but the database it opened: no files
    (COPY, ATTACH, read_csv, PRAGMA import_database), no extensions, settings locked."""
    con = open_db(path, read_only=True)
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


# What `tracker sql` runs. A read-only connection alone is not enough: it can still ATTACH
# another file (the live database included) READ_WRITE and write there, or COPY to files;
# the statement check is the first gate, ``analyst_connection`` the one that holds.
READ_ONLY_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA", "CALL", "MULTI"}


def _refuse_writes(sql: str) -> None:
    try:
        kinds = [str(s.type).rsplit(".", 1)[-1] for s in duckdb.extract_statements(sql)]
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {str(exc).splitlines()[0]}") from None
    bad = [k for k in kinds if k not in READ_ONLY_STATEMENTS]
    if bad:
        raise QueryError(f"refused: `tracker sql` runs read-only queries (SELECT, EXPLAIN, "
                         f"PRAGMA, CALL); this one has {', '.join(bad)}")


def export(df: pd.DataFrame, fmt: str, out: Path | None) -> str | None:
    """Write df as csv/json/parquet to out (or return text for stdout)."""
    if fmt == "parquet":
        if out is None:
            raise QueryError("--format parquet needs -o FILE")
        df.to_parquet(out, index=False)
        return None
    if fmt == "csv":
        text = _iso_times(df).to_csv(index=False)
    elif fmt == "json":
        text = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n"
                       for r in _plain_records(_iso_times(df)))
    else:
        raise QueryError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if out:
        Path(out).write_text(text, encoding="utf-8")
        return None
    return text


def _iso_times(df: pd.DataFrame) -> pd.DataFrame:
    """Time columns as ISO 8601 text with the offset's colon (``2022-10-11T12:10:00.000000+00:00``),
    which every CSV and JSON reader parses as a time zone."""
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_datetime64_any_dtype(col):
            text = col.dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
            if getattr(col.dt, "tz", None) is not None:
                text = text + col.dt.strftime("%z").str.replace(r"(\d\d)$", r":\1", regex=True)
            out[c] = text.where(col.notna(), None)
        elif pd.api.types.is_timedelta64_dtype(col):
            out[c] = col.map(lambda v: None if pd.isna(v) else v.isoformat())
    return out


def _plain_records(df: pd.DataFrame) -> list[dict]:
    """Rows as plain Python values (NaN and NaT as None), for json.dumps."""
    plain = df.astype(object).where(df.notna(), None)
    return [dict(zip(plain.columns, (v.item() if hasattr(v, "item") else v for v in row)))
            for row in plain.itertuples(index=False)]

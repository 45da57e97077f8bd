"""DuckDB storage versions: which format a file is in, and copying a database into another.

The tracker writes every file it makes whole (a new database, a rebuild, the replica) in
``storage.duckdb_storage_version`` (STORAGE_VERSIONS in tracker/core/config.py says which
readers open each), so that DuckDB 1.x readers, the CLI among them, open what a DuckDB 2.x
tracker writes. A file keeps the format it was made in: a database made earlier in a newer
format goes on working, its replica is converted at each refresh, and `tracker rebuild`
writes it anew in the configured one.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from tracker.core.config import DEFAULT_STORAGE_VERSION

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)\+?")


def parse(version: str) -> tuple[int, int, int]:
    """'v1.0.0', 'v1.0.0+' or '1.4.2' -> (1, 0, 0); 'latest' is the installed DuckDB's."""
    if version == "latest":
        m = _VERSION.match(duckdb.__version__)
    else:
        m = _VERSION.fullmatch(version or "")
    if not m:
        raise ValueError(f"{version!r} is not a DuckDB version such as v1.0.0")
    return int(m[1]), int(m[2]), int(m[3])


def newer(version: str, than: str) -> bool:
    """Whether storage ``version`` is newer than ``than`` (readers of ``than`` may refuse it)."""
    if than == "latest":
        return False
    return parse(version)[:2] > parse(than)[:2]


def storage_version(con: duckdb.DuckDBPyConnection, database: str | None = None) -> str | None:
    """The storage version of an open database ('v1.0.0': the oldest DuckDB format it is
    written in), the connection's current one unless named; None if DuckDB does not say."""
    try:
        row = con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = "
            "coalesce(?, current_database())", [database]).fetchone()
    except duckdb.Error:
        return None
    # 'v1.0.0+' (DuckDB 1.3 on), 'v1.0.0 - v1.1.3' (1.2): the oldest format it is in
    m = _VERSION.search(row[0]) if row and row[0] else None
    return f"v{m[1]}.{m[2]}.{m[3]}" if m else None


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def file_storage_version(path: Path) -> str | None:
    """The storage version of a closed database file (opened read-only for a moment)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_literal(path)} AS probed (READ_ONLY)")
        return storage_version(con, "probed")
    finally:
        con.close()


def copy_database(source: Path, target: Path,
                  version: str = DEFAULT_STORAGE_VERSION) -> None:
    """Write every table, view, key and comment of ``source`` into a new file ``target`` in
    storage ``version``. Raises duckdb.Error (the caller removes a partial target)."""
    if version != "latest":
        parse(version)              # a version, never SQL
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH {_literal(source)} AS copy_from (READ_ONLY)")
        con.execute(f"ATTACH {_literal(target)} AS copy_to (STORAGE_VERSION '{version}')")
        con.execute("COPY FROM DATABASE copy_from TO copy_to")
        con.execute("DETACH copy_to")
    finally:
        con.close()

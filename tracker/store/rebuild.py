"""Recreate the database from the raw archive alone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import duckdb

from tracker.core.config import DEFAULT_STORAGE_VERSION
from tracker.core.errors import DatabaseDamaged, DatabaseTooNew
from tracker.store.db import aside as _aside, check_readable, open_db, refresh_replica
from tracker.store.loader import LOAD_MEMORY, LoadResult, load_pending
from tracker.store.refs import ReferencedFileError
from tracker.store.rows import PageReader


def rebuild(database: Path, raw_dir: Path, reader: PageReader, replica: Path | None = None,
            progress=None, memory_limit: str | None = LOAD_MEMORY,
            derive: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
            storage_version: str = DEFAULT_STORAGE_VERSION) -> LoadResult:
    """Load every raw file into a fresh database, recompute the derived tables (``derive``,
    e.g. the stories' analysis; its return value is ``result.derived``), then swap it in.
    The new database (and the replica) is written in DuckDB's ``storage_version``: a rebuild
    is how a database made in another storage version takes the configured one.

    The previous database is kept beside it: ``<name>.bak-<time>`` (earlier backups are never
    overwritten), or ``<name>.corrupt-<time>`` if it cannot be opened (``result.moved_aside``).
    If loading fails, the previous database stays in place untouched. Lines of the archive
    that cannot be read are skipped and listed (``result.damaged``).
    """
    database = Path(database)
    fresh = database.with_name(database.name + ".rebuild")
    for p in (fresh, fresh.with_name(fresh.name + ".wal")):
        if p.exists():
            p.unlink()
    con = open_db(fresh, storage_version=storage_version)
    try:
        result = load_pending(con, raw_dir, reader, progress=progress,
                              memory_limit=memory_limit)
        if derive is not None:
            result.derived = derive(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    # An import's pages reference their input file: without it the rebuild would lose them.
    missing = [f.error.split(": ", 1)[1] for f in result.failed
               if f.error.startswith(ReferencedFileError.__name__)]
    if missing:
        raise ReferencedFileError(f"rebuild stopped ({database} is left as it was): "
                                  + "; ".join(missing))
    if database.exists():
        try:
            # Probe that nobody holds it before swapping (raises DatabaseBusy), and that
            # every block of it can be read
            check_readable(database)
        except DatabaseDamaged as exc:
            result.moved_aside = (_aside(database, "corrupt"), str(exc).split(" (", 1)[-1]
                                  .split(");", 1)[0])
        except DatabaseTooNew:
            result.backup = _aside(database, "bak")     # a newer DuckDB still reads it
        else:
            result.backup = _aside(database, "bak")
    os.replace(fresh, database)
    if replica:
        try:
            refresh_replica(database, replica, storage_version)
        except Exception as exc:           # the rebuild itself is done
            result.replica_error = str(exc)
    return result

"""Recreate the database from the raw archive alone."""

from __future__ import annotations

import os
from pathlib import Path

from ..store.db import open_db, refresh_replica
from ..store.loader import LOAD_MEMORY, LoadResult, load_pending
from ..store.refs import ReferencedFileError


def rebuild(database: Path, raw_dir: Path, replica: Path | None = None,
            progress=None, memory_limit: str | None = LOAD_MEMORY) -> LoadResult:
    """Load every raw file into a fresh database, then swap it in.

    The previous database is kept beside it as ``<name>.bak`` (the last one only). If loading
    fails, the previous database stays in place untouched.
    """
    database = Path(database)
    fresh = database.with_name(database.name + ".rebuild")
    for p in (fresh, fresh.with_name(fresh.name + ".wal")):
        if p.exists():
            p.unlink()
    con = open_db(fresh)
    try:
        result = load_pending(con, raw_dir, progress=progress, memory_limit=memory_limit)
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
        # Probe that nobody holds it before swapping (raises DatabaseBusy).
        open_db(database).close()
        os.replace(database, database.with_name(database.name + ".bak"))
    os.replace(fresh, database)
    if replica:
        refresh_replica(database, replica)
    return result

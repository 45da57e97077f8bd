"""Loading what waits in the raw archive, rebuilding from it, and what waits."""

from __future__ import annotations


import duckdb

from tracker.analysis.engine import analyze
from tracker.core.errors import TrackerError
from tracker.sources.press.outlets import sync_outlets
from tracker.sources.registry import REGISTRY
from tracker.store import lake
from tracker.store.db import damaged, first_readable, open_db, refresh_replica
from tracker.store.loader import LoadResult, load_pending, pending_files
from tracker.store.raw import list_raw_files
from tracker.store.rebuild import rebuild as rebuild_from


def load_now(cfg, progress=None, retry_failed: bool = False) -> LoadResult:
    """Load every pending raw file, then write the lake (``storage.lake_dir``: what the
    lake lacks, even when nothing new was loaded) and refresh the replica.

    Raises DatabaseUnavailable (busy or damaged: nothing loaded). A replica or a lake that
    cannot be written does not undo the load: ``result.replica_error`` and
    ``result.lake.error`` say why."""
    con = open_db(cfg.database, storage_version=cfg.storage.duckdb_storage_version)
    try:
        result = load_pending(con, cfg.raw_dir, REGISTRY, progress=progress,
                              retry_failed=retry_failed,
                              memory_limit=cfg.storage.load_memory_limit)
        result.lake = lake.sync_after_load(con, cfg)
    except (duckdb.Error, OSError) as exc:
        broken = damaged(cfg.database, exc)
        if broken is None:
            raise
        raise broken from None
    finally:
        con.close()
    try:
        refresh_replica(cfg.database, cfg.replica, cfg.storage.duckdb_storage_version)
    except TrackerError as exc:
        result.replica_error = str(exc)
    return result


def rebuild(cfg, progress=None) -> LoadResult:
    """Recreate the database from the raw archive alone (see store/rebuild.py), with the
    configured stories analysed again (``result.derived``: story -> events), and the lake
    written anew from it (``result.lake``)."""
    def derive(con) -> dict[str, dict[str, int]]:
        sync_outlets(con, cfg.press.outlets)
        return {r.story_id: r.by_event for r in analyze(con, cfg.stories)}

    result = rebuild_from(cfg.database, cfg.raw_dir, REGISTRY, cfg.replica, progress=progress,
                          memory_limit=cfg.storage.load_memory_limit, derive=derive,
                          storage_version=cfg.storage.duckdb_storage_version)
    if getattr(cfg.storage, "lake_dir", None):
        # a new database numbers its loads from 1 again: the lake is written whole (and is,
        # by the next load, if it cannot be now)
        try:
            con = open_db(cfg.database, storage_version=cfg.storage.duckdb_storage_version)
        except TrackerError as exc:
            result.lake = lake.LakeWrite(cfg.path(cfg.storage.lake_dir), mode="failed",
                                         error=str(exc))
        else:
            try:
                result.lake = lake.sync_after_load(con, cfg, full=True)
            finally:
                con.close()
    return result


def pending_summary(cfg) -> list[str]:
    """Raw files waiting to be loaded (reads the replica when the database is busy)."""
    with first_readable(cfg.database, cfg.replica) as con:
        return pending_files(con, cfg.raw_dir) if con else list_raw_files(cfg.raw_dir)

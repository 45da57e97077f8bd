"""Opening the DuckDB file: the one writer, the busy case, and the analysts' read-only replica."""

from __future__ import annotations

import logging
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from tracker.core.config import DEFAULT_STORAGE_VERSION
from tracker.core.errors import (DatabaseBusy, DatabaseDamaged, DatabaseTooNew,
                                 DatabaseUnavailable, StorageError, TrackerError)
from tracker.core.timeutil import utcnow
from tracker.store.schema import migrate
from tracker.store.versions import copy_database, file_storage_version, newer

log = logging.getLogger("tracker.store")


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Could not set lock" in text or "Conflicting lock" in text)


# What DuckDB says of a file that is not a database it can read.
_DAMAGE = ("not a valid duckdb database", "could not read enough bytes", "corrupt database",
           "checksum", "serialization error", "internal error", "failed to load",
           "invalid database", "unrecognized", "wal")


def _is_damage(exc: Exception) -> bool:
    text = str(exc).lower()
    if "no space left" in text or "read-only file system" in text or "permission" in text:
        return False
    return any(m in text for m in _DAMAGE) or isinstance(exc, (duckdb.SerializationException,
                                                             duckdb.InternalException))


def _too_new(exc: Exception) -> bool:
    text = str(exc)
    return "database file with version number" in text and "can only read" in text


def open_db(path: Path, *, read_only: bool = False,
            storage_version: str = DEFAULT_STORAGE_VERSION) -> duckdb.DuckDBPyConnection:
    """Open the database (creating and migrating it when writable). A new file is written in
    ``storage_version`` (storage.duckdb_storage_version); an existing one keeps its own.

    Raises DatabaseBusy (another process holds it), DatabaseDamaged (a file DuckDB cannot
    read), DatabaseTooNew (written by a newer DuckDB) or TrackerError (anything else, e.g. no
    database yet for a read-only open)."""
    path = Path(path)
    if read_only and not path.exists():
        raise TrackerError(f"{path}: no database yet (run `tracker init` or a collection first)")
    if path.exists() and not path.is_file():
        raise TrackerError(f"{path}: is not a file (storage.database must name a file)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not read_only and path.is_file() and path.stat().st_size == 0:
        # DuckDB writes a new file's header as it creates it: an empty file is a creation that
        # was killed (kill -9, power loss) and holds nothing; kept aside, a new one is made
        log.warning("%s is empty (its creation was interrupted); moved to %s, a new database "
                    "is created", path, aside(path, "empty"))
    new = not read_only and not path.exists()
    con = None
    try:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=(
                {"storage_compatibility_version": storage_version} if new else {}))
        except duckdb.InvalidInputException as exc:
            if new and "version" in str(exc).lower():
                raise TrackerError(
                    f"{path}: DuckDB {duckdb.__version__} cannot write storage version "
                    f"{storage_version!r} (storage.duckdb_storage_version): upgrade duckdb or "
                    "choose an older version") from None
            raise
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")  # our own bars, not DuckDB's on stderr
        if not read_only:
            migrate(con)
        return con
    except duckdb.Error as exc:
        if con is not None:
            try:
                con.close()
            except duckdb.Error:
                pass
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, duckdb.IOException) and _is_lock_error(exc):
            raise DatabaseBusy(
                f"{path} is held by another process (an open notebook or client?); "
                "collected pages stay in the raw archive and load on the next run"
            ) from None
        if _too_new(exc):
            raise DatabaseTooNew(
                f"{path} was written by a newer DuckDB than the installed {duckdb.__version__} "
                f"({first}); collected pages stay in the raw archive: upgrade duckdb "
                "(pip install -U duckdb) to read it") from None
        if _is_damage(exc):
            raise damaged(path, exc) from None
        raise TrackerError(f"{path}: cannot open database: {first}") from None


def check_readable(path: Path) -> None:
    """Open the database read-only and read every value of every table.

    Raises DatabaseBusy, or DatabaseDamaged if any block cannot be read (DuckDB opens a
    truncated file and fails only when the lost blocks are read)."""
    con = open_db(path, read_only=True)
    try:
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables() "
                                    "WHERE database_name = current_database()").fetchall():
            q = '"' + table.replace('"', '""') + '"'
            con.execute(f"SELECT sum(hash(COLUMNS(*))) FROM {q}").fetchall()
    except (duckdb.Error, OSError) as exc:
        broken = damaged(path, exc)
        if broken is None:
            raise
        raise broken from None
    finally:
        con.close()


def aside(database: Path, tag: str) -> Path:
    """Move the database (and its write-ahead log) to ``<name>.<tag>-<UTC time>``; never
    over an earlier one."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    target = database.with_name(f"{database.name}.{tag}-{stamp}")
    n = 1
    while target.exists():
        target = database.with_name(f"{database.name}.{tag}-{stamp}-{n}")
        n += 1
    os.replace(database, target)
    wal = database.with_name(database.name + ".wal")
    if wal.exists():
        os.replace(wal, target.with_name(target.name + ".wal"))
    return target


def damaged(path: Path, exc: Exception) -> DatabaseDamaged | None:
    """The DatabaseDamaged a DuckDB error means, if it says the file cannot be read (DuckDB
    reads lazily: a truncated file opens, and fails when the lost blocks are read)."""
    if not _is_damage(exc):
        return None
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DatabaseDamaged(
        f"{path} cannot be read ({first}); collected pages stay in the raw archive; "
        "`tracker rebuild` moves the file aside and rebuilds the database from raw")


@contextmanager
def writer(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-write connection, closed (and checkpointed) on exit."""
    con = open_db(path)
    try:
        yield con
    finally:
        con.close()


def _needs_conversion(database: Path, storage_version: str) -> str | None:
    """The database's storage version when it is newer than ``storage_version`` (its readers
    would refuse a plain copy), else None."""
    try:
        version = file_storage_version(database)
    except duckdb.Error:
        return None                    # not readable now: a plain copy, as always
    if version and newer(version, storage_version):
        return version
    return None


def refresh_replica(database: Path, replica: Path,
                    storage_version: str = DEFAULT_STORAGE_VERSION) -> Path:
    """Copy the closed database to the read-only replica, atomically replacing the old copy.

    The replica is always readable by ``storage_version``'s readers: a database in a newer
    format (made before the setting, or with ``latest``) is converted on the way. Analysts
    holding the old replica open keep reading their (unlinked) copy undisturbed.
    """
    database, replica = Path(database), Path(replica)
    if not database.exists():
        raise TrackerError(f"{database}: no database to copy")
    tmp = replica.with_name(replica.name + ".tmp")
    convert_from = _needs_conversion(database, storage_version)
    try:
        tmp.unlink(missing_ok=True)
        if convert_from:
            log.warning("%s is in DuckDB storage %s, newer than storage.duckdb_storage_version "
                        "%s: the replica is converted at each refresh; `tracker rebuild` "
                        "writes the database in %s once", database, convert_from,
                        storage_version, storage_version)
            copy_database(database, tmp, storage_version)
        else:
            shutil.copyfile(database, tmp)
        os.replace(tmp, replica)
    except (OSError, duckdb.Error) as exc:
        try:
            tmp.unlink(missing_ok=True)    # a partial copy must not hold the disk
            tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        except OSError:
            pass
        reason = (exc.strerror or exc) if isinstance(exc, OSError) else str(exc).splitlines()[0]
        raise StorageError(f"cannot refresh the read-only replica {replica}: "
                           f"{reason} (the database itself is intact)") from None
    return replica


@contextmanager
def first_readable(*paths: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection to the first of ``paths`` that opens (the database, then its
    replica), closed afterwards; None when none does."""
    for path in paths:
        if not Path(path).exists():
            continue
        try:
            con = open_db(path, read_only=True)
        except TrackerError:
            continue
        try:
            yield con
        finally:
            con.close()
        return
    yield None


def read_connection(cfg) -> duckdb.DuckDBPyConnection:
    """A read-only connection: the database when free, else its replica."""
    try:
        return open_db(cfg.database, read_only=True)
    except DatabaseUnavailable:
        return open_db(cfg.replica, read_only=True)

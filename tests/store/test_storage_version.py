"""The DuckDB storage version of what the tracker writes: new databases, the replica and a
rebuild in storage.duckdb_storage_version; a database in a newer format goes on working."""

from __future__ import annotations

import duckdb
import pytest

from tracker.config import parse_config
from tracker.core.errors import ConfigError, DatabaseTooNew
from tracker.runs.load import load_now
from tracker.sources.registry import REGISTRY
from tracker.store import db as store_db
from tracker.store.db import damaged, open_db, refresh_replica
from tracker.store.rebuild import rebuild
from tracker.store.versions import file_storage_version, newer, parse
from tests.helpers import snapshot
from tests.store.story_db import story_db

NEWEST = "v" + ".".join(map(str, parse("latest")[:2])) + ".0"     # v2.0.0 with DuckDB 2.0.x


def _everything(path) -> dict:
    """Every row of every table and view, and every comment, of a database file."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        comments = con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() "
            "WHERE database_name = current_database() ORDER BY ALL").fetchall()
        views = [v for (v,) in con.execute("SELECT view_name FROM duckdb_views() "
                                           "WHERE NOT internal ORDER BY 1").fetchall()]
    finally:
        con.close()
    # views by their rows (DuckDB may re-spell a view's SQL when it copies it)
    return {"rows": snapshot(path, tables), "comments": comments,
            "views": snapshot(path, views)}


def test_the_default_is_v1_0_0_and_a_new_database_is_written_in_it(tmp_path):
    assert parse_config({}).storage.duckdb_storage_version == "v1.0.0"
    open_db(tmp_path / "t.duckdb").close()
    assert file_storage_version(tmp_path / "t.duckdb") == "v1.0.0"


@pytest.mark.parametrize("version, written", [("v1.2.0", "v1.2.0"), ("v1.4.0", "v1.4.0"),
                                              ("latest", NEWEST)])
def test_a_new_database_is_written_in_the_version_asked(tmp_path, version, written):
    open_db(tmp_path / "t.duckdb", storage_version=version).close()
    assert file_storage_version(tmp_path / "t.duckdb") == written


def test_the_setting_reaches_the_database_and_the_replica_a_load_writes(tmp_path):
    cfg = parse_config({"storage": {"database": "db/tracker.duckdb", "raw_dir": "raw",
                                    "duckdb_storage_version": "v1.2.0"}}, base_dir=tmp_path)
    (tmp_path / "raw").mkdir()
    load_now(cfg)
    assert file_storage_version(cfg.database) == "v1.2.0"
    assert file_storage_version(cfg.replica) == "v1.2.0"


def test_an_existing_database_keeps_its_version_and_its_rows(tmp_path):
    path = story_db(tmp_path / "t.duckdb", storage_version="v1.2.0")
    con = open_db(path)            # the default (v1.0.0) applies to new files only
    con.execute("UPDATE posts SET text = 'edited' WHERE post_id = '3'")
    con.close()
    assert file_storage_version(path) == "v1.2.0"
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT post_id, text FROM posts ORDER BY 1").fetchall() == [
        ("1", "He told me he spoke with Putin"), ("2", "I have spoken to Putin only once"),
        ("3", "edited")]
    con.close()


def test_the_replica_of_a_database_in_the_configured_version_is_a_byte_copy(tmp_path):
    db = story_db(tmp_path / "t.duckdb")
    replica = refresh_replica(db, tmp_path / "t.read.duckdb")
    assert replica.read_bytes() == db.read_bytes()


def test_the_replica_of_a_database_in_a_newer_version_is_converted_whole(tmp_path, caplog):
    db = story_db(tmp_path / "t.duckdb", storage_version="latest")
    before = db.read_bytes()
    replica = refresh_replica(db, tmp_path / "t.read.duckdb", "v1.0.0")
    assert file_storage_version(replica) == "v1.0.0"
    assert file_storage_version(db) == NEWEST and db.read_bytes() == before
    assert _everything(replica) == _everything(db)
    assert not (tmp_path / "t.read.duckdb.tmp").exists()
    assert (f"in DuckDB storage {NEWEST}, newer than storage.duckdb_storage_version v1.0.0: "
            "the replica is converted at each refresh; `tracker rebuild` writes the database "
            "in v1.0.0 once") in caplog.text
    # a database older than the setting is readable by its readers: copied as it is
    old = story_db(tmp_path / "o.duckdb")
    assert refresh_replica(old, tmp_path / "o.read.duckdb", "v1.4.0").read_bytes() == \
        old.read_bytes()


def test_a_replica_that_cannot_be_converted_leaves_the_old_one_and_no_partial_file(
        tmp_path, monkeypatch):
    db = story_db(tmp_path / "t.duckdb", storage_version="latest")
    replica = tmp_path / "t.read.duckdb"
    replica.write_bytes(b"the previous replica")

    def fail(source, target, version):
        target.write_bytes(b"half")
        raise duckdb.IOException("IO Error: No space left on device")

    monkeypatch.setattr(store_db, "copy_database", fail)
    with pytest.raises(Exception) as err:
        refresh_replica(db, replica, "v1.0.0")
    assert type(err.value).__name__ == "StorageError"
    assert str(err.value) == (f"cannot refresh the read-only replica {replica}: IO Error: No "
                              "space left on device (the database itself is intact)")
    assert replica.read_bytes() == b"the previous replica"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.duckdb", "t.read.duckdb"]


def test_rebuild_writes_the_configured_version_and_keeps_the_old_database(tmp_path):
    db = story_db(tmp_path / "t.duckdb", storage_version="latest")
    (tmp_path / "raw").mkdir()
    result = rebuild(db, tmp_path / "raw", REGISTRY, tmp_path / "t.read.duckdb",
                     storage_version="v1.0.0")
    assert file_storage_version(db) == "v1.0.0"
    assert file_storage_version(tmp_path / "t.read.duckdb") == "v1.0.0"
    assert file_storage_version(result.backup) == NEWEST
    assert len(snapshot(result.backup, ["posts"])["posts"]) == 3


def test_a_database_of_a_newer_duckdb_is_too_new_not_damaged(tmp_path, monkeypatch):
    path = tmp_path / "t.duckdb"
    path.write_bytes(b"written by a newer DuckDB")
    message = ("IO Error: Trying to read a database file with version number 69, but we can "
               "only read versions between 64 and 68.\nThe database file was created with a "
               "newer version of DuckDB.")

    def connect(*args, **kwargs):
        raise duckdb.IOException(message)

    monkeypatch.setattr(store_db.duckdb, "connect", connect)
    with pytest.raises(DatabaseTooNew) as err:
        open_db(path)
    assert str(err.value) == (
        f"{path} was written by a newer DuckDB than the installed {duckdb.__version__} (IO "
        "Error: Trying to read a database file with version number 69, but we can only read "
        "versions between 64 and 68.); collected pages stay in the raw archive: upgrade duckdb "
        "(pip install -U duckdb) to read it")
    assert err.value.exit_code == 5 and err.value.reason == "newer format"
    assert damaged(path, duckdb.IOException(message)) is None


def test_a_version_the_installed_duckdb_cannot_write_is_one_clear_error(tmp_path, monkeypatch):
    def connect(*args, **kwargs):
        raise duckdb.InvalidInputException(
            "Invalid Input Error: The version string 'v1.5.0' is not a known DuckDB version")

    monkeypatch.setattr(store_db.duckdb, "connect", connect)
    with pytest.raises(Exception) as err:
        open_db(tmp_path / "t.duckdb", storage_version="v1.5.0")
    assert str(err.value) == (
        f"{tmp_path / 't.duckdb'}: DuckDB {duckdb.__version__} cannot write storage version "
        "'v1.5.0' (storage.duckdb_storage_version): upgrade duckdb or choose an older version")


@pytest.mark.parametrize("value, message", [
    ("v1.3.0", "config: storage.duckdb_storage_version: 'v1.3.0' is not offered: DuckDB 1.3 "
               "misreads files a newer DuckDB writes in that format; use v1.2.0 (or v1.0.0) "
               "for 1.3 readers"),
    ("v9", "config: storage.duckdb_storage_version: 'v9' is not one of v1.0.0, v1.2.0, "
           "v1.4.0, v1.5.0, latest (v1.0.0 opens in every DuckDB from 1.1 on)"),
])
def test_a_storage_version_not_offered_is_a_config_error(value, message):
    with pytest.raises(ConfigError) as err:
        parse_config({"storage": {"duckdb_storage_version": value}})
    assert str(err.value) == message


def test_versions_compare_by_major_and_minor():
    assert newer(NEWEST, "v1.0.0") and newer("v1.2.0", "v1.0.0")
    assert not newer("v1.0.0", "v1.2.0") and not newer("v1.0.0", "v1.0.0")
    assert not newer(NEWEST, "latest")
    assert parse("v1.0.0+") == (1, 0, 0)
    with pytest.raises(ValueError):
        parse("v1.0.0'; DROP TABLE posts; --")

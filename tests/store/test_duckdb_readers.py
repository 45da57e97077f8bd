"""The database and its replica open in real DuckDB 1.x readers (Python 1.1 and 1.4, the 1.5
CLI), tables, views and comments alike; a database of DuckDB's newest format does not, and its
replica is converted so that it does."""

from __future__ import annotations

import pytest

from tracker.store.db import refresh_replica
from tracker.store.dictionary import BY_NAME
from tests.store.readers import READERS, reader
from tests.store.story_db import (FIRSTS, FIRSTS_SQL, POLL, POLL_SQL, POSTS, POSTS_SQL,
                                  TIMELINE, TIMELINE_SQL, story_db)

CHECKS = [(POSTS_SQL, POSTS), (TIMELINE_SQL, TIMELINE), (FIRSTS_SQL, FIRSTS), (POLL_SQL, POLL),
          ("SELECT comment FROM duckdb_columns() WHERE table_name = 'timeline' "
           "AND column_name = 'clock'", [[BY_NAME["timeline"].column("clock")]]),
          ("SELECT comment FROM duckdb_tables() WHERE table_name = 'posts'",
           [[BY_NAME["posts"].summary]])]


@pytest.fixture(scope="module", params=sorted(READERS))
def duckdb1(request):
    return reader(request.param)


def _every_view(duckdb1, path) -> list[str]:
    """Run every view of the file in the reader; the names of those that fail."""
    views = duckdb1.query(path, ["SELECT view_name FROM duckdb_views() WHERE NOT internal "
                                 "ORDER BY 1"])["results"][0]
    names = [v for (v,) in views]
    assert {"timeline", "story_firsts", "poll_results"} <= set(names)
    got = duckdb1.query(path, [f"SELECT count(*)::VARCHAR FROM {v}" for v in names])
    assert "error" not in got, got
    return names


def test_the_replica_and_the_database_open_in_a_duckdb_1x_reader(duckdb1, tmp_path):
    db = story_db(tmp_path / "tracker.duckdb")
    replica = refresh_replica(db, tmp_path / "tracker.read.duckdb")
    for path in (replica, db):
        got = duckdb1.query(path, [sql for sql, _ in CHECKS])
        assert got["version"].startswith(duckdb1.version_prefix), got
        assert "error" not in got, got
        assert got["results"] == [rows for _, rows in CHECKS]
        _every_view(duckdb1, path)


def test_a_database_in_duckdbs_newest_format_gets_a_replica_a_1x_reader_opens(duckdb1,
                                                                              tmp_path):
    db = story_db(tmp_path / "tracker.duckdb", storage_version="latest")
    # the database itself: refused, as DuckDB 2 writes it by default
    refused = duckdb1.query(db, ["SELECT 1"])
    assert "can only read" in refused.get("error", ""), refused
    replica = refresh_replica(db, tmp_path / "tracker.read.duckdb")
    got = duckdb1.query(replica, [sql for sql, _ in CHECKS])
    assert "error" not in got, got
    assert got["results"] == [rows for _, rows in CHECKS]

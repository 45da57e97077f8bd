"""Damaged files: a database overwritten, truncated or emptied; raw members damaged or torn; a
clobbered replica. Collection keeps archiving, `status` says what is wrong, `rebuild` recovers
everything the archive holds and says loudly what it could not read.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from tests.conftest import make_post
from tests.helpers import snapshot
from tracker.runs import runner
from tracker.cli import cli
from tracker.store.raw import GZIP_MAGIC, list_raw_files

from .common import NO_SLEEP, q, seed, served_posts, write_config


def invoke(*args):
    return CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False)


def _stored(db):
    return {r[0] for r in q(db, "SELECT post_id FROM posts WHERE seen_in = 'data'")}


DAMAGE = {
    "garbage": lambda data: os.urandom(len(data)),
    "truncated": lambda data: data[: len(data) // 3],
    "text": lambda data: b"not a database\n" * 50,
}


def _collect_then_damage(world, api, tmp_path, clock, damage):
    """A collection into a new database, then its file replaced by ``damage(its bytes)`` (and
    its WAL gone): (config args, database path, posts stored before, the damaged bytes)."""
    seed(world, clock, 120)
    path = write_config(tmp_path, api, page_size=50)
    cfg_args = ("--config", str(path))
    assert invoke(*cfg_args, "collect", "x", "--no-replies").exit_code == 0
    db = tmp_path / "db" / "tracker.duckdb"
    before = {r[1] for r in snapshot(db)["posts"]}
    damaged = damage(db.read_bytes())
    db.write_bytes(damaged)
    db.with_name(db.name + ".wal").unlink(missing_ok=True)
    return cfg_args, db, before, damaged


@pytest.mark.parametrize("how", list(DAMAGE))
def test_damaged_database_collection_goes_on_and_rebuild_recovers(world, api, tmp_path, clock,
                                                                   how):
    cfg_args, db, before, damaged = _collect_then_damage(world, api, tmp_path, clock,
                                                         DAMAGE[how])

    # new posts arrive (the CLI reads with the real clock: they are posted now) and collection
    # archives them although the database cannot be opened
    now = datetime.now(timezone.utc)
    new = [make_post(world, "100", now - timedelta(seconds=10 - i), f"later {i}")
           for i in range(5)]
    res = invoke(*cfg_args, "collect", "x", "--no-replies")
    assert res.exit_code == 5, res.output                     # DatabaseDamaged: act on it
    assert "pending_load" in res.output and "rebuild" in res.output
    status = invoke(*cfg_args, "status")
    assert status.exit_code == 0
    assert "database damaged:" in status.output and "reading read-only replica" in status.output

    res = invoke(*cfg_args, "rebuild")
    assert res.exit_code == 0, res.output
    assert "could not be opened" in res.output and ".corrupt-" in res.output
    aside = list(db.parent.glob("tracker.duckdb.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged     # kept, not deleted
    assert not db.with_name(db.name + ".rebuild").exists()
    got = {r[1] for r in snapshot(db)["posts"]}
    assert got == served_posts(world) and before < got             # nothing collected is lost
    assert {n["id"] for n in new} <= _stored(db)
    # and collection loads normally again
    assert invoke(*cfg_args, "collect", "x", "--no-replies").exit_code == 0
    assert invoke(*cfg_args, "status").output.startswith("reading database ")


def test_an_empty_database_file_is_set_aside_and_the_next_load_recreates_it(world, api,
                                                                           tmp_path, clock):
    """A file of 0 bytes is a creation killed before DuckDB wrote its header (or an emptied
    file): it holds nothing, so the next run keeps it aside and loads the whole raw archive
    into a new database instead of failing until someone runs `tracker rebuild`."""
    cfg_args, db, before, _ = _collect_then_damage(world, api, tmp_path, clock,
                                                   lambda data: b"")
    now = datetime.now(timezone.utc)
    new = [make_post(world, "100", now - timedelta(seconds=10 - i), f"later {i}")
           for i in range(5)]
    res = invoke(*cfg_args, "collect", "x", "--no-replies")
    assert res.exit_code == 0, res.output
    (aside,) = db.parent.glob("tracker.duckdb.empty-*")
    assert aside.read_bytes() == b""                                 # kept, not deleted
    got = {r[1] for r in snapshot(db)["posts"]}
    assert before < got and {n["id"] for n in new} <= _stored(db)
    assert got == served_posts(world)


def _members(path):
    data = path.read_bytes()
    offs, i = [], 0
    while (i := data.find(GZIP_MAGIC, i)) >= 0:
        offs.append(i)
        i += 1
    return data, offs


def test_a_damaged_raw_member_costs_its_line_only_and_rebuild_says_so(world, api, tmp_path,
                                                                      clock):
    posts = seed(world, clock, 280)
    path = write_config(tmp_path, api, page_size=40)
    cfg_args = ("--config", str(path))
    assert invoke(*cfg_args, "collect", "x", "--no-replies").exit_code == 0
    db = tmp_path / "db" / "tracker.duckdb"
    raw = tmp_path / "raw"
    (big,) = [f for f in list_raw_files(raw) if "/x/" in f"/{f}" and
              (raw / f).stat().st_size == max((raw / g).stat().st_size
                                              for g in list_raw_files(raw))]
    data, offs = _members(raw / big)
    assert len(offs) >= 9          # run_start, users/by, 7 timeline pages, run_end
    # flip bytes inside the member of the third timeline page (line 5)
    bad = bytearray(data)
    for k in range(40, 60):
        bad[offs[4] + k] ^= 0x5A
    (raw / big).write_bytes(bytes(bad))

    res = invoke(*cfg_args, "rebuild")
    assert res.exit_code == 1, res.output
    assert f"{big}:5:" in res.output and "damaged gzip data" in res.output
    stored = _stored(db)
    assert len(stored) == 280 - 40                       # one page of 40, no more
    assert stored < {p["id"] for p in posts}
    assert q(db, "SELECT path, damage LIKE 'raw file damaged: 1 unreadable line(s)%' "
                 "FROM raw_files WHERE damage IS NOT NULL") == [(big, True)]
    assert q(db, "SELECT count(*) FROM runs WHERE error LIKE '%raw file damaged%'") == [(1,)]
    status = invoke(*cfg_args, "status").output
    assert "raw file damaged" in status and big in status
    # a second rebuild keeps both backups (the good database is never overwritten)
    invoke(*cfg_args, "rebuild")
    assert len(list(db.parent.glob("tracker.duckdb.bak-*"))) == 2


def test_a_torn_raw_tail_keeps_every_earlier_line(world, api, tmp_path, clock):
    seed(world, clock, 120)
    path = write_config(tmp_path, api, page_size=40)
    assert invoke("--config", str(path), "collect", "x", "--no-replies").exit_code == 0
    raw = tmp_path / "raw"
    (f,) = [g for g in list_raw_files(raw) if g.startswith("x/")]
    data, offs = _members(raw / f)
    (raw / f).write_bytes(data[: offs[-2] + 25])        # the last page is half written
    db = tmp_path / "db" / "tracker.duckdb"
    res = invoke("--config", str(path), "rebuild")
    assert res.exit_code == 1 and "torn write" in res.output
    assert len(_stored(db)) == 80                         # two of the three pages


def test_a_clobbered_replica_is_reported_and_the_next_load_replaces_it(world, api, tmp_path,
                                                                       clock):
    seed(world, clock, 10)
    path = write_config(tmp_path, api)
    cfg_args = ("--config", str(path))
    assert invoke(*cfg_args, "collect", "x", "--no-replies").exit_code == 0
    replica = tmp_path / "db" / "tracker.read.duckdb"
    replica.write_bytes(os.urandom(4096))
    res = invoke(*cfg_args, "sql", "SELECT count(*) AS n FROM posts")
    assert res.exit_code == 1
    assert "replica" in res.output and "cannot be read" in res.output
    assert "Traceback" not in res.output
    res = invoke(*cfg_args, "load")
    assert res.exit_code == 0
    assert "10" in invoke(*cfg_args, "sql", "SELECT count(*) AS n FROM posts").output


def test_a_failed_replica_refresh_does_not_fail_the_run(world, make_cfg, clock, monkeypatch):
    from tracker.core.errors import StorageError
    from tracker.runs import load as load_module
    from tracker.store import db as dbmod

    seed(world, clock, 10)
    cfg = make_cfg()
    real = dbmod.refresh_replica

    def full(database, replica, storage_version="v1.0.0"):
        raise StorageError(f"cannot refresh the read-only replica {replica}: No space left "
                           "on device (the database itself is intact)")

    monkeypatch.setattr(load_module, "refresh_replica", full)
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert (r.status, r.load_state, r.exit_code) == ("ok", "loaded", 0)
    assert "No space left" in r.load_note
    assert q(cfg.database, "SELECT count(*) FROM posts") == [(10,)]
    # the replies step after it runs and loads as usual, the replica still failing
    r = runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)
    assert (r.status, r.load_state, r.exit_code) == ("ok", "loaded", 0) and r.requests >= 1
    assert "No space left" in r.load_note
    assert q(cfg.database, "SELECT job, status FROM runs ORDER BY started_at") == [
        ("collect_posts", "ok"), ("collect_replies", "ok")]
    monkeypatch.setattr(runner, "refresh_replica", real)

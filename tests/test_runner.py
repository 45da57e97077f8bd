"""Concurrency and data safety around a run: the lock, a busy database, rebuild, secrets."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import timedelta

import pytest

from tests.conftest import TOKEN, make_post
from tests.helpers import rows, snapshot
from tracker.runs import runner
from tracker.core.errors import ConfigError, LockHeld
from tracker.core.lock import RunLock
from tracker.store.raw import list_raw_files
from tracker.runs.analyze import run_analysis
from tracker.runs.load import rebuild
from tracker.store.tables import REBUILT_TABLES

# what rebuild computes again rather than reads from raw
DERIVED = ("stories", "story_actors", "story_items", "timeline", "story_firsts")

NO_SLEEP = {"sleep": lambda s: None}


def seed(world, clock, n):
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    for i in range(n):
        make_post(world, "100", clock.at - timedelta(hours=2, minutes=-i), f"post {i}")


HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1], read_only=False)
con.execute("SELECT count(*) FROM posts").fetchall()
print("holding", flush=True)
sys.stdin.readline()
"""


def test_analyst_holding_the_database_never_blocks_collection(world, make_cfg, clock):
    seed(world, clock, 10)
    cfg = make_cfg()
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    analyst = subprocess.Popen([sys.executable, "-c", HOLD, str(cfg.database)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert analyst.stdout.readline().strip() == "holding"
        results = []
        for i in range(3):
            make_post(world, "100", clock.at + timedelta(minutes=i), f"while held {i}")
            results.append(runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP))
        assert [r.load_state for r in results] == ["pending_load"] * 3
        # each run asked only for what is new, using cursors from the raw pages it could not load
        assert [r.posts_read for r in results] == [1, 1, 1]
        # the replica still answers analysts (with the data as of the last load)
        assert rows(cfg, "SELECT count(*) FROM posts") == [(10,)]
    finally:
        analyst.stdin.close()
        analyst.wait(timeout=10)
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert r.load_state == "loaded" and r.posts_read == 0
    assert rows(cfg, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(13, 13)]
    deferred = rows(cfg, "SELECT count(*) FROM runs WHERE load_deferred_at IS NOT NULL")
    assert deferred == [(3,)]


def test_second_writer_gets_lock_held_and_writes_nothing(world, make_cfg, clock):
    seed(world, clock, 3)
    cfg = make_cfg()
    with RunLock(cfg.lock_file):
        with pytest.raises(LockHeld) as exc:
            runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert exc.value.exit_code == 3 and "holds" in str(exc.value)
    assert list_raw_files(cfg.raw_dir) == [] and world.requests == []


def test_missing_token_is_a_config_error_before_any_write(world, make_cfg, clock, monkeypatch):
    monkeypatch.delenv("X_BEARER_TOKEN")
    cfg = make_cfg()
    with pytest.raises(ConfigError, match="X_BEARER_TOKEN is not set"):
        runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert list_raw_files(cfg.raw_dir) == [] and not cfg.database.exists()


def test_rebuild_reproduces_every_table(world, make_cfg, clock):
    seed(world, clock, 120)
    world.add_poll({"id": "9", "voting_status": "open", "duration_minutes": 5,
                    "options": [{"position": 1, "label": "a", "votes": 1}]})
    make_post(world, "100", clock.at, "poll", attachments={"poll_ids": ["9"]})
    start = clock.at.date() - timedelta(days=1)
    cfg = make_cfg(max_requests_per_run=2, stories=[{
        "id": "s", "title": "S", "query": "post", "actors": [{"handle": "alice", "role": "claimant"}],
        "window": {"start": str(start), "end": str(start + timedelta(days=3))}}])
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)   # stops on budget: a gap cursor
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    world.set_poll("9", [5], "closed")
    runner.run(cfg, "snapshot_polls", clock=clock, **NO_SLEEP)
    world.delete(sorted(world.tweets, key=int)[0])
    runner.run(cfg, "check_deletions", clock=clock, **NO_SLEEP)
    run_analysis(cfg, clock=clock)
    before = snapshot(cfg.database, REBUILT_TABLES + DERIVED, exclude=("runs", "raw_files"))
    assert len(before["posts"]) == 121 and len(before["story_items"]) == 121
    assert len(before["timeline"]) == 121 and before["stories"][0][0] == "s"
    result = rebuild(cfg)
    assert result.derived == {"s": {"claim": 120, "poll": 1}}
    assert snapshot(cfg.database, REBUILT_TABLES + DERIVED, exclude=("runs", "raw_files")) \
        == before
    assert snapshot(cfg.replica, REBUILT_TABLES + DERIVED, exclude=("runs", "raw_files")) \
        == before
    before = snapshot(cfg.database)
    assert len(before["runs"]) == 5
    backups = sorted(cfg.database.parent.glob(cfg.database.name + ".bak-*"))
    assert len(backups) == 1
    # a second rebuild keeps the first backup: earlier backups are never overwritten
    rebuild(cfg)
    assert snapshot(cfg.database) == before
    assert backups[0].exists()
    assert len(list(cfg.database.parent.glob(cfg.database.name + ".bak-*"))) == 2


def test_token_never_reaches_logs_even_at_debug(world, make_cfg, clock, caplog):
    from tracker.core.logs import setup_logging

    seed(world, clock, 3)
    world.faults.append(__import__("tracker.testing.xapi", fromlist=["Fault"]).Fault(
        r"/tweets$", status=503))
    setup_logging("DEBUG")
    logging.getLogger("tweepy").setLevel(logging.DEBUG)  # even if someone turns it on
    root = logging.getLogger()
    handler = next(h for h in root.handlers if getattr(h, "_tracker", False))
    seen = []

    class Grab(logging.Handler):
        def emit(self, record):
            seen.append(handler.format(record))

    grab = Grab()
    grab.filters = handler.filters
    root.addHandler(grab)
    try:
        runner.run(make_cfg(), "collect_posts", clock=clock, **NO_SLEEP)
        logging.getLogger("tweepy.client").debug("Headers: {'Authorization': 'Bearer %s'}", TOKEN)
    finally:
        root.removeHandler(grab)
        setup_logging("WARNING")
    text = "\n".join(seen)
    assert "retry 1" in text                    # the 503 was logged
    assert TOKEN not in text and "[REDACTED]" in text

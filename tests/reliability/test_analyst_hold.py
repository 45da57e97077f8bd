"""An analyst holds the database with a READ-ONLY connection in another process for four
scheduled runs (the read-write case is tests/test_runner.py). Collection lands in raw, `runs`
says pending_load, a poll first seen during the hold is refreshed on schedule and read no more
once seen closed, and the first run after the release loads everything, in order.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import make_post
from tests.helpers import rows
from tracker.runs import runner

from .common import NO_SLEEP, seed

HOLD = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SELECT count(*) FROM posts").fetchall()
print("holding", flush=True)
sys.stdin.readline()
"""


def test_read_only_holder_for_four_runs(world, make_cfg, clock):
    seed(world, clock, 10)
    cfg = make_cfg()
    assert runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP).load_state == "loaded"
    analyst = subprocess.Popen([sys.executable, "-c", HOLD, str(cfg.database)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert analyst.stdout.readline().strip() == "holding"
        world.add_poll({"id": "900", "duration_minutes": 30, "voting_status": "open",
                        "options": [{"position": 1, "label": "Yes", "votes": 1},
                                    {"position": 2, "label": "No", "votes": 1}]})
        poll_post = make_post(world, "100", clock.at, "poll", attachments={"poll_ids": ["900"]})
        held = [runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)]        # first sighting
        clock.advance(minutes=10)
        world.set_poll("900", [5, 3])
        before = len(world.requests)
        held.append(runner.run(cfg, "snapshot_polls", clock=clock, **NO_SLEEP))  # refreshed anyway
        assert [r.params["ids"] for r in world.requests[before:]] == [poll_post["id"]]
        clock.advance(minutes=30)
        world.set_poll("900", [9, 4], "closed")
        held.append(runner.run(cfg, "snapshot_polls", clock=clock, **NO_SLEEP))  # the final capture
        held.append(runner.run(cfg, "snapshot_polls", clock=clock, **NO_SLEEP))  # closed: no reads
        assert [(r.load_state, r.requests, r.posts_read) for r in held] == [
            ("pending_load", 1, 1), ("pending_load", 1, 1), ("pending_load", 1, 1),
            ("pending_load", 0, 0)]
        assert rows(cfg, "SELECT count(*) FROM posts") == [(10,)]     # analysts' copy as was
    finally:
        analyst.stdin.close()
        analyst.wait(timeout=30)
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert (r.load_state, r.posts_read) == ("loaded", 0)
    assert rows(cfg, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(11, 11)]
    assert rows(cfg, "SELECT count(*) FROM runs WHERE load_deferred_at IS NOT NULL") == [(4,)]
    assert rows(cfg, "SELECT count(*) FROM raw_files WHERE loaded_at IS NULL") == [(0,)]
    assert rows(cfg, "SELECT votes, voting_status FROM poll_snapshots WHERE position = 1 "
                     "ORDER BY captured_at") == [(1, "open"), (5, "open"), (9, "closed")]
    assert rows(cfg, "SELECT voting_status, final_snapshot_at IS NOT NULL FROM polls") == [
        ("closed", True)]

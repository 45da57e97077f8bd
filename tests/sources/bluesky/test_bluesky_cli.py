"""`tracker collect bluesky`, and the generic commands over Bluesky data: run, status, cost,
rebuild (which must give back every table from the raw archive alone)."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
from click.testing import CliRunner

from tests.sources.bluesky.bluesky_helpers import ALICE, BOB, THREAD
from tracker.cli import build_cli
from tracker.core.timeutil import utcnow
from tracker.store.tables import REBUILT_TABLES


def tracker(cfg: str, *args: str):
    return CliRunner().invoke(build_cli(), ["--config", cfg, *args], obj={},
                              catch_exceptions=False)


def rows(db, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def ago(**kw) -> datetime:
    """A time before now: the command line runs on the real clock."""
    return utcnow() - timedelta(**kw)


def test_collect_bluesky_has_help():
    res = CliRunner().invoke(build_cli(), ["collect", "bluesky", "--help"], obj={})
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    for words in ("collect bluesky [OPTIONS]", "--account HANDLE", "--no-replies",
                  "--all-conversations", "no polls and no edits"):
        assert words in text


def test_collect_bluesky_then_status_cost_and_rebuild(bsky, config_file, tmp_path):
    alice, bob = bsky.add_actor(ALICE), bsky.add_actor(BOB)
    root = bsky.post(alice, "I never said that", ago(hours=2))
    bsky.post(bob, "you did", ago(hours=1), reply_to=root)
    gone = bsky.post(alice, "deleted soon", ago(minutes=30))
    bsky.repost(alice, root, ago(minutes=20))
    cfg = config_file()
    db = tmp_path / "db" / "tracker.duckdb"

    res = tracker(cfg, "collect", "bluesky")
    assert res.exit_code == 0, res.output
    assert rows(db, "SELECT job, source, status FROM runs ORDER BY started_at") == [
        ("collect_posts", "bluesky", "ok"), ("collect_replies", "bluesky", "ok")]
    assert bsky.count(THREAD) == 2         # the conversations of both own posts, once each
    assert rows(db, "SELECT count(*) FROM posts") == [(4,)]

    bsky.delete(gone)
    for _ in range(2):                      # a sighting, then its confirmation
        res = tracker(cfg, "run", "check_deletions")
        assert res.exit_code == 0, res.output
    assert rows(db, "SELECT post_id FROM posts WHERE deleted_at IS NOT NULL") == [(gone,)]
    # the job of every platform that has it: nothing else is configured, only Bluesky ran
    assert rows(db, "SELECT DISTINCT source FROM runs") == [("bluesky",)]

    res = tracker(cfg, "status")
    assert res.exit_code == 0, res.output
    assert "feed:" in res.output and "backlog (bluesky)" in res.output

    res = tracker(cfg, "cost", "--no-measure")
    assert res.exit_code == 0, res.output
    assert "the public AppView is free" in " ".join(res.output.split())

    before = {t: rows(db, f"SELECT * FROM {t} ORDER BY ALL") for t in REBUILT_TABLES
              if t != "raw_files"}
    assert before["api_errors"] == [] and len(before["sync_state"]) == 3
    res = tracker(cfg, "rebuild")
    assert res.exit_code == 0, res.output
    after = {t: rows(db, f"SELECT * FROM {t} ORDER BY ALL") for t in before}
    assert after == before


def test_collect_bluesky_for_one_account(bsky, config_file):
    for h in (ALICE, BOB):
        bsky.post(bsky.add_actor(h), f"{h} posts", ago(hours=1))
    cfg = config_file(handles=(ALICE, BOB))
    res = tracker(cfg, "collect", "bluesky", "--account", "@Bob.bsky.social", "--no-replies")
    assert res.exit_code == 0, res.output
    assert [r.params for r in bsky.requests if r.nsid == "app.bsky.actor.getProfile"] == [
        {"actor": BOB}]
    res = tracker(cfg, "collect", "bluesky", "--account", "carol.bsky.social")
    assert res.exit_code == 2
    assert "carol.bsky.social not in config.yaml" in res.output

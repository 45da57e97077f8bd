"""A platform added by its own folder and one registry line runs through the whole tracker:
`tracker run`, its own command, a story, `rebuild`, `status` and `cost`."""

from __future__ import annotations

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from tests.toy_source.server import ToyWorld, serve
from tests.toy_source.source import SOURCE
from tracker.cli import build_cli
from tracker.sources.registry import REGISTRY
from tracker.store.tables import REBUILT_TABLES


@pytest.fixture
def toy(monkeypatch):
    """The toy platform registered (the one line a platform adds), and its server."""
    REGISTRY.register(SOURCE)
    monkeypatch.setenv("TOY_TOKEN", "toy-secret-token-1234")
    world = ToyWorld()
    world.account("alice", "a1")
    world.account("bob", "b1")
    world.post("alice", 101, "2022-10-11T10:00:00Z", "Bob met the mayor in secret, I hear")
    world.post("alice", 102, "2022-10-11T11:00:00Z", "lunch")
    world.post("bob", 103, "2022-10-11T12:00:00Z", "Not true, I never met the mayor",
               reply_to=101)
    world.post("alice", 104, "2022-10-11T13:00:00Z", "I stand by it: the mayor met Bob",
               reply_to=103)
    try:
        with serve(world) as url:
            yield world, url
    finally:
        REGISTRY.sources.remove(SOURCE)


def config(tmp_path, url) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "storage": {"database": "data/tracker.duckdb", "raw_dir": "data/raw"},
        "toy": {"base_url": url},
        "accounts": [{"platform": "toy", "handle": "alice"}, {"platform": "toy", "handle": "bob"}],
        "stories": [{"id": "meeting", "title": "Did Bob meet the mayor?", "query": "mayor",
                     "window": {"start": "2022-10-01", "end": "2022-10-31"},
                     "actors": [{"platform": "toy", "handle": "alice", "role": "claimant"},
                                {"platform": "toy", "handle": "bob", "role": "subject"}]}],
    }))
    return str(path)


def tracker(cfg: str, *args: str):
    res = CliRunner().invoke(build_cli(), ["--config", cfg, *args], obj={},
                             catch_exceptions=False)
    return res


def rows(db, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_the_toy_platform_runs_through_run_story_rebuild_status_and_cost(toy, tmp_path):
    world, url = toy
    cfg = config(tmp_path, url)
    db = tmp_path / "data" / "tracker.duckdb"

    res = tracker(cfg, "run", "collect_posts")
    assert res.exit_code == 0, res.output
    # only the toy source runs (no X account is configured); alice's 3 posts take 2 pages
    assert rows(db, "SELECT job, source, status, requests, posts_read FROM runs") == [
        ("collect_posts", "toy", "ok", 3, 4)]
    assert rows(db, "SELECT platform, post_id, author_id, reply_to_post_id FROM posts "
                    "ORDER BY post_id") == [
        ("toy", "101", "a1", None), ("toy", "102", "a1", None), ("toy", "103", "b1", "101"),
        ("toy", "104", "a1", "103")]
    assert rows(db, "SELECT scope, cursor FROM sync_state WHERE source = 'toy' "
                    "ORDER BY scope") == [
        ("account:alice", '{"since_id": 104}'), ("account:bob", '{"since_id": 103}')]

    # the next run reads only what is new, through the source's own command
    world.post("bob", 105, "2022-10-12T09:00:00Z", "The mayor was in Paris that day")
    world.requests.clear()
    res = tracker(cfg, "collect", "toy")
    assert res.exit_code == 0, res.output
    assert world.requests == ["/accounts/alice/posts?since_id=104&limit=2",
                              "/accounts/bob/posts?since_id=103&limit=2"]
    assert rows(db, "SELECT count(*) FROM posts") == [(5,)]

    # a story over the toy platform's posts: claim, denial, rebuttal
    res = tracker(cfg, "analyze")
    assert res.exit_code == 0, res.output
    assert rows(db, "SELECT platform, item_id, event_type, rule FROM story_items "
                    "ORDER BY item_id") == [
        ("toy", "101", "claim", "claimant-post"),
        ("toy", "103", "denial", "subject-answers-claimant"),
        ("toy", "104", "rebuttal", "claimant-answers-subject"),
        ("toy", "105", "mention", "matches-query")]
    timeline = rows(db, "SELECT item_id, event_type, actor, role, platform_or_outlet "
                        "FROM timeline ORDER BY event_at")
    assert timeline[:3] == [("101", "claim", "alice", "claimant", "toy"),
                            ("103", "denial", "bob", "subject", "toy"),
                            ("104", "rebuttal", "alice", "claimant", "toy")]
    assert rows(db, "SELECT first_claim_item, first_denial_item, first_rebuttal_item "
                    "FROM story_firsts") == [("101", "103", "104")]

    # rebuild reproduces every table the raw archive determines
    before = {t: rows(db, f"SELECT * FROM {t} ORDER BY ALL") for t in REBUILT_TABLES
              if t != "raw_files"}
    res = tracker(cfg, "rebuild")
    assert res.exit_code == 0, res.output
    after = {t: rows(db, f"SELECT * FROM {t} ORDER BY ALL") for t in before}
    assert after == before

    res = tracker(cfg, "status")
    assert res.exit_code == 0, res.output
    assert "account:alice" in res.output and "toy" in res.output

    res = tracker(cfg, "cost", "--no-measure")
    assert res.exit_code == 0, res.output
    assert "toy: free, one request an account a run" in res.output
    assert "toy-secret-token" not in res.output

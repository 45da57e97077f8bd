"""`tracker collect` with no source: every configured source's collecting jobs (posts of every
platform first, then the replies that are due, then the press); `snapshot-polls` and
`check-deletions` run the configured platforms that have them."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import TOKEN, make_post
from tracker.cli import cli
from tracker.cli.collect import collect_plan
from tracker.config import parse_config
from tracker.core.timeutil import utcnow
from tracker.testing import bluesky as bluesky_api
from tracker.testing import mastodon as mastodon_api
from tracker.testing.xapi import XWorld
from tracker.testing.xapi import serve as serve_x

INSTANCE = "social.example"
BSKY = "alice.bsky.social"


def plan(data: dict) -> list[tuple[str, str]]:
    return collect_plan(parse_config(data))


@pytest.mark.parametrize("data, expected", [
    ({}, []),
    ({"accounts": [{"platform": "mastodon", "handle": f"alice@{INSTANCE}"}]},
     [("collect_posts", "mastodon"), ("collect_replies", "mastodon")]),
    ({"accounts": [{"platform": "bluesky", "handle": BSKY}, {"handle": "alice"},
                   {"platform": "mastodon", "handle": f"alice@{INSTANCE}"}],
      "press": {"feeds": [{"name": "News", "url": "https://news.example/rss"}]}},
     [("collect_posts", "x"), ("collect_posts", "bluesky"), ("collect_posts", "mastodon"),
      ("collect_replies", "x"), ("collect_replies", "bluesky"),
      ("collect_replies", "mastodon"), ("collect_press", "press")]),
    # a story is a GDELT query for the press, unless GDELT is off (then nothing to read)
    ({"stories": [{"id": "s", "title": "t", "query": "a",
                   "window": {"start": "2022-10-01", "end": "2022-10-02"}}]},
     [("collect_press", "press")]),
    ({"stories": [{"id": "s", "title": "t", "query": "a",
                   "window": {"start": "2022-10-01", "end": "2022-10-02"}}],
      "press": {"gdelt": {"enabled": False}}}, []),
])
def test_collect_plan_covers_every_configured_source_posts_first(data, expected):
    assert plan(data) == expected


def tracker(cfg_path, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg_path), *args], obj={},
                              catch_exceptions=False)


def runs(cfg_path) -> list[tuple[str, str, str]]:
    con = duckdb.connect(str(cfg_path.parent / "data" / "tracker.duckdb"), read_only=True)
    try:
        return con.execute("SELECT source, job, status FROM runs ORDER BY started_at"
                           ).fetchall()
    finally:
        con.close()


def test_collect_without_a_source_collects_x_mastodon_and_bluesky(tmp_path, monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)
    now = utcnow()
    xworld = XWorld(token=TOKEN)
    xworld.add_user({"id": "11", "username": "alice", "name": "Alice"})
    make_post(xworld, "11", now - timedelta(hours=1), "hello from X", seq=1)
    mworld = mastodon_api.MastodonWorld()
    inst = mworld.instance(INSTANCE)
    inst.post(inst.account("alice"), "hello from Mastodon", now - timedelta(hours=1))
    bworld = bluesky_api.BskyWorld()
    bworld.add_actor(BSKY)
    bworld.post(BSKY, "hello from Bluesky", now - timedelta(hours=1))
    with serve_x(xworld) as x_url, mastodon_api.serve(mworld) as m_url, \
            bluesky_api.serve(bworld) as b_url:
        cfg_path = tmp_path / "config.yaml"
        cfg_path.write_text(yaml.safe_dump({
            "storage": {"database": "data/tracker.duckdb", "raw_dir": "data/raw"},
            "x": {"api_base_url": x_url, "backoff_base_seconds": 0},
            "mastodon": {"base_urls": {INSTANCE: f"{m_url}/{INSTANCE}"},
                         "access_token_env": "TRACKER_TEST_NO_MASTODON_TOKEN",
                         "backoff_base_seconds": 0},
            "bluesky": {"api_base_url": b_url, "backoff_base_seconds": 0},
            "accounts": [{"platform": "x", "handle": "alice"},
                         {"platform": "mastodon", "handle": f"alice@{INSTANCE}"},
                         {"platform": "bluesky", "handle": BSKY}],
        }))
        res = tracker(cfg_path, "collect")
        assert res.exit_code == 0, res.output
        assert runs(cfg_path) == [
            ("x", "collect_posts", "ok"), ("bluesky", "collect_posts", "ok"),
            ("mastodon", "collect_posts", "ok"), ("x", "collect_replies", "ok"),
            ("bluesky", "collect_replies", "ok"), ("mastodon", "collect_replies", "ok")]
        con = duckdb.connect(str(tmp_path / "data" / "tracker.duckdb"), read_only=True)
        try:
            assert con.execute("SELECT platform, text FROM posts ORDER BY platform"
                               ).fetchall() == [("bluesky", "hello from Bluesky"),
                                                ("mastodon", "hello from Mastodon"),
                                                ("x", "hello from X")]
        finally:
            con.close()

        # the poll and deletion jobs: every configured platform that has them (Bluesky has
        # no polls), and no other
        res = tracker(cfg_path, "snapshot-polls")
        assert res.exit_code == 0, res.output
        res = tracker(cfg_path, "check-deletions")
        assert res.exit_code == 0, res.output
        assert runs(cfg_path)[6:] == [
            ("x", "snapshot_polls", "ok"), ("mastodon", "snapshot_polls", "ok"),
            ("x", "check_deletions", "ok"), ("bluesky", "check_deletions", "ok"),
            ("mastodon", "check_deletions", "ok")]


def test_poll_snapshots_of_mastodon_alone_need_no_x_token(tmp_path, monkeypatch):
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    now = utcnow()
    mworld = mastodon_api.MastodonWorld()
    inst = mworld.instance(INSTANCE)
    inst.post(inst.account("alice"), "Which?", now - timedelta(minutes=5),
              poll={"options": ["A", "B"], "expires_at": now + timedelta(hours=1)})
    with mastodon_api.serve(mworld) as m_url:
        cfg_path = tmp_path / "config.yaml"
        cfg_path.write_text(yaml.safe_dump({
            "storage": {"database": "data/tracker.duckdb", "raw_dir": "data/raw"},
            "mastodon": {"base_urls": {INSTANCE: f"{m_url}/{INSTANCE}"},
                         "access_token_env": "TRACKER_TEST_NO_MASTODON_TOKEN"},
            "accounts": [{"platform": "mastodon", "handle": f"alice@{INSTANCE}"}]}))
        assert tracker(cfg_path, "collect").exit_code == 0
        res = tracker(cfg_path, "snapshot-polls")
        assert res.exit_code == 0, res.output
        assert runs(cfg_path)[-1] == ("mastodon", "snapshot_polls", "ok")
        assert [r for r in runs(cfg_path) if r[0] == "x"] == []

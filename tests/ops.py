"""Helpers for the scheduling tests: a config file pointing at the local server, a small world."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
import yaml

import tracker_jobs as jobs
from tests.conftest import make_post
from tracker.testing.press import PressWorld
from tracker.testing.press import serve as serve_press

JOBS_HERE = ("collect_posts", "snapshot_polls", "collect_replies", "check_deletions", "analyze")

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://news.example.com/</link>
<description>wire</description>
<item><title>Billionaire says he spoke with the president</title>
<link>https://news.example.com/a1</link><guid>a1</guid>
<pubDate>Tue, 11 Oct 2022 10:00:00 GMT</pubDate><description>the claim</description></item>
</channel></rss>"""


@pytest.fixture
def press():
    """(press world, the config's press section) for a local feed server."""
    pworld = PressWorld()
    pworld.put_feed("/wire.rss", RSS)
    with serve_press(pworld) as url:
        yield pworld, {"feeds": [{"name": "wire", "url": f"{url}/wire.rss"}],
                       "gdelt": {"enabled": False}}


def all_jobs() -> list[str]:
    """Every scheduled job, in the order `tracker cron` prints them."""
    return list(jobs.JOBS)


def write_config(tmp_path: Path, api: str, schedule: dict | None = None,
                 press: dict | None = None, **x) -> Path:
    """config.yaml in tmp_path: the local X server, account alice, an optional schedule."""
    data = {
        "storage": {"database": "data/tracker.duckdb", "raw_dir": "data/raw"},
        "x": {"api_base_url": api, "backoff_base_seconds": 0, **x},
        "accounts": [{"platform": "x", "handle": "alice"}],
    }
    if schedule is not None:
        data["schedule"] = schedule
    if press is not None:
        data["press"] = press
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def seed(world, now: datetime | None = None, posts: int = 0) -> dict:
    """alice (a poll and a post), bob's reply to the post; ``posts`` more of alice's posts."""
    now = now or datetime.now(timezone.utc)
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    world.add_user({"id": "200", "username": "bob", "name": "Bob"})
    world.add_poll({"id": "900", "duration_minutes": 1440, "voting_status": "open",
                    "options": [{"position": 1, "label": "Yes", "votes": 10},
                                {"position": 2, "label": "No", "votes": 5}]})
    poll = make_post(world, "100", now - timedelta(hours=3), "Peace plan?",
                     attachments={"poll_ids": ["900"]})
    claim = make_post(world, "100", now - timedelta(hours=2), "a claim")
    reply = make_post(world, "200", now - timedelta(hours=1), "@alice no",
                      conversation_id=claim["id"], in_reply_to_user_id="100",
                      referenced_tweets=[{"type": "replied_to", "id": claim["id"]}])
    for i in range(posts):
        make_post(world, "100", now - timedelta(hours=5, minutes=i), f"older post {i}")
    return {"poll": poll["id"], "claim": claim["id"], "reply": reply["id"]}


def db_rows(path: Path, sql: str) -> list[tuple]:
    """Query a database file read-only (the main one: the tests ran every load already)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()

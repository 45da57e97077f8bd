"""`tracker label`: which item an analyst means, on which platform."""

from __future__ import annotations

import pytest

from tracker.config import parse_config
from tracker.core.errors import TrackerError
from tracker.runs.analyze import parse_item, set_label
from tracker.store.db import open_db

STORY = {"id": "call", "title": "Call", "query": "call",
         "window": {"start": "2022-10-01", "end": "2022-10-31"}}


@pytest.fixture
def cfg(tmp_path):
    cfg = parse_config({"storage": {"database": "db.duckdb", "raw_dir": "raw"},
                        "stories": [STORY]}, base_dir=tmp_path)
    con = open_db(cfg.database)
    con.execute("INSERT INTO posts (platform, post_id, text, first_seen_at, last_seen_at) "
                "VALUES ('x', '7', 'a', now(), now()), ('mastodon', '7', 'b', now(), now()), "
                "('x', '8', 'c', now(), now())")
    con.execute("INSERT INTO articles (url, domain, first_seen_at, last_seen_at) VALUES "
                "('https://news.example/a', 'news.example', now(), now())")
    con.close()
    return cfg


@pytest.mark.parametrize("item, parsed", [
    ("8", ("post", None, "8")),
    ("post:8", ("post", None, "8")),
    ("mastodon:7", ("post", "mastodon", "7")),
    ("bluesky:at://did:plc:abc/app.bsky.feed.post/3k", ("post", "bluesky",
                                                        "at://did:plc:abc/app.bsky.feed.post/3k")),
    ("https://News.example/a?utm_source=x", ("article", "web", "https://news.example/a")),
    ("article:https://news.example/a", ("article", "web", "https://news.example/a")),
])
def test_items_are_read_as_kind_platform_and_id(item, parsed):
    assert parse_item(item) == parsed


def rows(cfg):
    con = open_db(cfg.database)
    try:
        return con.execute("SELECT item_kind, platform, item_id, action, event_type "
                           "FROM analyst_labels ORDER BY labeled_at").fetchall()
    finally:
        con.close()


def test_a_label_records_the_item_s_platform(cfg):
    assert set_label(cfg, "call", "8", "denial").status == "ok"
    assert set_label(cfg, "call", "mastodon:7", "claim").status == "ok"
    assert set_label(cfg, "call", "https://news.example/a", "coverage_of_claim").status == "ok"
    assert rows(cfg) == [("post", "x", "8", "set", "denial"),
                         ("post", "mastodon", "7", "set", "claim"),
                         ("article", "web", "https://news.example/a", "set",
                          "coverage_of_claim")]


@pytest.mark.parametrize("item, message", [
    ("7", r"post 7 is on several platforms \(mastodon, x\): give PLATFORM:7"),
    ("bluesky:7", "post bluesky:7 is not in the database"),
    ("9", "post 9 is not in the database"),
    ("https://news.example/b", "article https://news.example/b is not in the database"),
    ("not an item", "give a post id, PLATFORM:ID, a URL or article:URL"),
])
def test_an_item_that_is_not_one_stored_item_is_refused_and_nothing_recorded(cfg, item,
                                                                             message):
    with pytest.raises(TrackerError, match=message):
        set_label(cfg, "call", item, "denial")
    assert rows(cfg) == []

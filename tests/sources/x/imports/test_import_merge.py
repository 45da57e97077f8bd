"""Imports and collections meet in the same tables: merged by key, never duplicated; the
latest capture wins and an older one only fills what is missing."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.conftest import make_post
from tests.helpers import rows
from tracker.runs import runner
from tests.helpers import import_files

NO_SLEEP = {"sleep": lambda s: None}


def seed(world, clock):
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    world.add_poll({"id": "9", "voting_status": "open", "duration_minutes": 60,
                    "options": [{"position": 1, "label": "yes", "votes": 3},
                                {"position": 2, "label": "no", "votes": 1}]})
    start = clock.at - timedelta(days=1)
    posts = [make_post(world, "100", start + timedelta(minutes=i), f"alice post {i}")
             for i in range(4)]
    posts.append(make_post(world, "100", start + timedelta(minutes=9), "a poll",
                           attachments={"poll_ids": ["9"]}))
    return posts


def twarc_page(tweets, retrieved_at, users=({"id": "100", "username": "alice",
                                             "name": "Alice A."},), polls=()):
    return json.dumps({"data": tweets, "includes": {"users": list(users), "polls": list(polls)},
                       "meta": {"result_count": len(tweets)},
                       "__twarc": {"url": "https://api.twitter.com/2/users/100/tweets",
                                   "version": "2.12.0", "retrieved_at": retrieved_at}})


def imported_version(t, likes):
    """The same tweet as an older twarc capture had it: other counts, and entities."""
    return {**{k: v for k, v in t.items() if k != "public_metrics"},
            "public_metrics": {"like_count": likes, "retweet_count": 0, "reply_count": 0,
                               "quote_count": 0},
            "entities": {"hashtags": [{"start": 0, "end": 5, "tag": "alice"}]}}


def test_import_after_collection_merges(world, make_cfg, clock, tmp_path):
    posts = seed(world, clock)
    cfg = make_cfg()
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    collected_at = rows(cfg, "SELECT min(first_seen_at) FROM posts")[0][0]
    assert rows(cfg, "SELECT count(*), count(entities) FROM posts") == [(5, 0)]
    older = [imported_version(t, 1) for t in posts[:3]]
    extra = {"id": "1500000000000000001", "author_id": "100", "text": "only in the archive",
             "created_at": "2022-10-01T10:00:00.000Z", "edit_history_tweet_ids":
             ["1500000000000000001"]}
    src = tmp_path / "old.jsonl"
    src.write_text(twarc_page(older + [extra], "2022-10-10T08:00:00+00:00") + "\n")
    result = import_files(cfg, "twarc2", [src], clock=clock)
    assert result.status == "ok" and result.tables["posts"][1:] == [1, 3]
    assert rows(cfg, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(6, 6)]
    got = {r[0]: r[1:] for r in rows(
        cfg, "SELECT post_id, like_count, entities IS NOT NULL, first_seen_at, last_seen_at, "
             "text FROM posts")}
    for t in posts[:3]:
        likes, has_entities, first, last, text = got[t["id"]]
        assert likes == 0                          # the collection is the latest capture
        assert has_entities                        # the older capture filled what it lacked
        assert str(first) == "2022-10-10 08:00:00+00:00" and last == collected_at
        assert text == t["text"]
    assert got["1500000000000000001"][2] == got["1500000000000000001"][3]    # first = last
    # the account: one row; the collector's (latest) name wins, both handles' times kept
    assert rows(cfg, "SELECT count(*), any_value(name) FROM accounts") == [(1, "Alice")]
    assert rows(cfg, "SELECT handle, first_seen_at < last_seen_at FROM account_handles") == [
        ("alice", True)]


def test_collection_after_import_merges(world, make_cfg, clock, tmp_path):
    posts = seed(world, clock)
    cfg = make_cfg()
    src = tmp_path / "newer.jsonl"
    poll = {"id": "9", "voting_status": "open", "duration_minutes": 60,
            "options": [{"position": 1, "label": "yes", "votes": 2},
                        {"position": 2, "label": "no", "votes": 1}]}
    src.write_text(twarc_page([imported_version(t, 7) for t in posts], "2022-10-12T11:00:00Z",
                              polls=[poll]) + "\n")
    assert import_files(cfg, "twarc2", [src], clock=clock).status == "ok"
    assert rows(cfg, "SELECT count(*) FROM poll_snapshots") == [(2,)]
    clock.advance(minutes=5)
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert r.status == "ok" and r.posts_read == 5
    assert rows(cfg, "SELECT count(*), count(DISTINCT post_id), sum(like_count), "
                     "count(entities) FROM posts") == [(5, 5, 0, 5)]
    assert rows(cfg, "SELECT count(*), count(DISTINCT poll_id) FROM polls") == [(1, 1)]
    # two captures of the poll: the imported one and the collector's
    assert rows(cfg, "SELECT count(DISTINCT captured_at), sum(votes) FROM poll_snapshots") == [
        (2, 3 + 4)]
    assert rows(cfg, "SELECT DISTINCT job FROM runs ORDER BY 1") == [("collect_posts",),
                                                                      ("import",)]


def test_an_import_seen_later_takes_the_latest_values_but_never_blanks(world, make_cfg,
                                                                       clock, tmp_path):
    posts = seed(world, clock)
    cfg = make_cfg()
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    later = [{**imported_version(posts[0], 42), "lang": None}]
    src = tmp_path / "later.jsonl"
    src.write_text(twarc_page(later, "2022-10-13T00:00:00Z") + "\n")
    assert import_files(cfg, "twarc2", [src], clock=clock).status == "ok"
    assert rows(cfg, "SELECT like_count, lang FROM posts WHERE post_id = ?",
                [posts[0]["id"]]) == [(42, "en")]

"""`tracker import v1` on the RumourEval 2017 threads (v1.1 tweets): every tweet, every user,
and the reply trees: every reply's parent is a stored post, every conversation its thread."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.conftest import corpus_dir

from .helpers import DATA_TABLES, config, query, run_import, tables


@pytest.fixture(scope="module")
def threads():
    path = corpus_dir("rumoureval2017") / "threads.jsonl"
    return path, [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def imported(tmp_path_factory, threads):
    cfg = config(tmp_path_factory.mktemp("rumoureval"))
    result = run_import(cfg, "v1", threads[0])
    return cfg, result


def tweets_of(thread):
    return [thread["source"]] + thread["replies"]


def test_every_tweet_and_user(imported, threads):
    cfg, result = imported
    tweets = [t for th in threads[1] for t in tweets_of(th)]
    assert len(threads[1]) == 214 and len(tweets) == 3461
    assert {r[0] for r in query(cfg, "SELECT post_id FROM posts")} == {t["id_str"] for t in tweets}
    users = {t["user"]["id_str"] for t in tweets}
    assert {r[0] for r in query(cfg, "SELECT account_id FROM accounts")} == users
    assert result.details["stats"].items == 3461 and not result.details["stats"].bad
    # texts, times, authors, counts: as in the v1.1 objects
    by_id = {t["id_str"]: t for t in tweets}
    for pid, author, text, likes, reposts, created in query(
            cfg, "SELECT post_id, author_id, text, like_count, repost_count, "
                 "strftime(created_at, '%a %b %d %H:%M:%S +0000 %Y') FROM posts"):
        t = by_id[pid]
        assert (author, text, likes, reposts, created) == (
            t["user"]["id_str"], t["text"], t["favorite_count"], t["retweet_count"],
            t["created_at"])
    # handles: the latest screen name; every one seen is kept
    handles = Counter(r[0] for r in query(cfg, "SELECT account_id FROM account_handles"))
    assert sum(handles.values()) >= len(users)


def test_reply_trees_are_kept(imported, threads):
    cfg, _ = imported
    posts = {pid: (reply_to, conv) for pid, reply_to, conv in query(
        cfg, "SELECT post_id, reply_to_post_id, conversation_id FROM posts")}
    replies = 0
    for th in threads[1]:
        for t in th["replies"]:
            reply_to, conv = posts[t["id_str"]]
            assert reply_to == t["in_reply_to_status_id_str"]
            assert reply_to in posts                      # every parent is resolvable
            assert conv == th["thread_id"]                # the thread is the conversation
            replies += 1
        assert posts[th["source"]["id_str"]] == (None, th["thread_id"])
    assert replies == 3247
    # the SQL an analyst writes: every reply joins its parent
    assert query(cfg, "SELECT count(*) FROM posts r LEFT JOIN posts p "
                      "ON p.post_id = r.reply_to_post_id "
                      "WHERE r.reply_to_post_id IS NOT NULL AND p.post_id IS NULL") == [(0,)]


def test_first_seen_is_the_import_time_and_said_so(imported):
    cfg, result = imported
    (run_started,) = query(cfg, "SELECT started_at FROM runs")[0]
    assert query(cfg, "SELECT DISTINCT first_seen_at FROM posts") == [(run_started,)]
    assert {i["first_seen"] for i in result.details["inputs"]} == {"import_time"}


def test_retrieved_at_option(tmp_path, threads):
    cfg = config(tmp_path)
    result = run_import(cfg, "v1", threads[0], retrieved_at="2015-01-10T00:00:00Z")
    assert {i["first_seen"] for i in result.details["inputs"]} == {"given"}
    assert [str(r[0]) for r in query(cfg, "SELECT DISTINCT first_seen_at FROM posts")] == [
        "2015-01-10 00:00:00+00:00"]


def test_folder_of_tweet_files_gives_the_same_rows(tmp_path, threads):
    """The RumourEval release's layout (<event>/<thread>/source-tweet|replies/<id>.json) and
    one tweet a line give the rows of the thread lines."""
    sample = threads[1][:5]
    root = tmp_path / "rumoureval"
    one_a_line = tmp_path / "tweets.jsonl"
    with one_a_line.open("w") as fh:
        for th in sample:
            d = root / th["event"] / th["thread_id"]
            (d / "source-tweet").mkdir(parents=True)
            (d / "replies").mkdir()
            (d / "source-tweet" / f"{th['thread_id']}.json").write_text(json.dumps(th["source"]))
            for r in th["replies"]:
                (d / "replies" / f"{r['id_str']}.json").write_text(json.dumps(r, indent=1))
            (d / "structure.json").write_text(json.dumps(th["structure"]))
            for t in tweets_of(th):
                fh.write(json.dumps(t) + "\n")
    lines = tmp_path / "threads.jsonl"
    lines.write_text("".join(json.dumps(th) + "\n" for th in sample))
    at = {"retrieved_at": "2015-01-10T00:00:00Z"}
    a, b, c = config(tmp_path / "a"), config(tmp_path / "b"), config(tmp_path / "c")
    run_import(a, "v1", lines, **at)
    rb = run_import(b, "v1", root, **at)
    run_import(c, "v1", one_a_line, **at)
    assert tables(b, DATA_TABLES) == tables(a, DATA_TABLES)
    # structure.json is not a tweet: reported, not imported
    assert sum("not a v1.1 tweet" in s for s in rb.details["stats"].bad) == 5
    # one tweet a line: the same, except that a reply's conversation is unknown there
    sql = ("SELECT post_id, author_id, text, reply_to_post_id, like_count, entities "
           "FROM posts ORDER BY post_id")
    assert query(c, sql) == query(a, sql)
    assert query(c, "SELECT count(*) FROM posts WHERE conversation_id IS NULL")[0][0] == \
        query(a, "SELECT count(*) FROM posts WHERE reply_to_post_id IS NOT NULL")[0][0]


def test_import_twice_changes_nothing(imported, threads):
    cfg, _ = imported
    before = tables(cfg)
    again = run_import(cfg, "v1", threads[0])
    assert (again.pages, again.new_rows, again.updated_rows) == (0, 0, 0)
    after = tables(cfg)
    assert len(after.pop("runs")) == len(before.pop("runs")) + 1
    assert after == before

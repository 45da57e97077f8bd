"""Incremental analysis gives exactly the rows a full analysis gives, after any sequence of
loads (posts arriving before or after their parents, edits, metrics moving), analysts' labels,
articles and configuration changes; and it looks only at what is new."""

from __future__ import annotations

import json
import random
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from tracker.analysis import engine
from tracker.config import parse_config
from tracker.sources.registry import REGISTRY
from tracker.store.db import open_db
from tracker.store.loader import load_pending
from tracker.store.raw import RawWriter

T0 = datetime(2022, 10, 10, tzinfo=timezone.utc)
USERS = {"1": "claimant", "2": "subject", "3": "other", "4": "reader", "5": "reader2"}
WORDS = ["putin", "kremlin", "musk", "talked", "never", "not true", "call", "plan", "hello",
         "lunch", "stands by", "denied", "spoke"]


def fake_stance(replies, parents, **kw):
    """A deterministic stand-in for the model (its own tests are in test_stance.py)."""
    from tracker.analysis.stance import StanceResult
    out = []
    for r, p in zip(replies, parents):
        label = ["support", "deny", "query", "comment"][(len(r) + len(p)) % 4]
        out.append(StanceResult(label, 0.5, "fake", f"len {len(r)}/{len(p)}"))
    return out


@pytest.fixture(autouse=True)
def stance_stand_in(monkeypatch):
    import tracker.analysis.stance as stance

    monkeypatch.setattr(stance, "MODEL_VERSION", "fake-1")
    calls = []

    def counting(replies, parents, **kw):
        calls.append(len(replies))
        return fake_stance(replies, parents, **kw)

    monkeypatch.setattr(stance, "predict_stance", counting)
    return calls


def stories(variant: int = 0):
    query = ["(putin OR kremlin) AND (musk OR call)", "putin OR spoke",
             "kremlin AND NOT lunch"][variant % 3]
    actors = [{"handle": "claimant", "role": "claimant"}, {"handle": "subject", "role": "subject"}]
    if variant % 2:
        actors.append({"handle": "other", "role": "other"})
    return parse_config({"stories": [
        {"id": "call", "title": "Call", "query": query, "actors": actors,
         "window": {"start": "2022-10-10", "end": "2022-10-20"}},
        {"id": "plan", "title": "Plan", "query": "plan OR \"stands by\"",
         "actors": [{"handle": "subject", "role": "claimant"},
                    {"handle": "claimant", "role": "subject"}],
         "window": {"start": "2022-10-12", "end": "2022-10-14"}},
    ]}).stories


class World:
    """Posts (X-shaped pages) and articles (feed pages) written to a raw archive file by file."""

    def __init__(self, raw, rng):
        self.raw, self.rng, self.runs, self.posts = raw, rng, 0, {}

    def tweet(self, pid, author, at, text, parent=None, quote=None):
        t = {"id": str(pid), "author_id": author, "text": text,
             "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
             "conversation_id": str(pid), "edit_history_tweet_ids": [str(pid)],
             "public_metrics": {"like_count": self.rng.randint(0, 9)}}
        refs = []
        if parent:
            refs.append({"type": "replied_to", "id": str(parent)})
        if quote:
            refs.append({"type": "quoted", "id": str(quote)})
        if refs:
            t["referenced_tweets"] = refs
        return t

    def load(self, con, tweets, articles=()):
        self.runs += 1
        at = T0 + timedelta(days=20, minutes=self.runs)
        w = RawWriter(self.raw, "x", f"r{self.runs:04d}", started=at)
        w.page(purpose="timeline", endpoint="GET /2/tweets/search/recent", params={},
               scope=None, fetched_at=at, status=200, headers={}, body=json.dumps({
                   "data": tweets, "includes": {"users": [
                       {"id": k, "username": v, "name": v} for k, v in USERS.items()]}}))
        if articles:
            p = RawWriter(self.raw, "press", f"p{self.runs:04d}", started=at)
            items = "".join(
                f"<item><title>{t}</title><link>https://news.example/{u}</link><guid>{u}</guid>"
                f"<pubDate>{d.strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate></item>"
                for u, t, d in articles)
            p.page(purpose="feed", endpoint="https://news.example/rss", params={"feed": "wire"},
                   scope="feed:wire", fetched_at=at, status=200,
                   headers={"content-type": "application/rss+xml"},
                   body=f"<rss version='2.0'><channel><title>Wire</title>{items}</channel></rss>")
        load_pending(con, self.raw, REGISTRY)


def items(con):
    return con.execute("SELECT * FROM story_items ORDER BY ALL").fetchall()


def full_copy(tmp_path, db, cfg_stories, n):
    """story_items of a copy of the database analysed in full."""
    copy = tmp_path / f"full{n}.duckdb"
    shutil.copy(db, copy)
    c = open_db(copy)
    try:
        engine.analyze(c, cfg_stories, full=True)
        return items(c)
    finally:
        c.close()


@pytest.mark.parametrize("seed", [1, 2, 3, 10])
def test_incremental_equals_full_after_random_loads_labels_and_config_changes(tmp_path, seed):
    rng = random.Random(seed)
    db = tmp_path / "inc.duckdb"
    con = open_db(db)
    world = World(tmp_path / "raw", rng)
    variant, pid, held = 0, 1000, []
    modes = []
    for step in range(14):
        tweets = []
        for _ in range(rng.randint(0, 7)):
            pid += 1
            author = rng.choice(list(USERS))
            at = T0 + timedelta(days=rng.randint(0, 12), hours=rng.randint(0, 23))
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))
            stored = list(world.posts)
            parent = rng.choice(stored) if stored and rng.random() < 0.5 else None
            quote = rng.choice(stored) if stored and rng.random() < 0.2 else None
            if parent and world.posts[parent][0] >= at:
                at = world.posts[parent][0] + timedelta(minutes=5)
            t = world.tweet(pid, author, at, text, parent, quote)
            world.posts[pid] = (at, t)
            # some posts arrive later than the replies to them
            (held if rng.random() < 0.2 else tweets).append(t)
        if held and rng.random() < 0.5:
            tweets += held
            held = []
        if world.posts and rng.random() < 0.4:           # a re-fetch: metrics (or text) move
            old = rng.choice(list(world.posts))
            t = dict(world.posts[old][1])
            if rng.random() < 0.3:
                t["text"] = " ".join(rng.choice(WORDS) for _ in range(3))
            t["public_metrics"] = {"like_count": rng.randint(10, 99)}
            world.posts[old] = (world.posts[old][0], t)
            tweets.append(t)
        arts = []
        if rng.random() < 0.3:
            d = T0 + timedelta(days=rng.randint(0, 12), hours=rng.randint(0, 23))
            arts.append((f"a{step}", rng.choice(["Putin call denied", "Musk spoke to Kremlin",
                                                 "Lunch plan", "Kremlin stands by call"]), d))
        if step > 2 and rng.random() < 0.3:             # a stored article seen again, changed
            arts.append((f"a{rng.randint(0, step - 1)}",
                         rng.choice(["Update: Musk denied the Putin call", "Lunch plan off"]),
                         T0 + timedelta(days=rng.randint(0, 12))))
        world.load(con, tweets, arts)
        if step in (6, 11):
            variant += 1                                   # the story's query and actors change
        if rng.random() < 0.2:
            some = con.execute("SELECT item_id FROM story_items WHERE story_id = 'call' "
                               "AND item_kind = 'post' ORDER BY item_id LIMIT 1").fetchall()
            if some:
                con.execute("INSERT INTO analyst_labels (label_id, story_id, item_kind, "
                            "item_id, action, event_type, note, analyst, labeled_at, "
                            "platform) VALUES (?, 'call', 'post', ?, 'set', "
                            "'denial', NULL, 'ana', now(), 'x')", [f"l{step}", some[0][0]])
        res = engine.analyze(con, stories(variant))
        modes.append(tuple(r.mode for r in res))
        con.execute("CHECKPOINT")
        assert items(con) == full_copy(tmp_path, db, stories(variant), step), (step, modes)
    con.close()
    flat = [m for ms in modes for m in ms]
    assert "incremental" in flat and "full" in flat       # both paths were exercised


def test_nothing_new_is_unchanged_and_runs_no_model(tmp_path, stance_stand_in):
    con = open_db(tmp_path / "t.duckdb")
    world = World(tmp_path / "raw", random.Random(0))
    world.load(con, [world.tweet(1, "1", T0 + timedelta(days=1), "putin musk call"),
                     world.tweet(2, "4", T0 + timedelta(days=1, hours=1), "hello", parent=1)])
    first = engine.analyze(con, stories())
    assert [r.mode for r in first] == ["full", "full"] and stance_stand_in == [1]
    again = engine.analyze(con, stories())
    assert [(r.mode, r.relabelled) for r in again] == [("unchanged", 0), ("unchanged", 0)]
    # one new reply: one post labelled, one stance computed, the rest kept
    world.load(con, [world.tweet(3, "5", T0 + timedelta(days=1, hours=2), "hello you",
                                 parent=1)])
    third = engine.analyze(con, stories())
    assert [(r.mode, r.relabelled) for r in third] == [("incremental", 1), ("unchanged", 0)]
    assert stance_stand_in == [1, 1]
    # the same words under the same parent are the same stance: the cache answers
    world.load(con, [world.tweet(6, "6", T0 + timedelta(days=1, hours=3), "hello", parent=1)])
    fourth = engine.analyze(con, stories())
    assert [(r.mode, r.relabelled) for r in fourth] == [("incremental", 1), ("unchanged", 0)]
    assert stance_stand_in == [1, 1]
    assert con.execute("SELECT item_id, event_type FROM story_items WHERE story_id = 'call' "
                       "ORDER BY item_id").fetchall() == [("1", "claim"), ("2", "reply"),
                                                          ("3", "reply"), ("6", "reply")]
    # the configuration changes: that story is analysed in full, and says why
    changed = engine.analyze(con, stories(1))
    assert (changed[0].mode, changed[0].why) == ("full", "its configuration or actors changed")
    con.close()


def test_a_parent_arriving_after_its_reply_brings_the_reply_in(tmp_path):
    con = open_db(tmp_path / "t.duckdb")
    world = World(tmp_path / "raw", random.Random(0))
    world.load(con, [world.tweet(2, "4", T0 + timedelta(days=1, hours=1), "hello", parent=1)])
    engine.analyze(con, stories())
    assert items(con) == []
    world.load(con, [world.tweet(1, "1", T0 + timedelta(days=1), "putin musk call")])
    res = engine.analyze(con, stories())
    assert res[0].mode == "incremental"
    assert con.execute("SELECT item_id, event_type, parent_item_id FROM story_items "
                       "ORDER BY item_id").fetchall() == [("1", "claim", None),
                                                          ("2", "reply", "1")]
    con.close()

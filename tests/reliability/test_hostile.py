"""Hostile or broken servers: a drip, a huge body, an empty page that still has a token, answers
of the wrong shape, a token echoed JSON-escaped.

Each answer is archived first, the scope it belongs to fails alone (the other accounts are
collected in the same run), nothing is lost or duplicated, and the next run resumes.
"""

from __future__ import annotations

import gzip
import json
import time
from datetime import timedelta

import pytest

from tests.conftest import TOKEN, make_post
from tracker.runs import runner
from tracker.config import parse_config
from tracker.testing.press import PressWorld, serve as serve_press
from tracker.testing.xapi import Fault
from tests.helpers import collect_press
from tracker.store.raw import list_raw_files, read_raw_file

from .common import (NO_SLEEP, arm_after, covers, cursor_of, duplicate_keys, q, seed,
                     served_posts)


def _two(world, clock, n=30):
    seed(world, clock, n, author="100", handle="alice")
    seed(world, clock, n, author="200", handle="bob")


def _pages(cfg):
    out = []
    for rel in list_raw_files(cfg.raw_dir):
        for rl in read_raw_file(cfg.raw_dir / rel):
            if rl.record and rl.record.get("type") == "page":
                out.append(rl.record)
    return out


def _stored(cfg, author):
    return {r[0] for r in q(cfg.replica, "SELECT post_id FROM posts WHERE author_id = ? "
                                         "AND seen_in = 'data'", [author])}


def test_drip_is_cut_at_the_deadline_and_the_other_account_is_collected(world, make_cfg,
                                                                         clock):
    _two(world, clock)
    world.faults.append(Fault(r"/users/100/tweets$", drip_seconds=0.05))
    cfg = make_cfg(("alice", "bob"), request_deadline_seconds=1.0, timeout_seconds=0.5)
    started = time.monotonic()
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    took = time.monotonic() - started
    assert took < 8, took                   # the answer alone would take ~2 minutes
    assert r.status == "failed" and "timeline @alice" in r.error and "deadline" in r.error
    assert "timeline @bob" not in r.error
    assert _stored(cfg, "200") == served_posts(world, "200")
    assert _stored(cfg, "100") == set()
    cut = [p for p in _pages(cfg) if p["error"] and "deadline" in p["error"]]
    assert len(cut) == 1 and cut[0]["status"] == 200 and cut[0]["cursor_after"] is None
    assert 0 < len(cut[0]["body"]) < 200        # what came before the deadline is archived
    r2 = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert r2.status == "ok"
    assert _stored(cfg, "100") == served_posts(world, "100")
    assert set(duplicate_keys(cfg.database).values()) == {0}


def test_huge_body_is_cut_at_the_cap_archived_and_reported(world, make_cfg, clock):
    _two(world, clock)
    world.faults.append(Fault(r"/users/100/tweets$", huge_bytes=40 << 20))
    cfg = make_cfg(("alice", "bob"), max_body_bytes="1MiB")
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert r.status == "failed" and "larger than the cap of 1,048,576 bytes" in r.error
    assert _stored(cfg, "200") == served_posts(world, "200")
    cut = [p for p in _pages(cfg) if p["error"] and "cap" in p["error"]]
    assert len(cut) == 1 and len(cut[0]["body"]) == 1 << 20
    # the cut page is kept and quarantined, not loaded
    assert q(cfg.replica, "SELECT http_status, error IS NOT NULL FROM raw_pages "
                          "WHERE page_id = ?", [f"{cut[0]['run_id']}:{cut[0]['seq']}"]) == [
        (200, True)]
    assert runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP).status == "ok"
    assert _stored(cfg, "100") == served_posts(world, "100")


def test_huge_feed_is_cut_and_the_other_feeds_are_read(tmp_path, clock):
    press = PressWorld()
    good = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>'
            '<item><title>Claim reported</title><link>https://news.example/a</link>'
            '<pubDate>Wed, 12 Oct 2022 10:00:00 GMT</pubDate></item></channel></rss>')
    press.put_feed("/good.xml", good)
    press.put_feed("/huge.xml", good)
    press.faults.append(Fault(r"/huge\.xml$", huge_bytes=30 << 20))
    with serve_press(press) as url:
        cfg = parse_config({
            "storage": {"database": "db/t.duckdb", "raw_dir": "raw"},
            "press": {"feeds": [{"name": "Huge", "url": url + "/huge.xml"},
                                {"name": "Good", "url": url + "/good.xml"}],
                      "gdelt": {"enabled": False}, "max_body_bytes": "2MB",
                      "backoff_base_seconds": 0}}, base_dir=tmp_path)
        r = collect_press(cfg, clock=clock, **NO_SLEEP)
    assert r.status == "failed" and "feed 'Huge'" in r.error and "cap" in r.error
    assert q(cfg.replica, "SELECT url FROM articles") == [("https://news.example/a",)]
    cut = [p for p in _pages(cfg) if p["error"] and "cap" in p["error"]]
    assert len(cut) == 1 and len(cut[0]["body"].encode()) == 2_000_000


def test_empty_page_with_a_token_does_not_end_pagination(world, make_cfg, clock):
    posts = seed(world, clock, 250)
    cfg = make_cfg(page_size=100)
    top = max(int(p["id"]) for p in posts)
    # the first answer has no results but a token to the rest (the search endpoints do this)
    world.faults.append(Fault(r"/users/100/tweets$", status=200,
                              body=json.dumps({"meta": {"result_count": 0,
                                                        "next_token": f"next-{top + 1}"}})))
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert r.status == "ok"
    assert _stored(cfg, "100") == served_posts(world, "100")
    assert covers(cursor_of(cfg.database, "timeline:100"), str(top))
    # and in the middle of a pagination
    world2_new = [make_post(world, "100", clock.at + timedelta(minutes=i), f"new {i}")
                  for i in range(150)]
    mid = min(int(p["id"]) for p in world2_new[50:])
    # page 2 is empty, with a token (a new one, to the same place) to the rest
    arm_after(world, r"/users/100/tweets$", 1, Fault(
        r"/users/100/tweets$", status=200,
        body=json.dumps({"meta": {"result_count": 0, "next_token": f"next-0{mid}"}})))
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert r.status == "ok"
    assert _stored(cfg, "100") == served_posts(world, "100")


@pytest.mark.parametrize("body,outcome", [
    # read for what it holds: one post, no pagination (meta is not an object)
    ('{"data": [{"id": "1", "text": "x"}], "meta": "oops"}', "ok"),
    # a token that is not a string ends nothing silently: there is no next page to read
    ('{"data": [], "meta": {"result_count": 3, "next_token": ["not", "a", "token"]}, '
     '"includes": "nope"}', "ok"),
    # unreadable: retried within x.max_retries, then this account fails alone
    ("[" * 100_000 + "]" * 100_000, "failed"),
], ids=["meta-string", "odd-types", "nested-100k"])
def test_wrong_shapes_are_archived_and_cost_at_most_one_scope(world, make_cfg, clock, body,
                                                              outcome):
    _two(world, clock)
    world.faults.append(Fault(r"/users/100/tweets$", status=200, body=body, times=10))
    cfg = make_cfg(("alice", "bob"), max_retries=1)
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert r.status == outcome
    assert _stored(cfg, "200") == served_posts(world, "200")    # bob is not held up
    odd = [p for p in _pages(cfg) if p.get("scope") == "timeline:100"]
    assert odd and all(p["body"] == body for p in odd)           # archived verbatim
    if outcome == "failed":
        assert "timeline @alice" in r.error and "timeline @bob" not in r.error
        assert len(odd) == 2 and all("nested too deeply" in p["error"] for p in odd)
        assert cursor_of(cfg.database, "timeline:100") is None
        assert q(cfg.replica, "SELECT count(*) FROM raw_pages WHERE scope = 'timeline:100' "
                              "AND error LIKE 'quarantined:%nested too deeply%'") == [(2,)]
    world.faults.clear()
    r2 = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert r2.status == "ok"
    assert _stored(cfg, "100") >= served_posts(world, "100")
    assert set(duplicate_keys(cfg.database).values()) == {0}


def test_a_shape_the_cursor_cannot_read_fails_its_scope_after_archiving(tmp_path):
    from tracker.core.errors import SourceError
    from tracker.sources.fetch import ArchivingFetcher, FetchLimits
    from tracker.store.raw import RawWriter

    class Answering:
        status_code, text, headers, content = 200, '{"meta": 1}', {}, b'{"meta": 1}'
        incomplete = None

    raw = RawWriter(tmp_path, "x", "run-1")
    f = ArchivingFetcher(raw, FetchLimits(max_requests=5))
    with pytest.raises(SourceError, match="unexpected response shape: AttributeError"):
        f.fetch(purpose="timeline", endpoint="GET /t", send=lambda: Answering(),
                scope="timeline:1", cursor_fn=lambda text, a: (json.loads(text)["meta"].get("x"), None))
    (page,) = [rl.record for rl in read_raw_file(raw.path)]
    assert (page["body"], page["cursor_after"]) == ('{"meta": 1}', None)
    assert page["error"].startswith("unexpected response shape")
    assert f.stats.requests == 1              # not retried


def test_token_echoed_json_escaped_never_reaches_raw_or_database(world, make_cfg, clock):
    seed(world, clock, 3)
    escaped = "".join(f"\\u{ord(c):04x}" for c in TOKEN)
    world.faults.append(Fault(r"/users/by$", status=200, body=(
        '{"data": [{"id": "100", "username": "alice", "name": "echo ' + escaped + '", '
        '"description": "Bearer ' + escaped + '"}]}')))
    cfg = make_cfg()
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert r.status == "ok"
    # (the name is overwritten by the timeline's newer answer; the description is not)
    assert q(cfg.database, "SELECT description FROM accounts") == [("Bearer [REDACTED]",)]
    assert q(cfg.database, "SELECT count(*) FROM accounts a, posts p WHERE "
                           "(a.name || a.description || p.text) LIKE ?", [f"%{TOKEN}%"]) == [(0,)]
    for rel in list_raw_files(cfg.raw_dir):
        raw = gzip.decompress((cfg.raw_dir / rel).read_bytes()).decode("utf-8")
        assert TOKEN not in raw and escaped not in raw
        for rl in read_raw_file(cfg.raw_dir / rel):
            assert TOKEN not in json.dumps(rl.record, ensure_ascii=False)

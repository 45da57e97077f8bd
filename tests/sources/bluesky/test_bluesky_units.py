"""The Bluesky source's pure parts: handles, ids, the normalizer's edge cases, the cursors'
order, the plan amended by pages waiting in raw, the cost model."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from tracker.config import parse_config
from tracker.core.errors import MalformedPage
from tracker.sources.bluesky.config import bluesky_handle
from tracker.sources.bluesky.cost import cost
from tracker.sources.bluesky.normalize import item_time, normalize, web_url
from tracker.sources.bluesky.plan import BlueskyPlan, cursor_rank, plan_pending
from tracker.store.raw import RawWriter

AT = "2024-03-01T12:00:00.000000Z"
DID = "did:plc:kvwvcn5iqfooopmyzvb4qzba"
URI = f"at://{DID}/app.bsky.feed.post/3kahesw26il2z"


@pytest.mark.parametrize("given, want", [
    ("name.bsky.social", "name.bsky.social"), ("@Name.Bsky.Social ", "name.bsky.social"),
    ("example.com", "example.com"), ("alice.test", "alice.test")])
def test_valid_handles(given, want):
    assert bluesky_handle(given) == want


@pytest.mark.parametrize("given, why", [
    ("name", "not a valid Bluesky handle"), ("-a.bsky.social", "not a valid"),
    ("a..b", "not a valid"), ("handle.invalid", "not a valid"), ("x.local", "not a valid"),
    (DID, "is a DID"), ("a.b" + ".c" * 130, "not a valid"), ("name.123", "not a valid")])
def test_invalid_handles(given, why):
    with pytest.raises(ValueError, match=why):
        bluesky_handle(given)


def test_a_bad_handle_is_reported_with_its_config_path():
    from tracker.core.errors import ConfigError
    with pytest.raises(ConfigError, match=r"accounts\[1\]\.handle: 'nobody' is not a valid "
                                          "Bluesky handle"):
        parse_config({"accounts": [{"platform": "bluesky", "handle": "ok.bsky.social"},
                                   {"platform": "bluesky", "handle": "nobody"}]})


def test_ids_and_urls():
    assert web_url(URI) == f"https://bsky.app/profile/{DID}/post/3kahesw26il2z"
    assert web_url(f"at://{DID}/app.bsky.feed.generator/x") is None
    assert web_url("record(0)") is None


def view(uri: str, text: str, **extra) -> dict:
    return {"uri": uri, "cid": "bafy", "author": {"did": DID, "handle": "a.bsky.social"},
            "record": {"$type": "app.bsky.feed.post", "text": text,
                       "createdAt": "2024-03-01T10:00:00.000Z"},
            "indexedAt": "2024-03-01T10:00:01.000Z", **extra}


def page(endpoint: str, body, params=None, status: int = 200) -> dict:
    return {"type": "page", "source": "bluesky", "run_id": "r", "seq": 3,
            "endpoint": endpoint, "params": params or {}, "fetched_at": AT, "status": status,
            "body": body if isinstance(body, str) else json.dumps(body)}


def test_one_odd_item_never_costs_the_page():
    body = {"feed": [{"post": view(URI, "fine")}, {"post": {"cid": "no uri"}}, "junk",
                     {"post": view(URI + "2", "also fine", likeCount="many")}]}
    rows = normalize(page("app.bsky.feed.getAuthorFeed", body))
    assert [p["text"] for p in rows.tables["posts"]] == ["fine", "also fine"]
    assert rows.tables["posts"][1]["like_count"] is None
    assert rows.items == 4 and len(rows.skipped) == 2


def test_a_pinned_post_and_a_blocked_parent():
    body = {"feed": [{"post": view(URI, "pinned"), "reason": {
        "$type": "app.bsky.feed.defs#reasonPin"}}, {"post": view(URI + "2", "reply"), "reply": {
            "root": {"$type": "app.bsky.feed.defs#blockedPost", "uri": URI + "3",
                     "blocked": True, "author": {"did": "did:plc:other"}},
            "parent": {"$type": "app.bsky.feed.defs#notFoundPost", "uri": URI + "4",
                       "notFound": True}}}]}
    rows = normalize(page("app.bsky.feed.getAuthorFeed", body))
    assert [p["post_id"] for p in rows.tables["posts"]] == [URI, URI + "2"]
    assert rows.post_status == [("bluesky", URI + "4", "not_found", AT)]
    assert [a["account_id"] for a in rows.tables["accounts"]] == [DID]


def test_an_invalid_handle_is_no_handle():
    body = {"did": DID, "handle": "handle.invalid", "displayName": "A", "followersCount": 3}
    rows = normalize(page("app.bsky.actor.getProfile", body, {"actor": "a.bsky.social"}))
    assert [(a["account_id"], a["handle"], a["followers_count"])
            for a in rows.tables["accounts"]] == [(DID, None, 3)]
    assert "account_handles" not in rows.tables


def test_get_posts_leaves_out_what_is_gone():
    rows = normalize(page("app.bsky.feed.getPosts", {"posts": [view(URI, "here")]},
                          {"uris": [URI, URI + "x"]}))
    assert rows.post_status == [("bluesky", URI + "x", "not_found", AT)]
    assert rows.tables["posts"][0]["seen_in"] == "data"


@pytest.mark.parametrize("status, body, want", [
    (400, {"error": "NotFound", "message": "Post not found: x"}, 1),
    (400, {"error": "InvalidRequest", "message": "bad"}, 0),
    (429, {"error": "RateLimitExceeded"}, 0), (503, "<html>down</html>", 0)])
def test_error_answers(status, body, want):
    rows = normalize(page("app.bsky.feed.getPostThread", body, {"uri": URI}, status))
    assert len(rows.post_status) == want
    assert len(rows.tables.get("api_errors", [])) == (1 if status == 400 else 0)


@pytest.mark.parametrize("body, why", [
    ("{not json", "invalid JSON"), ("[1]", "expected an object"),
    ({"cursor": "x"}, "without 'feed'")])
def test_malformed_pages_are_refused(body, why):
    with pytest.raises(MalformedPage, match=why):
        normalize(page("app.bsky.feed.getAuthorFeed", body))


def test_the_feed_order_is_the_appviews():
    post = {"post": view(URI, "x")}
    assert item_time(post) == datetime(2024, 3, 1, 10, 0, tzinfo=timezone.utc)   # created
    repost = {**post, "reason": {"$type": "app.bsky.feed.defs#reasonRepost",
                                 "indexedAt": "2024-03-01T11:00:00.000Z"}}
    assert item_time(repost) == datetime(2024, 3, 1, 11, 0, tzinfo=timezone.utc)


def test_a_cursor_never_moves_back():
    old = {"newest_at": "2024-03-01T10:00:00Z", "newest_key": "a", "gap": None}
    gap = {"newest_at": "2024-03-01T10:00:00Z", "newest_key": "a", "gap": {
        "cursor": "c", "top_at": "2024-03-01T12:00:00Z", "top_key": "z",
        "until_at": "2024-03-01T11:00:00Z", "read": 100}}
    deeper = {**gap, "gap": {**gap["gap"], "until_at": "2024-03-01T10:30:00Z", "read": 200}}
    done = {"newest_at": "2024-03-01T12:00:00Z", "newest_key": "z", "gap": None}
    ranks = [cursor_rank(c) for c in (old, gap, deeper, done)]
    assert ranks == sorted(ranks) and len(set(ranks)) == 4
    assert cursor_rank({"read_at": "2024-03-02T00:00:00Z"}) > cursor_rank(
        {"read_at": "2024-03-01T00:00:00Z"})


def test_the_plan_takes_cursors_and_handles_from_pages_waiting_in_raw(tmp_path):
    raw = RawWriter(tmp_path, "bluesky", "run1")
    raw.page(purpose="profile", endpoint="app.bsky.actor.getProfile",
             params={"actor": "a.bsky.social"}, scope=None,
             fetched_at=datetime(2024, 3, 1, tzinfo=timezone.utc), status=200, headers={},
             body=json.dumps({"did": DID, "handle": "a.bsky.social"}))
    plan = BlueskyPlan(cursors={"feed:x": {"newest_key": "old"}})
    plan_pending(plan, {"feed:x": {"newest_key": "new"}}, tmp_path, [raw.relpath])
    assert plan.cursors == {"feed:x": {"newest_key": "new"}}
    assert plan.known_handles == {"a.bsky.social": DID}


def test_cost_counts_requests_and_no_dollars(tmp_path):
    cfg = parse_config({"accounts": [{"platform": "bluesky", "handle": f"a{i}.bsky.social"}
                                     for i in range(4)], "bluesky": {"max_requests_per_run": 3}},
                       base_dir=tmp_path)
    part = cost(cfg, {"collect_posts": ("*/15 * * * *", 2880),
                      "collect_replies": ("5-59/15 * * * *", 2880),
                      "check_deletions": ("38 * * * *", 720)}, {"posts_per_day": 10},
                measure=True, days=30)
    jobs = {j.job: j for j in part.jobs}
    assert jobs["collect_posts"].requests == 4 * 2880          # one feed read an account a run
    assert jobs["resolve_handles"].requests == 4
    assert all(j.usd == 0 and j.billed_post_reads == 0 for j in part.jobs)
    assert part.rates["bluesky.posts_per_day"] == 10
    assert part.rate_sources["bluesky.posts_per_day"] == "given"
    assert any("max_requests_per_run is 3" in w for w in part.warnings)

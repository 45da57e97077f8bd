"""Conformance: every recorded Bluesky AppView answer in ../shared/corpus/bluesky normalizes
without loss, and the atproto SDK's models read the real ones.

The corpus (see its SOURCES.md) is read in place, never copied. Every expected number is
counted from the JSON by this file, independently of tracker.sources.bluesky.normalize: every
post view in (a ``postView``, a quote's ``viewRecord``) is a posts row out, every repost an
own row, every profile an accounts row, every ``notFoundPost``/``viewNotFound`` a sighting.
The literal table pins what the corpus itself holds, so an empty or altered file cannot pass.
The AppView test snapshots (``*.snap``) are Vitest dumps, not JSON: they are read here for
their structure (sorted keys, trailing commas, placeholder ids).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import corpus_dir
from tracker.core.errors import MalformedPage
from tracker.sources.bluesky.normalize import normalize

FETCHED_AT = "2024-03-01T12:00:00.000000Z"
POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.defs#reasonRepost"
FEED = "app.bsky.feed.getAuthorFeed"
THREAD = "app.bsky.feed.getPostThread"
POSTS = "app.bsky.feed.getPosts"
RESOLVE = "com.atproto.identity.resolveHandle"

# recorded answer -> (endpoint, post views, reposts, profiles, sightings), counted once by hand
REAL = {
    "atproto-dart/getAuthorFeed.json": (FEED, 47, 2, 18, 0),
    "marshalx-atproto/thread_view_post_with_embed_media.json": (THREAD, 2, 0, 1, 0),
}
# snapshot file -> (snapshots, post views, reposts, profiles, sightings) over all of them
SNAPSHOTS = {
    "author-feed.test.ts.snap": (FEED, 10, 83, 3, 35, 0),
    "thread.test.ts.snap": (THREAD, 15, 29, 0, 25, 3),
    "posts.test.ts.snap": (POSTS, 5, 12, 0, 8, 0),
}


def corpus() -> Path:
    return corpus_dir("bluesky") / "responses"


def walk(value):
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            yield v
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def expected(body) -> dict:
    """What an answer holds, counted from its JSON alone."""
    views, profiles, handles, missing, reposts = set(), set(), set(), set(), 0
    for d in walk(body):
        record, value = d.get("record"), d.get("value")
        if isinstance(d.get("uri"), str) and isinstance(d.get("author"), dict) and (
                (isinstance(record, dict) and record.get("$type", POST) == POST)
                or (isinstance(value, dict) and value.get("$type") == POST)):
            views.add(d["uri"])
        if isinstance(d.get("did"), str) and isinstance(d.get("handle"), str):
            profiles.add(d["did"])
            if d["handle"] != "handle.invalid":
                handles.add((d["did"], d["handle"].lower()))
        if d.get("notFound") is True:
            missing.add(d["uri"])
        if isinstance(d.get("reason"), dict) and d["reason"].get("$type") == REPOST:
            reposts += 1
    return {"views": len(views), "reposts": reposts, "profiles": len(profiles),
            "handles": len(handles), "missing": len(missing - views)}


def got(rows) -> dict:
    posts = rows.tables.get("posts", [])
    return {"views": sum(1 for p in posts if p["reposted_post_id"] is None),
            "reposts": sum(1 for p in posts if p["reposted_post_id"] is not None),
            "profiles": len(rows.tables.get("accounts", [])),
            "handles": len(rows.tables.get("account_handles", [])),
            "missing": len(rows.post_status)}


def page(endpoint: str, body_text: str, params: dict | None = None, status: int = 200) -> dict:
    return {"type": "page", "source": "bluesky", "run_id": "r1", "seq": 1, "purpose": "test",
            "endpoint": endpoint, "params": params or {}, "scope": None,
            "fetched_at": FETCHED_AT, "status": status, "headers": {}, "body": body_text}


def snapshots(name: str) -> list[tuple[str, object]]:
    """The dumps of a Vitest snapshot file, as JSON values."""
    text = (corpus() / "bsky-appview-snapshots" / name).read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"exports\[`(.*?)`\] = `\n(.*?)\n`;\n", text, re.S):
        dump = m.group(2).replace("\\`", "`").replace("\\${", "${")
        out.append((m.group(1), json.loads(re.sub(r",(\s*[}\]])", r"\1", dump))))
    return out


def as_answer(endpoint: str, value) -> tuple[dict, dict]:
    """A snapshot's value as the body its query answers with, and that query's params."""
    if endpoint == FEED:
        return {"feed": value}, {}
    if endpoint == THREAD:
        return {"thread": value}, {}
    posts = value if isinstance(value, list) else [value]
    return {"posts": posts}, {"uris": [p["uri"] for p in posts]}


@pytest.mark.parametrize("name", sorted(REAL))
def test_every_recorded_answer_normalizes_without_loss(name):
    endpoint, views, reposts, profiles, missing = REAL[name]
    text = (corpus() / name).read_text(encoding="utf-8")
    body = json.loads(text)
    want = expected(body)
    assert (want["views"], want["reposts"], want["profiles"], want["missing"]) == (
        views, reposts, profiles, missing)
    rows = normalize(page(endpoint, text))
    assert got(rows) == want
    assert rows.skipped == []
    posts = rows.tables["posts"]
    assert len({p["post_id"] for p in posts}) == len(posts)
    for p in posts:
        assert p["platform"] == "bluesky" and p["author_id"].startswith("did:plc:")
        assert p["created_at"] is not None
        if p["reposted_post_id"] is None:
            assert p["post_id"].startswith("at://")
            assert p["url"].startswith("https://bsky.app/profile/did:plc:")
            assert p["text"] is not None


def test_the_real_author_feed_marks_reposts_replies_and_links():
    text = (corpus() / "atproto-dart" / "getAuthorFeed.json").read_text(encoding="utf-8")
    body = json.loads(text)
    rows = normalize(page(FEED, text))
    by_id = {p["post_id"]: p for p in rows.tables["posts"]}
    items = body["feed"]
    own = [i["post"] for i in items if "reason" not in i]
    replies = [p for p in own if "reply" in p["record"]]
    assert (len(items), len(own), len(replies)) == (25, 23, 20)
    for p in own:
        row = by_id[p["uri"]]
        assert row["seen_in"] == "data" and row["text"] == p["record"]["text"]
        reply = p["record"].get("reply")
        assert row["reply_to_post_id"] == (reply["parent"]["uri"] if reply else None)
        assert row["conversation_id"] == (reply["root"]["uri"] if reply else p["uri"])
        assert row["like_count"] == p["likeCount"] and row["reply_count"] == p["replyCount"]
    # a 2023 answer: reposts carry no repost URI, so theirs is made of reposter and post
    reposts = [r for r in rows.tables["posts"] if r["reposted_post_id"]]
    assert sorted(r["post_id"] for r in reposts) == sorted(
        f"repost:{i['reason']['by']['did']}:{i['post']['uri']}" for i in items if "reason" in i)
    assert all(by_id[r["reposted_post_id"]]["seen_in"] == "includes" for r in reposts)
    linked = [r for r in rows.tables["posts"] if r.get("entities") and "external" in r["entities"]]
    assert len(linked) == 1 and json.loads(linked[0]["entities"])["external"]["uri"]


def test_a_quote_with_media_is_kept_as_a_reference():
    name = "marshalx-atproto/thread_view_post_with_embed_media.json"
    rows = normalize(page(THREAD, (corpus() / name).read_text(encoding="utf-8")))
    post, quoted = sorted(rows.tables["posts"], key=lambda p: p["seen_in"])
    assert post["quoted_post_id"] == quoted["post_id"] == (
        "at://did:plc:kvwvcn5iqfooopmyzvb4qzba/app.bsky.feed.post/3kahesw26il2z")
    assert (post["seen_in"], quoted["seen_in"], quoted["text"]) == ("data", "includes", "test")


def test_a_resolved_handle_is_a_handle_of_its_did():
    text = (corpus() / "marshalx-atproto" / "resolve_handle.json").read_text(encoding="utf-8")
    rows = normalize(page(RESOLVE, text, {"handle": "bsky.app"}))
    assert rows.tables["account_handles"] == [
        {"platform": "bluesky", "account_id": "did:plc:z72i7hdynmk6r22z27h6tvur",
         "handle": "bsky.app", "first_seen_at": FETCHED_AT, "last_seen_at": FETCHED_AT}]


@pytest.mark.parametrize("name", ["post_record.json", "did_doc.json"])
def test_answers_to_queries_the_collector_does_not_send_are_refused(name):
    text = (corpus() / "marshalx-atproto" / name).read_text(encoding="utf-8")
    with pytest.raises(MalformedPage, match="not an AppView query this source reads"):
        normalize(page("com.atproto.repo.getRecord", text))


@pytest.mark.parametrize("name", sorted(SNAPSHOTS))
def test_every_appview_snapshot_normalizes_without_loss(name):
    endpoint, n, views, reposts, profiles, missing = SNAPSHOTS[name]
    snaps = snapshots(name)
    assert len(snaps) == n
    total = {"views": 0, "reposts": 0, "profiles": 0, "missing": 0}
    for title, value in snaps:
        body, params = as_answer(endpoint, value)
        want = expected(body)
        rows = normalize(page(endpoint, json.dumps(body), params))
        assert got(rows) == want, title
        assert rows.skipped == [], title
        for k in total:
            total[k] += want[k]
    assert total == {"views": views, "reposts": reposts, "profiles": profiles,
                     "missing": missing}


def test_deleted_and_blocked_thread_members():
    snaps = dict(snapshots("thread.test.ts.snap"))
    deleted = snaps["appview thread views > handles deleted posts correctly 3"]
    rows = normalize(page(THREAD, json.dumps({"thread": deleted})))
    # the parent is gone: a sighting of its deletion, confirmed by a later run's
    assert rows.post_status == [("bluesky", "record(5)", "not_found", FETCHED_AT)]
    assert rows.tables["posts"][0]["reply_to_post_id"] == "record(5)"
    blocked = snaps["appview thread views > listblock > doesn't apply listblock if list was "
                    "taken down by private takedown 1"]
    rows = normalize(page(THREAD, json.dumps({"thread": blocked})))
    # a block says nothing about the post: no row, no status
    assert (rows.tables, rows.post_status, rows.items) == ({}, [], 0)


def test_the_sdk_models_read_every_real_answer():
    from atproto_client import models
    from atproto_client.models.utils import get_or_create

    for name, model in (("atproto-dart/getAuthorFeed.json", models.AppBskyFeedGetAuthorFeed),
                        ("marshalx-atproto/thread_view_post_with_embed_media.json",
                         models.AppBskyFeedGetPostThread),
                        ("marshalx-atproto/resolve_handle.json",
                         models.ComAtprotoIdentityResolveHandle)):
        body = json.loads((corpus() / name).read_text(encoding="utf-8"))
        assert get_or_create(body, model.Response, strict=True) is not None, name

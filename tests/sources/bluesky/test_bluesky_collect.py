"""Bluesky collection end to end: the atproto SDK's client through the archiving fetcher
against the local AppView, exact rows in a temporary DuckDB."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import rows
from tests.sources.bluesky.bluesky_helpers import (ALICE, BOB, CAROL, FEED, NOW, POSTS,
                                                   PROFILE, THREAD, ago, cursor, run, web)
from tracker.runs import runner
from tracker.store.raw import list_raw_files, read_raw_file


def seed(bsky, n: int, handle: str = ALICE) -> tuple[str, list[str]]:
    did = bsky.add_actor(handle)
    start = NOW - timedelta(days=2)
    return did, [bsky.post(did, f"post {i}", start + timedelta(minutes=i)) for i in range(n)]


def feed_requests(bsky) -> list[tuple[str | None, str | None]]:
    return [(r.params.get("limit"), r.params.get("cursor")) for r in bsky.requests
            if r.nsid == FEED]


def test_handle_resolved_once_backfill_paginates_and_the_next_run_reads_only_new(
        bsky, make_cfg, bclock):
    alice, posts = seed(bsky, 250)
    cfg = make_cfg()
    r1 = run(cfg, "collect_posts", bclock)
    assert (r1.status, r1.requests, r1.pages, r1.posts_read) == ("ok", 4, 4, 250)
    assert r1.by_purpose == {"profile": 1, "feed": 3}
    # the handle once, then the feed by DID, 100 a page, each page after the AppView's cursor
    assert [r.nsid for r in bsky.requests] == [PROFILE, FEED, FEED, FEED]
    assert bsky.requests[0].params == {"actor": ALICE}
    assert bsky.requests[1].params == {"actor": alice, "limit": "100",
                                       "filter": "posts_with_replies", "includePins": "false"}
    limits = feed_requests(bsky)
    assert [lim for lim, _ in limits] == ["100"] * 3 and limits[0][1] is None
    assert all(c and "::" in c for _, c in limits[1:])
    assert rows(cfg, "SELECT count(*), count(DISTINCT post_id), min(author_id), "
                     "max(author_id), count(*) FILTER (WHERE seen_in = 'data') FROM posts") == [
        (250, 250, alice, alice, 250)]
    assert rows(cfg, "SELECT platform, account_id, handle, name FROM accounts") == [
        ("bluesky", alice, ALICE, "Alice")]
    assert rows(cfg, "SELECT account_id, handle FROM account_handles") == [(alice, ALICE)]
    assert cursor(cfg, f"feed:{alice}") == {
        "newest_at": "2024-02-28T16:09:00.000000Z", "newest_key": posts[-1], "gap": None}

    bsky.requests.clear()
    bclock.advance(minutes=15)
    fresh = bsky.post(alice, "fresh", NOW + timedelta(minutes=14))
    r2 = run(cfg, "collect_posts", bclock)
    # no handle lookup; one small page (bluesky.first_page_size) that reaches the stored newest
    assert (r2.status, r2.requests, r2.by_purpose) == ("ok", 1, {"feed": 1})
    assert bsky.requests[0].params == {"actor": alice, "limit": "10",
                                       "filter": "posts_with_replies", "includePins": "false"}
    assert r2.tables["posts"][1] == 1                       # one new row
    assert rows(cfg, "SELECT count(*) FROM posts") == [(251,)]
    assert rows(cfg, "SELECT text FROM posts WHERE post_id = ?", [fresh]) == [("fresh",)]
    assert cursor(cfg, f"feed:{alice}")["newest_key"] == fresh


def test_a_handle_nobody_has_is_reported_and_the_others_collected(bsky, make_cfg, bclock):
    alice, _ = seed(bsky, 3)
    cfg = make_cfg(handles=(ALICE, "nobody.bsky.social"))
    r = run(cfg, "collect_posts", bclock)
    assert (r.status, r.details["feeds"]) == ("ok", {"accounts": 1, "not_found": 1})
    assert rows(cfg, "SELECT title, detail, resource_type, resource_id FROM api_errors") == [
        ("InvalidRequest", "Profile not found", "actor", "nobody.bsky.social")]
    assert rows(cfg, "SELECT count(*) FROM posts") == [(3,)]


def test_a_stopped_pagination_resumes_where_it_stopped(bsky, make_cfg, bclock):
    alice, posts = seed(bsky, 250)
    cfg = make_cfg(max_requests_per_run=3)
    r1 = run(cfg, "collect_posts", bclock)
    assert (r1.status, r1.requests, r1.exit_code) == ("stopped", 3, 4)
    assert "max_requests_per_run" in r1.stop_reason
    gap = cursor(cfg, f"feed:{alice}")
    # nothing is below a stored newest yet; the pagination left off after 200 items
    assert (gap["newest_key"], gap["gap"]["read"], gap["gap"]["top_key"]) == (None, 200,
                                                                              posts[-1])
    assert rows(cfg, "SELECT count(*) FROM posts") == [(200,)]

    bsky.requests.clear()
    r2 = run(cfg, "collect_posts", bclock)
    assert (r2.status, r2.requests) == ("ok", 2)
    # the gap first, from the AppView's cursor; then the top, down to the new stored newest
    assert feed_requests(bsky) == [("100", gap["gap"]["cursor"]), ("10", None)]
    assert rows(cfg, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(250, 250)]
    assert cursor(cfg, f"feed:{alice}") == {
        "newest_at": "2024-02-28T16:09:00.000000Z", "newest_key": posts[-1], "gap": None}


def test_reposts_replies_and_quotes_are_marked(bsky, make_cfg, bclock):
    alice, bob = bsky.add_actor(ALICE), bsky.add_actor(BOB)
    b1 = bsky.post(bob, "bob says", ago(hours=5))
    a1 = bsky.post(alice, "alice starts", ago(hours=4))
    a2 = bsky.post(alice, "alice answers bob", ago(hours=3), reply_to=b1)
    a3 = bsky.post(alice, "quoting bob", ago(hours=2), quote=b1)
    a4 = bsky.post(alice, "quote with a picture", ago(minutes=90), quote=a1, media=True)
    rp = bsky.repost(alice, b1, ago(hours=1))
    cfg = make_cfg()
    r = run(cfg, "collect_posts", bclock)
    assert r.status == "ok"
    assert rows(cfg, "SELECT post_id, author_id, conversation_id, reply_to_post_id, "
                     "reply_to_user_id, quoted_post_id, reposted_post_id, seen_in, url, text "
                     "FROM posts ORDER BY created_at") == [
        (b1, bob, b1, None, None, None, None, "includes", web(b1), "bob says"),
        (a1, alice, a1, None, None, None, None, "data", web(a1), "alice starts"),
        (a2, alice, b1, b1, bob, None, None, "data", web(a2), "alice answers bob"),
        (a3, alice, a3, None, None, b1, None, "data", web(a3), "quoting bob"),
        (a4, alice, a4, None, None, a1, None, "data", web(a4), "quote with a picture"),
        (rp, alice, None, None, None, None, b1, "data", web(b1), None)]
    assert rows(cfg, "SELECT created_at = ?::TIMESTAMPTZ, lang, poll_id FROM posts "
                     "WHERE post_id = ?", [ago(hours=1), rp]) == [(True, None, None)]
    assert rows(cfg, "SELECT account_id, handle FROM accounts ORDER BY handle") == [
        (alice, ALICE), (bob, BOB)]
    # no polls and no edits exist on Bluesky: nothing is made up
    assert rows(cfg, "SELECT (SELECT count(*) FROM polls), (SELECT count(*) FROM "
                     "post_versions)") == [(0, 0)]


def test_replies_are_read_for_the_conversations_that_are_due_only(bsky, make_cfg, bclock):
    alice, bob, carol = (bsky.add_actor(h) for h in (ALICE, BOB, CAROL))
    old = bsky.post(alice, "last week", ago(days=10))          # past the replies window
    root = bsky.post(alice, "the claim", ago(hours=8))          # due at most every hour
    r1 = bsky.post(bob, "not true", ago(hours=7), reply_to=root)
    r2 = bsky.post(carol, "it is", ago(hours=6, minutes=30), reply_to=r1)
    bsky.post(bob, "late answer", ago(days=9), reply_to=old)
    cfg = make_cfg()
    run(cfg, "collect_posts", bclock)
    bsky.requests.clear()
    r = run(cfg, "collect_replies", bclock)
    assert (r.status, r.requests, r.details["replies"]) == (
        "ok", 1, {"conversations_due": 1, "read": 1})
    assert [(q.nsid, q.params) for q in bsky.requests] == [
        (THREAD, {"uri": root, "depth": "10", "parentHeight": "0"})]
    assert rows(cfg, "SELECT post_id, author_id, conversation_id, reply_to_post_id FROM posts "
                     "WHERE conversation_id = ? ORDER BY created_at", [root]) == [
        (root, alice, root, None), (r1, bob, root, root), (r2, carol, root, r1)]
    assert rows(cfg, "SELECT count(*) FROM posts WHERE conversation_id = ?", [old]) == [(1,)]
    assert cursor(cfg, f"thread:{root}")["members"] == 3

    # read a minute ago: not due; an hour later: due again
    r = run(cfg, "collect_replies", bclock)
    assert (r.requests, r.details["replies"]["conversations_due"]) == (0, 0)
    bclock.advance(minutes=61)
    r = run(cfg, "collect_replies", bclock)
    assert r.requests == 1
    assert cursor(cfg, f"thread:{root}")["quiet"] == 1       # nothing new: read less often


def test_a_deletion_is_confirmed_by_the_second_lookup(bsky, make_cfg, bclock):
    alice = bsky.add_actor(ALICE)
    p1 = bsky.post(alice, "to be deleted", ago(hours=1))
    p2 = bsky.post(alice, "stays", ago(minutes=50))
    cfg = make_cfg()
    run(cfg, "collect_posts", bclock)
    bsky.delete(p1)
    bsky.requests.clear()
    r1 = run(cfg, "check_deletions", bclock)
    assert (r1.status, r1.requests, r1.details["deletions"]) == (
        "ok", 1, {"due": 2, "checked": 2})
    assert bsky.requests[0].nsid == POSTS and sorted(bsky.requests[0].lists["uris"]) == sorted(
        [p1, p2])
    # a first miss is a sighting, not a deletion
    assert rows(cfg, "SELECT post_id, missing_since IS NOT NULL, deleted_at FROM posts "
                     "ORDER BY created_at") == [(p1, True, None), (p2, False, None)]
    bclock.advance(minutes=10)
    bsky.requests.clear()
    run(cfg, "check_deletions", bclock)
    assert bsky.requests[0].lists["uris"] == [p1, p2]          # the one missing first
    assert rows(cfg, "SELECT post_id, deleted_at = missing_since, text FROM posts "
                     "WHERE deleted_at IS NOT NULL") == [(p1, True, "to be deleted")]
    # nothing is removed, and a deleted post is not looked up again
    assert rows(cfg, "SELECT count(*) FROM posts") == [(2,)]
    bclock.advance(minutes=10)
    bsky.requests.clear()
    run(cfg, "check_deletions", bclock)
    assert bsky.requests[0].lists["uris"] == [p2]


def test_a_thread_whose_root_is_gone_is_a_sighting_then_confirmed(bsky, make_cfg, bclock):
    alice, bob = bsky.add_actor(ALICE), bsky.add_actor(BOB)
    root = bsky.post(alice, "the claim", ago(hours=2))
    bsky.post(bob, "reply", ago(hours=1), reply_to=root)
    cfg = make_cfg()
    run(cfg, "collect_posts", bclock)
    bsky.delete(root)
    r = run(cfg, "collect_replies", bclock)
    # the AppView's HTTP 400 NotFound answers the read: archived, recorded, the run is ok
    assert (r.status, r.requests) == ("ok", 1)
    assert rows(cfg, "SELECT source, title, resource_type, resource_id FROM api_errors") == [
        ("bluesky", "NotFound", "post", root)]
    assert rows(cfg, "SELECT missing_since IS NOT NULL, deleted_at FROM posts "
                     "WHERE post_id = ?", [root]) == [(True, None)]
    assert cursor(cfg, f"thread:{root}")["root_found"] is False
    bclock.advance(minutes=5)
    run(cfg, "check_deletions", bclock)
    assert rows(cfg, "SELECT deleted_at IS NOT NULL FROM posts WHERE post_id = ?",
                [root]) == [(True,)]
    bclock.advance(minutes=5)
    r = run(cfg, "collect_replies", bclock)
    assert r.requests == 0                     # a conversation whose root is gone is not read


def test_a_not_found_parent_in_the_feed_is_a_sighting(bsky, make_cfg, bclock):
    alice, bob = bsky.add_actor(ALICE), bsky.add_actor(BOB)
    b1 = bsky.post(bob, "bob's post", ago(hours=3))
    a1 = bsky.post(alice, "answer", ago(hours=2), reply_to=b1)
    cfg = make_cfg()
    run(cfg, "collect_posts", bclock)
    bsky.delete(b1)
    a2 = bsky.post(alice, "and more", ago(minutes=30), reply_to=a1)
    run(cfg, "collect_posts", bclock)
    assert rows(cfg, "SELECT post_id, missing_since IS NOT NULL, deleted_at FROM posts "
                     "ORDER BY created_at") == [(b1, True, None), (a1, False, None),
                                                (a2, False, None)]
    assert rows(cfg, "SELECT conversation_id, reply_to_post_id FROM posts WHERE post_id = ?",
                [a2]) == [(b1, a1)]


def test_a_handle_change_keeps_the_same_account(bsky, make_cfg, bclock):
    alice, _ = seed(bsky, 3)
    cfg = make_cfg()
    run(cfg, "collect_posts", bclock)
    bsky.rename(alice, "alice.example.com")
    bsky.post(alice, "after the rename", NOW)
    bclock.advance(minutes=15)
    run(cfg, "collect_posts", bclock)
    # the configured (old) handle is known: its DID is followed, never resolved again
    assert bsky.count(PROFILE) == 1
    assert rows(cfg, "SELECT account_id, handle FROM accounts") == [(alice, "alice.example.com")]
    assert rows(cfg, "SELECT account_id, handle FROM account_handles ORDER BY handle") == [
        (alice, "alice.bsky.social"), (alice, "alice.example.com")]
    assert rows(cfg, "SELECT count(*), count(DISTINCT author_id) FROM posts") == [(4, 1)]
    # the config may name the new handle: the same account, still no lookup
    cfg2 = make_cfg(handles=("alice.example.com",))
    bclock.advance(minutes=15)
    r = run(cfg2, "collect_posts", bclock)
    assert (r.status, bsky.count(PROFILE)) == ("ok", 1)
    assert rows(cfg, "SELECT count(*) FROM accounts") == [(1,)]


def test_a_429_waits_for_the_window_and_goes_on(bsky, make_cfg, bclock):
    alice, _ = seed(bsky, 5)
    bsky.rate_limited(FEED, reset_in=30)
    cfg = make_cfg()
    sleeps: list[float] = []
    r = run(cfg, "collect_posts", bclock, sleeps)
    assert (r.status, r.requests) == ("ok", 3)
    assert len(sleeps) == 1 and 30 < sleeps[0] <= 31          # until ratelimit-reset, +1 s
    assert rows(cfg, "SELECT http_status FROM raw_pages ORDER BY seq") == [(200,), (429,), (200,)]
    assert rows(cfg, "SELECT count(*) FROM posts") == [(5,)]


def test_a_429_beyond_the_bound_stops_with_the_cursor_intact_and_the_next_run_resumes(
        bsky, make_cfg, bclock):
    alice, posts = seed(bsky, 250)
    bsky.rate_limited(FEED, reset_in=900, after=1)       # the second page is refused
    cfg = make_cfg(max_rate_limit_wait_seconds=60)
    r1 = run(cfg, "collect_posts", bclock)
    assert (r1.status, r1.exit_code, r1.requests) == ("stopped", 4, 3)
    assert "bluesky.max_rate_limit_wait_seconds=60" in r1.stop_reason
    assert rows(cfg, "SELECT status, stop_reason IS NOT NULL FROM runs") == [("stopped", True)]
    gap = cursor(cfg, f"feed:{alice}")["gap"]
    assert (gap["read"], gap["top_key"]) == (100, posts[-1])
    assert rows(cfg, "SELECT count(*) FROM posts") == [(100,)]
    bsky.requests.clear()
    r2 = run(cfg, "collect_posts", bclock)
    assert r2.status == "ok"
    assert feed_requests(bsky)[0] == ("100", gap["cursor"])
    assert rows(cfg, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(250, 250)]


def test_a_used_up_window_is_waited_for_before_the_next_request(bsky, make_cfg, bclock):
    alice, _ = seed(bsky, 250)
    bsky.limit = 2                                      # the profile and one page a window
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        bclock.advance(seconds=s)

    cfg = make_cfg(max_rate_limit_wait_seconds=600)
    r = runner.run(cfg, "collect_posts", source="bluesky", clock=bclock, sleep=sleep)
    # ratelimit-remaining: 0 makes the next request wait for ratelimit-reset: never a 429
    assert (r.status, r.requests) == ("ok", 4)
    assert len(sleeps) == 1 and 290 < sleeps[0] <= 301
    assert rows(cfg, "SELECT count(*) FROM raw_pages WHERE http_status = 429") == [(0,)]
    # with a smaller bound the run stops instead, its cursor intact
    bsky.limit, bsky._window_start = 1, None
    bsky.post(alice, "new", NOW)
    bsky.post(alice, "newer", NOW + timedelta(seconds=1))
    cfg2 = make_cfg(max_rate_limit_wait_seconds=60, first_page_size=1, page_size=1)
    r = run(cfg2, "collect_posts", bclock)
    assert (r.status, r.requests) == ("stopped", 1)
    assert "ratelimit-remaining: 0" in r.stop_reason
    assert cursor(cfg2, f"feed:{alice}")["gap"]["read"] == 1


def test_a_5xx_is_retried(bsky, make_cfg, bclock):
    seed(bsky, 5)
    bsky.fail(FEED, 503, times=2)
    cfg = make_cfg()
    r = run(cfg, "collect_posts", bclock)
    assert (r.status, r.requests, r.pages) == ("ok", 4, 4)
    assert rows(cfg, "SELECT purpose, http_status FROM raw_pages ORDER BY seq") == [
        ("profile", 200), ("feed", 503), ("feed", 503), ("feed", 200)]
    assert rows(cfg, "SELECT count(*) FROM posts") == [(5,)]


def test_a_5xx_that_does_not_end_fails_its_account_only(bsky, make_cfg, bclock):
    seed(bsky, 2)
    bob = bsky.add_actor(BOB)
    bsky.post(bob, "bob", ago(hours=1))
    bsky.fail(FEED, 502, times=3)                   # alice's feed, then retries
    cfg = make_cfg(handles=(ALICE, BOB), max_retries=2)
    r = run(cfg, "collect_posts", bclock)
    assert r.status == "failed" and "feed @alice.bsky.social" in r.error
    assert "gave up after 3 attempts" in r.error
    assert rows(cfg, "SELECT author_id FROM posts") == [(bob,)]


def test_every_answer_is_archived_verbatim_before_it_is_judged(bsky, make_cfg, bclock):
    seed(bsky, 3)
    bsky.fail(FEED, 200, times=1, truncate=True)   # a cut-off body: archived, then retried
    cfg = make_cfg()
    r = run(cfg, "collect_posts", bclock)
    assert r.status == "ok"
    pages = [rl.record for f in list_raw_files(cfg.raw_dir)
             for rl in read_raw_file(cfg.raw_dir / f) if rl.record.get("type") == "page"]
    assert [(p["endpoint"], p["status"], bool(p["error"])) for p in pages] == [
        (PROFILE, 200, False), (FEED, 200, True), (FEED, 200, False)]
    assert pages[1]["error"].startswith("invalid JSON body")
    assert set(pages[2]["headers"]) >= {"ratelimit-limit", "ratelimit-remaining",
                                        "ratelimit-reset", "ratelimit-policy"}
    # the body as the AppView sent it, byte for byte
    served = pages[2]["body"]
    assert served.startswith('{"feed": [{"post": {"uri": "at://')

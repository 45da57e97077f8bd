"""Mastodon collection end to end: the real mastodon-py client against the local server,
exact rows in a temporary DuckDB."""

from __future__ import annotations

import json
from datetime import timedelta

from mastodon_helpers import (OTHER, SOCIAL, TOKEN, ago, api, clock, make_cfg, mid, q,  # noqa: F401
                              run, world)
from tracker.store.raw import list_raw_files, read_raw_file
from tracker.testing.mastodon import Fault


def seed(world, clock, n, handle="alice", instance=SOCIAL):
    inst = world.instance(instance)
    account = inst.by_acct(handle) or inst.account(handle)
    posts = [inst.post(account, f"{handle} post {i}", ago(clock, hours=n + 1 - i))
             for i in range(n)]
    return account, posts


def pages(world, path_re=r"/statuses$"):
    return [r.params for r in world.requests if r.path.endswith("statuses")
            and "/accounts/" in r.path]


def test_backfill_paginates_by_link_then_a_second_run_reads_only_new(world, make_cfg, clock):
    alice, posts = seed(world, clock, 7)
    cfg = make_cfg(page_size=3, backfill_max_posts=10)
    r = run(cfg, "collect_posts", clock)
    assert (r.status, r.requests, r.posts_read) == ("ok", 4, 7)
    assert r.by_purpose == {"lookup": 1, "statuses": 3}
    # newest page, then back by the Link header's max_id until the account's first status
    assert pages(world) == [{"limit": "3"}, {"max_id": posts[4]["id"], "limit": "3"},
                            {"max_id": posts[1]["id"], "limit": "3"}]
    assert q("SELECT post_id, author_id, text, conversation_id, seen_in FROM posts "
             "ORDER BY created_at", cfg) == [
        (mid(SOCIAL, p), f"alice@{SOCIAL}", f"alice post {i}", mid(SOCIAL, p), "data")
        for i, p in enumerate(posts)]
    assert q("SELECT account_id, handle, name, post_count FROM accounts", cfg) == [
        (f"alice@{SOCIAL}", f"alice@{SOCIAL}", "Alice", 7)]
    scope = f"statuses:alice@{SOCIAL}"
    assert [(s, json.loads(c)) for s, c in q("SELECT scope, cursor FROM sync_state", cfg)] == [
        (scope, {"newest_id": posts[-1]["id"], "older_than": None, "read": 7,
                 "account": alice["id"]})]

    # the next run: the handle is known, one request above the cursor (min_id)
    clock.advance(minutes=15)
    inst = world.instance(SOCIAL)
    new = [inst.post(alice, f"fresh {i}", ago(clock, minutes=5 - i)) for i in range(2)]
    world.requests.clear()
    r = run(cfg, "collect_posts", clock)
    assert (r.status, r.requests, r.posts_read) == ("ok", 1, 2)
    assert pages(world) == [{"min_id": posts[-1]["id"], "limit": "3"}]
    assert q("SELECT count(*) FROM posts", cfg) == [(9,)]
    assert json.loads(q("SELECT cursor FROM sync_state", cfg)[0][0])["newest_id"] == new[-1]["id"]

    # nothing new: one request, no rows
    world.requests.clear()
    r = run(cfg, "collect_posts", clock)
    assert (r.requests, r.posts_read, r.new_rows) == (1, 0, 0)
    assert pages(world) == [{"min_id": new[-1]["id"], "limit": "3"}]


def test_forward_pages_follow_link_prev_until_a_short_page(world, make_cfg, clock):
    alice, posts = seed(world, clock, 1)
    cfg = make_cfg(page_size=3)
    run(cfg, "collect_posts", clock)
    inst = world.instance(SOCIAL)
    new = [inst.post(alice, f"new {i}", ago(clock, minutes=30 - i)) for i in range(8)]
    world.requests.clear()
    r = run(cfg, "collect_posts", clock)
    # min_id gives the 3 statuses just above the cursor, newest first; the next page starts
    # above the newest of them (Link rel=prev); a page of 2 < 3 is the last
    assert pages(world) == [{"min_id": posts[0]["id"], "limit": "3"},
                            {"min_id": new[2]["id"], "limit": "3"},
                            {"min_id": new[5]["id"], "limit": "3"}]
    assert (r.requests, r.posts_read) == (3, 8)
    assert q("SELECT count(*), count(DISTINCT post_id) FROM posts", cfg) == [(9, 9)]


def test_boosts_replies_and_quotes_are_marked(world, make_cfg, clock):
    inst = world.instance(SOCIAL)
    alice = inst.account("alice")
    bob = inst.account("bob", domain=OTHER)           # a remote account, as social.example sees it
    claim = inst.post(bob, "The mayor met Carol", ago(clock, hours=3))
    boost = inst.post(alice, "", ago(clock, hours=2), boost_of=claim)
    reply = inst.post(alice, "Not true", ago(clock, hours=1), reply_to=claim)
    quote = inst.post(alice, "Look at this", ago(clock, minutes=30), quote_of=claim)
    cfg = make_cfg()
    r = run(cfg, "collect_posts", clock)
    assert r.status == "ok" and r.posts_read == 5         # 3 own + the original in the boost
    got = q("SELECT post_id, author_id, text, reply_to_post_id, reply_to_user_id, "
            "reposted_post_id, quoted_post_id, conversation_id, seen_in FROM posts "
            "ORDER BY created_at", cfg)
    A, B, C = f"alice@{SOCIAL}", f"bob@{OTHER}", mid(SOCIAL, claim)
    assert got == [
        (C, B, "The mayor met Carol", None, None, None, None, C, "includes"),
        (mid(SOCIAL, boost), A, "", None, None, C, None, None, "data"),
        (mid(SOCIAL, reply), A, "Not true", C, B, None, None, None, "data"),
        (mid(SOCIAL, quote), A, "Look at this", None, None, None, C, mid(SOCIAL, quote), "data")]
    assert q("SELECT account_id, handle FROM account_handles ORDER BY handle", cfg) == [
        (A, f"alice@{SOCIAL}"), (B, f"bob@{OTHER}")]
    # a boost carries no text version of its own
    assert q("SELECT edit_chain_id, version_index FROM post_versions ORDER BY 1", cfg) == sorted(
        [(C, 0), (mid(SOCIAL, reply), 0), (mid(SOCIAL, quote), 0)])


def test_poll_moves_and_closes_with_a_final_snapshot(world, make_cfg, clock):
    inst = world.instance(SOCIAL)
    alice = inst.account("alice")
    status = inst.post(alice, "Peace plan?", ago(clock, minutes=5), poll={
        "options": ["Yes", "No"], "expires_at": clock.at + timedelta(hours=1),
        "multiple": True})
    inst.vote("1", [10, 5], voters=12)
    cfg = make_cfg()
    run(cfg, "collect_posts", clock)                     # first sighting: snapshot 1
    inst.vote("1", [40, 20], voters=50)
    clock.advance(minutes=10)
    r = run(cfg, "snapshot_polls", clock)                # snapshot 2
    assert (r.status, r.by_purpose) == ("ok", {"poll_refresh": 1})
    assert world.requests[-1].path == "/api/v1/polls/1"
    inst.vote("1", [70, 30], voters=85)
    clock.advance(hours=1)                               # past expires_at
    run(cfg, "snapshot_polls", clock)                    # snapshot 3: final
    r = run(cfg, "snapshot_polls", clock)
    assert r.requests == 0                               # never read again
    assert q("SELECT label, votes, voters_count, voting_status FROM poll_snapshots "
             "ORDER BY captured_at, position", cfg) == [
        ("Yes", 10, 12, "open"), ("No", 5, 12, "open"), ("Yes", 40, 50, "open"),
        ("No", 20, 50, "open"), ("Yes", 70, 85, "closed"), ("No", 30, 85, "closed")]
    assert q("SELECT poll_id, post_id, options, voting_status, end_at, "
             "final_snapshot_at IS NOT NULL FROM polls", cfg) == [
        (f"{SOCIAL}:1", mid(SOCIAL, status), '["Yes", "No"]', "closed",
         q("SELECT TIMESTAMPTZ '2026-03-01 13:00:00+00'", cfg)[0][0], True)]


def test_hidden_counts_stay_null_until_the_poll_ends(world, make_cfg, clock):
    inst = world.instance(SOCIAL)
    alice = inst.account("alice")
    inst.post(alice, "Who lies?", ago(clock, minutes=5), poll={
        "options": ["Him", "Her"], "expires_at": clock.at + timedelta(minutes=30),
        "hide_totals": True})
    inst.vote("1", [3, 4])
    cfg = make_cfg()
    run(cfg, "collect_posts", clock)
    inst.vote("1", [0, 0])                               # a poll edited: votes reset
    clock.advance(minutes=10)
    run(cfg, "snapshot_polls", clock)
    inst.vote("1", [8, 9])
    clock.advance(minutes=30)
    run(cfg, "snapshot_polls", clock)
    assert q("SELECT label, votes, voters_count, voting_status FROM poll_snapshots "
             "ORDER BY captured_at, position", cfg) == [
        ("Him", None, 7, "open"), ("Her", None, 7, "open"),
        ("Him", None, 0, "open"), ("Her", None, 0, "open"),
        ("Him", 8, 17, "closed"), ("Her", 9, 17, "closed")]


def test_an_edit_becomes_versions_from_the_history(world, make_cfg, clock):
    inst = world.instance(SOCIAL)
    alice = inst.account("alice")
    status = inst.post(alice, "I never met him", ago(clock, minutes=30))
    cfg = make_cfg()
    run(cfg, "collect_posts", clock)
    r = run(cfg, "check_deletions", clock)               # unchanged: no history read
    assert r.by_purpose == {"deletion_check": 1}
    clock.advance(minutes=20)
    inst.edit(status, "I met him once, 18 months ago, about space", ago(clock, minutes=1))
    clock.advance(hours=1)
    r = run(cfg, "check_deletions", clock)
    assert (r.status, r.by_purpose) == ("ok", {"deletion_check": 1, "history": 1})
    P = mid(SOCIAL, status)
    assert q("SELECT version_index, text, created_at = (SELECT created_at FROM posts) "
             "FROM post_versions ORDER BY version_index", cfg) == [
        (0, "I never met him", True), (1, "I met him once, 18 months ago, about space", False)]
    assert q("SELECT text, entities->>'edited_at' IS NOT NULL FROM posts WHERE post_id = ?",
             cfg, [P]) == [("I met him once, 18 months ago, about space", True)]
    clock.advance(hours=3)
    r = run(cfg, "check_deletions", clock)               # the version is placed: not again
    assert r.by_purpose == {"deletion_check": 1}


def test_a_status_first_seen_edited_has_its_history_read(world, make_cfg, clock):
    inst = world.instance(SOCIAL)
    alice = inst.account("alice")
    status = inst.post(alice, "first words", ago(clock, hours=2))
    inst.edit(status, "second words", ago(clock, hours=1))
    cfg = make_cfg()
    r = run(cfg, "collect_posts", clock)
    assert r.by_purpose == {"lookup": 1, "statuses": 1, "history": 1}
    assert q("SELECT version_index, text FROM post_versions ORDER BY version_index", cfg) == [
        (0, "first words"), (1, "second words")]
    r = run(cfg, "collect_posts", clock)
    assert r.by_purpose == {"statuses": 1}


def test_a_deletion_is_confirmed_by_a_second_lookup_and_nothing_is_removed(
        world, make_cfg, clock):
    inst = world.instance(SOCIAL)
    alice = inst.account("alice")
    keep = inst.post(alice, "keep", ago(clock, minutes=40))
    gone = inst.post(alice, "He told me about the war", ago(clock, minutes=30))
    cfg = make_cfg()
    run(cfg, "collect_posts", clock)
    inst.delete(gone)
    clock.advance(minutes=10)
    r = run(cfg, "check_deletions", clock)
    assert (r.status, r.by_purpose) == ("ok", {"deletion_check": 2})
    G = mid(SOCIAL, gone)
    first = q("SELECT missing_since, deleted_at FROM posts WHERE post_id = ?", cfg, [G])
    assert first[0][0] is not None and first[0][1] is None      # a sighting, not yet a deletion
    assert q("SELECT title, type, resource_type, resource_id FROM api_errors", cfg) == [
        ("Record not found", "HTTP 404", "status", G)]
    clock.advance(minutes=10)
    r = run(cfg, "check_deletions", clock)
    # the missing one first; the other is not due again yet (every 2 h past 6 h: no, every run
    # while younger than 6 h: both)
    assert r.by_purpose == {"deletion_check": 2}
    assert q("SELECT post_id, text, deleted_at = missing_since FROM posts ORDER BY created_at",
             cfg) == [(mid(SOCIAL, keep), "keep", None),
                      (G, "He told me about the war", True)]
    r = run(cfg, "check_deletions", clock)
    assert r.by_purpose == {"deletion_check": 1}                # a deleted post is not checked


def test_replies_are_read_for_due_conversations_only(world, make_cfg, clock):
    inst = world.instance(SOCIAL)
    alice = inst.account("alice")
    bob = inst.account("bob", domain=OTHER)
    young = inst.post(alice, "Claim", ago(clock, hours=2))
    old = inst.post(alice, "Old claim", ago(clock, days=9))
    thread = inst.post(alice, "More", ago(clock, hours=1), reply_to=young)  # under a due post
    r1 = inst.post(bob, "Says who?", ago(clock, minutes=50), reply_to=young)
    inst.post(bob, "Old reply", ago(clock, days=8), reply_to=old)
    schedule = [{"up_to_hours": 6, "every_hours": 1}, {"up_to_hours": 168, "every_hours": 12}]
    cfg = make_cfg(replies={"schedule": schedule})
    run(cfg, "collect_posts", clock)
    r = run(cfg, "collect_replies", clock)
    # the young post's thread only: the old one is past the window, the self-reply is in it
    assert (r.status, r.by_purpose) == ("ok", {"replies": 1})
    assert world.requests[-1].path == f"/api/v1/statuses/{young['id']}/context"
    Y = mid(SOCIAL, young)
    assert q("SELECT post_id, reply_to_post_id, conversation_id FROM posts "
             "WHERE reply_to_post_id IS NOT NULL ORDER BY created_at", cfg) == [
        (mid(SOCIAL, thread), Y, Y), (mid(SOCIAL, r1), Y, Y)]
    cursor = json.loads(q("SELECT cursor FROM sync_state WHERE scope = ?", cfg,
                          [f"replies:{Y}"])[0][0])
    assert (cursor["descendants"], cursor["quiet"], cursor["replies_count"]) == (2, 0, 2)

    clock.advance(minutes=10)
    assert run(cfg, "collect_replies", clock).requests == 0     # read 10 min ago: not due
    # a lookup sees the reply count go up: active, due at once
    inst.post(bob, "Answer me", ago(clock, minutes=1), reply_to=young)
    run(cfg, "check_deletions", clock)
    r = run(cfg, "collect_replies", clock)
    assert r.by_purpose == {"replies": 1}        # the active one; the self-reply's thread
    assert world.requests[-1].path == f"/api/v1/statuses/{young['id']}/context"  # was read
    assert q("SELECT count(*) FROM posts WHERE conversation_id = ?", cfg, [Y]) == [(4,)]


def test_429_waits_for_the_window_then_goes_on(world, make_cfg, clock):
    seed(world, clock, 3)
    world.window(SOCIAL, remaining=0, reset_in=40)
    slept = []

    def sleep(s):
        slept.append(s)
        clock.advance(seconds=s)

    r = run(make_cfg(), "collect_posts", clock, sleep=sleep)
    assert (r.status, r.posts_read) == ("ok", 3)
    assert len(slept) == 1 and 40 <= slept[0] <= 42           # until the reset, plus a second
    assert [x.path for x in world.requests][:2] == ["/api/v1/accounts/lookup"] * 2


def test_429_beyond_the_bound_stops_cleanly_and_the_next_run_resumes(world, make_cfg, clock):
    alice, posts = seed(world, clock, 7)
    cfg = make_cfg(page_size=3, backfill_max_posts=10)
    # the lookup and one page, then the window is spent for an hour
    world.window(SOCIAL, remaining=2, reset_in=3600)
    r = run(cfg, "collect_posts", clock)
    assert r.status == "stopped" and "social.example" in r.stop_reason
    assert "max_rate_limit_wait_seconds" in r.stop_reason
    assert r.requests == 2                         # stopped before sending: no 429 earned
    assert not any(x for x in world.requests if x.path.endswith("limit"))
    scope = f"statuses:alice@{SOCIAL}"
    cursor = json.loads(q("SELECT cursor FROM sync_state WHERE scope = ?", cfg, [scope])[0][0])
    assert cursor == {"newest_id": posts[-1]["id"], "older_than": posts[4]["id"], "read": 3,
                      "account": alice["id"]}
    assert q("SELECT count(*) FROM posts", cfg) == [(3,)]
    assert q("SELECT status, stop_reason IS NOT NULL FROM runs", cfg) == [("stopped", True)]

    clock.advance(hours=1, seconds=5)
    world.requests.clear()
    r = run(cfg, "collect_posts", clock)
    assert r.status == "ok"
    # forward from the newest (nothing new), then the backfill where it stopped
    assert pages(world) == [{"min_id": posts[-1]["id"], "limit": "3"},
                            {"max_id": posts[4]["id"], "limit": "3"},
                            {"max_id": posts[1]["id"], "limit": "3"}]
    assert q("SELECT count(*), count(DISTINCT post_id) FROM posts", cfg) == [(7, 7)]


def test_a_429_answer_with_a_far_reset_stops_that_instance_only(world, make_cfg, clock):
    seed(world, clock, 2)
    seed(world, clock, 2, handle="bob", instance=OTHER)
    world.faults.append(Fault(rf"/{SOCIAL}/api/v1/accounts/lookup", status=429,
                              body='{"error": "Too many requests"}',
                              headers={"X-RateLimit-Remaining": "0",
                                       "X-RateLimit-Reset": "2026-03-01T14:00:00.000Z"}))
    cfg = make_cfg(handles=(f"alice@{SOCIAL}", f"bob@{OTHER}"))
    r = run(cfg, "collect_posts", clock)
    assert r.status == "stopped" and r.stop_reason.startswith(SOCIAL)
    assert r.details["rate_limited"] == [SOCIAL]
    # the other instance was read all the same
    assert q("SELECT handle FROM accounts", cfg) == [(f"bob@{OTHER}",)]
    assert q("SELECT count(*) FROM posts", cfg) == [(2,)]
    assert q("SELECT http_status FROM raw_pages ORDER BY fetched_at", cfg)[0] == (429,)


def test_a_5xx_is_retried_and_both_answers_are_archived(world, make_cfg, clock):
    seed(world, clock, 2)
    world.faults.append(Fault(r"/statuses$", status=503, times=1))
    cfg = make_cfg()
    r = run(cfg, "collect_posts", clock)
    assert (r.status, r.requests, r.pages, r.posts_read) == ("ok", 3, 3, 2)
    assert q("SELECT purpose, http_status FROM raw_pages ORDER BY page_id", cfg) == [
        ("lookup", 200), ("statuses", 503), ("statuses", 200)]


def test_a_persistent_5xx_fails_that_account_and_keeps_its_cursor(world, make_cfg, clock):
    seed(world, clock, 2)
    cfg = make_cfg(max_retries=2)
    run(cfg, "collect_posts", clock)
    before = q("SELECT cursor FROM sync_state", cfg)
    world.instance(SOCIAL).post(world.instance(SOCIAL).by_acct("alice"), "new", clock.at)
    world.faults.append(Fault(r"/statuses$", status=502, times=10))
    r = run(cfg, "collect_posts", clock)
    assert r.status == "failed" and "gave up after 3 attempts" in r.error
    assert q("SELECT cursor FROM sync_state", cfg) == before
    world.faults.clear()
    r = run(cfg, "collect_posts", clock)
    assert (r.status, r.posts_read) == ("ok", 1)


def test_the_token_goes_to_its_instance_only_and_never_into_raw_or_the_database(
        world, make_cfg, clock, monkeypatch):
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    seed(world, clock, 1)
    seed(world, clock, 1, handle="bob", instance=OTHER)
    cfg = make_cfg(handles=(f"alice@{SOCIAL}", f"bob@{OTHER}"), token_instance=SOCIAL)
    r = run(cfg, "collect_posts", clock)
    assert r.status == "ok"
    auth = {(x.instance, x.authorization) for x in world.requests}
    assert auth == {(SOCIAL, f"Bearer {TOKEN}"), (OTHER, None)}
    for rel in list_raw_files(cfg.raw_dir):
        for line in read_raw_file(cfg.raw_dir / rel):
            assert TOKEN not in json.dumps(line.record)
    assert not [t for (t,) in q("SELECT cursor::VARCHAR FROM sync_state", cfg) if TOKEN in t]

    # one instance tracked: the token goes there without naming it
    world.requests.clear()
    cfg1 = make_cfg(handles=(f"alice@{SOCIAL}",))
    run(cfg1, "collect_posts", clock)
    assert {x.authorization for x in world.requests} == {f"Bearer {TOKEN}"}
    # two, none named: to neither (a token is one server's)
    world.requests.clear()
    run(make_cfg(handles=(f"alice@{SOCIAL}", f"bob@{OTHER}")), "collect_posts", clock)
    assert {x.authorization for x in world.requests} == {None}


def test_a_budget_smaller_than_the_due_checks_defers_the_rest(world, make_cfg, clock):
    inst = world.instance(SOCIAL)
    alice = inst.account("alice")
    for i in range(5):
        inst.post(alice, f"post {i}", ago(clock, minutes=50 - i))
    cfg = make_cfg(max_requests_per_run=3)
    run(cfg, "collect_posts", clock)
    r = run(cfg, "check_deletions", clock)
    assert (r.status, r.requests) == ("ok", 3)
    assert r.details["deferred"] == {"deletion_checks": 2}
    assert q("SELECT deferred FROM runs WHERE job = 'check_deletions'", cfg) == [
        ('{"deletion_checks": 2}',)]

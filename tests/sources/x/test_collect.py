"""X collection end to end: the real tweepy client against the local API server."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

from tests.conftest import make_post
from tests.helpers import rows, snapshot
from tracker.runs import runner
from tracker.testing.xapi import Fault
from tracker.store.raw import list_raw_files, read_raw_file
from tracker.core.timeutil import snowflake_at, snowflake_time

NO_SLEEP = {"sleep": lambda s: None}


def seed(world, clock, n=250, author="100", handle="alice"):
    world.add_user({"id": author, "username": handle, "name": handle.title()})
    start = clock.at - timedelta(days=3)
    return [make_post(world, author, start + timedelta(minutes=i), f"{handle} post {i}")
            for i in range(n)]


def test_backfill_paginates_and_second_run_reads_only_new(world, make_cfg, clock):
    seed(world, clock, 250)
    cfg = make_cfg()
    r1 = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert (r1.status, r1.requests, r1.pages, r1.posts_read) == ("ok", 4, 4, 250)
    assert r1.by_purpose == {"users": 1, "timeline": 3}
    assert rows(cfg, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(250, 250)]
    # the cursor covers what was posted up to the read's first page (less the margin), so it
    # is past the newest post: nothing posted since then can be older than it
    (cursor,) = [json.loads(c) for (c,) in rows(cfg, "SELECT cursor FROM sync_state")]
    newest = max(world.tweets, key=int)
    assert cursor["gap"] is None and int(cursor["newest_id"]) > int(newest)
    assert clock.at - timedelta(minutes=3) < snowflake_time(cursor["newest_id"]) \
        < clock.at - timedelta(minutes=1)

    clock.advance(minutes=15)
    new = make_post(world, "100", clock.at - timedelta(minutes=1), "fresh post")
    r2 = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    # then a batched recent search (one account here) since that cursor
    assert (r2.requests, r2.posts_read, r2.by_purpose) == (1, 1, {"timeline": 1})
    last = world.requests[-1]
    assert last.path == "/2/tweets/search/recent" and last.params["query"] == "from:100"
    assert last.params["since_id"] == cursor["newest_id"] and last.params["max_results"] == "100"
    assert rows(cfg, "SELECT count(*) FROM posts") == [(251,)]
    assert rows(cfg, "SELECT text FROM posts WHERE post_id = ?", [new["id"]]) == [("fresh post",)]


def test_same_collection_twice_adds_nothing(world, make_cfg, clock):
    seed(world, clock, 30)
    cfg = make_cfg()
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    before = snapshot(cfg.replica, exclude=("runs", "raw_pages", "sync_state"))
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    # one row changes: the cursor, which now says when the account was last read
    assert (r.new_rows, r.updated_rows, r.posts_read) == (0, 1, 0)
    assert snapshot(cfg.replica, exclude=("runs", "raw_pages", "sync_state")) == before


def test_handles_resolved_once_and_rename_recorded_not_duplicated(world, make_cfg, clock):
    seed(world, clock, 3)
    cfg = make_cfg()
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    world.users["100"]["username"] = "alice_new"
    make_post(world, "100", clock.at, "after the rename")
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert world.count(r"^/2/users/by$") == 1
    assert rows(cfg, "SELECT account_id, handle FROM accounts") == [("100", "alice_new")]
    assert rows(cfg, "SELECT handle FROM account_handles ORDER BY handle") == [
        ("alice",), ("alice_new",)]


def test_poll_three_snapshots_then_closed_and_never_read_again(world, make_cfg, clock):
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    world.add_poll({"id": "900", "duration_minutes": 60, "voting_status": "open",
                    "end_datetime": "2022-10-12T13:00:00.000Z",
                    "options": [{"position": 1, "label": "Yes", "votes": 10},
                                {"position": 2, "label": "No", "votes": 5}]})
    poll_post = make_post(world, "100", clock.at - timedelta(minutes=5), "Peace plan?",
                          attachments={"poll_ids": ["900"]})
    cfg = make_cfg()
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)          # first sighting: snapshot 1
    world.set_poll("900", [40, 20])
    clock.advance(minutes=10)
    r = runner.run(cfg, "snapshot_polls", clock=clock, **NO_SLEEP)     # snapshot 2
    assert r.by_purpose == {"poll_refresh": 1}
    assert world.requests[-1].params["ids"] == poll_post["id"]
    world.set_poll("900", [70, 30], "closed")
    clock.advance(minutes=60)
    runner.run(cfg, "snapshot_polls", clock=clock, **NO_SLEEP)         # snapshot 3, final
    r = runner.run(cfg, "snapshot_polls", clock=clock, **NO_SLEEP)
    assert r.requests == 0
    got = rows(cfg, "SELECT label, votes, voting_status FROM poll_snapshots "
                    "ORDER BY captured_at, position")
    assert got == [("Yes", 10, "open"), ("No", 5, "open"), ("Yes", 40, "open"),
                   ("No", 20, "open"), ("Yes", 70, "closed"), ("No", 30, "closed")]
    assert rows(cfg, "SELECT poll_id, post_id, options, voting_status, "
                     "final_snapshot_at IS NOT NULL FROM polls") == [
        ("900", poll_post["id"], '["Yes", "No"]', "closed", True)]


def test_reply_thread_collected_incrementally(world, make_cfg, clock):
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    world.add_user({"id": "200", "username": "bob", "name": "Bob"})
    root = make_post(world, "100", clock.at - timedelta(hours=5), "a claim")
    r1 = make_post(world, "200", clock.at - timedelta(hours=4), "@alice no",
                   conversation_id=root["id"], in_reply_to_user_id="100",
                   referenced_tweets=[{"type": "replied_to", "id": root["id"]}])
    cfg = make_cfg()
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    res = runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)
    # the reply only: the root is stored, so the search does not ask for it again
    assert (res.requests, res.posts_read) == (1, 1)
    assert world.requests[-1].params["query"] == f"(conversation_id:{root['id']}) is:reply"
    (covered,) = rows(cfg, "SELECT cursor->>'newest_id' FROM sync_state "
                           "WHERE scope = 'replies:' || ?", [root["id"]])[0]
    assert int(covered) > int(r1["id"])         # the search covered up to its own time
    clock.advance(hours=1)
    r2 = make_post(world, "100", clock.at - timedelta(minutes=10), "@bob yes",
                   conversation_id=root["id"], in_reply_to_user_id="200",
                   referenced_tweets=[{"type": "replied_to", "id": r1["id"]}])
    runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)
    assert world.requests[-1].params["since_id"] == covered
    assert rows(cfg, "SELECT post_id, reply_to_post_id, conversation_id FROM posts "
                     "WHERE reply_to_post_id IS NOT NULL ORDER BY post_id") == [
        (r1["id"], root["id"], root["id"]), (r2["id"], r1["id"], root["id"])]
    # every reply's parent is stored
    assert rows(cfg, "SELECT count(*) FROM posts c LEFT JOIN posts p "
                     "ON p.post_id = c.reply_to_post_id WHERE c.reply_to_post_id IS NOT NULL "
                     "AND p.post_id IS NULL") == [(0,)]


def test_replies_window_excludes_old_posts(world, make_cfg, clock):
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    make_post(world, "100", clock.at - timedelta(days=8), "old")
    cfg = make_cfg(replies_window_days=7)
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP).requests == 0


def test_edit_becomes_a_version(world, make_cfg, clock):
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    v1 = make_post(world, "100", clock.at - timedelta(minutes=30), "teh claim")
    cfg = make_cfg()
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    clock.advance(minutes=10)                    # edited ten minutes later: a new id
    v2_id = str(snowflake_at(clock.at))
    world.edit(v1["id"], {**v1, "id": v2_id, "text": "the claim"})
    clock.advance(minutes=1)
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert rows(cfg, "SELECT edit_chain_id, version_index, version_post_id, text "
                     "FROM post_versions ORDER BY version_index") == [
        (v1["id"], 0, v1["id"], "teh claim"), (v1["id"], 1, v2_id, "the claim")]
    assert rows(cfg, "SELECT post_id, edit_history FROM posts ORDER BY post_id") == [
        (v1["id"], json.dumps([v1["id"], v2_id])), (v2_id, json.dumps([v1["id"], v2_id]))]


def test_deletion_and_protected_are_recorded_never_removed(world, make_cfg, clock):
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    for i in range(3):           # young posts: looked up by every check
        make_post(world, "100", clock.at - timedelta(hours=2, minutes=i), f"post {i}")
    a, b, c = sorted(world.tweets, key=int)
    cfg = make_cfg()
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    world.delete(a)
    world.protected.add(b)
    r = runner.run(cfg, "check_deletions", clock=clock, **NO_SLEEP)
    assert r.by_purpose == {"deletion_check": 1}
    assert world.requests[-1].params["ids"] == ",".join([a, b, c])
    state = ("SELECT post_id, deleted_at IS NOT NULL, missing_since IS NOT NULL, "
             "unavailable_reason FROM posts ORDER BY post_id")
    # one "Not Found" is a sighting, not yet a deletion
    assert rows(cfg, state) == [(a, False, True, None), (b, False, False, "protected"),
                                (c, False, False, None)]
    assert rows(cfg, "SELECT resource_id, title FROM api_errors ORDER BY resource_id") == [
        (a, "Not Found Error"), (b, "Authorization Error")]
    clock.advance(hours=6)
    runner.run(cfg, "check_deletions", clock=clock, **NO_SLEEP)
    assert world.requests[-1].params["ids"] == ",".join([a, b, c])   # the sighting first
    assert rows(cfg, state) == [(a, True, True, None), (b, False, False, "protected"),
                                (c, False, False, None)]
    assert rows(cfg, "SELECT deleted_at = missing_since FROM posts WHERE post_id = ?",
                [a]) == [(True,)]
    # the next check skips what is known deleted, and c, seen a moment ago (its spacing at 8
    # hours old is 2 hours); b has not answered since it turned protected
    runner.run(cfg, "check_deletions", clock=clock, **NO_SLEEP)
    assert world.requests[-1].params["ids"] == b


def test_429_with_near_reset_waits_then_succeeds(world, make_cfg, clock):
    seed(world, clock, 5)
    reset = int(clock.at.timestamp()) + 30
    world.faults.append(Fault(r"/tweets$", status=429, body='{"title": "Too Many Requests"}',
                              headers={"x-rate-limit-reset": str(reset)}))
    slept = []
    cfg = make_cfg(max_rate_limit_wait_seconds=60)
    r = runner.run(cfg, "collect_posts", clock=clock, sleep=slept.append)
    assert r.status == "ok" and r.posts_read == 5
    assert len(slept) == 1 and 30 <= slept[0] <= 32


def test_429_with_far_reset_stops_cleanly_and_resumes(world, make_cfg, clock):
    seed(world, clock, 250)
    reset = int(clock.at.timestamp()) + 3600
    cfg = make_cfg(max_rate_limit_wait_seconds=60)
    world.faults.append(Fault(r"/(tweets|recent)$", status=429,
                              body='{"title": "Too Many Requests"}',
                              headers={"x-rate-limit-reset": str(reset)}))
    # let the first timeline page through, then 429
    world.faults[0].times = 0
    first = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert first.status == "ok"
    for i in range(3):
        make_post(world, "100", clock.at + timedelta(minutes=i), f"new {i}")
    world.faults[0].times = 1
    stopped = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert stopped.status == "stopped" and stopped.exit_code == 4
    assert "rate limited" in stopped.stop_reason
    assert rows(cfg, "SELECT status, stop_reason IS NOT NULL FROM runs "
                     "ORDER BY started_at DESC LIMIT 1") == [("stopped", True)]
    resumed = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert (resumed.status, resumed.posts_read) == ("ok", 3)
    assert rows(cfg, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(253, 253)]


def test_usage_cap_429_stops_without_waiting(world, make_cfg, clock):
    seed(world, clock, 5)
    world.faults.append(Fault(r"/tweets$", status=429, body=json.dumps(
        {"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap"})))
    slept = []
    r = runner.run(make_cfg(), "collect_posts", clock=clock, sleep=slept.append)
    assert r.status == "stopped" and "usage cap" in r.stop_reason and slept == []


def test_503_then_success_retries_and_archives_both(world, make_cfg, clock):
    seed(world, clock, 5)
    world.faults.append(Fault(r"/tweets$", status=503, times=2))
    slept = []
    cfg = make_cfg(backoff_base_seconds=1, backoff_max_seconds=10)
    r = runner.run(cfg, "collect_posts", clock=clock, sleep=slept.append)
    assert (r.status, r.requests, r.posts_read) == ("ok", 4, 5)
    assert slept == [1, 2]                       # bounded exponential backoff
    assert rows(cfg, "SELECT http_status FROM raw_pages WHERE purpose = 'timeline' "
                     "ORDER BY seq") == [(503,), (503,), (200,)]


def test_persistent_5xx_fails_the_run_and_keeps_the_cursor(world, make_cfg, clock):
    seed(world, clock, 5)
    world.faults.append(Fault(r"/tweets$", status=502, times=10))
    cfg = make_cfg(max_retries=2)
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert r.status == "failed" and "gave up after 3 attempts" in r.error
    assert rows(cfg, "SELECT count(*) FROM sync_state") == [(0,)]
    world.faults.clear()
    assert runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP).posts_read == 5


def test_truncated_body_is_quarantined_and_retried(world, make_cfg, clock):
    seed(world, clock, 5)
    world.faults.append(Fault(r"/tweets$", truncate=True))
    cfg = make_cfg()
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert (r.status, r.quarantined, r.posts_read) == ("ok", 1, 5)
    got = rows(cfg, "SELECT http_status, error FROM raw_pages WHERE purpose = 'timeline' "
                    "ORDER BY seq")
    assert got[0][0] == 200 and got[0][1].startswith("quarantined: invalid JSON body")
    assert got[1] == (200, None)
    assert rows(cfg, "SELECT count(*) FROM posts") == [(5,)]


def test_budget_runs_out_mid_pagination_then_next_run_fills_the_gap(world, make_cfg, clock):
    seed(world, clock, 450)
    cfg = make_cfg(max_requests_per_run=3)           # users/by + 2 of 5 timeline pages
    r1 = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert (r1.status, r1.requests, r1.posts_read) == ("stopped", 3, 200)
    assert "request budget" in r1.stop_reason
    cursor = json.loads(rows(cfg, "SELECT cursor FROM sync_state")[0][0])
    assert cursor["newest_id"] is None and cursor["gap"]["read"] == 200
    # new posts arrive meanwhile; the next runs finish the backfill first, then catch up
    make_post(world, "100", clock.at, "newer")
    r2 = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert world.requests[-r2.requests].params["until_id"] == cursor["gap"]["until_id"]
    r3 = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert r3.status == "ok"
    total_read = r1.posts_read + r2.posts_read + r3.posts_read
    assert rows(cfg, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(451, 451)]
    assert total_read == 451                          # nothing read twice
    assert r1.requests + r2.requests + r3.requests == 1 + 5 + 1


def test_raw_archive_is_verbatim_and_has_no_secret(world, make_cfg, clock):
    from tests.conftest import TOKEN

    seed(world, clock, 5)
    cfg = make_cfg()
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    files = list_raw_files(cfg.raw_dir)
    assert len(files) == 1
    recs = [rl.record for rl in read_raw_file(cfg.raw_dir / files[0])]
    assert [r["type"] for r in recs] == ["run_start", "page", "page", "run_end"]
    page = recs[2]
    assert page["endpoint"] == "GET /2/users/:id/tweets" and page["status"] == 200
    assert page["params"]["id"] == "100" and "x-rate-limit-reset" in page["headers"]
    assert json.loads(page["body"])["meta"]["result_count"] == 5
    for f in cfg.raw_dir.rglob("*.gz"):
        assert TOKEN not in gzip.decompress(f.read_bytes()).decode()
    assert TOKEN.encode() not in cfg.database.read_bytes()
    auth = {r.authorization for r in world.requests}
    assert auth == {f"Bearer {TOKEN}"}


def test_repeating_pagination_token_is_detected_and_stopped(world, make_cfg, clock):
    seed(world, clock, 250)
    real = world._page

    def looping(candidates, params, lo, hi):
        body = real(candidates, params, lo, hi)
        if params.get("pagination_token"):
            body["meta"]["next_token"] = params["pagination_token"]   # the same token again
        return body

    world._page = looping
    cfg = make_cfg()
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert r.status == "failed" and "pagination loop" in r.error
    assert r.requests == 3                   # users/by, first page, one repeat: then stop
    # every post read is stored and the cursor still marks the gap, so nothing is skipped
    assert rows(cfg, "SELECT count(*) FROM posts") == [(200,)]
    gap = json.loads(rows(cfg, "SELECT cursor FROM sync_state")[0][0])["gap"]
    assert gap is not None and gap["read"] == 200


def test_a_budget_smaller_than_the_due_conversations_defers_the_rest(world, make_cfg, clock):
    # 5 young conversations, one a search (a short query limit), 2 requests a run: each run
    # exits 0, searches the most urgent ones it can and records the rest as deferred; the
    # next run goes on with those, never searching the same ones again first
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    world.add_user({"id": "200", "username": "bob", "name": "Bob"})
    replies = []
    for i in range(5):
        root = make_post(world, "100", clock.at - timedelta(hours=10 - i), f"claim {i}")
        replies.append(make_post(world, "200", clock.at - timedelta(hours=9 - i), f"re {i}", 1,
                                 conversation_id=root["id"], in_reply_to_user_id="100",
                                 referenced_tweets=[{"type": "replied_to", "id": root["id"]}]))
    cfg = make_cfg(max_requests_per_run=2, search_query_max_chars=64)
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    runs = [runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP) for _ in range(3)]
    assert [(r.status, r.exit_code, r.requests) for r in runs] == [("ok", 0, 2)] * 2 + [
        ("ok", 0, 1)]
    assert [r.details.get("deferred") for r in runs] == [
        {"conversations": 3, "reply_parents": 0}, {"conversations": 1, "reply_parents": 0},
        None]
    searched = [r.params["query"] for r in world.requests if r.path.endswith("/recent")]
    assert len(searched) == 5 == len(set(searched))          # each once, youngest first
    assert searched[0] == f"(conversation_id:{replies[4]['conversation_id']}) is:reply"
    assert {p for (p,) in rows(cfg, "SELECT post_id FROM posts WHERE author_id = '200'")} == {
        r["id"] for r in replies}
    assert [json.loads(d) if d else None for (d,) in rows(
        cfg, "SELECT deferred FROM runs WHERE job = 'collect_replies' ORDER BY started_at")] == [
        {"conversations": 3, "reply_parents": 0}, {"conversations": 1, "reply_parents": 0},
        None]


def test_a_budget_smaller_than_the_deletion_candidates_rotates_through_them(
        world, make_cfg, clock):
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    for i in range(250):        # young posts: due at every check
        make_post(world, "100", clock.at - timedelta(hours=5, seconds=i), f"post {i}")
    newest = max(world.tweets, key=int)
    cfg = make_cfg(max_requests_per_run=4)        # users/by + 3 timeline pages
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    world.delete(newest)
    cfg = make_cfg(max_requests_per_run=1)        # one lookup of 100 posts a run
    runs = [runner.run(cfg, "check_deletions", clock=clock, **NO_SLEEP) for _ in range(4)]
    assert [r.requests for r in runs] == [1, 1, 1, 1]
    # each run exits 0 and records what it left; the deletion is confirmed by the second
    assert [(r.status, r.details.get("deferred")) for r in runs] == [
        ("ok", {"deletion_checks": 150})] * 2 + [("ok", {"deletion_checks": 149})] * 2
    looked_up = [i for r in world.requests if r.path == "/2/tweets"
                 for i in r.params["ids"].split(",")]
    # the one a run did not find is looked up first by the next, which confirms it; the
    # others all once before any twice
    first = looked_up.index(newest)
    assert looked_up[(first // 100 + 1) * 100] == newest
    again = looked_up[:251]
    again.remove(newest)
    assert len(looked_up) == 400 and len(set(again)) == 250
    assert rows(cfg, "SELECT post_id FROM posts WHERE deleted_at IS NOT NULL") == [(newest,)]

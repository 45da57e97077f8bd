"""Replies and re-checks at the cost of what is new: batched searches, due-schedules, budgets.

Against the local X server (which refuses a query longer than its limit and, with ``now`` set,
searches 7 days back like the API), through the real tweepy client.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta

from click.testing import CliRunner

from tests.conftest import make_post
from tests.helpers import rows, snapshot
from tracker.cli import cli
from tracker.runs import runner
from tracker.runs.load import rebuild

NO_SLEEP = {"sleep": lambda s: None}


def reply(world, author, root, at, text="re", parent=None, seq=1):
    parent = parent or root
    return make_post(world, author, at, text, seq, conversation_id=root["id"],
                     in_reply_to_user_id=parent["author_id"],
                     referenced_tweets=[{"type": "replied_to", "id": parent["id"]}])


def searches(world, since=0):
    return [r for r in world.requests[since:] if r.path.endswith("/search/recent")]


def replies_stored(cfg) -> set[str]:
    return {p for (p,) in rows(cfg, "SELECT post_id FROM posts WHERE reply_to_post_id "
                                    "IS NOT NULL AND author_id NOT IN ('1', '2', '3')")}


def served_replies(world) -> set[str]:
    return {t["id"] for t in world.tweets.values() if t["author_id"] not in ("1", "2", "3")
            and t.get("referenced_tweets") and world._visible(t["id"]) and world._latest(t)}


def three_accounts(world, clock, rng, posts=280, days=6):
    """Three tracked accounts with ~posts posts over the last days; replies (from outsiders)
    to a third of them, most in the first hours, some later; each reply before now."""
    for uid, name in (("1", "alice"), ("2", "bob"), ("3", "carol")):
        world.add_user({"id": uid, "username": name, "name": name.title()})
    for uid in ("7", "8", "9"):
        world.add_user({"id": uid, "username": f"fan{uid}", "name": f"Fan {uid}"})
    now = clock.at
    roots = []
    for i in range(posts):
        at = now - timedelta(minutes=rng.randrange(10, days * 24 * 60))
        roots.append(make_post(world, str(1 + i % 3), at, f"post {i}", i % 1000))
    n = 0
    for root in roots:
        if rng.random() > 0.35:
            continue
        created = world_time(root)
        for k in range(rng.choice([1, 1, 2, 3, 5, 12, 40])):
            at = created + timedelta(minutes=rng.expovariate(1 / 90))
            if at < now - timedelta(minutes=5):
                reply(world, rng.choice("789"), root, at, f"re {n}", seq=n % 4000)
                n += 1
    return roots


def world_time(tweet):
    from tracker.core.timeutil import parse_iso

    return parse_iso(tweet["created_at"])


def test_three_accounts_280_posts_budget_100_every_run_exits_0(world, make_cfg, clock):
    rng = random.Random(7)
    three_accounts(world, clock, rng)
    world.now = clock.at
    world.max_query_chars = 512
    cfg = make_cfg(("alice", "bob", "carol"), max_requests_per_run=100)
    first = [runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP),
             runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)]
    assert [r.status for r in first] == ["ok", "ok"]
    clock.advance(minutes=15)
    world.now = clock.at
    second = [runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP),
              runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)]
    assert [(r.status, r.exit_code) for r in second] == [("ok", 0), ("ok", 0)]
    # within two runs every reply the server has is stored, each read once
    assert replies_stored(cfg) == served_replies(world)
    reads = sum(r.posts_read for r in first[1:] + second[1:])
    assert reads == len(served_replies(world))
    # a rerun with nothing new: one request per batch of due (young) conversations, no more
    clock.advance(minutes=15)
    world.now = clock.at
    before = len(world.requests)
    again = runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)
    due = again.details["replies"]["conversations_due"]
    young = rows(cfg, "SELECT count(DISTINCT conversation_id) FROM posts WHERE author_id IN "
                      "('1', '2', '3') AND created_at > ?", [clock.at - timedelta(hours=6)])
    assert due == young[0][0] and due > 0
    assert again.requests == len(searches(world, before)) == -(-due // 12)   # 12 a query
    assert (again.status, again.posts_read) == ("ok", 0)


def test_batches_fill_the_query_limit_and_never_exceed_it(world, make_cfg, clock):
    world.add_user({"id": "1", "username": "alice", "name": "Alice"})
    roots = [make_post(world, "1", clock.at - timedelta(minutes=30 + i), f"p{i}", i)
             for i in range(30)]
    world.max_query_chars = 512
    cfg = make_cfg(("alice",), search_query_max_chars=512)
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    r = runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)
    queries = [s.params["query"] for s in searches(world)]
    # "conversation_id:" and a 19-digit id are 35 characters: 12 of them, 11 " OR " and
    # "(…) is:reply" fit (the youngest conversations first)
    assert r.status == "ok" and r.requests == 3
    assert [q.count("conversation_id:") for q in queries] == [6, 12, 12]
    assert all(len(q) <= 512 for q in queries) and len(queries[1]) > 512 - 39
    assert all(q.startswith("(") and q.endswith(") is:reply") for q in queries)
    assert {c for q in queries for c in q[1:-len(") is:reply")].replace(
        "conversation_id:", "").split(" OR ")} == {p["id"] for p in roots}


def test_a_batch_of_members_with_different_cursors_skips_nothing(world, make_cfg, clock):
    world.add_user({"id": "1", "username": "alice", "name": "Alice"})
    world.add_user({"id": "7", "username": "fan", "name": "Fan"})
    a = make_post(world, "1", clock.at - timedelta(hours=2), "a")
    early = reply(world, "7", a, clock.at - timedelta(hours=1))
    cfg = make_cfg(("alice",))
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)          # a: searched, cursor ~now
    clock.advance(minutes=30)
    b = make_post(world, "1", clock.at - timedelta(minutes=20), "b")   # new: cursor = its id
    late_a = reply(world, "7", a, clock.at - timedelta(minutes=10), seq=2)
    late_b = reply(world, "7", b, clock.at - timedelta(minutes=5), seq=3)
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    before = len(world.requests)
    r = runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)
    (s,) = searches(world, before)                              # one search for both
    assert s.params["query"] in (
        f"(conversation_id:{a['id']} OR conversation_id:{b['id']}) is:reply",
        f"(conversation_id:{b['id']} OR conversation_id:{a['id']}) is:reply")
    cursor_a = json.loads(rows(cfg, "SELECT cursor FROM sync_state WHERE scope = ?",
                               [f"replies:{a['id']}"])[0][0])
    # since the older of the two (a's), so nothing of either is skipped, nothing read twice
    assert int(s.params["since_id"]) < int(late_a["id"]) and int(s.params["since_id"]) > int(
        early["id"])
    assert r.posts_read == 2
    assert replies_stored(cfg) == {early["id"], late_a["id"], late_b["id"]}
    assert cursor_a["gap"] is None and int(cursor_a["newest_id"]) >= int(late_b["id"])


def test_a_quiet_conversation_is_not_searched_and_a_revived_one_is(world, make_cfg, clock):
    world.add_user({"id": "1", "username": "alice", "name": "Alice"})
    world.add_user({"id": "7", "username": "fan", "name": "Fan"})
    root = make_post(world, "1", clock.at - timedelta(hours=30), "an older post")   # 24-72 h
    reply(world, "7", root, clock.at - timedelta(hours=29))
    cfg = make_cfg(("alice",))
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP).requests == 1
    n = len(world.requests)
    for _ in range(2):                       # hourly: in this tier, due every 3 hours
        clock.advance(hours=1)
        assert runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP).requests == 0
    clock.advance(minutes=56)                # (due up to 5 minutes early: cron drift)
    r = runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)    # 3 h after: due, finds nothing
    assert r.requests == 1 and len(searches(world, n)) == 1
    # quiet once: the spacing doubles (6 h): not due 3 hours later
    clock.advance(hours=3)
    assert runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP).requests == 0
    # revived: the root's reply count goes up (read again by a deletion check) -> due now
    world.tweets[root["id"]]["public_metrics"] = {**root["public_metrics"], "reply_count": 2}
    late = reply(world, "7", root, clock.at - timedelta(minutes=2), seq=5)
    runner.run(cfg, "check_deletions", clock=clock, **NO_SLEEP)
    clock.advance(minutes=1)
    r = runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)
    assert r.requests == 1 and late["id"] in replies_stored(cfg)
    # a reply that arrives by another path (the tracked account's own, in its timeline)
    clock.advance(hours=1)
    assert runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP).requests == 0
    own = reply(world, "1", root, clock.at - timedelta(minutes=1), "thanks", seq=6)
    fan = reply(world, "7", root, clock.at - timedelta(seconds=30), "yw", parent=own, seq=7)
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    r = runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)
    assert r.requests == 1 and fan["id"] in replies_stored(cfg)


def test_deletion_checks_thin_with_age(world, make_cfg, clock):
    world.add_user({"id": "1", "username": "alice", "name": "Alice"})
    young = make_post(world, "1", clock.at - timedelta(hours=1), "young")
    day = make_post(world, "1", clock.at - timedelta(hours=12), "half a day", 1)
    old = make_post(world, "1", clock.at - timedelta(hours=100), "four days", 2)
    cfg = make_cfg(("alice",))
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    looked = []
    for _ in range(8):                       # hourly checks for 8 hours
        clock.advance(hours=1)
        n = len(world.requests)
        runner.run(cfg, "check_deletions", clock=clock, **NO_SLEEP)
        looked.append(sorted(i for r in world.requests[n:] for i in r.params["ids"].split(",")))
    # young: every run while under 6 h (at 2-5 h), then every 2 h (at 7 and 9 h); 12 h old:
    # every 2 h (at 14-20 h); 4 days old: once a day (not in these 8 hours)
    counts = {name: sum(p["id"] in ids for ids in looked)
              for name, p in (("young", young), ("day", day), ("old", old))}
    assert counts == {"young": 6, "day": 4, "old": 0}


def test_exit_codes_and_rebuild_after_scheduled_runs(world, make_cfg, clock):
    rng = random.Random(3)
    three_accounts(world, clock, rng, posts=60, days=3)
    cfg = make_cfg(("alice", "bob", "carol"), max_requests_per_run=3)
    # a budget too small for the timelines' backfill stops the run (exit 4, resumes)
    r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert (r.status, r.exit_code) == ("stopped", 4)
    while r.status == "stopped":
        r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    # a budget too small for the due conversations defers the rest (exit 0)
    r = runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)
    assert (r.status, r.exit_code) == ("ok", 0) and r.details["deferred"]["conversations"] > 0
    for _ in range(10):
        clock.advance(minutes=15)
        runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)
        runner.run(cfg, "check_deletions", clock=clock, **NO_SLEEP)
    assert replies_stored(cfg) == served_replies(world)
    before = snapshot(cfg.database)
    rebuild(cfg)
    assert snapshot(cfg.database) == before


def test_a_quiet_account_is_read_every_quiet_every_hours_and_reawakens(world, make_cfg, clock):
    """x.timelines: an account with no post for quiet_after_days is left out of the batched
    searches until quiet_every_hours have passed since its last read; a new post is found at
    that read and the account is read every run again."""
    world.add_user({"id": "1", "username": "alice", "name": "Alice"})
    world.add_user({"id": "2", "username": "bob", "name": "Bob"})
    make_post(world, "1", clock.at - timedelta(hours=2), "alice posts often")
    make_post(world, "2", clock.at - timedelta(days=3), "bob went quiet", 1)
    cfg = make_cfg(("alice", "bob"), timelines={"quiet_after_days": 2, "quiet_every_hours": 6})
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)      # backfill: both timelines
    quiet = []
    for hour in range(1, 10):
        clock.advance(hours=1)
        if hour == 5:
            fresh = make_post(world, "2", clock.at - timedelta(minutes=10), "bob is back", 2)
        n = len(world.requests)
        r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
        quiet.append(r.details["timelines"]["quiet_not_due"])
        queries = [s.params["query"] for s in searches(world, n)]
        assert len(queries) == 1 and "from:1" in queries[0], (hour, queries)
        assert ("from:2" in queries[0]) == (hour in (1, 7, 8, 9)), (hour, queries)
    # bob's first batched search is the run after his backfill (hour 1); then he is left out
    # for hours 2-6 (due 6 hours after that read, up to 5 minutes early), read at hour 7,
    # which finds his new post, and every run after (his last post is hours old)
    assert quiet == [0, 1, 1, 1, 1, 1, 0, 0, 0]
    assert (fresh["id"],) in rows(cfg, "SELECT post_id FROM posts WHERE author_id = '2'")


def test_status_shows_the_due_work_and_what_has_waited(world, make_cfg, clock, api, tmp_path):
    from tracker.runs.status import collect_status

    world.add_user({"id": "1", "username": "alice", "name": "Alice"})
    world.add_user({"id": "7", "username": "fan", "name": "Fan"})
    young = make_post(world, "1", clock.at - timedelta(hours=1), "young")
    make_post(world, "1", clock.at - timedelta(days=2), "older", 1)
    reply(world, "7", young, clock.at - timedelta(minutes=30))
    cfg = make_cfg(("alice",))
    runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    # both conversations are due their first search (the older one has waited since it was
    # posted, 48 h); of the two posts followed for deletions, the young one is due its check
    assert collect_status(cfg, now=clock.at).backlog["x"] == {
        "conversations_due": 2, "conversations_followed": 2, "deletions_due": 1,
        "deletions_followed": 2, "oldest_due_hours": 48.0}
    # the runs do it: nothing has waited; the young post (under 6 h) stays due every run
    runner.run(cfg, "collect_replies", clock=clock, **NO_SLEEP)
    runner.run(cfg, "check_deletions", clock=clock, **NO_SLEEP)
    assert collect_status(cfg, now=clock.at).backlog["x"] == {
        "conversations_due": 1, "conversations_followed": 2, "deletions_due": 1,
        "deletions_followed": 2, "oldest_due_hours": 0.0}
    (tmp_path / "config.yaml").write_text(json.dumps({       # the same config, as a file
        "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
        "x": {"api_base_url": api}, "accounts": [{"platform": "x", "handle": "alice"}]}))
    res = CliRunner().invoke(cli, ["--config", str(tmp_path / "config.yaml"), "status"], obj={})
    assert res.exit_code == 0, res.output
    # the command reads the current time, by which these 2022 posts are out of every window
    assert ("backlog (x): 0 of 0 conversations due a search, 0 of 0 posts due a deletion check"
            in res.output)

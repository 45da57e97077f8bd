"""Soak: 200 scheduled cycles against the local server at a fast clock, with random faults.

Each cycle is five minutes of a fake clock; the jobs whose cron expression (the README's
cadence) matches fire, in order, through the real runner and tweepy: posts every 15 minutes,
polls every 10, replies every 30 (offset), deletion checks every 2 hours, with a request budget
of 40 a run that the replies step outgrows (it rotates through the conversations). Meanwhile
the world moves (seeded): tracked accounts post, others reply, polls are opened, their votes
move and they close, posts are edited and deleted. A third of the cycles get a random fault (5xx bursts, 429s
with near, far and no reset, a usage cap, truncated bodies, HTML answers, connection resets,
timeouts), and three times an analyst holds the database for a few cycles.

At the end, after one clean cycle:

- no table has a duplicate key, every raw file is loaded, and every run is in ``runs``;
- no lost posts: every post in every answer archived is stored, and every post a complete
  collection must hold (tracked timelines, replies in followed conversations) is stored once;
  every deleted post that was stored has ``deleted_at``;
- open polls were refreshed on schedule: every successful ``snapshot_polls`` run captured
  every poll open at its start, a closed poll has exactly one final capture and none after;
- memory is flat: resident memory grew less than 25 MB over the last 100 cycles (measured:
  about 5 MB, against ~200 MB resident).
"""

from __future__ import annotations

import gc
import json
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from tests.conftest import TOKEN, Clock, make_post
from tracker.runs import runner
from tracker.config import load_config
from tracker.core.cron import parse_cron
from tracker.testing.xapi import Fault, XWorld, serve
from tracker.sources.x.plan import conversations_due
from tracker.store.raw import list_raw_files, read_raw_file
from tracker.core.timeutil import snowflake_at

from .common import duplicate_keys, q, write_config

CYCLES = 200
SEED = 7
SCHEDULE = {"collect_posts": "*/15 * * * *", "snapshot_polls": "*/10 * * * *",
            "collect_replies": "5-59/30 * * * *", "check_deletions": "0 */2 * * *"}
BUDGET = 40          # x.max_requests_per_run: replies runs outgrow it and rotate
JOB_FN = {job: (lambda cfg, job=job, **kw: runner.run(cfg, job, **kw))
          for job in ("collect_posts", "snapshot_polls", "collect_replies", "check_deletions")}
TRACKED = {"100": "alice", "101": "bob", "102": "carol"}
REPLIERS = {"200": "dave", "201": "erin"}
HOLD = """
import duckdb, sys
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
"""


def fires(expr, at: datetime) -> bool:
    dom_ok, dow_ok = at.day in expr.day, (at.weekday() + 1) % 7 in expr.day_of_week
    day_ok = (dom_ok and dow_ok) if (expr.day_star or expr.dow_star) else (dom_ok or dow_ok)
    return (at.minute in expr.minute and at.hour in expr.hour and at.month in expr.month
            and day_ok)


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            import os

            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except OSError:                               # not Linux: the peak is the best we have
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


PATHS = {"collect_posts": r"/users/\d+/tweets$", "snapshot_polls": r"/2/tweets$",
         "check_deletions": r"/2/tweets$", "collect_replies": r"/search/recent$"}


def random_fault(rng: random.Random, clock: Clock, due: list[str]) -> Fault:
    path = PATHS[rng.choice(due)]
    kind = rng.choice(["503", "503", "502", "429 near", "429 far", "429 storm", "usage cap",
                       "truncated", "html", "reset", "timeout"])
    too_many = '{"title": "Too Many Requests"}'
    return {
        "503": lambda: Fault(path, status=503, times=rng.randint(1, 3)),
        "502": lambda: Fault(path, status=502, times=rng.randint(4, 6)),   # > retries: fails
        "429 near": lambda: Fault(path, status=429, body=too_many, headers={
            "x-rate-limit-reset": str(int(clock.at.timestamp()) + 30)}),
        "429 far": lambda: Fault(path, status=429, body=too_many, headers={
            "x-rate-limit-reset": str(int(clock.at.timestamp()) + 7200)}),
        "429 storm": lambda: Fault(path, status=429, body=too_many, times=10,
                                   headers={"x-rate-limit-reset": None}),
        "usage cap": lambda: Fault(path, status=429, body=json.dumps(
            {"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap"})),
        "truncated": lambda: Fault(path, truncate=True, times=rng.randint(1, 2)),
        "html": lambda: Fault(path, status=200, body="<html><body>Over capacity</body></html>",
                              headers={"Content-Type": "text/html"}),
        "reset": lambda: Fault(path, reset=True, times=rng.randint(1, 2)),
        "timeout": lambda: Fault(path, delay=0.4),
    }[kind]()


class World:
    """The seeded, moving world the server answers from."""

    def __init__(self, rng: random.Random, clock: Clock):
        self.rng, self.clock = rng, clock
        self.x = XWorld(token=TOKEN)
        self.seq = 0
        self.polls: dict[str, dict] = {}            # poll id -> {end, options}
        for uid, h in {**TRACKED, **REPLIERS}.items():
            self.x.add_user({"id": uid, "username": h, "name": h.title()})
        for uid in TRACKED:
            for i in range(40):         # older than the replies window
                self.post(uid, clock.at - timedelta(days=8, minutes=-i * 7), f"old post {i}")

    def post(self, uid: str, at: datetime, text: str, **extra) -> dict:
        self.seq += 1
        return make_post(self.x, uid, at, text, self.seq, **extra)

    def step(self) -> None:
        rng, now = self.rng, self.clock.at
        tracked_posts = [t for t in self.x.tweets.values() if t["author_id"] in TRACKED
                         and self.x._visible(t["id"]) and self.x._latest(t)]
        for uid in TRACKED:
            if rng.random() < 0.15:
                self.post(uid, now - timedelta(seconds=rng.randint(1, 250)),
                          f"{TRACKED[uid]} says {rng.random():.4f}")
            if rng.random() < 0.04:
                pid = str(9000 + len(self.polls))
                minutes = rng.choice([60, 120, 240])
                opts = [{"position": i + 1, "label": f"option {i + 1}", "votes": 0}
                        for i in range(rng.randint(2, 4))]
                self.x.add_poll({"id": pid, "duration_minutes": minutes, "voting_status": "open",
                                 "end_datetime": (now + timedelta(minutes=minutes)).strftime(
                                     "%Y-%m-%dT%H:%M:%S.000Z"), "options": opts})
                self.post(uid, now - timedelta(seconds=1), "a poll",
                          attachments={"poll_ids": [pid]})
                self.polls[pid] = {"end": now + timedelta(minutes=minutes), "n": len(opts)}
        recent = sorted(tracked_posts, key=lambda t: int(t["id"]))[-15:]
        for uid in REPLIERS:
            if recent and rng.random() < 0.4:
                root = rng.choice(recent)
                self.post(uid, now - timedelta(seconds=rng.randint(1, 250)), "a reply",
                          conversation_id=root["conversation_id"], in_reply_to_user_id=
                          root["author_id"], referenced_tweets=[{"type": "replied_to",
                                                                  "id": root["id"]}])
        for pid, p in self.polls.items():
            poll = self.x.polls[pid]
            if poll["voting_status"] == "open":
                votes = [o["votes"] + rng.randint(0, 50) for o in poll["options"]]
                self.x.set_poll(pid, votes, "closed" if now >= p["end"] else None)
        if recent and rng.random() < 0.03:
            self.x.delete(rng.choice(recent)["id"])
        if recent and rng.random() < 0.02:
            old = rng.choice(recent)
            if "attachments" not in old:          # an edit is a new post, with a new id
                self.seq += 1
                at = now - timedelta(seconds=rng.randint(1, 250))
                self.x.edit(old["id"], {**old, "id": str(snowflake_at(at, self.seq)),
                                        "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                                        "text": old["text"] + " (edited)"})


@pytest.mark.slow
def test_200_scheduled_cycles_with_random_faults(tmp_path, monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)
    rng = random.Random(SEED)
    clock = Clock(datetime(2022, 10, 12, 0, 0, tzinfo=timezone.utc))
    world = World(rng, clock)
    crons = {job: parse_cron(c) for job, c in SCHEDULE.items()}
    results: list[runner.RunResult] = []
    waits: list[float] = []
    memory: list[float] = []
    holds = {40: 3, 110: 2, 170: 4}                 # cycle -> cycles the analyst holds the db
    holder, hold_until = None, -1
    with serve(world.x) as api:
        cfg = load_config(write_config(
            tmp_path, api, tuple(TRACKED.values()), max_retries=2, timeout_seconds=0.2,
            max_requests_per_run=BUDGET,
            backoff_base_seconds=1, backoff_max_seconds=30, max_rate_limit_wait_seconds=60))
        for cycle in range(CYCLES):
            clock.advance(minutes=5)
            world.step()
            if cycle in holds:
                holder = subprocess.Popen([sys.executable, "-c", HOLD, str(cfg.database)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          text=True)
                assert holder.stdout.readline().strip() == "holding"
                hold_until = cycle + holds[cycle]
            at = clock.at.replace(second=0, microsecond=0)
            due = [job for job, expr in crons.items() if fires(expr, at)]
            if due and rng.random() < 0.35:
                world.x.faults.append(random_fault(rng, clock, due))
            for job in due:
                if True:
                    r = JOB_FN[job](cfg, clock=clock, sleep=waits.append)
                    results.append(r)
                    assert r.status in ("ok", "stopped", "failed"), r
                    if r.status == "failed":            # only the API's faults fail a run
                        assert r.error and "\n" not in r.error and (
                            "gave up" in r.error or "HTTP" in r.error), r.error
            world.x.faults.clear()
            if holder and cycle >= hold_until:
                holder.stdin.close()
                holder.wait(timeout=30)
                holder = None
            if cycle % 10 == 9:                 # (a full collection costs ~0.1 s)
                gc.collect()
                memory.append(rss_mb())

        # one clean cycle: everything the world holds now gets collected (a catch-up of the
        # replies: every conversation of the window, as many runs as the budget needs)
        clock.advance(minutes=5)
        final = [runner.run(cfg, "collect_posts", clock=clock, sleep=waits.append)]
        con = duckdb.connect(str(cfg.database), read_only=True)
        ids = [r[0] for r in con.execute("SELECT account_id FROM accounts WHERE account_id "
                                         "IN ('100', '101', '102')").fetchall()]
        conversations = len(conversations_due(con, ids, clock.at, cfg.x, every_one=True))
        con.close()
        catch_up = cfg.model_copy(update={"x": cfg.x.model_copy(
            update={"max_requests_per_run": 10 * conversations + 10})})
        final.append(runner.run(catch_up, "collect_replies", clock=clock, sleep=waits.append,
                                            every_conversation=True))
        assert not final[-1].details.get("deferred") and conversations > 10
        final.append(runner.run(cfg, "snapshot_polls", clock=clock, sleep=waits.append))
        final.append(runner.run(cfg, "check_deletions", clock=clock, sleep=waits.append))
        for r in final:
            assert r.load_state == "loaded" and (r.status == "ok" or (
                r.status == "stopped" and "budget" in r.stop_reason)), (r.job, r)
        results += final

    db = cfg.database
    statuses = [r.status for r in results]
    # faults happened and were survived; every wait was bounded
    assert statuses.count("ok") > len(results) * 0.6
    assert statuses.count("stopped") >= 3 and statuses.count("failed") >= 3, statuses
    assert sum(r.load_state == "pending_load" for r in results) >= 3
    assert max(waits, default=0) <= 61
    # bookkeeping: every run recorded, every raw file loaded, no duplicate key
    assert q(db, "SELECT count(*) FROM runs") == [(len(results),)]
    assert q(db, "SELECT count(*) FROM raw_files WHERE loaded_at IS NULL") == [(0,)]
    assert len(list_raw_files(cfg.raw_dir)) == len(results)
    assert not any(duplicate_keys(db).values()), duplicate_keys(db)

    stored = {p for (p,) in q(db, "SELECT post_id FROM posts")}
    # every post in every archived answer is stored
    archived: set[str] = set()
    for f in list_raw_files(cfg.raw_dir):
        for rl in read_raw_file(cfg.raw_dir / f):
            rec = rl.record or {}
            if rec.get("type") == "page" and rec.get("status") == 200:
                try:
                    body = json.loads(rec["body"])
                except ValueError:
                    continue                             # a truncated or HTML answer
                for t in (body.get("data") or []) + (body.get("includes") or {}).get(
                        "tweets", []):
                    if "username" not in t:
                        archived.add(t["id"])
    assert archived and archived <= stored
    # everything a complete collection holds: tracked timelines, replies in conversations
    x = world.x
    timelines = {t["id"] for t in x.tweets.values() if t["author_id"] in TRACKED
                 and x._visible(t["id"]) and x._latest(t)}
    assert timelines <= stored, len(timelines - stored)
    window = (clock.at - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    conversations = {t["conversation_id"] for t in x.tweets.values() if t["id"] in stored
                     and t["author_id"] in TRACKED and x._visible(t["id"])
                     and t["created_at"] >= window}         # x.replies_window_days
    replies = {t["id"] for t in x.tweets.values() if t["conversation_id"] in conversations
               and t["id"] != t["conversation_id"] and x._visible(t["id"]) and x._latest(t)}
    assert replies and replies <= stored, len(replies - stored)
    deleted = (x.deleted & stored) - {p for (p,) in q(db, "SELECT post_id FROM posts WHERE "
                                                      "seen_in = 'includes'")}
    marked = {p for (p,) in q(db, "SELECT post_id FROM posts WHERE deleted_at IS NOT NULL")}
    assert deleted and deleted <= marked and marked <= x.deleted

    # polls refreshed on schedule
    missed = q(db, """
        SELECT r.run_id, p.poll_id FROM runs r JOIN polls p
          ON p.first_seen_at < r.started_at
         AND (p.final_snapshot_at IS NULL OR p.final_snapshot_at >= r.started_at)
        LEFT JOIN posts s ON s.post_id = p.post_id
        WHERE r.job = 'snapshot_polls' AND r.status = 'ok'
          AND (s.deleted_at IS NULL OR s.deleted_at > r.started_at)
          AND NOT EXISTS (SELECT 1 FROM poll_snapshots x WHERE x.poll_id = p.poll_id
                          AND x.captured_at BETWEEN r.started_at AND r.finished_at)""")
    refreshes = q(db, "SELECT count(*) FROM runs WHERE job = 'snapshot_polls' AND status = 'ok'"
                      " AND requests > 0")[0][0]
    assert missed == [] and refreshes > 20
    closed = q(db, "SELECT poll_id, count(DISTINCT captured_at) FILTER (WHERE voting_status = "
                   "'closed'), count(*) FILTER (WHERE captured_at > (SELECT final_snapshot_at "
                   "FROM polls p WHERE p.poll_id = s.poll_id)) FROM poll_snapshots s "
                   "GROUP BY poll_id")
    ended = [pid for pid in world.polls if x.polls[pid]["voting_status"] == "closed"
             and not any(t.get("attachments", {}).get("poll_ids") == [pid]
                         and t["id"] in x.deleted for t in x.tweets.values())]
    assert ended and {(pid, 1, 0) for pid in ended} <= set(closed), closed

    # memory is flat once warm
    growth = memory[-1] - memory[len(memory) // 2 - 1]      # cycles 100 -> 200
    assert growth < 25, f"RSS grew {growth:.1f} MB over the last {CYCLES // 2} cycles: " \
                        f"{[round(m) for m in memory]}"

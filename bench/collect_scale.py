"""Benchmark: a week of the scheduled X collection at 1, 100 and 2,000 accounts.

    python bench/collect_scale.py [--accounts 1 100 2000] [--days 7] [--quick]

For each size, a world with realistic arrival is played through the local X API server (the
real tweepy client, 127.0.0.1): accounts posting at heavy-tailed rates (most a few a day, one in
a hundred 50-100 a day), more by day than by night; replies to a third of the posts, heavy-tailed
in number, most within the first hours (a 40-minute mean) and a long tail over days, some
answering other replies; a poll on one post in fifty; one post in a hundred deleted in its first
hours. Two days of posts exist before the week starts (the first run backfills them).

The jobs run on the schedule of the repository's config.yaml (`schedule.jobs`; what `tracker
cron` prints), every five simulated minutes checking which are due. Printed per size:

- requests per day, and requests ÷ the minimum: for each run, one request per batch of due
  accounts or conversations (as many as x.search_query_max_chars holds), a page per 100 new
  results of a batch, lookups of 100 ids (polls, deletion checks, missing parents): target
  <= 1.2;
- requests per day ÷ today's design before batching and due-schedules (one timeline request per
  account per run, one search per followed conversation per run, every recent post looked up
  every deletion run), counted on the same world: target <= 0.1 at 2,000 accounts;
- posts read ÷ distinct posts, for the timelines and for the replies (target 1.00);
- replies missed at the end: replies posted while their conversation was in the window and
  before its last search, not stored (target 0); and those still waiting for their next due
  search, before and after a catch-up (`collect replies --all`);
- the median and 95th percentile of the delay from a reply's creation to its storage, for
  conversations younger than a day (target: median <= one replies period).
"""

from __future__ import annotations

import argparse
import bisect
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collect import NO_SLEEP, TOKEN, Checks, Clock, ratio, tweet  # noqa: E402

from tracker.runs import runner  # noqa: E402
from tracker.config import load_config  # noqa: E402
from tracker.core.cron import parse_cron  # noqa: E402
from tracker.testing.xapi import XWorld, serve  # noqa: E402
from tracker.core.jsonload import loads  # noqa: E402
from tracker.store.raw import read_raw_file  # noqa: E402
from tracker.core.timeutil import parse_iso  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
START = datetime(2022, 10, 3, 0, 0, tzinfo=timezone.utc)
PREHISTORY = timedelta(days=2)
JOBS = {job: (lambda cfg, job=job, **kw: runner.run(cfg, job, **kw))
        for job in ("collect_posts", "collect_replies", "snapshot_polls", "check_deletions")}
WINDOW = timedelta(days=7)            # x.replies_window_days, x.deletion_check_days


class IndexedWorld(XWorld):
    """XWorld whose timeline and search answers use indexes (same answers, faster)."""

    def __init__(self, token=None):
        super().__init__(token)
        self.by_author: dict[str, dict] = defaultdict(dict)
        self.by_conv: dict[str, dict] = defaultdict(dict)

    def add_tweet(self, tweet_: dict) -> None:
        super().add_tweet(tweet_)
        t = self.tweets[str(tweet_["id"])]
        self.by_author[str(t.get("author_id"))][t["id"]] = t
        self.by_conv[str(t.get("conversation_id"))][t["id"]] = t

    def answer(self, path: str, params: dict):
        with self.lock:
            if path.startswith("/2/users/") and path.endswith("/tweets"):
                uid = path.split("/")[3]
                if uid in self.users:
                    cands = [t for t in self.by_author[uid].values()
                             if self._visible(t["id"]) and self._latest(t)]
                    return 200, self._page(cands, params, 5, 100)
            return super().answer(path, params)

    def search_terms(self, ops: list) -> list[dict]:
        out = []
        for m in ops:
            index = self.by_conv if m.group(1) == "conversation_id" else self.by_author
            out += [t for t in index.get(m.group(2), {}).values()
                    if self._visible(t["id"]) and self._latest(t)]
        return out


def diurnal(rng: random.Random, day: datetime) -> datetime:
    """A moment of that day, more likely by (European and American) day than by night."""
    while True:
        at = day + timedelta(seconds=rng.randrange(86400))
        if rng.random() < 0.25 + 0.75 * math.sin(math.pi * ((at.hour + 2) % 24) / 24) ** 2:
            return at


def build(n: int, days: int, seed: int) -> tuple[IndexedWorld, list, dict]:
    """The world's users, and its events (time, kind, data) sorted by time."""
    rng = random.Random(seed)
    world = IndexedWorld(token=TOKEN)
    uids = [str(10_000 + i) for i in range(n)]
    crowd = [str(900_000 + i) for i in range(300)]
    for uid in uids:
        world.add_user({"id": uid, "username": f"acct{uid}", "name": uid})
    for uid in crowd:
        world.add_user({"id": uid, "username": f"crowd{uid}", "name": "crowd"})
    events: list[tuple] = []
    end = START + timedelta(days=days)
    first = START - PREHISTORY
    seq = 0
    for uid in uids:
        rate = rng.uniform(50, 100) if rng.random() < 0.01 else min(
            40.0, rng.lognormvariate(math.log(3), 1.0))
        d = first
        while d < end:
            for _ in range(_poisson(rng, rate)):
                at = diurnal(rng, d)
                if not first <= at < end:
                    continue
                seq += 1
                extra = {}
                if rng.random() < 0.02:
                    pid = str(70_000_000 + seq)
                    extra["attachments"] = {"poll_ids": [pid]}
                    events.append((at, "poll", pid))
                post = tweet(uid, at, seq % 4096, f"post {seq}", **extra)
                events.append((at, "post", post))
                if rng.random() < 0.01:
                    events.append((at + timedelta(minutes=rng.expovariate(1 / 120) + 1),
                                   "delete", post["id"]))
                if rng.random() < 0.33:
                    k = min(500, int(rng.paretovariate(1.2)) + rng.randrange(3))
                    parents = [post]
                    for j in range(k):
                        delay = (rng.expovariate(1 / 40) if rng.random() < 0.8
                                 else rng.lognormvariate(math.log(600), 1.2))
                        rat = at + timedelta(minutes=delay + 0.5)
                        if rat >= end or rat - at > WINDOW:
                            continue
                        seq += 1
                        parent = rng.choice(parents[-5:])
                        r = tweet(rng.choice(crowd), rat, seq % 4096, f"reply {seq}",
                                  conversation_id=post["id"],
                                  in_reply_to_user_id=parent["author_id"],
                                  referenced_tweets=[{"type": "replied_to",
                                                      "id": parent["id"]}])
                        parents.append(r)
                        events.append((rat, "reply", r))
            d += timedelta(days=1)
    events.sort(key=lambda e: (e[0], e[1]))
    return world, events, {"uids": uids}


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def apply(world: IndexedWorld, events: list, i: int, until: datetime) -> int:
    """Apply the events up to ``until``; returns the index of the next one."""
    while i < len(events) and events[i][0] <= until:
        at, kind, data = events[i]
        if kind == "post" or kind == "reply":
            world.add_tweet(data)
            if kind == "reply":
                root = world.tweets.get(data["conversation_id"])
                if root:
                    m = root["public_metrics"]
                    root["public_metrics"] = {**m, "reply_count": m["reply_count"] + 1}
        elif kind == "poll":
            world.add_poll({"id": data, "duration_minutes": 1440, "voting_status": "open",
                            "end_datetime": (at + timedelta(days=1)).strftime(
                                "%Y-%m-%dT%H:%M:%S.000Z"),
                            "options": [{"position": 1, "label": "yes", "votes": 0},
                                        {"position": 2, "label": "no", "votes": 0}]})
            world.poll_end = getattr(world, "poll_end", {})
            world.poll_end[data] = at + timedelta(days=1)
        elif kind == "delete":
            world.delete(data)
        i += 1
    for pid, ends in list(getattr(world, "poll_end", {}).items()):
        poll = world.polls[pid]
        if poll["voting_status"] == "open":
            for o in poll["options"]:
                o["votes"] += 1
            if until >= ends:
                poll["voting_status"] = "closed"
    return i


def fires(expr, at: datetime) -> bool:
    dom_ok, dow_ok = at.day in expr.day, (at.weekday() + 1) % 7 in expr.day_of_week
    day_ok = (dom_ok and dow_ok) if (expr.day_star or expr.dow_star) else (dom_ok or dow_ok)
    return (at.minute in expr.minute and at.hour in expr.hour and at.month in expr.month
            and day_ok)


def minimum_of(run: runner.RunResult, raw_dir: Path) -> int:
    """The fewest requests that could have done what this run did: per batched search one
    request per 100 results (at least one), lookups one per 100 ids, handles one per 100."""
    if not run.raw_file:
        return 0
    batches: dict[str, int] = defaultdict(int)
    lookups = 0
    for rl in read_raw_file(raw_dir / run.raw_file):
        rec = rl.record or {}
        if rec.get("type") != "page" or rec.get("status") != 200:
            continue
        if rec.get("endpoint") in ("GET /2/tweets/search/recent", "GET /2/users/:id/tweets"):
            data = loads(rec.get("body") or "{}").get("data") or []
            batches[rec.get("scope") or ""] += len(data)
        else:
            ids = (rec.get("params") or {}).get("ids") or (rec.get("params") or {}).get(
                "usernames") or ""
            lookups += math.ceil(len(ids.split(",")) / 100) if ids else 1
    return sum(max(1, math.ceil(n / 100)) for n in batches.values()) + lookups


def one_size(n: int, args, base: Path, ck: Checks) -> dict:
    t0 = time.perf_counter()
    world, events, meta = build(n, args.days, args.seed)
    posts = sum(1 for e in events if e[1] == "post")
    replies = sum(1 for e in events if e[1] == "reply")
    print(f"\n== {n:,} accounts: {posts:,} posts ({PREHISTORY.days} days before the week and "
          f"{args.days} in it), {replies:,} replies, "
          f"{sum(1 for e in events if e[1] == 'poll')} polls, "
          f"{sum(1 for e in events if e[1] == 'delete')} deletions "
          f"(built in {time.perf_counter() - t0:.0f}s) ==", flush=True)
    schedule = yaml.safe_load((REPO / "config.yaml").read_text())["schedule"]["jobs"]
    crons = {j: parse_cron(schedule[j]["cron"]) for j in JOBS}
    clock = Clock(START)
    world.now = START
    world.max_query_chars = 512
    stats = {"requests": 0, "minimum": 0, "old": 0, "runs": 0, "reads": defaultdict(int),
             "stopped": 0}
    tracked = set(meta["uids"])
    post_times = sorted(e[0] for e in events if e[1] == "post")
    t0 = time.perf_counter()
    with serve(world) as url:
        path = base / "config.yaml"
        path.write_text(yaml.safe_dump({
            "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
            "x": {"api_base_url": url, "backoff_base_seconds": 0,
                  "max_requests_per_run": 5000, "search_query_max_chars": 512},
            "accounts": [{"handle": f"acct{u}"} for u in meta["uids"]]}, sort_keys=False))
        cfg = load_config(path)
        i = apply(world, events, 0, START)
        at = START
        end = START + timedelta(days=args.days)
        while at < end:
            i = apply(world, events, i, at)
            world.now = at
            clock.at = at
            for job, expr in crons.items():
                if not fires(expr, at):
                    continue
                r = JOBS[job](cfg, clock=clock, **NO_SLEEP)
                stats["runs"] += 1
                stats["requests"] += r.requests
                stats["minimum"] += minimum_of(r, cfg.raw_dir)
                stats["reads"][job] += r.posts_read
                stats["stopped"] += r.status != "ok"
                # today's design on the same world: every account, every followed
                # conversation, every recent post, each run
                lo = bisect.bisect_left(post_times, at - WINDOW)
                hi = bisect.bisect_right(post_times, at)
                recent = hi - lo
                if job == "collect_posts":
                    stats["old"] += n
                elif job == "collect_replies":
                    stats["old"] += recent
                elif job == "check_deletions":
                    stats["old"] += math.ceil(recent / 100)
                else:
                    stats["old"] += r.requests
            at += timedelta(minutes=5)
        sim_secs = time.perf_counter() - t0
        con = duckdb.connect(str(cfg.replica), read_only=True)
        stored = dict(con.execute("SELECT post_id, first_seen_at FROM posts").fetchall())
        searched = {}
        for scope, cursor in con.execute(
                "SELECT scope, cursor->>'searched_at' FROM sync_state "
                "WHERE scope LIKE 'replies:%'").fetchall():
            searched[scope[8:]] = cursor
        timeline_reads = stats["reads"]["collect_posts"]
        con.close()
        roots = {t["id"]: t for t in world.tweets.values() if t["author_id"] in tracked}
        all_replies = [t for t in world.tweets.values() if t["author_id"] not in tracked
                       and t["conversation_id"] in roots]

        def created(t):
            return parse_iso(t["created_at"])

        # (replies under a deleted post are not followed: its conversation is no longer
        # tracked)
        in_window = [t for t in all_replies if world._visible(t["id"]) and world._latest(t)
                     and t["conversation_id"] not in world.deleted
                     and created(t) - created(roots[t["conversation_id"]]) <= WINDOW
                     and created(roots[t["conversation_id"]]) >= end - WINDOW]
        missed = [t for t in in_window if t["id"] not in stored and searched.get(
            t["conversation_id"]) and parse_iso(searched[t["conversation_id"]])
            - timedelta(seconds=cfg.x.coverage_margin_seconds) > created(t)]
        pending = [t for t in in_window if t["id"] not in stored]
        delays = sorted((stored[t["id"]] - created(t)).total_seconds() / 60
                        for t in all_replies if t["id"] in stored
                        and created(t) - created(roots[t["conversation_id"]])
                        < timedelta(days=1) and created(t) >= START)
        reply_reads = stats["reads"]["collect_replies"]
        distinct_replies = sum(1 for t in all_replies if t["id"] in stored)
        big = cfg.model_copy(update={"x": cfg.x.model_copy(
            update={"max_requests_per_run": 1_000_000})})
        catch = runner.run(big, "collect_replies", clock=clock, every_conversation=True, **NO_SLEEP)
        con = duckdb.connect(str(cfg.replica), read_only=True)
        stored_after = {r[0] for r in con.execute("SELECT post_id FROM posts").fetchall()}
        distinct_timeline = con.execute(
            "SELECT count(*) FROM posts WHERE author_id IN (SELECT unnest(?::VARCHAR[])) "
            "AND seen_in = 'data'", [sorted(tracked)]).fetchone()[0]
        con.close()
        after = [t for t in in_window if t["id"] not in stored_after]
    per_day = stats["requests"] / args.days
    out = {
        "accounts": n, "posts": posts, "replies": replies, "runs": stats["runs"],
        "requests_per_day": per_day, "minimum": stats["minimum"],
        "vs_minimum": stats["requests"] / max(stats["minimum"], 1),
        "old_per_day": stats["old"] / args.days, "vs_old": stats["requests"] / max(stats["old"], 1),
        "timeline_reads_per_distinct": timeline_reads / max(distinct_timeline, 1),
        "reply_reads_per_distinct": reply_reads / max(distinct_replies, 1),
        "missed": len(missed), "pending": len(pending), "after_catch_up": len(after),
        "catch_up_requests": catch.requests,
        "median_delay_min": delays[len(delays) // 2] if delays else float("nan"),
        "p95_delay_min": delays[int(len(delays) * 0.95)] if delays else float("nan"),
        "stopped": stats["stopped"], "seconds": sim_secs,
        "replies_period_min": 15,
    }
    print(f"  {stats['runs']:,} runs in {sim_secs:.0f}s; {per_day:,.0f} requests a day "
          f"({stats['requests']:,} in all, minimum {stats['minimum']:,}: "
          f"{ratio(stats['requests'], stats['minimum'])}); today's design "
          f"{out['old_per_day']:,.0f} a day: {out['vs_old']:.3f}")
    print(f"  posts read / distinct: timelines {out['timeline_reads_per_distinct']:.2f}, "
          f"replies {out['reply_reads_per_distinct']:.2f}; replies missed {len(missed)}, "
          f"waiting for their next due search {len(pending)} (after a catch-up: {len(after)}, "
          f"{catch.requests} requests)")
    print(f"  delay reply -> stored (conversations under a day old): median "
          f"{out['median_delay_min']:.1f} min, p95 {out['p95_delay_min']:.1f} min", flush=True)
    ck.eq(f"{n}: no run stopped", stats["stopped"], 0)
    ck.eq(f"{n}: replies missed", len(missed), 0)
    ck.eq(f"{n}: nothing left after a catch-up", len(after), 0)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, nargs="+", default=[1, 100, 2000])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--quick", action="store_true", help="1 and 100 accounts, 2 days")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.accounts, args.days = [1, 100], 2
    os.environ["X_BEARER_TOKEN"] = TOKEN
    import platform

    print(f"machine: {os.cpu_count()} cpus, {platform.platform()}, python "
          f"{platform.python_version()}, duckdb {duckdb.__version__}")
    ck = Checks()
    rows = []
    base = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        for n in args.accounts:
            d = base / f"n{n}"
            d.mkdir()
            rows.append(one_size(n, args, d, ck))
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print("\n| accounts | posts | replies | requests/day | ÷ minimum | ÷ today's design | "
          "reads÷distinct timelines | replies | missed | median / p95 delay (min) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['accounts']:,} | {r['posts']:,} | {r['replies']:,} | "
              f"{r['requests_per_day']:,.0f} | {r['vs_minimum']:.2f} | {r['vs_old']:.3f} | "
              f"{r['timeline_reads_per_distinct']:.2f} | {r['reply_reads_per_distinct']:.2f} | "
              f"{r['missed']} | {r['median_delay_min']:.1f} / {r['p95_delay_min']:.1f} |")
    print(f"\nchecks: {ck.passed} passed, {len(ck.failed)} failed")
    for f in ck.failed:
        print(f"  FAILED {f}")
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())

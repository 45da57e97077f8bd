"""Benchmark: collection efficiency per job at 1, 100 and 2,000 accounts, and `tracker cost`.

    python bench/collect_scale.py [--accounts 1 100 2000] [--quick]

For each size, a world of N accounts (posts one a day; 250, 120 or 30 per account), polls on one
account in ten, and replies from other users to the posts inside the replies window, served by
the local X API server (tweepy included, 127.0.0.1, fake token). The jobs run in the order a day
of scheduling would run them, and each is compared with the least the X API allows:

  backfill collect_posts   ceil(N/100) users/by + sum(ceil(posts/100)) timeline pages
  snapshot_polls           ceil(open polls/100) lookups, one read per poll post
  collect_replies          one recent search per followed conversation (x.replies_window_days)
  incremental collect      one since_id request per account (no batch timeline endpoint exists)
  check_deletions          ceil(candidates/100) lookups, one read per candidate

Printed per job: requests / minimum and posts read / minimum (target 1.00). A read of a post
that comes back as a referenced post (the parent in a reply search's ``includes``) counts as a
read: the "posts read" column says how many of those there were. Then `tracker cost` for the
2,000-account config with the rates measured in its database.

The dev server's timeline and search answers use per-author and per-conversation indexes here
(bench-only subclass), so the server's own scans do not dominate the timings.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import duckdb
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collect import NO_SLEEP, START, TOKEN, Checks, Clock, ratio, tweet  # noqa: E402

from tracker import runner  # noqa: E402
from tracker.config import load_config  # noqa: E402
from tracker.devserver.xapi import XWorld, serve  # noqa: E402

POSTS = {1: 250, 100: 120, 2000: 30}
WINDOW_DAYS = 2


class IndexedWorld(XWorld):
    """XWorld whose timeline and conversation answers use indexes (same answers, faster)."""

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
            m = re.fullmatch(r"/2/users/(\d+)/tweets", path)
            if m and m.group(1) in self.users:
                cands = [t for t in self.by_author[m.group(1)].values()
                         if self._visible(t["id"]) and self._latest(t)]
                return 200, self._page(cands, params, 5, 100)
            cm = re.fullmatch(r"conversation_id:(\d+)", (params.get("query") or "").strip())
            if path == "/2/tweets/search/recent" and cm:
                cid = cm.group(1)
                cands = [t for t in self.by_conv[cid].values() if t["id"] != cid
                         and self._visible(t["id"]) and self._latest(t)]
                return 200, self._page(cands, params, 10, 100)
        return super().answer(path, params)


def build(n: int, seed: int):
    rng = random.Random(seed)
    world = IndexedWorld(token=TOKEN)
    posts = POSTS.get(n, 30)
    handles = [f"acct{i:04d}" for i in range(n)]
    uids = [str(10_000 + i) for i in range(n)]
    crowd = [str(900_000 + i) for i in range(50)]
    for uid, h in zip(uids, handles):
        world.add_user({"id": uid, "username": h, "name": h})
    for uid in crowd:
        world.add_user({"id": uid, "username": f"crowd{uid}", "name": "crowd"})
    polls = replies = conversations = 0
    for a, uid in enumerate(uids):
        for j in range(posts):                   # one a day, the newest an hour ago
            at = START - timedelta(days=j, hours=1)
            extra = {}
            if j == 0 and a % 10 == 0:
                pid = str(5_000_000 + a)
                world.add_poll({"id": pid, "duration_minutes": 1440, "voting_status": "open",
                                "options": [{"position": 1, "label": "yes", "votes": 1},
                                            {"position": 2, "label": "no", "votes": 1}]})
                extra["attachments"] = {"poll_ids": [pid]}
                polls += 1
            t = tweet(uid, at, a, f"@{handles[a]} post {j}", **extra)
            world.add_tweet(t)
            if at >= START - timedelta(days=WINDOW_DAYS):
                conversations += 1
                for k in range(rng.randint(0, 3)):
                    world.add_tweet(tweet(rng.choice(crowd), at + timedelta(minutes=k + 1),
                                          a % 4096, f"reply {k}", conversation_id=t["id"],
                                          in_reply_to_user_id=uid, referenced_tweets=[
                                              {"type": "replied_to", "id": t["id"]}]))
                    replies += 1
    return world, {"handles": handles, "uids": uids, "posts": posts, "polls": polls,
                   "replies": replies, "conversations": conversations}


def config(base: Path, url: str, handles: list[str]) -> Path:
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump({
        "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
        "x": {"api_base_url": url, "backoff_base_seconds": 0, "max_requests_per_run": 100_000,
              "replies_window_days": WINDOW_DAYS, "deletion_check_days": WINDOW_DAYS},
        "accounts": [{"handle": h} for h in handles]}, sort_keys=False))
    return path


def one_size(n: int, args, base: Path, ck: Checks) -> list[tuple]:
    t0 = time.perf_counter()
    world, meta = build(n, args.seed)
    P, polls = meta["posts"], meta["polls"]
    print(f"\n== {n:,} accounts x {P} posts, {polls} open polls, {meta['conversations']:,} "
          f"conversations in the {WINDOW_DAYS}-day replies window with {meta['replies']:,} "
          f"replies (built in {time.perf_counter() - t0:.0f}s) ==")
    clock = Clock(START)
    out = []
    with serve(world) as url:
        cfg = load_config(config(base, url, meta["handles"]))

        def job(name, fn, min_requests, min_reads):
            before = len(world.requests)
            t = time.perf_counter()
            r = fn(cfg, clock=clock, **NO_SLEEP)
            secs = time.perf_counter() - t
            ck.eq(f"{n}: {name}: status", (r.status, r.load_state), ("ok", "loaded"))
            ck.eq(f"{n}: {name}: requests counted", r.requests, len(world.requests) - before)
            print(f"  {name:<22} requests {r.requests:>6,} / {min_requests:>6,} = "
                  f"{ratio(r.requests, min_requests)}   posts read {r.posts_read:>7,} / "
                  f"{min_reads:>7,} = {ratio(r.posts_read, min_reads)}   {secs:6.1f}s")
            out.append((n, name, r.requests, min_requests, r.posts_read, min_reads, secs))
            return r

        job("backfill collect_posts", runner.collect_posts,
            math.ceil(n / 100) + n * math.ceil(P / 100), n * P)
        clock.advance(minutes=10)
        job("snapshot_polls", runner.snapshot_polls, math.ceil(polls / 100), polls)
        clock.advance(minutes=5)
        # replies: one search per conversation; the reads are the replies, plus each
        # conversation's root that the search returns in includes (already stored)
        with_replies = sum(1 for c in {t["conversation_id"] for t in world.tweets.values()
                                       if t["author_id"].startswith("9000")})
        r = job("collect_replies", runner.collect_replies, meta["conversations"],
                meta["replies"])
        ck.eq(f"{n}: replies: extra reads are the included roots",
              r.posts_read - meta["replies"], with_replies)
        clock.advance(minutes=5)
        new = 0
        for a in range(0, n, 2):                  # every other account posts once
            world.add_tweet(tweet(meta["uids"][a], clock.at - timedelta(seconds=30), a,
                                  "new post"))
            new += 1
        job("incremental collect", runner.collect_posts, n, new)
        clock.advance(minutes=5)
        con = duckdb.connect(str(cfg.replica), read_only=True)
        cands = con.execute("SELECT count(*) FROM posts WHERE seen_in = 'data' AND author_id "
                            "IN (SELECT account_id FROM accounts WHERE handle LIKE 'acct%') "
                            "AND created_at >= ?", [clock.at - timedelta(days=WINDOW_DAYS)]
                            ).fetchone()[0]
        dup = con.execute("SELECT count(*) - count(DISTINCT post_id) FROM posts").fetchone()[0]
        con.close()
        ck.eq(f"{n}: no duplicate posts", dup, 0)
        job("check_deletions", runner.check_deletions, math.ceil(cands / 100), cands)
    if n == max(args.accounts):
        from click.testing import CliRunner

        from tracker.cli import cli

        res = CliRunner().invoke(cli, ["--config", str(base / "config.yaml"), "cost"],
                                 obj={}, terminal_width=140)
        print("\n  `tracker cost` for this config (rates measured in its database):\n")
        print("\n".join("  " + line for line in res.output.splitlines()))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, nargs="+", default=[1, 100, 2000])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--quick", action="store_true", help="1 and 100 accounts")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.accounts = [1, 100]
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
            rows += one_size(n, args, d, ck)
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print("\n| accounts | job | requests | minimum | ratio | posts read | minimum | ratio | "
          "seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, name, req, mreq, reads, mreads, secs in rows:
        print(f"| {n:,} | {name} | {req:,} | {mreq:,} | {ratio(req, mreq)} | {reads:,} | "
              f"{mreads:,} | {ratio(reads, mreads)} | {secs:.1f} |")
    print(f"\nchecks: {ck.passed} passed, {len(ck.failed)} failed")
    for f in ck.failed:
        print(f"  FAILED {f}")
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())

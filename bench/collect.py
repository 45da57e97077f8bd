"""Benchmark: X collection efficiency against the local API server, and loader speed.

    python bench/collect.py [--accounts 20 --posts 1000 --polls 50] [--quick]

Part 1 builds a world of N accounts x M posts (some carrying open polls), serves it on
127.0.0.1 with tracker.testing.xapi and runs the real jobs (tweepy included) against it:

  backfill     collect_posts once; requests vs the minimum
               ceil(accounts/100) users/by + sum(ceil(posts/100)) timeline pages
  incremental  polls move, a few accounts post again; collect_posts + snapshot_polls;
               requests vs accounts (one since_id request each) + ceil(open polls/100)
  final        polls close; snapshot_polls (final snapshots), then once more: 0 requests

Every exact expectation (request counts, row counts, no duplicate keys, snapshot counts) is
checked against the read-only replica; any failure makes the script exit 1.

Part 2 times the tracker's loader (open_db + load_pending into a fresh database) over the
backfill run's raw file, against DuckDB's own read_json over the same file (page bodies ->
from_json -> unnest(data) -> posts table), the practical limit. Median of --repeats runs;
timings are only printed as rates and ratios, never asserted.

Nothing here touches the network: the server listens on 127.0.0.1 and the token is fake.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from tracker.runs import runner
from tracker.config import Config, parse_config
from tracker.testing.xapi import XWorld, serve
from tracker.store.db import open_db
from tracker.sources.registry import REGISTRY
from tracker.store.loader import load_pending
from tracker.sources.cost import search_capacity
from tracker.core.timeutil import snowflake_at

TOKEN = "bench-token-0000-not-real"
START = datetime(2022, 10, 12, 12, 0, tzinfo=timezone.utc)
NO_SLEEP = {"sleep": lambda s: None}


class Clock:
    """A controllable UTC clock (as in tests/conftest.py): each call advances 1 ms."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at

    def advance(self, **kw) -> None:
        self.at += timedelta(**kw)


class Checks:
    """Collects exact expectations; the script exits non-zero if any failed."""

    def __init__(self):
        self.failed: list[str] = []
        self.passed = 0

    def eq(self, what: str, got, want) -> None:
        if got == want:
            self.passed += 1
        else:
            self.failed.append(f"{what}: got {got!r}, expected {want!r}")
            print(f"  !! {what}: got {got!r}, expected {want!r}")


# ---- the world ----------------------------------------------------------------------------


def tweet(author: str, at: datetime, seq: int, text: str, **extra) -> dict:
    return {"id": str(snowflake_at(at, seq)), "author_id": author, "text": text, "lang": "en",
            "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0,
                               "quote_count": 0}, **extra}


def build_world(accounts: int, posts: int, polls: int, seed: int) -> tuple[XWorld, dict]:
    """Accounts acct00.., each with `posts` posts a minute apart; `polls` of them carry a poll."""
    rng = random.Random(seed)
    world = XWorld(token=TOKEN)
    handles = [f"acct{i:03d}" for i in range(accounts)]
    user_ids = [str(1000 + i) for i in range(accounts)]
    for uid, h in zip(user_ids, handles):
        world.add_user({"id": uid, "username": h, "name": h.title()})
    with_poll = {}   # (account index, post index) -> poll id
    for k, slot in enumerate(rng.sample(range(accounts * posts), polls)):
        with_poll[divmod(slot, posts)] = str(900_000 + k)
    options: dict[str, int] = {}
    first = START - timedelta(minutes=posts + 60)
    for a, uid in enumerate(user_ids):
        for j in range(posts):
            extra = {}
            pid = with_poll.get((a, j))
            if pid:
                n = rng.randint(2, 4)
                options[pid] = n
                world.add_poll({
                    "id": pid, "duration_minutes": 1440, "voting_status": "open",
                    "end_datetime": (START + timedelta(days=1)).strftime(
                        "%Y-%m-%dT%H:%M:%S.000Z"),
                    "options": [{"position": i + 1, "label": f"option {i + 1}",
                                 "votes": rng.randint(0, 500)} for i in range(n)]})
                extra["attachments"] = {"poll_ids": [pid]}
            world.add_tweet(tweet(uid, first + timedelta(minutes=j), a,
                                  f"@{handles[a]} post {j}: claim or denial #{j % 7}", **extra))
    return world, {"handles": handles, "user_ids": user_ids, "options": options}


def make_config(url: str, base: Path, accounts: list[str], posts: int, budget: int) :
    return parse_config({
        "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
        "x": {"api_base_url": url, "backoff_base_seconds": 0, "page_size": 100,
              "backfill_max_posts": posts, "max_requests_per_run": budget},
        "accounts": [{"platform": "x", "handle": h} for h in accounts],
    }, base_dir=base)


# ---- part 1: collection efficiency ----------------------------------------------------------


def q(cfg: Config, sql: str, params=None):
    """Query the read-only replica (what analysts see)."""
    con = duckdb.connect(str(cfg.replica), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


KEYS = {"posts": "platform, post_id", "polls": "platform, poll_id",
        "poll_snapshots": "platform, poll_id, captured_at, position",
        "post_versions": "platform, version_post_id", "accounts": "platform, account_id",
        "raw_pages": "page_id", "sync_state": "source, scope"}


def check_db(cfg: Config, ck: Checks, stage: str, *, posts: int, polls: int, snapshots: int,
             closed: int) -> None:
    for table, key in KEYS.items():
        dup = q(cfg, f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY {key} "
                     f"HAVING count(*) > 1)")[0][0]
        ck.eq(f"{stage}: duplicate keys in {table}", dup, 0)
    ck.eq(f"{stage}: posts stored", q(cfg, "SELECT count(*) FROM posts")[0][0], posts)
    ck.eq(f"{stage}: polls stored", q(cfg, "SELECT count(*) FROM polls")[0][0], polls)
    ck.eq(f"{stage}: polls linked to their post",
          q(cfg, "SELECT count(*) FROM polls p JOIN posts s USING (platform, post_id) "
                 "WHERE s.poll_id = p.poll_id")[0][0], polls)
    ck.eq(f"{stage}: poll snapshot rows",
          q(cfg, "SELECT count(*) FROM poll_snapshots")[0][0], snapshots)
    ck.eq(f"{stage}: polls with final snapshot",
          q(cfg, "SELECT count(*) FROM polls WHERE final_snapshot_at IS NOT NULL")[0][0], closed)


def check_latest_votes(cfg: Config, world: XWorld, ck: Checks, stage: str) -> None:
    """Each poll's latest stored snapshot equals what the server serves now."""
    got = {(p, pos): v for p, pos, v in q(cfg, """
        SELECT poll_id, position, arg_max(votes, captured_at) FROM poll_snapshots
        GROUP BY poll_id, position""")}
    want = {(pid, o["position"]): o["votes"] for pid, p in world.polls.items()
            for o in p["options"]}
    ck.eq(f"{stage}: latest snapshot votes match the server", got == want, True)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else ("1.00" if a == 0 else "inf")


def run_job(name: str, job: str, cfg: Config, clock: Clock, world: XWorld, ck: Checks):
    before = len(world.requests)
    t0 = time.perf_counter()
    r = runner.run(cfg, job, clock=clock, **NO_SLEEP)
    secs = time.perf_counter() - t0
    served = len(world.requests) - before
    ck.eq(f"{name}: status", (r.status, r.load_state, r.error), ("ok", "loaded", None))
    ck.eq(f"{name}: requests counted == requests the server saw", r.requests, served)
    print(f"  {name:<22} {r.requests:>5} requests  {r.posts_read:>6} posts read  "
          f"{r.new_rows:>6} new rows  {secs:6.2f}s  {dict(sorted(r.by_purpose.items()))}")
    return r


def part1(args, base: Path, ck: Checks) -> Path:
    """Returns the backfill run's raw file copied into its own raw dir (for part 2)."""
    A, P, N = args.accounts, args.posts, args.polls
    world, meta = build_world(A, P, N, args.seed)
    options = meta["options"]
    opt_rows = sum(options.values())
    clock = Clock(START)
    rng = random.Random(args.seed + 1)
    print(f"\n== 1. Collection efficiency: {A} accounts x {P} posts, {N} polls "
          f"({opt_rows} options) ==")
    with serve(world) as url:
        min_backfill = math.ceil(A / 100) + A * math.ceil(P / 100)
        cfg = make_config(url, base / "tracker", meta["handles"], P, budget=4 * min_backfill + 100)

        # -- backfill
        r1 = run_job("backfill collect_posts", "collect_posts", cfg, clock, world, ck)
        stored = q(cfg, "SELECT count(DISTINCT post_id) FROM posts")[0][0]
        print(f"    requests / minimum      {r1.requests} / {min_backfill} = "
              f"{ratio(r1.requests, min_backfill)}   (target 1.00)")
        print(f"    posts read / stored     {r1.posts_read} / {stored} = "
              f"{ratio(r1.posts_read, stored)}   (target 1.00)")
        ck.eq("backfill: requests == minimum", r1.requests, min_backfill)
        ck.eq("backfill: by purpose", r1.by_purpose,
              {"users": math.ceil(A / 100), "timeline": A * math.ceil(P / 100)})
        ck.eq("backfill: posts read == posts served", r1.posts_read, A * P)
        check_db(cfg, ck, "backfill", posts=A * P, polls=N, snapshots=opt_rows, closed=0)
        backfill_raw = base / "backfill_raw"
        (backfill_raw / r1.raw_file).parent.mkdir(parents=True)
        shutil.copy2(cfg.raw_dir / r1.raw_file, backfill_raw / r1.raw_file)

        # -- incremental: polls move, every other account posts a few times
        clock.advance(minutes=30)
        for pid, n in options.items():
            world.set_poll(pid, [rng.randint(500, 5000) for _ in range(n)])
        posters = list(range(0, A, 2))
        new_ids, new_ids_of = [], {}
        for a in posters:
            for k in range(args.new_posts):
                t = tweet(meta["user_ids"][a], clock.at - timedelta(seconds=k + 1), a,
                          f"@{meta['handles'][a]} new post {k}")
                world.add_tweet(t)
                new_ids.append(t["id"])
                new_ids_of[a] = new_ids_of.get(a, 0) + 1
        clock.advance(minutes=1)
        stored_before = stored
        r2 = run_job("incremental collect", "collect_posts", cfg, clock, world, ck)
        new_distinct = q(cfg, "SELECT count(DISTINCT post_id) FROM posts")[0][0] - stored_before
        r3 = run_job("snapshot_polls (open)", "snapshot_polls", cfg, clock, world, ck)
        # one batched `from:ID OR …` search per batch of accounts the query length allows,
        # more only if a batch's accounts posted over a page
        per = search_capacity(cfg.x.search_query_max_chars,
                              len("from:") + max(len(u) for u in meta["user_ids"]))
        batches = [range(i, min(A, i + per)) for i in range(0, A, per)]
        min_timeline = sum(max(1, math.ceil(sum(new_ids_of.get(a, 0) for a in b) / 100))
                           for b in batches)
        min_incr = min_timeline + math.ceil(N / 100)
        req2 = r2.requests + r3.requests
        print(f"    requests / minimum      {req2} / {min_incr} = {ratio(req2, min_incr)}   "
              f"(target 1.00: {min_timeline} batched searches for {A} accounts "
              f"+ {math.ceil(N / 100)} poll lookup)")
        print(f"    new posts read / new    {r2.posts_read} / {new_distinct} = "
              f"{ratio(r2.posts_read, new_distinct)}   (target 1.00)")
        print(f"    poll refresh re-reads   {r3.posts_read} posts for {N} open polls "
              f"({ratio(r3.posts_read, N)} per poll)")
        ck.eq("incremental: collect_posts requests", r2.by_purpose, {"timeline": min_timeline})
        ck.eq("incremental: snapshot_polls requests", r3.by_purpose,
              {"poll_refresh": math.ceil(N / 100)} if N else {})
        ck.eq("incremental: new posts stored", new_distinct, len(new_ids))
        ck.eq("incremental: new posts read", r2.posts_read, len(new_ids))
        ck.eq("incremental: poll refresh re-reads", r3.posts_read, N)
        check_db(cfg, ck, "incremental", posts=A * P + len(new_ids), polls=N,
                 snapshots=2 * opt_rows, closed=0)
        check_latest_votes(cfg, world, ck, "incremental")

        # -- final: polls close, one final snapshot each, then nothing left to read
        clock.advance(days=1)
        for pid, n in options.items():
            world.set_poll(pid, [rng.randint(5000, 9000) for _ in range(n)], "closed")
        r4 = run_job("snapshot_polls (final)", "snapshot_polls", cfg, clock, world, ck)
        r5 = run_job("snapshot_polls (again)", "snapshot_polls", cfg, clock, world, ck)
        print(f"    final snapshot requests {r4.requests} (minimum {math.ceil(N / 100)}); "
              f"afterwards {r5.requests} (target 0)")
        ck.eq("final: snapshot requests", r4.requests, math.ceil(N / 100))
        ck.eq("final: requests once all polls are closed", r5.requests, 0)
        check_db(cfg, ck, "final", posts=A * P + len(new_ids), polls=N,
                 snapshots=3 * opt_rows, closed=N)
        check_latest_votes(cfg, world, ck, "final")
        ck.eq("final: closed snapshot rows",
              q(cfg, "SELECT count(*) FROM poll_snapshots WHERE voting_status = 'closed'")[0][0],
              opt_rows)
        ck.eq("final: runs recorded", q(cfg, "SELECT count(*), count(*) FILTER "
                                             "(WHERE status = 'ok') FROM runs")[0], (5, 5))
        total = sum(r.requests for r in (r1, r2, r3, r4, r5))
        print(f"  total requests {total}, server saw {len(world.requests)}; "
              f"replica {cfg.replica.stat().st_size / 1e6:.1f} MB, raw archive "
              f"{sum(p.stat().st_size for p in cfg.raw_dir.rglob('*.gz')) / 1e6:.2f} MB")
    return backfill_raw


# ---- part 2: loader speed vs DuckDB read_json ----------------------------------------------

DUCKDB_POSTS = """
CREATE TABLE posts AS
SELECT p.id AS post_id, p.author_id, p.created_at::TIMESTAMPTZ AS created_at, p.text
FROM (
    SELECT unnest(from_json(body, '{"data": [{"id": "VARCHAR", "author_id": "VARCHAR",
                                              "created_at": "VARCHAR", "text": "VARCHAR"}]}'
                            ).data) AS p
    FROM read_json(?, format = 'newline_delimited', compression = 'gzip',
                   columns = {type: 'VARCHAR', purpose: 'VARCHAR', status: 'VARCHAR',
                              body: 'VARCHAR'})
    WHERE type = 'page' AND purpose = 'timeline' AND status = '200'
)
"""


def time_tracker(raw_dir: Path, work: Path, i: int) -> tuple[float, int]:
    db = work / f"tracker-{i}.duckdb"
    t0 = time.perf_counter()
    con = open_db(db)
    try:
        load_pending(con, raw_dir, REGISTRY)
        n = con.execute("SELECT count(*) FROM posts").fetchone()[0]
    finally:
        con.close()
    return time.perf_counter() - t0, n


def time_duckdb(raw_dir: Path, work: Path, i: int) -> tuple[float, int]:
    db = work / f"duckdb-{i}.duckdb"
    t0 = time.perf_counter()
    con = duckdb.connect(str(db))
    try:
        con.execute(DUCKDB_POSTS, [str(raw_dir / "*" / "*" / "*.jsonl.gz")])
        n = con.execute("SELECT count(*) FROM posts").fetchone()[0]
    finally:
        con.close()
    return time.perf_counter() - t0, n


def part2(args, raw_dir: Path, base: Path, ck: Checks) -> None:
    files = sorted(raw_dir.rglob("*.jsonl.gz"))
    size = sum(f.stat().st_size for f in files)
    want = args.accounts * args.posts
    print(f"\n== 2. Loader speed over the backfill raw file ({len(files)} file, "
          f"{size / 1e6:.2f} MB gzip, {want} posts); median of {args.repeats} ==")
    results = {}
    for name, fn in (("tracker load_pending", time_tracker), ("duckdb read_json", time_duckdb)):
        times = []
        for i in range(args.repeats):
            work = base / f"load-{name.split()[0]}-{i}"
            work.mkdir()
            secs, n = fn(raw_dir, work, i)
            ck.eq(f"{name} run {i + 1}: posts", n, want)
            times.append(secs)
            shutil.rmtree(work)
        med = statistics.median(times)
        results[name] = want / med
        print(f"  {name:<22} {want / med:>10,.0f} posts/s   median {med:.3f}s   "
              f"runs {', '.join(f'{t:.3f}' for t in times)}")
    t, d = results["tracker load_pending"], results["duckdb read_json"]
    print(f"  tracker / duckdb        {t / d:.2f}   (duckdb is {d / t:.1f}x faster)")
    print("  (tracker: open_db+migrate, parse, normalize every table, upsert, raw_pages, runs, "
          "close; duckdb: connect, read_json+from_json+unnest into posts(id, author_id, "
          "created_at, text), close)")


# ---- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=20)
    ap.add_argument("--posts", type=int, default=1000, help="posts per account")
    ap.add_argument("--polls", type=int, default=50, help="polls attached to those posts")
    ap.add_argument("--new-posts", type=int, default=5,
                    help="new posts per posting account (every other account) before run 2")
    ap.add_argument("--repeats", type=int, default=3, help="timing repetitions (median)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="3 accounts x 250 posts x 5 polls")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)
    if args.quick:
        args.accounts, args.posts, args.polls = 3, 250, 5
    if min(args.accounts, args.posts, args.repeats) < 1 or min(args.polls, args.new_posts) < 0:
        ap.error("--accounts, --posts and --repeats must be >= 1; --polls, --new-posts >= 0")
    if args.polls > args.accounts * args.posts:
        ap.error("--polls cannot exceed accounts x posts")

    os.environ["X_BEARER_TOKEN"] = TOKEN   # fake; the local server expects the same
    print(f"machine: {os.cpu_count()} cpus, {platform.platform()}, python "
          f"{platform.python_version()}, duckdb {duckdb.__version__}")
    ck = Checks()
    base = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    try:
        raw = part1(args, base, ck)
        part2(args, raw, base, ck)
    finally:
        if args.keep:
            print(f"\nkept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(f"\nchecks: {ck.passed} passed, {len(ck.failed)} failed")
    for f in ck.failed:
        print(f"  FAILED {f}")
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())

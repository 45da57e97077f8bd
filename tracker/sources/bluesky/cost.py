"""The Bluesky source's share of `tracker cost`: requests a month, and whether they fit the
rate limit. The public AppView is free, so every figure is in requests and posts read, never
in dollars.

The collectors' behaviour is modelled as the tests measure it: each feed read once a run (a
page per ``page_size`` new items); the handle resolved once; each conversation's thread read
once each time ``bluesky.replies.schedule`` makes it due (one request: the whole thread); each
own post looked up as often as ``bluesky.deletions.schedule`` makes it due, 25 a request.
"""

from __future__ import annotations

import math
from datetime import timedelta

from tracker.core.errors import TrackerError
from tracker.sources.bluesky.normalize import PLATFORM
from tracker.sources.cost import DAYS, JobCost, SourceCost, lifetime_reads
from tracker.store.db import open_db

# The AppView's published limit (docs.bsky.app, "Rate Limits"): 3000 requests per 5 minutes
# per IP address. The answers' ratelimit-* headers say the one that applies; the collectors
# follow those, this only warns.
RATE_LIMIT = 3000
RATE_WINDOW_MINUTES = 5
LOOKUP_BATCH = 25
DEFAULT_RATES = {"posts_per_day": 5.0, "own_share": 0.8, "replies_per_post": 10.0}
RATE_HELP = {
    "posts_per_day": "Bluesky feed items per tracked account per day (posts and reposts)",
    "own_share": "share of those items that are the account's own posts (not reposts)",
    "replies_per_post": "replies per own Bluesky post (read with its thread)",
}


def _key(name: str) -> str:
    # the projection adds every source's rates together: ours carry the platform's name
    return f"{PLATFORM}.{name}"


def measure_rates(cfg, days: int = DAYS) -> tuple[dict[str, float], dict[str, str]]:
    """Rates over the newest ``days`` days of the tracked accounts' feeds (read-only)."""
    path = cfg.replica if cfg.replica.exists() else cfg.database
    if not path.exists():
        return {}, {}
    try:
        con = open_db(path, read_only=True)
    except TrackerError:
        return {}, {}
    try:
        handles = [a.handle.lower() for a in cfg.accounts_on(PLATFORM)]
        ids = [r[0] for r in con.execute(
            "SELECT DISTINCT account_id FROM account_handles WHERE platform = ? "
            "AND lower(handle) IN (SELECT unnest(?::VARCHAR[]))", [PLATFORM, handles]).fetchall()]
        if not ids:
            return {}, {}
        newest = con.execute(
            "SELECT max(created_at) FROM posts WHERE platform = ? AND seen_in = 'data' AND "
            "author_id IN (SELECT unnest(?::VARCHAR[]))", [PLATFORM, ids]).fetchone()[0]
        if newest is None:
            return {}, {}
        since = newest - timedelta(days=days)
        n, first, own = con.execute(
            "SELECT count(*), min(created_at), count(*) FILTER (WHERE reposted_post_id IS NULL) "
            "FROM posts WHERE platform = ? AND seen_in = 'data' AND author_id IN "
            "(SELECT unnest(?::VARCHAR[])) AND created_at > ?", [PLATFORM, ids, since]).fetchone()
        span = max(1.0, min(days, (newest - first).total_seconds() / 86400)) if n else days
        where = f"measured: {n} feed items of {len(ids)} accounts"
        rates, how = {"posts_per_day": n / span / len(ids)}, {"posts_per_day": where}
        if n:
            rates["own_share"], how["own_share"] = own / n, where
        if own:
            replies = con.execute(
                "SELECT count(*) FROM posts r WHERE r.platform = ? AND r.conversation_id IN "
                "(SELECT conversation_id FROM posts WHERE platform = ? AND seen_in = 'data' "
                "AND author_id IN (SELECT unnest(?::VARCHAR[])) AND created_at > ? AND "
                "reposted_post_id IS NULL) AND r.post_id <> r.conversation_id AND "
                "r.author_id NOT IN (SELECT unnest(?::VARCHAR[]))",
                [PLATFORM, PLATFORM, ids, since, ids]).fetchone()[0]
            rates["replies_per_post"] = replies / own
            how["replies_per_post"] = f"measured: {replies} replies to {own} own posts"
        return rates, how
    finally:
        con.close()


def cost(cfg, runs: dict[str, tuple[str | None, int]], overrides: dict[str, float] | None,
         measure: bool, days: int = DAYS) -> SourceCost:
    """A month (``days`` days) of the Bluesky collection in requests and posts read (free).
    ``runs``: job -> (its cron, its runs in the period)."""
    measured, how = measure_rates(cfg, days) if measure else ({}, {})
    rates, sources = dict(DEFAULT_RATES), {k: "default" for k in DEFAULT_RATES}
    rates.update(measured)
    sources.update(how)
    for k, v in (overrides or {}).items():
        if v is not None and k in rates:
            rates[k], sources[k] = float(v), "given"
    b = cfg.bluesky
    crons = {j: c for j, (c, _) in runs.items()}
    runs = {j: r for j, (_, r) in runs.items()}
    n = len(cfg.accounts_on(PLATFORM))
    ppd, own = rates["posts_per_day"], rates["own_share"]
    warnings: list[str] = []
    per_run: dict[str, float] = {}

    def job(name, requests, reads, users=0.0, note=""):
        if runs.get(name):
            per_run[name] = requests / runs[name]
        return JobCost(name, crons.get(name), runs.get(name, 0), requests, reads, 0, users, 0.0,
                       note)

    out = [job("resolve_handles", n, 0, n, "first month only: one profile per handle")]
    r = runs.get("collect_posts", 0)
    items = n * ppd * days
    if r:
        pages = max(1, math.ceil(ppd * days / r / b.page_size))
        out.append(job("collect_posts", r * n * pages, items,
                       note=f"one feed read per account per run ({pages} page(s))"))
    else:
        out.append(job("collect_posts", 0, 0, note="not scheduled"))
    r = runs.get("collect_replies", 0)
    started = n * ppd * own * days
    if r and started:
        reads_each = lifetime_reads(b.replies.schedule, b.replies_window_days * 24,
                                    days * 24 / r)
        requests = started * reads_each
        out.append(job("collect_replies", requests,
                       requests * (1 + rates["replies_per_post"]),
                       note=f"{reads_each:,.1f} thread reads per conversation (quiet ones "
                            "fewer: an upper bound)"))
    else:
        out.append(job("collect_replies", 0, 0,
                       note="not scheduled" if not r else "no conversations to follow"))
    r = runs.get("check_deletions", 0)
    if r and started:
        checks = started * lifetime_reads(b.deletions.schedule, b.deletion_check_days * 24,
                                          days * 24 / r)
        requests = max(checks / LOOKUP_BATCH, min(r, checks))
        out.append(job("check_deletions", requests, checks,
                       note=f"{checks / r:,.0f} posts looked up a run, {LOOKUP_BATCH} a request"))
    else:
        out.append(job("check_deletions", 0, 0,
                       note="not scheduled" if not r else "nothing to check"))
    for name, each in per_run.items():
        if each > b.max_requests_per_run:
            warnings.append(f"{PLATFORM} {name} needs ~{each:,.0f} requests a run but "
                            f"bluesky.max_requests_per_run is {b.max_requests_per_run}: "
                            "runs stop on the budget and resume from their cursors")
        if each > RATE_LIMIT:
            warnings.append(f"{PLATFORM} {name} makes ~{each:,.0f} requests a run, more than "
                            f"the AppView's {RATE_LIMIT} per {RATE_WINDOW_MINUTES} minutes: "
                            "runs wait for the rate-limit window or stop and resume")
    return SourceCost(
        out, {_key(k): v for k, v in rates.items()}, {_key(k): v for k, v in sources.items()},
        {}, 0.0, n, warnings, {_key(k): v for k, v in RATE_HELP.items()},
        [f"{PLATFORM}: the public AppView is free (no account, no token); requests count "
         f"against its rate limit ({RATE_LIMIT} per {RATE_WINDOW_MINUTES} minutes per IP, as "
         "published; the ratelimit-* headers rule)"])

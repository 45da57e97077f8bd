"""The Mastodon source's share of `tracker cost`: requests, not dollars.

Reading public Mastodon data is free; what limits it is each instance's rate limit (300
requests per 5 minutes for an address or a token on most servers, told by the X-RateLimit-*
headers). So the projection counts requests per job, from the schedule's runs, the tracked
accounts and rates measured in the database (or defaults, or the values given on the command
line, all prefixed ``mastodon_``), as the collectors behave: one request per account per run
(more when more than ``page_size`` statuses are new), one thread read (``/context``) each time
``mastodon.replies.schedule`` makes a post due, one lookup each time
``mastodon.deletions.schedule`` does, one request per open poll per run.
"""

from __future__ import annotations

import math
from datetime import timedelta

from tracker.core.errors import TrackerError
from tracker.sources.cost import DAYS, JobCost, SourceCost, lifetime_reads
from tracker.store.db import open_db

PLATFORM = "mastodon"
WINDOW_REQUESTS = 300          # a typical instance's limit per 5-minute window
DEFAULT_RATES = {"mastodon_posts_per_day": 5.0, "mastodon_own_share": 0.8,
                 "mastodon_polls_per_day": 0.02, "mastodon_poll_days": 1.0,
                 "mastodon_edits_per_post": 0.02}
RATE_HELP = {
    "mastodon_posts_per_day": "statuses per tracked Mastodon account per day (boosts included)",
    "mastodon_own_share": "share of those that are the account's own posts (not boosts)",
    "mastodon_polls_per_day": "polls per tracked Mastodon account per day",
    "mastodon_poll_days": "days a Mastodon poll stays open",
    "mastodon_edits_per_post": "Mastodon posts edited (each edit: one history read)",
}


def measure_rates(cfg, days: int = DAYS) -> tuple[dict[str, float], dict[str, str]]:
    """Rates over the newest ``days`` days of the tracked accounts' statuses (read-only)."""
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
        n, first, own, polls, edited = con.execute(
            "SELECT count(*), min(created_at), count(*) FILTER (WHERE reposted_post_id IS NULL), "
            "count(poll_id) FILTER (WHERE reposted_post_id IS NULL), count(*) FILTER (WHERE "
            "entities->>'edited_at' IS NOT NULL) FROM posts WHERE platform = ? AND "
            "seen_in = 'data' AND author_id IN (SELECT unnest(?::VARCHAR[])) AND created_at > ?",
            [PLATFORM, ids, since]).fetchone()
        span = max(1.0, min(days, (newest - first).total_seconds() / 86400)) if n else days
        where = f"measured: {n} statuses of {len(ids)} Mastodon accounts"
        rates = {"mastodon_posts_per_day": n / span / len(ids),
                 "mastodon_polls_per_day": polls / span / len(ids)}
        how = {k: where for k in rates}
        if n:
            rates["mastodon_own_share"] = own / n
            rates["mastodon_edits_per_post"] = edited / n
            how["mastodon_own_share"] = how["mastodon_edits_per_post"] = where
        return rates, how
    finally:
        con.close()


def cost(cfg, runs: dict[str, tuple[str | None, int]], overrides: dict[str, float] | None,
         measure: bool, days: int = DAYS) -> SourceCost:
    """A month (``days`` days) of the Mastodon collection, in requests (the API is free).
    ``runs``: job -> (its cron, its runs in the period)."""
    measured, how = measure_rates(cfg, days) if measure else ({}, {})
    rates, sources = dict(DEFAULT_RATES), {k: "default" for k in DEFAULT_RATES}
    rates.update(measured)
    sources.update(how)
    for k, v in (overrides or {}).items():
        if k in rates and v is not None:
            rates[k], sources[k] = float(v), "given"
    m = cfg.mastodon
    crons = {j: c for j, (c, _) in runs.items()}
    runs = {j: r for j, (_, r) in runs.items()}
    accounts = cfg.accounts_on(PLATFORM)
    n = len(accounts)
    instances = {a.handle.rsplit("@", 1)[-1] for a in accounts}
    ppd = rates["mastodon_posts_per_day"]
    own = ppd * rates["mastodon_own_share"]
    warnings: list[str] = []
    out: list[JobCost] = []

    def job(name, requests, reads, note=""):
        return JobCost(name, crons.get(name), runs.get(name, 0), requests, reads, 0, 0, 0.0,
                       note)

    out.append(job("resolve_handles", n, 0, "first month only: one lookup per account"))
    r = runs.get("collect_posts", 0)
    if r:
        per_run = ppd * days / r                          # new statuses per account per run
        requests = r * n * max(1, math.ceil(per_run / m.page_size))
        edits = n * own * days * rates["mastodon_edits_per_post"]
        out.append(job("collect_posts", requests + edits, n * ppd * days,
                       f"one request per account per run ({len(instances)} instances); "
                       f"{edits:,.0f} history reads of edited posts"))
        worst = max((sum(1 for a in accounts if a.handle.endswith("@" + i)) for i in instances),
                    default=0)
        if worst > WINDOW_REQUESTS:
            warnings.append(f"collect_posts sends {worst} requests a run to one instance, more "
                            f"than its usual {WINDOW_REQUESTS} per 5 minutes: runs wait for "
                            "the window (mastodon.max_rate_limit_wait_seconds) or stop there")
        if n > m.max_requests_per_run:
            warnings.append(f"collect_posts needs {n} requests a run but "
                            f"mastodon.max_requests_per_run is {m.max_requests_per_run}")
    else:
        out.append(job("collect_posts", 0, 0, "not scheduled"))
    r = runs.get("collect_replies", 0)
    started = n * own * days
    if r and started:
        reads = started * lifetime_reads(m.replies.schedule, m.replies_window_days * 24,
                                         days * 24 / r)
        out.append(job("collect_replies", reads, reads,
                       f"{reads / r:,.1f} threads read a run on average (one request each; "
                       "quiet ones are read less often: an upper bound)"))
        if reads / r > m.max_requests_per_run:
            warnings.append(f"collect_replies has ~{reads / r:,.0f} threads due a run but "
                            f"mastodon.max_requests_per_run is {m.max_requests_per_run}: the "
                            "rest is deferred from run to run")
    else:
        out.append(job("collect_replies", 0, 0, "not scheduled" if not r else "no posts"))
    r = runs.get("snapshot_polls", 0)
    open_polls = n * rates["mastodon_polls_per_day"] * rates["mastodon_poll_days"]
    if r and open_polls:
        out.append(job("snapshot_polls", r * open_polls, r * open_polls,
                       f"{open_polls:,.2f} polls open at a time, one request each a run"))
    else:
        out.append(job("snapshot_polls", 0, 0, "not scheduled" if not r else "no polls"))
    r = runs.get("check_deletions", 0)
    written = n * ppd * days
    if r and written:
        checks = written * lifetime_reads(m.deletions.schedule, m.deletion_check_days * 24,
                                          days * 24 / r)
        out.append(job("check_deletions", checks, checks,
                       f"{checks / r:,.0f} statuses looked up a run on average, one a request"))
    else:
        out.append(job("check_deletions", 0, 0, "not scheduled" if not r else "nothing"))
    note = ("Mastodon: free to read; requests are the measure (each instance allows about "
            f"{WINDOW_REQUESTS} per 5 minutes)")
    return SourceCost(out, rates, sources, {}, 0.0, n, warnings, RATE_HELP, [note])

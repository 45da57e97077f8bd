"""The X source's share of `tracker cost`: what a month of the configured collection reads from
X, and what it costs.

It multiplies the schedule (runs of each X job), the accounts, rates measured in the database
(its read-only replica) over the newest 30 days of the tracked accounts' posts (posts per account
per day, referenced posts per post, replies per post, polls per account per day and how long they
stay open; defaults, or the values given on the command line, where nothing is stored yet) and
the prices in ``x.pricing`` (one place in config.yaml; the defaults are placeholders).

The collectors' own behaviour is modelled as the tests and bench/ measure it: every post is read
once (since_id); timelines in batched recent searches (as many accounts as
``x.search_query_max_chars`` holds, a page per 100 new posts); each conversation searched as
often as ``x.replies.schedule`` makes it due, in batches; each post looked up for deletion as
often as ``x.deletions.schedule`` makes it due, 100 ids a request; poll refreshes 100 ids a
request. With ``x.pricing.dedupe_reads_per_utc_day`` a post read several times in one UTC day
(a poll refreshed every 10 minutes) is billed once that day.
"""

from __future__ import annotations

import math
from datetime import timedelta

from tracker.core.errors import TrackerError
from tracker.sources.cost import (DAYS, JobCost, SourceCost, lifetime_reads,
                                  search_capacity)
from tracker.store.db import open_db

# The characters of a post or account id in a query (ids of 2024 are 19 digits).
ID_CHARS = 19
DEFAULT_RATES = {"posts_per_day": 10.0, "includes_per_post": 0.5, "own_share": 0.8,
                 "replies_per_post": 20.0, "polls_per_day": 0.05, "poll_days": 1.0}
RATE_HELP = {
    "posts_per_day": "posts per tracked account per day (timeline results)",
    "includes_per_post": "referenced posts (quoted, replied-to, reposted) read with each post",
    "own_share": "share of those posts that are the account's own (not reposts)",
    "replies_per_post": "replies per own post (recent search of its conversation)",
    "polls_per_day": "polls per tracked account per day",
    "poll_days": "days a poll stays open",
}


# ---- rates measured in the database -------------------------------------------------------


def measure_rates(cfg, days: int = DAYS) -> tuple[dict[str, float], dict[str, str]]:
    """Rates over the newest ``days`` days of the tracked accounts' posts (replica, read-only).

    Returns (rates, how each was found); a rate nothing measures is left out.
    """
    path = cfg.replica if cfg.replica.exists() else cfg.database
    if not path.exists():
        return {}, {}
    try:
        con = open_db(path, read_only=True)
    except TrackerError:
        return {}, {}
    try:
        handles = [a.handle.lower() for a in cfg.accounts_on("x")]
        ids = [r[0] for r in con.execute(
            "SELECT DISTINCT account_id FROM account_handles WHERE platform = 'x' "
            "AND lower(handle) IN (SELECT unnest(?::VARCHAR[]))", [handles]).fetchall()]
        if not ids:
            return {}, {}
        con.execute("CREATE OR REPLACE TEMP TABLE _mine AS SELECT * FROM posts "
                    "WHERE platform = 'x' AND seen_in = 'data' AND author_id IN "
                    "(SELECT unnest(?::VARCHAR[])) AND created_at IS NOT NULL", [ids])
        newest = con.execute("SELECT max(created_at) FROM _mine").fetchone()[0]
        if newest is None:
            return {}, {}
        since = newest - timedelta(days=days)
        n, first, own = con.execute(
            "SELECT count(*), min(created_at), count(*) FILTER (WHERE reposted_post_id IS NULL) "
            "FROM _mine WHERE created_at > ?", [since]).fetchone()
        span = max(1.0, min(days, (newest - first).total_seconds() / 86400)) if n else days
        where = (f"measured: {n} posts of {len(ids)} accounts, {first:%Y-%m-%d} to "
                 f"{newest:%Y-%m-%d}")
        rates = {"posts_per_day": n / span / len(ids)}
        how = {"posts_per_day": where}
        if n:
            rates["own_share"] = own / n
            how["own_share"] = where
            inc, data = con.execute(
                "SELECT count(*) FILTER (WHERE seen_in = 'includes'), "
                "count(*) FILTER (WHERE seen_in = 'data') FROM posts WHERE platform = 'x'"
            ).fetchone()
            if data:
                rates["includes_per_post"] = inc / data
                how["includes_per_post"] = f"measured: {inc} referenced / {data} result posts"
        if own:
            replies = con.execute(
                "SELECT count(*) FROM posts r WHERE r.platform = 'x' AND r.conversation_id IN "
                "(SELECT conversation_id FROM _mine WHERE created_at > ? AND reposted_post_id "
                "IS NULL) AND r.post_id <> r.conversation_id AND r.author_id NOT IN "
                "(SELECT unnest(?::VARCHAR[]))", [since, ids]).fetchone()[0]
            rates["replies_per_post"] = replies / own
            how["replies_per_post"] = f"measured: {replies} replies to {own} own posts"
        polls, minutes = con.execute(
            "SELECT count(*), avg(p.duration_minutes) FROM polls p JOIN _mine m ON "
            "m.post_id = p.post_id WHERE m.created_at > ?", [since]).fetchone()
        rates["polls_per_day"] = polls / span / len(ids)
        how["polls_per_day"] = f"measured: {polls} polls"
        if polls and minutes:
            rates["poll_days"] = minutes / 1440
            how["poll_days"] = f"measured: average duration of {polls} polls"
        return rates, how
    finally:
        con.close()


# ---- the projection -----------------------------------------------------------------------


def cost(cfg, runs: dict[str, tuple[str | None, int]], overrides: dict[str, float] | None,
         measure: bool, days: int = DAYS) -> SourceCost:
    """A month (``days`` days) of the X collection: requests, reads and dollars per job.
    ``runs``: job -> (its cron, its runs in the period)."""
    measured, how = measure_rates(cfg, days) if measure else ({}, {})
    rates, sources = dict(DEFAULT_RATES), {k: "default" for k in DEFAULT_RATES}
    rates.update(measured)
    sources.update(how)
    for k, v in (overrides or {}).items():
        if v is not None:
            rates[k], sources[k] = float(v), "given"
    pricing = cfg.x.pricing
    crons = {j: c for j, (c, _) in runs.items()}
    runs = {j: r for j, (_, r) in runs.items()}
    n = len(cfg.accounts_on("x"))
    ppd, inc, own = rates["posts_per_day"], rates["includes_per_post"], rates["own_share"]
    dedupe = pricing.dedupe_reads_per_utc_day
    warnings: list[str] = []

    def cost(job, requests, reads, billed, users, note=""):
        usd = (billed * pricing.usd_per_post_read + users * pricing.usd_per_user_read
               + requests * pricing.usd_per_request)
        return JobCost(job, crons.get(job), runs.get(job, 0), requests, reads, billed, users,
                       usd, note)

    out: list[JobCost] = []
    # handles -> ids: once, 100 a request (the first month only)
    out.append(cost("resolve_handles", math.ceil(n / 100), 0, 0, n, "first month only"))

    # timelines: batched recent searches (`from:ID OR …`, as many accounts as
    # x.search_query_max_chars allows), a page per 100 new posts of a batch
    r = runs.get("collect_posts", 0)
    posts = n * ppd * days
    per_search = search_capacity(cfg.x.search_query_max_chars, len("from:") + ID_CHARS)
    if r:
        batches = math.ceil(n / per_search) if cfg.x.timelines.batch_search else n
        per_run = ppd * days / r * (n / batches)        # new posts per batch per run
        requests = r * batches * max(1, math.ceil(per_run / 100))
        nonempty = r * batches * (1 - math.exp(-per_run))
        reads = posts * (1 + inc)
        note = (f"{batches:,} batched searches a run ({per_search} accounts each)"
                if cfg.x.timelines.batch_search else "one timeline request per account per run")
        out.append(cost("collect_posts", requests, reads, reads, nonempty, note))
        if batches > cfg.x.max_requests_per_run:
            warnings.append(f"collect_posts needs at least {batches} requests a run but "
                            f"x.max_requests_per_run is {cfg.x.max_requests_per_run}: runs stop "
                            "on the budget and fall behind")
    else:
        out.append(cost("collect_posts", 0, 0, 0, 0, "not scheduled"))

    # replies: each conversation is searched as often as x.replies.schedule makes it due (at
    # most once a run), in batches of as many conversations as a query holds
    r = runs.get("collect_replies", 0)
    started = n * ppd * own * days                       # conversations started in the period
    followed = n * ppd * own * cfg.x.replies_window_days
    if r and started:
        interval = days * 24 / r
        searches = started * lifetime_reads(cfg.x.replies.schedule,
                                            cfg.x.replies_window_days * 24, interval)
        per_request = search_capacity(cfg.x.search_query_max_chars,
                                      len("conversation_id:") + ID_CHARS)
        per_search_replies = rates["replies_per_post"] * started / max(searches, 1)
        requests = math.ceil(searches / per_request) * max(
            1, math.ceil(per_search_replies * per_request / 100))
        reads = started * rates["replies_per_post"]
        out.append(cost("collect_replies", requests, reads, reads, requests,
                        f"{followed:,.0f} conversations followed, {searches / r:,.1f} due a "
                        f"run on average, {per_request} a search (quiet ones are due less "
                        "often than this: an upper bound)"))
        if math.ceil(searches / r / per_request) > cfg.x.max_requests_per_run:
            warnings.append(f"collect_replies has ~{searches / r:,.0f} due conversations a run "
                            f"({math.ceil(searches / r / per_request)} requests) but "
                            f"x.max_requests_per_run is {cfg.x.max_requests_per_run}: the rest "
                            "is deferred from run to run")
    else:
        out.append(cost("collect_replies", 0, 0, 0, 0,
                        "not scheduled" if not r else "no conversations to follow"))

    # poll refreshes: the open polls' posts, 100 a request
    r = runs.get("snapshot_polls", 0)
    open_polls = n * rates["polls_per_day"] * rates["poll_days"]
    if r and open_polls:
        requests = r * (math.ceil(open_polls / 100) if open_polls >= 1 else open_polls)
        reads = r * open_polls
        billed = open_polls * days * min(1.0, r / days) if dedupe else reads
        out.append(cost("snapshot_polls", requests, reads, billed, 0,
                        f"{open_polls:,.2f} polls open at a time"))
    else:
        out.append(cost("snapshot_polls", 0, 0, 0, 0,
                        "not scheduled" if not r else "no polls"))

    # deletion checks: each tracked post looked up as often as x.deletions.schedule makes it
    # due (at most once a run) while younger than x.deletion_check_days, 100 a request
    r = runs.get("check_deletions", 0)
    written = n * ppd * days
    if r and written:
        interval = days * 24 / r
        window_h = cfg.x.deletion_check_days * 24
        checks = written * lifetime_reads(cfg.x.deletions.schedule, window_h, interval)
        requests = math.ceil(checks / 100) if checks >= 100 else checks / 100 * r
        # X bills a post read twice in one UTC day once: a post is billed at most once a day
        billed_each = lifetime_reads(cfg.x.deletions.schedule, window_h, max(interval, 24))
        billed = written * billed_each if dedupe else checks
        out.append(cost("check_deletions", requests, checks, billed, 0,
                        f"{checks / r:,.0f} posts looked up a run on average"))
    else:
        out.append(cost("check_deletions", 0, 0, 0, 0,
                        "not scheduled" if not r else "nothing to check"))

    billed = sum(j.billed_post_reads for j in out)
    cap = pricing.monthly_post_read_cap
    if cap is not None and billed > cap:
        warnings.append(f"{billed:,.0f} billed post reads a month exceed "
                        f"x.pricing.monthly_post_read_cap ({cap:,})")
    note = (f"X prices (x.pricing): {pricing.usd_per_post_read} USD a post read, "
            f"{pricing.usd_per_user_read} a user read, {pricing.usd_per_request} a request"
            + ("; a post read twice in a UTC day is billed once" if dedupe else ""))
    return SourceCost(out, rates, sources, pricing.model_dump(), pricing.monthly_base_usd, n,
                      warnings, RATE_HELP, [note])

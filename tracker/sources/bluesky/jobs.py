"""The Bluesky source's jobs: what each run reads, through the archiving fetcher, into raw.

The same job names as every platform's (collect_posts, collect_replies, check_deletions), so
the scheduled jobs in jobs/ run them; there is no snapshot_polls: Bluesky has no polls. The
generic runner calls each body with the run's raw writer, its context (the config, the clock,
the plan read from the stored state, the run's options) and its result.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from tracker.core.errors import BudgetExhausted, ConfigError
from tracker.sources.base import Job, ScopeFailures
from tracker.sources.bluesky.client import Fetcher
from tracker.sources.bluesky.collect import (LOOKUP_BATCH, collect_feed, lookup_posts,
                                             read_thread, resolve_handle)
from tracker.sources.bluesky.normalize import PLATFORM

log = logging.getLogger("tracker.bluesky")


@contextmanager
def fetching(raw, ctx, result) -> Iterator[Fetcher]:
    """The run's fetcher; its request counts go into the result whatever happens."""
    f = Fetcher(ctx.cfg.bluesky, raw, sleep=ctx.sleep, clock=ctx.clock)
    try:
        yield f
    finally:
        ctx.absorb(f.stats, result)


def _wanted(ctx) -> list[str]:
    wanted = [a.handle for a in ctx.cfg.accounts_on(PLATFORM)]
    handles = ctx.options.get("handles")
    if handles:
        asked = {h.lower().lstrip("@") for h in handles}
        unknown = asked - set(wanted)
        if unknown:
            raise ConfigError(f"accounts: {', '.join(sorted(unknown))} not in config.yaml "
                              f"(platform {PLATFORM})")
        wanted = [w for w in wanted if w in asked]
    return wanted


def collect_posts(raw, ctx, result) -> None:
    """New feed items of the tracked accounts since their cursors (the first run backfills up
    to bluesky.backfill_max_posts); handles resolved to DIDs once."""
    with fetching(raw, ctx, result) as f:
        cfg = ctx.cfg.bluesky
        failures = ScopeFailures()
        dids: dict[str, str] = {}                 # DID -> the handle configured for it
        missing = 0
        for handle in _wanted(ctx):
            did = ctx.plan.known_handles.get(handle)
            if did is None:
                with failures.scope(f"profile @{handle}"):
                    did = resolve_handle(f, handle)
                    if did is not None:
                        ctx.plan.known_handles[handle] = did
            if did is None:
                missing += 1
            else:
                dids.setdefault(did, handle)
        for did, handle in dids.items():
            scope = f"feed:{did}"
            with failures.scope(f"feed @{handle}"):
                ctx.plan.cursors[scope] = collect_feed(
                    f, did, ctx.plan.cursors.get(scope), backfill_max=cfg.backfill_max_posts,
                    page_size=cfg.page_size, first_page_size=cfg.first_page_size)
        result.details["feeds"] = {"accounts": len(dids), "not_found": missing}
        failures.finish()


def collect_replies(raw, ctx, result) -> None:
    """Threads of the conversations that are due (bluesky.replies.schedule), most urgent
    first; what the budget does not reach is deferred to the next run (status ok)."""
    with fetching(raw, ctx, result) as f:
        cfg = ctx.cfg.bluesky
        failures = ScopeFailures()
        due = ctx.plan.conversations
        deferred = 0
        read = 0
        for i, conv in enumerate(due):
            if f.stats.requests >= cfg.max_requests_per_run:
                deferred = len(due) - i
                break
            scope = f"thread:{conv.root}"
            try:
                with failures.scope(f"thread {conv.root}"):
                    ctx.plan.cursors[scope] = read_thread(
                        f, conv.root, ctx.plan.cursors.get(scope), depth=cfg.thread_depth)
            except BudgetExhausted:
                deferred = len(due) - i
                break
            read += 1
        result.details["replies"] = {"conversations_due": len(due), "read": read}
        if deferred:
            result.details["deferred"] = {"conversations": deferred}
        failures.finish()


def check_deletions(raw, ctx, result) -> None:
    """Look up the tracked posts that are due (bluesky.deletions.schedule; a post not found
    last time first), 25 a request; not found twice sets deleted_at, nothing is removed. What
    the budget does not reach is deferred to the next run (status ok)."""
    with fetching(raw, ctx, result) as f:
        uris = ctx.plan.deletion_uris
        budget = max(ctx.cfg.bluesky.max_requests_per_run - f.stats.requests, 0)
        now_uris, later = uris[:budget * LOOKUP_BATCH], uris[budget * LOOKUP_BATCH:]
        lookup_posts(f, now_uris, purpose="deletion_check")
        result.details["deletions"] = {"due": len(uris), "checked": len(now_uris)}
        if later:
            result.details["deferred"] = {"deletion_checks": len(later)}


JOBS = (
    Job("collect_posts", "posts", collect_posts, "new posts of the tracked Bluesky accounts",
        default_cron="*/15 * * * *"),
    Job("collect_replies", "replies", collect_replies,
        "threads of the Bluesky conversations that are due", default_cron="5-59/15 * * * *"),
    Job("check_deletions", "deletions", check_deletions,
        "Bluesky posts due a deletion check looked up", default_cron="38 * * * *"),
)

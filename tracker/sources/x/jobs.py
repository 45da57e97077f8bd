"""The X source's jobs: what each run reads, through the archiving fetcher, into raw.

The generic runner (tracker/runs) calls each body with the run's raw writer, its context (the
config, the clock, the plan read from the stored state, the run's options) and its result.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from tracker.core.errors import BudgetExhausted, ConfigError
from tracker.core.timeutil import snowflake_time
from tracker.sources.base import Job, ScopeFailures
from tracker.sources.schedule import TOLERANCE
from tracker.sources.x.client import Fetcher
from tracker.sources.x.collect import (FULL, LOOKUP_BATCH, REPLY_FIELDS, SEARCH_WINDOW, Member,
                                       collect_batch, collect_timeline, lookup_posts,
                                       pack_alike, resolve_handles)
from tracker.sources.x.plan import parse_time

PLATFORM = "x"
log = logging.getLogger("tracker.x")


@contextmanager
def fetching(raw, ctx, result) -> Iterator[Fetcher]:
    """The run's fetcher; its request counts go into the result whatever happens."""
    f = Fetcher(ctx.cfg.x, raw, sleep=ctx.sleep, clock=ctx.clock)
    try:
        yield f
    finally:
        ctx.absorb(f.stats, result)


def token(cfg, options: dict) -> None:
    """The token must be set before anything is written."""
    cfg.x.bearer_token()


def collect_posts(raw, ctx, result) -> None:
    """New posts of the tracked accounts since their cursors (the first run backfills):
    batched recent searches, the user timeline for backfill and old cursors."""
    with fetching(raw, ctx, result) as f:
        cfg = ctx.cfg
        wanted = [a.handle for a in cfg.accounts_on(PLATFORM)]
        handles = ctx.options.get("handles")
        if handles:
            lower = {h.lower().lstrip("@") for h in handles}
            unknown = lower - {w.lower() for w in wanted}
            if unknown:
                raise ConfigError(f"accounts: {', '.join(sorted(unknown))} not in config.yaml")
            wanted = [w for w in wanted if w.lower() in lower]
        ids = resolve_handles(f, wanted, ctx.plan.known_handles)
        failures = ScopeFailures()
        margin = timedelta(seconds=cfg.x.coverage_margin_seconds)
        search, direct, quiet = timeline_routes(ctx, wanted, ids)
        # incremental reads first: many accounts a request
        for batch in pack_alike(search, cfg.x.search_query_max_chars):
            handles_of = ", ".join(f"@{m.done['handle']}" for m in batch)
            with failures.scope(f"timelines {handles_of}"):
                ctx.plan.cursors.update(collect_batch(
                    f, batch, purpose="timeline", now=ctx.now, page_size=cfg.x.page_size,
                    fields=FULL, margin=margin))
        for handle, account_id in direct:
            scope = f"timeline:{account_id}"
            with failures.scope(f"timeline @{handle}"):
                ctx.plan.cursors[scope] = collect_timeline(
                    f, account_id, ctx.plan.cursors.get(scope),
                    backfill_max=cfg.x.backfill_max_posts, page_size=cfg.x.page_size,
                    margin=margin)
        result.details["timelines"] = {"search": len(search), "timeline": len(direct),
                                       "quiet_not_due": quiet}
        failures.finish()


def timeline_routes(ctx, wanted: list[str], ids: dict[str, str]
                    ) -> tuple[list[Member], list[tuple[str, str]], int]:
    """(accounts read by batched recent search, (handle, id) read by their user timeline,
    quiet accounts not due). The user timeline backfills a new account, finishes a stopped
    pagination, and reads an account whose cursor is older than the search window."""
    cfg, now = ctx.cfg, ctx.now
    tl = cfg.x.timelines
    oldest = now - SEARCH_WINDOW + timedelta(hours=1)
    search: list[Member] = []
    direct: list[tuple[str, str]] = []
    quiet = 0
    for handle in wanted:
        if handle not in ids:
            log.warning("x: handle @%s not found (see api_errors)", handle)
            continue
        aid = ids[handle]
        cursor = ctx.plan.cursors.get(f"timeline:{aid}")
        newest = (cursor or {}).get("newest_id")
        if (not tl.batch_search or not cursor or cursor.get("gap") or not newest
                or not str(newest).isdigit() or snowflake_time(newest) < oldest):
            direct.append((handle, aid))
            continue
        last_post = ctx.plan.last_post_at.get(aid)
        read = parse_time(cursor.get("searched_at"))
        if (last_post is not None and read is not None
                and now - last_post > timedelta(days=tl.quiet_after_days)
                and now < read + timedelta(hours=tl.quiet_every_hours) - TOLERANCE):
            quiet += 1
            continue
        search.append(Member(f"timeline:{aid}", f"from:{aid}", aid, cursor,
                             done={"handle": handle}, last=ctx.plan.last_post_id.get(aid)))
    return search, direct, quiet


def collect_replies(raw, ctx, result) -> None:
    """Replies in the conversations that are due (x.replies.schedule), batched, most urgent
    first; what the budget does not reach is deferred to the next run (status ok). Then the
    referenced posts (parents, quoted posts) that are not stored yet, by id."""
    with fetching(raw, ctx, result) as f:
        _replies(f, ctx, result)


def _replies(f: Fetcher, ctx, result) -> None:
    cfg = ctx.cfg
    failures = ScopeFailures()
    due = ctx.plan.conversations
    members = [Member(f"replies:{c.conversation_id}", f"conversation_id:{c.conversation_id}",
                      c.conversation_id, ctx.plan.cursors.get(f"replies:{c.conversation_id}"),
                      floor=c.conversation_id, done={"root_replies": c.root_replies},
                      last=c.last_id)
               for c in due]
    # (in the plan's order: new and active first, then by tier and by how long unsearched;
    # neighbours in that order are of like age, so their cursors are alike)
    seen: set[str] = set()
    wanted: set[str] = set()

    def refs(body: dict) -> None:
        data = body.get("data")
        for t in data if isinstance(data, list) else []:
            if not isinstance(t, dict):
                continue
            seen.add(str(t.get("id")))
            for r in t.get("referenced_tweets") or []:
                if isinstance(r, dict) and str(r.get("id", "")).isdigit():
                    wanted.add(str(r["id"]))

    batches = pack_alike(members, cfg.x.search_query_max_chars)
    done = 0
    deferred: list[Member] = []
    for i, batch in enumerate(batches):
        if f.stats.requests >= cfg.x.max_requests_per_run:
            deferred = [m for b in batches[i:] for m in b]
            break
        try:
            with failures.scope(f"conversations {batch[0].key}…"):
                ctx.plan.cursors.update(collect_batch(
                    f, batch, purpose="replies", now=ctx.now, page_size=cfg.x.page_size,
                    fields=REPLY_FIELDS, on_page=refs,
                    margin=timedelta(seconds=cfg.x.coverage_margin_seconds)))
        except BudgetExhausted:
            deferred = [m for b in batches[i:] for m in b]      # (this one's gap is kept)
            break
        done += len(batch)
    missing = sorted(wanted - seen, key=int)
    stored = ctx.stored(PLATFORM, missing)
    missing = [p for p in missing if p not in stored]
    parents_deferred = 0
    try:
        if missing and not deferred:
            lookup_posts(f, missing, purpose="reply_parents")
    except BudgetExhausted:
        parents_deferred = len(missing)      # found again by the next run's searches
    result.details["replies"] = {"conversations_due": len(due), "searched": done,
                                 "requests_saved_by_batching": max(done - len(batches), 0),
                                 "parents_looked_up": len(missing)}
    if deferred or parents_deferred:
        result.details["deferred"] = {"conversations": len(deferred),
                                      "reply_parents": parents_deferred}
    failures.finish()


def snapshot_polls(raw, ctx, result) -> None:
    """Re-read open polls (100 posts a request); a closed poll gets its final snapshot."""
    with fetching(raw, ctx, result) as f:
        lookup_posts(f, ctx.plan.open_poll_posts, purpose="poll_refresh")


def check_deletions(raw, ctx, result) -> None:
    """Look up the tracked posts that are due (x.deletions.schedule; a post not found last
    time first); Not Found twice sets deleted_at, nothing is removed. What the budget does not
    reach is deferred to the next run (status ok)."""
    with fetching(raw, ctx, result) as f:
        ids = ctx.plan.deletion_ids
        budget = max(ctx.cfg.x.max_requests_per_run - f.stats.requests, 0)
        now_ids, later = ids[:budget * LOOKUP_BATCH], ids[budget * LOOKUP_BATCH:]
        try:
            lookup_posts(f, now_ids, purpose="deletion_check")
        except BudgetExhausted:
            later = ids        # (cannot happen: the batches fit the budget)
        result.details["deletions"] = {"due": len(ids), "checked": len(ids) - len(later)}
        if later:
            result.details["deferred"] = {"deletion_checks": len(later)}


JOBS = (
    Job("collect_posts", "posts", collect_posts, "new posts of the tracked X accounts",
        default_cron="*/15 * * * *", precheck=token),
    Job("collect_replies", "replies", collect_replies,
        "replies in the X conversations that are due", default_cron="5-59/15 * * * *",
        precheck=token),
    Job("snapshot_polls", "polls", snapshot_polls, "one snapshot of every open X poll",
        default_cron="2-59/10 * * * *", precheck=token),
    Job("check_deletions", "deletions", check_deletions,
        "X posts due a deletion check looked up", default_cron="38 * * * *", precheck=token),
)

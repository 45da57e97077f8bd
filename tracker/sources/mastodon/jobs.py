"""The Mastodon source's jobs: what each run reads, through the archiving fetcher, into raw.

The job names are X's (collect_posts, collect_replies, snapshot_polls, check_deletions), so the
scheduled jobs in jobs/ run both platforms. Work is per item and per instance: an item that
fails costs only itself (ScopeFailures), an instance whose rate limit stops it costs only its
own items (the others go on; the run then ends ``stopped`` and the next one resumes), and what
the request budget does not reach is deferred to the next run.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from tracker.core.errors import ConfigError, RateLimited, SourceError
from tracker.sources.base import Job, ScopeFailures
from tracker.sources.mastodon.client import GONE, Fetcher
from tracker.sources.mastodon.collect import (collect_statuses, lookup_status, new_versions,
                                              read_context, read_history, read_poll,
                                              resolve_handle)
from tracker.sources.mastodon.ids import qualify
from tracker.sources.mastodon.plan import instances_of, statuses_scope

PLATFORM = "mastodon"
log = logging.getLogger("tracker.mastodon")


class Outcome:
    """A run's failed items and stopped instances; ``finish`` says how the run ends."""

    def __init__(self, f: Fetcher):
        self.f = f
        self.failures = ScopeFailures()

    @contextmanager
    def item(self, what: str) -> Iterator[None]:
        try:
            with self.failures.scope(what):
                yield
        except RateLimited:
            pass                 # recorded in f.stops: this instance waits for the next run

    def finish(self) -> None:
        stops = list(self.f.stops.reasons.values())
        if self.failures.items and stops:
            raise SourceError(f"{len(self.failures.items)} failed (the rest was collected): "
                              + "; ".join(self.failures.items) + "; rate limited: "
                              + "; ".join(stops))
        self.failures.finish()
        if stops:
            raise RateLimited("; ".join(stops))


@contextmanager
def fetching(raw, ctx, result) -> Iterator[tuple[Fetcher, Outcome]]:
    """The run's fetcher; its request counts go into the result whatever happens."""
    handles = [a.handle for a in ctx.cfg.accounts_on(PLATFORM)]
    f = Fetcher(ctx.cfg.mastodon, raw, tracked=instances_of(handles), sleep=ctx.sleep,
                clock=ctx.clock)
    try:
        yield f, Outcome(f)
    finally:
        ctx.absorb(f.stats, result)
        if f.stops.reasons:
            result.details["rate_limited"] = sorted(f.stops.reasons)


def _spent(f: Fetcher) -> bool:
    return f.stats.requests >= f.cfg.max_requests_per_run


def _histories(f: Fetcher, out: Outcome, candidates: list[str], result) -> None:
    """Read the history of each post with a text version not placed yet (once each)."""
    todo = list(dict.fromkeys(candidates))
    done = 0
    for i, post_id in enumerate(todo):
        if _spent(f):
            result.details.setdefault("deferred", {})["histories"] = len(todo) - i
            break
        with out.item(f"history {post_id}"):
            read_history(f, post_id)
            done += 1
    if todo:
        result.details["histories"] = {"due": len(todo), "read": done}


def _edited(answer, post_id: str, placed: set[str]) -> bool:
    return answer.status == 200 and new_versions(post_id, answer.parsed, placed)


def collect_posts(raw, ctx, result) -> None:
    """New statuses of the tracked accounts since their cursors (a new account is backfilled),
    then the history of those that came edited."""
    with fetching(raw, ctx, result) as (f, out):
        cfg = ctx.cfg.mastodon
        wanted = [a.handle for a in ctx.cfg.accounts_on(PLATFORM)]
        handles = ctx.options.get("handles")
        if handles:
            lower = {h.lower().lstrip("@") for h in handles}
            unknown = lower - {w.lower() for w in wanted}
            if unknown:
                raise ConfigError(f"accounts: {', '.join(sorted(unknown))} not in config.yaml")
            wanted = [w for w in wanted if w.lower() in lower]
        locals_: dict[str, str] = {}
        missing: list[str] = []
        for handle in wanted:
            with out.item(f"lookup {handle}"):
                local = resolve_handle(f, handle, ctx.plan.cursors.get(statuses_scope(handle)))
                if local is None:
                    missing.append(handle)
                else:
                    locals_[handle] = local
        if missing:
            result.details["not_found"] = missing
        # statuses of an account's own list are its own (a boost's original is inside it):
        # one that comes edited has its earlier versions read
        edited: list[str] = []

        def watch(instance: str, answer) -> None:
            for s in answer.parsed if isinstance(answer.parsed, list) else []:
                if isinstance(s, dict) and isinstance(s.get("id"), (str, int)):
                    post_id = qualify(instance, s["id"])
                    if new_versions(post_id, s, ctx.plan.placed_versions):
                        edited.append(post_id)

        f.watch = watch
        for handle, local in locals_.items():
            scope = statuses_scope(handle)
            with out.item(f"statuses {handle}"):
                ctx.plan.cursors[scope] = collect_statuses(
                    f, handle, local, ctx.plan.cursors.get(scope), page_size=cfg.page_size,
                    backfill_max=cfg.backfill_max_posts)
        f.watch = None
        _histories(f, out, [*ctx.plan.histories_due, *edited], result)
        out.finish()


def collect_replies(raw, ctx, result) -> None:
    """Replies under the tracked posts that are due (mastodon.replies.schedule), most urgent
    first, one thread a request; what the budget does not reach is deferred (status ok)."""
    with fetching(raw, ctx, result) as (f, out):
        threads = ctx.plan.threads
        read = 0
        for i, t in enumerate(threads):
            if _spent(f):
                result.details["deferred"] = {"conversations": len(threads) - i}
                break
            with out.item(f"replies {t.post_id}"):
                read_context(f, t.post_id, t.replies, ctx.plan.cursors, ctx.plan.followed)
                read += 1
        result.details["replies"] = {"conversations_due": len(threads), "read": read}
        out.finish()


def snapshot_polls(raw, ctx, result) -> None:
    """One snapshot of every open poll (a closed one gets its final snapshot and is not read
    again); a poll that is gone has its status looked up (a deletion sighting)."""
    with fetching(raw, ctx, result) as (f, out):
        polls = ctx.plan.open_polls
        for i, (poll_id, post_id) in enumerate(polls):
            if _spent(f):
                result.details["deferred"] = {"polls": len(polls) - i}
                break
            with out.item(f"poll {poll_id}"):
                if read_poll(f, poll_id).status in GONE:
                    lookup_status(f, post_id, "poll_status")
        out.finish()


def check_deletions(raw, ctx, result) -> None:
    """Look up the tracked posts that are due (mastodon.deletions.schedule; one not found last
    time first): a 404 twice, in two runs, sets deleted_at; nothing is removed. A post found
    edited has its history read."""
    with fetching(raw, ctx, result) as (f, out):
        ids = ctx.plan.deletion_ids
        edited: list[str] = []
        checked = 0
        for i, post_id in enumerate(ids):
            if _spent(f):
                result.details["deferred"] = {"deletion_checks": len(ids) - i}
                break
            with out.item(f"lookup {post_id}"):
                answer = lookup_status(f, post_id, "deletion_check")
                checked += 1
                if _edited(answer, post_id, ctx.plan.placed_versions):
                    edited.append(post_id)
        result.details["deletions"] = {"due": len(ids), "checked": checked}
        _histories(f, out, [*ctx.plan.histories_due, *edited], result)
        out.finish()


JOBS = (
    Job("collect_posts", "posts", collect_posts, "new statuses of the tracked Mastodon accounts",
        default_cron="*/15 * * * *"),
    Job("collect_replies", "replies", collect_replies,
        "replies under the Mastodon posts that are due", default_cron="5-59/15 * * * *"),
    Job("snapshot_polls", "polls", snapshot_polls, "one snapshot of every open Mastodon poll",
        default_cron="2-59/10 * * * *"),
    Job("check_deletions", "deletions", check_deletions,
        "Mastodon posts due a deletion check looked up", default_cron="38 * * * *"),
)

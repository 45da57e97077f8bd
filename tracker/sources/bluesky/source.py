"""The Bluesky source, as the registry sees it (see tracker/sources/base.py)."""

from __future__ import annotations

from tracker.core.lazy import LazySequence, lazy_module
from tracker.sources.base import Source
from tracker.sources.bluesky import cli
from tracker.sources.bluesky.config import BlueskyConfig, bluesky_handle
from tracker.sources.bluesky.normalize import PLATFORM, SOURCE as NAME, normalize

# what a run needs (the atproto SDK, httpx, DuckDB) loads on first use: `tracker --help` stays fast
_cost = lazy_module("tracker.sources.bluesky.cost")
_jobs = lazy_module("tracker.sources.bluesky.jobs")
_plan = lazy_module("tracker.sources.bluesky.plan")


def plan(con, cfg, now, options: dict):
    """What is due for this run, from the stored state."""
    return _plan.read_plan(con, cfg, now,
                           every_conversation=bool(options.get("every_conversation")))


def plan_pending(*args, **kwargs):
    return _plan.plan_pending(*args, **kwargs)


def cursor_rank(cursor: dict) -> tuple:
    return _plan.cursor_rank(cursor)


def cost(*args, **kwargs):
    return _cost.cost(*args, **kwargs)


SOURCE = Source(
    name=NAME, platform=PLATFORM, section="bluesky", config=BlueskyConfig,
    secrets=lambda section: (),           # public AppView reads: no token
    normalize=normalize, jobs=LazySequence(lambda: _jobs.JOBS), cli=cli.register, cost=cost,
    plan=plan, plan_pending=plan_pending, cursor_rank=cursor_rank,
    handle=bluesky_handle, active=lambda cfg: bool(cfg.accounts_on(PLATFORM)),
    docs="posts, replies, quotes, reposts, deletions (public AppView, free; no polls, no "
         "edits)")

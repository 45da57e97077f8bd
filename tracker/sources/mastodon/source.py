"""The Mastodon source, as the registry sees it (see tracker/sources/base.py)."""

from __future__ import annotations

from tracker.core.lazy import LazySequence, lazy_module
from tracker.sources.base import Source
from tracker.sources.mastodon import cli
from tracker.sources.mastodon.config import MastodonConfig, mastodon_handle
from tracker.sources.mastodon.normalize import normalize

PLATFORM = "mastodon"

# what a run needs (mastodon-py, DuckDB) loads on first use: `tracker --help` stays fast
_cost = lazy_module("tracker.sources.mastodon.cost")
_jobs = lazy_module("tracker.sources.mastodon.jobs")
_plan = lazy_module("tracker.sources.mastodon.plan")


def plan(con, cfg, now, options: dict):
    """What is due for this run, from the stored state."""
    return _plan.read_plan(con, cfg, now, every_thread=bool(options.get("every_thread")))


def plan_pending(*args, **kwargs):
    return _plan.plan_pending(*args, **kwargs)


def cursor_rank(cursor: dict) -> tuple:
    return _plan.cursor_rank(cursor)


def cost(*args, **kwargs):
    return _cost.cost(*args, **kwargs)


SOURCE = Source(
    name=PLATFORM, platform=PLATFORM, section=PLATFORM, config=MastodonConfig,
    secrets=lambda section: (section.access_token_env,),
    normalize=normalize, jobs=LazySequence(lambda: _jobs.JOBS), cli=cli.register, cost=cost,
    plan=plan, plan_pending=plan_pending, cursor_rank=cursor_rank,
    handle=mastodon_handle, active=lambda cfg: bool(cfg.accounts_on(PLATFORM)),
    docs="statuses, boosts, replies, polls over time, edits, deletions (any instance's "
         "public API, free; rate-limited per instance)")

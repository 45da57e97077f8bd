"""The Bluesky source, as the registry sees it (see tracker/sources/base.py)."""

from __future__ import annotations

from tracker.sources.base import Source
from tracker.sources.bluesky import cli, cost, jobs
from tracker.sources.bluesky.config import BlueskyConfig, bluesky_handle
from tracker.sources.bluesky.normalize import PLATFORM, SOURCE as NAME, normalize
from tracker.sources.bluesky.plan import cursor_rank, plan_pending, read_plan


def plan(con, cfg, now, options: dict):
    """What is due for this run, from the stored state."""
    return read_plan(con, cfg, now, every_conversation=bool(options.get("every_conversation")))


SOURCE = Source(
    name=NAME, platform=PLATFORM, section="bluesky", config=BlueskyConfig,
    secrets=lambda section: (),           # public AppView reads: no token
    normalize=normalize, jobs=jobs.JOBS, cli=cli.register, cost=cost.cost,
    plan=plan, plan_pending=plan_pending, cursor_rank=cursor_rank,
    handle=bluesky_handle, active=lambda cfg: bool(cfg.accounts_on(PLATFORM)),
    docs="posts, replies, quotes, reposts, deletions (public AppView, free; no polls, no "
         "edits)")

"""The Mastodon source, as the registry sees it (see tracker/sources/base.py)."""

from __future__ import annotations

from tracker.sources.base import Source
from tracker.sources.mastodon import cli, cost, jobs
from tracker.sources.mastodon.config import MastodonConfig, mastodon_handle
from tracker.sources.mastodon.normalize import normalize
from tracker.sources.mastodon.plan import cursor_rank, plan_pending, read_plan

PLATFORM = "mastodon"


def plan(con, cfg, now, options: dict):
    """What is due for this run, from the stored state."""
    return read_plan(con, cfg, now, every_thread=bool(options.get("every_thread")))


SOURCE = Source(
    name=PLATFORM, platform=PLATFORM, section=PLATFORM, config=MastodonConfig,
    secrets=lambda section: (section.access_token_env,),
    normalize=normalize, jobs=jobs.JOBS, cli=cli.register, cost=cost.cost,
    plan=plan, plan_pending=plan_pending, cursor_rank=cursor_rank,
    handle=mastodon_handle, active=lambda cfg: bool(cfg.accounts_on(PLATFORM)),
    docs="statuses, boosts, replies, polls over time, edits, deletions (any instance's "
         "public API, free; rate-limited per instance)")

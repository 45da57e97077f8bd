"""The X source, as the registry sees it (see tracker/sources/base.py)."""

from __future__ import annotations

from tracker.sources.base import Source
from tracker.sources.x import cli, cost, jobs
from tracker.sources.x.bulk import Batches
from tracker.sources.x.config import XConfig, x_handle
from tracker.sources.x.normalize import normalize
from tracker.sources.x.plan import cursor_rank, plan_pending, read_plan


def plan(con, cfg, now, options: dict):
    """What is due for this run, from the stored state."""
    return read_plan(con, cfg, now,
                     every_conversation=bool(options.get("every_conversation")))


SOURCE = Source(
    name="x", platform="x", section="x", config=XConfig,
    secrets=lambda section: (section.bearer_token_env,),
    normalize=normalize, jobs=jobs.JOBS, cli=cli.register, cost=cost.cost,
    plan=plan, plan_pending=plan_pending, cursor_rank=cursor_rank, batch=Batches(),
    read_ahead=True, handle=x_handle, active=lambda cfg: bool(cfg.accounts_on("x")),
    docs="posts, polls over time, replies, edits, deletions (API v2, pay per read)")

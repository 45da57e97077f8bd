"""Scheduled jobs (installed as ``tracker_jobs``). Each module runs one job for every source that
has it, through the generic runner; cron (via ``tracker run JOB``) and the scheduler (``tracker
schedule``) run the same functions.

The jobs are the registry's scheduled jobs (tracker/sources/registry.py) and the tracker's own
(``analyze``); a test keeps this list and the registry in step. A new platform whose jobs have
these names (collect_posts, collect_replies, snapshot_polls, check_deletions) needs nothing here.
"""

from __future__ import annotations

from types import ModuleType

from tracker.core.errors import TrackerError
from tracker_jobs import (analyze, check_deletions, collect_posts, collect_press,
                          collect_replies, snapshot_polls)

# job name -> module (in the order `tracker cron` prints them)
JOBS: dict[str, ModuleType] = {m.NAME: m for m in (
    collect_posts, snapshot_polls, collect_replies, check_deletions, collect_press, analyze)}


class UnknownJob(TrackerError):
    """A job name no source and no module knows."""

    exit_code = 2


def load(name: str) -> ModuleType:
    """The module of job ``name``."""
    if name not in JOBS:
        raise UnknownJob(f"unknown job {name!r} (jobs: {', '.join(JOBS)})")
    return JOBS[name]

"""Scheduled jobs. Each module exposes ``run(cfg, **kw) -> RunResult`` and only calls the library.

cron (via ``tracker run JOB``) and the scheduler (``tracker schedule``) run the same functions.
``JOBS`` names every job; modules are imported only when a job runs, so a job whose module is
missing from this checkout fails alone, with a clear error, instead of breaking the others.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from tracker.core.errors import TrackerError

# job name -> module (in the order `tracker cron` prints them)
JOBS: dict[str, str] = {
    "collect_posts": "jobs.collect_posts",
    "snapshot_polls": "jobs.snapshot_polls",
    "collect_replies": "jobs.collect_replies",
    "check_deletions": "jobs.check_deletions",
    "collect_press": "jobs.collect_press",
    "analyze": "jobs.analyze",
}


class JobUnavailable(TrackerError):
    """A known job whose module is not installed in this checkout."""


def load(name: str) -> ModuleType:
    """The module of job ``name``; raises JobUnavailable (exit code 1) if it cannot be used."""
    if name not in JOBS:
        raise JobUnavailable(f"unknown job {name!r} (jobs: {', '.join(JOBS)})")
    try:
        module = importlib.import_module(JOBS[name])
    except ModuleNotFoundError as exc:
        if exc.name == JOBS[name]:
            raise JobUnavailable(f"job {name} is not available in this installation "
                                 f"({JOBS[name].replace('.', '/')}.py is missing)") from None
        raise
    if not callable(getattr(module, "run", None)):
        raise JobUnavailable(f"job {name}: {JOBS[name]} has no run(cfg) function")
    return module


def available(name: str) -> str | None:
    """None if job ``name`` can run here, else why not."""
    try:
        load(name)
    except JobUnavailable as exc:
        return str(exc)
    return None

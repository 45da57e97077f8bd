"""The press source, as the registry sees it (see tracker/sources/base.py)."""

from __future__ import annotations

from tracker.core.lazy import LazySequence, lazy_module
from tracker.sources.base import Source
from tracker.sources.press import cli
from tracker.sources.press.config import PressConfig

# the jobs, the normalizer and the re-fetch plan (requests, feedparser, trafilatura) load on
# first use: `tracker --help` stays fast
_job = lazy_module("tracker.sources.press.job")
_records = lazy_module("tracker.sources.press.records")
_refetch = lazy_module("tracker.sources.press.refetch")


def normalize(record: dict):
    return _records.normalize(record)


def plan(*args, **kwargs):
    return _refetch.plan(*args, **kwargs)


def has_work(cfg) -> bool:
    return _job.has_work(cfg)


SOURCE = Source(
    name="press", platform=None, section="press", config=PressConfig,
    secrets=lambda section: (), normalize=normalize, jobs=LazySequence(lambda: _job.JOBS),
    cli=cli.register, cost=None, plan=plan, active=has_work,
    docs="articles: RSS/Atom feeds, GDELT queries, saved pages")

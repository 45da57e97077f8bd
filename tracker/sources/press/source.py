"""The press source, as the registry sees it (see tracker/sources/base.py)."""

from __future__ import annotations

from tracker.sources.base import Source
from tracker.sources.press import cli
from tracker.sources.press.config import PressConfig
from tracker.sources.press.job import JOBS, has_work
from tracker.sources.press.records import normalize
from tracker.sources.press.refetch import plan

SOURCE = Source(
    name="press", platform=None, section="press", config=PressConfig,
    secrets=lambda section: (), normalize=normalize, jobs=JOBS, cli=cli.register, cost=None,
    plan=plan, active=has_work, docs="articles: RSS/Atom feeds, GDELT queries, saved pages")

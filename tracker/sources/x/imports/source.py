"""X imports as a source: files analysts already have (twarc2, X archives, v1.1), loaded like
collected pages (raw source ``import`` or ``import-<name>``)."""

from __future__ import annotations

from tracker.sources.base import Source
from tracker.sources.x.imports import cli
from tracker.sources.x.imports.normalize import normalize
from tracker.sources.x.imports.run import JOB

SOURCE = Source(
    name="import", platform="x", section=None, config=None, secrets=lambda section: (),
    normalize=normalize, jobs=(JOB,), cli=cli.register, cost=None, raw_names=("import-",),
    docs="X data from files: twarc2 JSONL, X account archives, v1.1 tweets")

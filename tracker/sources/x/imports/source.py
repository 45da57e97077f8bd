"""X imports as a source: files analysts already have (twarc2, X archives, v1.1), loaded like
collected pages (raw source ``import`` or ``import-<name>``)."""

from __future__ import annotations

from tracker.core.lazy import LazySequence, lazy_module
from tracker.sources.base import Source
from tracker.sources.x.imports import cli

# DuckDB and pyarrow load when an import runs or its pages load, not for `tracker --help`
_normalize = lazy_module("tracker.sources.x.imports.normalize")
_run = lazy_module("tracker.sources.x.imports.run")


def normalize(record: dict):
    return _normalize.normalize(record)


SOURCE = Source(
    name="import", platform="x", section=None, config=None, secrets=lambda section: (),
    normalize=normalize, jobs=LazySequence(lambda: (_run.JOB,)), cli=cli.register, cost=None,
    raw_names=("import-",), docs="X data from files: twarc2 JSONL, X account archives, v1.1 "
    "tweets")

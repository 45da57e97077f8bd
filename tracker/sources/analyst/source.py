"""Analysts' labels as a source: `tracker label` writes them to raw; they load like any page."""

from __future__ import annotations

from tracker.sources.analyst.normalize import normalize
from tracker.sources.base import Source

SOURCE = Source(
    name="analyst", platform=None, section=None, config=None, secrets=lambda section: (),
    normalize=normalize, jobs=(), cli=None, cost=None,
    docs="labels an analyst set or unset on story items")

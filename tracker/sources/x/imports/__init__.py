"""Imports: what analysts already have (twarc2 JSONL, X account archives, v1.1 tweet JSON).

An import is a run like any other (``tracker.runner.run_job``, job ``import``): its raw file
holds one page record per chunk of the input, referencing the input's bytes (``body_ref``) or,
with --copy-raw, carrying them; the shared loader normalizes each chunk with ``normalize.py``
(every item becomes an API v2 page for ``tracker.sources.x.normalize``) and merges the rows by the
same write rules as collected ones.

- ``twarc.py``, ``v1.py``: pure conversions (flattened twarc tweet → page, v1.1 → v2).
- ``scan.py``: cutting inputs into chunks in bounded memory.
- ``normalize.py``: a chunk → rows; ``fast.py``: the same rows for twarc2 pages, vectorized.
- ``run.py``: the import run (what ``tracker import`` calls).
"""

"""Sources. Each module yields raw pages and offers a pure ``normalize(record) -> Rows``.

The shared loader looks a source's normalizer up here by the ``source`` name stored in raw.
"""

from __future__ import annotations

from typing import Callable

from tracker.store.rows import Rows


def cursor_rank(source: str) -> Callable[[dict], tuple] | None:
    """How a source orders its cursors by what they cover (None: the later load wins)."""
    if source == "x":
        from tracker.sources.x.plan import cursor_rank as x_rank

        return x_rank
    return None


def normalizer(source: str) -> Callable[[dict], Rows]:
    if source == "x":
        from tracker.sources.x.normalize import normalize

        return normalize
    if source == "press":
        from tracker.sources.press.normalize import normalize

        return normalize
    if source == "import" or source.startswith("import-"):   # tracker import [--source-name]
        from tracker.sources.x.imports.normalize import normalize

        return normalize
    if source == "analyst":
        from tracker.analysis.labels import normalize

        return normalize
    if source in ("analysis",):
        return lambda record: Rows()    # analysis runs archive no pages
    raise KeyError(source)

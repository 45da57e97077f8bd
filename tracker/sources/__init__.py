"""Sources. Each module yields raw pages and offers a pure ``normalize(record) -> Rows``.

The shared loader looks a source's normalizer up here by the ``source`` name stored in raw.
"""

from __future__ import annotations

from typing import Callable

from .rows import Rows


def normalizer(source: str) -> Callable[[dict], Rows]:
    if source == "x":
        from .x.normalize import normalize

        return normalize
    raise KeyError(source)

"""`tracker press history URL`: an article's versions, oldest first, with what changed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from tracker.core.errors import QueryError
from tracker.core.textdiff import unified
from tracker.sources.press.canonical import BadURL, canonical_url
from tracker.store.query import run_query

HISTORY_SQL = """
SELECT h.version, h.content_hash, h.title, h.summary, h.text, h.first_seen_at, h.last_seen_at,
       h.previous_seen_until, h.origin, h.outlet_modified_at, h.outlet_modified_claim,
       h.wayback_digest, o.outlet
FROM article_history h JOIN article_outlets o USING (url)
WHERE h.url = ? ORDER BY h.version
"""


@dataclass
class Version:
    number: int
    row: dict
    changes: list[str] = field(default_factory=list)   # unified lines against the one before


def history(cfg, url: str, *, live: bool = False) -> tuple[str, list[Version]]:
    """(canonical URL, its versions with the diff to the version before each)."""
    try:
        canon = canonical_url(url)
    except BadURL as exc:
        raise QueryError(f"{url!r}: {exc}") from None
    df: pd.DataFrame = run_query(cfg, HISTORY_SQL, live=live, params=[canon])
    out: list[Version] = []
    prev = None
    df = df.astype(object).where(df.notna(), None)
    for row in df.to_dict("records"):
        v = Version(int(row["version"]), row)
        if prev is not None:
            for name, label in (("title", "headline"), ("summary", "description")):
                if (prev[name] or "") != (row[name] or ""):
                    v.changes += [f"{label}:", f"- {prev[name] or ''}", f"+ {row[name] or ''}"]
            body = unified(prev["text"], row["text"])
            if any(line[:2] in ("- ", "+ ") for line in body):
                v.changes += ["text:", *body]
        out.append(v)
        prev = row
    return canon, out

"""`tracker press list`: articles with the time they were first reported, their publication
(the view article_outlets: press.outlets applied) and every source."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd

from tracker.core.config import BaseConfig as Config
from tracker.core.errors import QueryError
from tracker.store.query import run_query

# reported_at: the publisher's time when known, else GDELT's seendate, else our first sighting;
# `clock` says which one it is.
LIST_SQL = """
WITH s AS (
    SELECT url, min(gdelt_seen_at) AS gdelt_seen,
           string_agg(source_kind || ':' || source_name, ', '
                      ORDER BY source_kind, source_name) AS sources,
           bool_or(source_kind = ?) AS has_kind
    FROM article_sources GROUP BY url
)
SELECT coalesce(a.published_at, s.gdelt_seen, a.first_seen_at) AS reported_at,
       CASE WHEN a.published_at IS NOT NULL THEN 'published'
            WHEN s.gdelt_seen IS NOT NULL THEN 'gdelt seen' ELSE 'first seen' END AS clock,
       o.outlet, a.title, s.sources, a.url
FROM articles a JOIN s USING (url) JOIN article_outlets o USING (url)
WHERE (?::TIMESTAMPTZ IS NULL OR coalesce(a.published_at, s.gdelt_seen, a.first_seen_at) >= ?)
  AND (?::TIMESTAMPTZ IS NULL OR coalesce(a.published_at, s.gdelt_seen, a.first_seen_at) < ?)
  AND (?::VARCHAR IS NULL OR o.outlet ILIKE ? OR o.outlet_domain ILIKE ? OR a.domain ILIKE ?)
  AND (?::VARCHAR IS NULL OR s.has_kind)
ORDER BY reported_at, a.url
LIMIT ?
"""


def parse_when(value: str | None, option: str) -> datetime | None:
    """A date or ISO time from the command line, as UTC (a time without a zone is UTC)."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"{option}: {value!r} is not a date (2022-10-11) or ISO time "
                         "(2022-10-11T14:00:00Z)") from None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def list_articles(cfg: Config, *, since: datetime | None = None, until: datetime | None = None,
                  outlet: str | None = None, source: str | None = None,
                  limit: int = 1000, live: bool = False) -> pd.DataFrame:
    """Articles first reported in [since, until), of outlets matching ``outlet`` (substring)."""
    pattern = f"%{outlet}%" if outlet else None
    return run_query(cfg, LIST_SQL, live=live, params=[
        source, since, since, until, until, pattern, pattern, pattern, pattern, source,
        limit])

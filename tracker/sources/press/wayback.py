"""Earlier versions of an article first seen late, from the Wayback Machine (off by default).

One CDX search per article (``{press.wayback.base_url}/cdx/search/cdx``, plain-text format,
captures from ``lookback_days`` before the article's time up to when we first saw it, at most
``max_captures`` rows), then one memento in raw mode (``/web/<timestamp>id_/<url>``) per
distinct digest of its content captures, the first ``max_versions`` in time order. Every
answer goes through the archiving fetcher (the run's budget, the raw archive), paced by
``min_interval_seconds``. The CDX page's cursor (scope ``wayback:<url>``) marks the article as
looked up: it is asked once.

The ``wayback`` package (EDGI) was not used: its CDX and memento URLs are module constants
(``https://web.archive.org``), not a setting, and its session does its own retries, rate limits
and HTTP, so its requests could not go through the archiving fetcher and its run budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tracker.core.timeutil import iso
from tracker.sources.press.cdx import parse_cdx, versions_to_read
from tracker.sources.press.config import WaybackConfig
from tracker.sources.press.http import PressFetcher
from tracker.sources.press.refetch import DueArticle

FMT = "%Y%m%d%H%M%S"


@dataclass
class WaybackOutcome:
    url: str
    captures: int = 0
    digests: int = 0
    versions_read: int = 0
    more: bool = False              # the CDX answer had a resume key: more captures exist


def look_back(f: PressFetcher, w: WaybackConfig, item: DueArticle) -> WaybackOutcome:
    """The article's earlier captures as versions. Raises SourceError or BudgetExhausted."""
    out = WaybackOutcome(item.url)
    since = item.event_at - timedelta(days=w.lookback_days)
    until = item.first_seen_at
    pace = ("wayback", w.min_interval_seconds)
    params = {"url": item.url, "from": since.strftime(FMT), "to": until.strftime(FMT),
              "limit": str(w.max_captures), "showResumeKey": "true",
              "resolveRevisits": "true"}

    def judge(status, text, headers):
        return {"looked_at": iso(f.clock()), "through": iso(until)}, parse_cdx(text)

    got = f.get(f"{w.base_url}/cdx/search/cdx", purpose="wayback_cdx",
                scope=f"wayback:{item.url}", params=params,
                archive_params={"article": item.url}, pace=pace, cursor_fn=judge)
    captures, resume, _bad = got.extra if got.extra is not None else parse_cdx(got.text)
    out.captures, out.more = len(captures), resume is not None
    todo = versions_to_read(captures, w.max_versions)
    out.digests = len({c.digest for c in captures if c.content})
    for first, same in todo:
        f.get(f"{w.base_url}/web/{first.timestamp}id_/{first.original}",
              purpose="wayback_memento", pace=pace,
              archive_params={"article": item.url, "digest": first.digest,
                              "timestamp": first.timestamp,
                              "captures": [c.timestamp for c in same]})
        out.versions_read += 1
    return out

"""RSS and Atom feeds: one conditional GET per feed, archived verbatim, parsed by feedparser.

The feed's ETag / Last-Modified travel as the page's ``cursor_after`` (scope ``feed:<url>``) and
are committed with the page's rows; the next run sends them back, so an unchanged feed costs one
cheap 304. A 304 is archived too (empty body) and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker.sources.press.config import FeedConfig
from tracker.core.errors import SourceError
from tracker.sources.press.http import PressFetcher
from tracker.sources.press.normalize import parse_feed

ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
          "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5")


class FeedError(SourceError):
    """A feed could not be read (HTTP error, an HTML page, nothing parseable)."""


@dataclass
class FeedOutcome:
    name: str
    url: str
    status: str                 # 'read' | 'not_modified'
    entries: int = 0
    warning: str | None = None  # a malformed (bozo) feed whose readable entries were kept


def scope_of(feed: FeedConfig) -> str:
    return f"feed:{feed.url}"


def collect_feed(f: PressFetcher, feed: FeedConfig, cursor: dict | None) -> FeedOutcome:
    """Fetch one feed. Raises FeedError (this feed failed) or BudgetExhausted (stop the run)."""
    headers = {"Accept": ACCEPT}
    if cursor:
        if cursor.get("etag"):
            headers["If-None-Match"] = cursor["etag"]
        if cursor.get("last_modified"):
            headers["If-Modified-Since"] = cursor["last_modified"]

    def analyse(status: int, text: str, kept: dict):
        parsed = parse_feed(text, kept, feed.url)
        if not parsed.usable:
            return None, parsed          # no cursor: the next run asks again in full
        validators = {"etag": kept.get("etag"), "last_modified": kept.get("last-modified")}
        return (validators if any(validators.values()) else None), parsed

    try:
        got = f.get(feed.url, purpose="feed", scope=scope_of(feed), headers=headers,
                    archive_params={"feed": feed.name}, cursor_fn=analyse)
    except FeedError:
        raise
    except SourceError as exc:
        raise FeedError(str(exc)) from None
    if got.status == 304:
        return FeedOutcome(feed.name, feed.url, "not_modified")
    parsed = got.extra if got.extra is not None else parse_feed(got.text, got.headers, feed.url)
    if parsed.error:
        raise FeedError(f"{feed.url}: {parsed.error}")
    warning = None
    if parsed.bozo:
        warning = (f"malformed feed ({parsed.bozo}); kept the {len(parsed.entries)} entries "
                   "that could be read")
    return FeedOutcome(feed.name, feed.url, "read", len(parsed.entries), warning)

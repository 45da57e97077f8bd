"""Re-fetching a story's articles on a schedule that thins with age, so edits become versions.

The plan (read before a run) lists the articles of the configured stories (inside a story's
window and matching its query, as the analysis places them) that are due by
``press.refetch.schedule`` (tiers of tracker/sources/schedule.py, age counted from the
article's time: published, else GDELT's first sighting, else ours). Each re-fetch is a
conditional GET (the ETag / Last-Modified of the last answer) whose cursor, scope
``article:<url>``, holds when it was read, the validators and the content hash of the version
it saw; a 304 is a sighting of that version, an unchanged page adds nothing, a changed one
becomes a new version (revisions.py). At most ``press.refetch.max_per_run`` articles and what
is left of the run's request budget; the rest waits for the next run (``runs.deferred``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tracker.core.errors import MalformedPage
from tracker.core.storyquery import parse_query, to_sql
from tracker.core.timeutil import parse_iso
from tracker.sources.press.http import FINAL_URL, PressFetcher
from tracker.sources.press.normalize import extract_page
from tracker.sources.press.pages import ACCEPT
from tracker.sources.press.revisions import content_hash
from tracker.sources.schedule import due

log = logging.getLogger("tracker.press")
GONE = {404, 410}


@dataclass
class DueArticle:
    url: str
    event_at: datetime              # the article's time (its age counts from here)
    first_seen_at: datetime
    cursor: dict | None = None      # the last re-fetch's cursor
    overdue: timedelta = timedelta(0)


@dataclass
class PressPlan:
    refetch: list[DueArticle] = field(default_factory=list)
    wayback: list[DueArticle] = field(default_factory=list)


def scope_of(url: str) -> str:
    return f"article:{url}"


def story_articles(con, cfg, since: datetime | None = None) -> list[tuple]:
    """(url, event_at, first_seen_at, outlet_domain, published_at, refetch cursor, wayback
    cursor) of every article of a configured story (in its window, matching its query)."""
    text = "concat_ws(' ', a.title, a.summary, a.text)"
    parts, params = [], []
    for story in cfg.stories:
        expr, qparams = to_sql(parse_query(story.query), text)
        parts.append(f"SELECT a.url FROM articles a JOIN article_times t USING (url) "
                     f"WHERE t.event_at >= ? AND t.event_at < ? AND {expr}")
        params += [story.window.start_at, story.window.end_at, *qparams]
    if not parts:
        return []
    sql = f"""
        WITH s AS ({' UNION '.join(parts)})
        SELECT a.url, t.event_at, a.first_seen_at, coalesce(a.outlet_domain, a.domain),
               t.clock, r.cursor, w.cursor
        FROM s JOIN articles a USING (url) JOIN article_times t USING (url)
        LEFT JOIN sync_state r ON r.source = 'press' AND r.scope = 'article:' || a.url
        LEFT JOIN sync_state w ON w.source = 'press' AND w.scope = 'wayback:' || a.url
        WHERE ?::TIMESTAMPTZ IS NULL OR t.event_at >= ?
        ORDER BY t.event_at, a.url"""
    return con.execute(sql, [*params, since, since]).fetchall()


def plan(con, cfg, now: datetime, options: dict) -> PressPlan:
    """The articles due for a re-fetch and for a Wayback look, in order of need."""
    out = PressPlan()
    press = cfg.press
    if con is None or not cfg.stories or options.get("targets"):
        return out
    tiers = press.refetch.schedule
    oldest = now - timedelta(hours=tiers[-1].up_to_hours) if tiers else now
    wanted = set(press.refetch.domains)
    rows = story_articles(con, cfg, None if press.wayback.enabled else oldest)
    late = timedelta(hours=press.wayback.late_after_hours)
    for url, event_at, first_seen, domain, clock, rcur, wcur in rows:
        if wanted and domain not in wanted:
            continue
        cursor = json.loads(rcur) if rcur else None
        item = DueArticle(url, event_at, first_seen, cursor)
        if press.refetch.enabled and tiers and event_at >= oldest:
            last = parse_iso(cursor.get("fetched_at")) if cursor else None
            d = due(now, event_at, last, tiers)
            if d is not None and d.due:
                item.overdue = d.overdue
                out.refetch.append(item)
        if (press.wayback.enabled and wcur is None and clock != "first_seen_at"
                and first_seen - event_at > late):
            out.wayback.append(DueArticle(url, event_at, first_seen))
    out.refetch.sort(key=lambda a: (-a.overdue.total_seconds(), a.event_at, a.url))
    return out


def refetch_article(f: PressFetcher, item: DueArticle) -> str:
    """One conditional GET of an article; returns 'changed', 'unchanged', 'not_modified' or
    'gone'. Raises SourceError (this article failed) or BudgetExhausted."""
    last = item.cursor or {}
    headers = {"Accept": ACCEPT}
    if last.get("hash") and last.get("etag"):
        headers["If-None-Match"] = last["etag"]
    if last.get("hash") and last.get("last_modified"):
        headers["If-Modified-Since"] = last["last_modified"]
    params = {"url": item.url}
    if len(headers) > 1:
        params["hash"] = last["hash"]        # the version a 304 would confirm
    target = f.target(item.url)

    def judge(_parsed, a):
        base = {"fetched_at": a.fetched_at, "status": a.status}
        if a.status == 304:
            return {**last, **base}, "not_modified"
        if a.status in GONE:
            return base, "gone"
        try:
            info = extract_page(a.text, given_url=item.url, fetched_url=a.headers.get(FINAL_URL))
        except MalformedPage:
            return base, "unreadable"            # archived; the loader quarantines it
        h = content_hash(info.title, info.summary, info.text)
        return ({**base, "etag": a.headers.get("etag"),
                 "last_modified": a.headers.get("last-modified"), "hash": h},
                "unchanged" if h == last.get("hash") else "changed")

    with f.accepting(GONE):
        a = f.fetch(purpose="article", endpoint=target, params=params,
                    scope=scope_of(item.url), url=target, cursor_fn=judge,
                    send=lambda: f.session.get(target, headers=headers,
                                               timeout=f.cfg.timeout_seconds,
                                               allow_redirects=True))
    return a.extra or "unreadable"

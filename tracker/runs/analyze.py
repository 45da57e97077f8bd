"""Analysis as runs: `tracker analyze`, and analysts' label / unlabel decisions."""

from __future__ import annotations

import getpass
import json
import re

from tracker.analysis.engine import analyze
from tracker.core.errors import DatabaseUnavailable, RunStopped, TrackerError
from tracker.core.events import EVENT_TYPES
from tracker.runs.runner import RunResult, execute
from tracker.sources.analyst.normalize import label_record
from tracker.sources.press.canonical import canonical_url
from tracker.store.db import open_db, read_connection


def run_analysis(cfg, story_id: str | None = None, **kw) -> RunResult:
    """Relabel every story of the config (or one) in one transaction; recorded in runs."""
    if story_id:
        cfg.story(story_id)

    def body(raw, ctx, result: RunResult) -> None:
        try:
            con = open_db(cfg.database)
        except DatabaseUnavailable as exc:
            raise RunStopped(f"analysis waits: {exc}") from None
        try:
            for r in analyze(con, cfg.stories, story_id):
                result.details[r.story_id] = r.by_event
        finally:
            con.close()

    return execute(cfg, "analyze", "analysis", body, **kw)


def parse_item(item: str) -> tuple[str, str]:
    """'post:ID', 'article:URL', a bare post id or a URL → (item_kind, item_id)."""
    if item.startswith("post:"):
        return "post", item[5:]
    if item.startswith("article:"):
        item = item[8:]
    elif re.fullmatch(r"\d{1,25}", item):
        return "post", item
    if re.match(r"^https?://", item):
        return "article", canonical_url(item)
    raise TrackerError(f"item {item!r}: give a post id, post:ID, a URL or article:URL")


def _record(cfg, job: str, story_id: str, item: str, action: str,
            event_type: str | None, note: str | None, **kw) -> RunResult:
    cfg.story(story_id)
    if action == "set" and event_type not in EVENT_TYPES:
        raise TrackerError(f"event {event_type!r}: choose one of {', '.join(EVENT_TYPES)}")
    kind, item_id = parse_item(item)
    con = read_connection(cfg)
    try:
        table, key = ("posts", "post_id") if kind == "post" else ("articles", "url")
        if not con.execute(f"SELECT count(*) FROM {table} WHERE {key} = ?",
                           [item_id]).fetchone()[0]:
            raise TrackerError(f"{kind} {item_id} is not in the database")
    finally:
        con.close()
    body_json = json.dumps(label_record(story_id, kind, item_id, action, event_type, note,
                                        getpass.getuser()))

    def body(raw, ctx, result: RunResult) -> None:
        raw.page(purpose=job, endpoint=f"tracker {job}", params={"story": story_id,
                 "item": item_id}, scope=None, fetched_at=ctx.clock(), status=200, headers={},
                 body=body_json)
        result.pages += 1

    return execute(cfg, job, "analyst", body, **kw)


def set_label(cfg, story_id: str, item: str, event_type: str, note: str | None = None,
              **kw) -> RunResult:
    """An analyst's label for an item; it wins over the automatic one, across re-analysis."""
    return _record(cfg, "label", story_id, item, "set", event_type, note, **kw)


def unset_label(cfg, story_id: str, item: str, **kw) -> RunResult:
    """Withdraw the analyst's label: the item goes back to its automatic label."""
    return _record(cfg, "unlabel", story_id, item, "unset", None, None, **kw)

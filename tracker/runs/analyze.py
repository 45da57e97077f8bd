"""Analysis as runs: `tracker analyze`, and analysts' label / unlabel decisions."""

from __future__ import annotations

import getpass
import json
import re

from tracker.analysis.engine import analyze
from tracker.core.errors import (DatabaseUnavailable, InvalidArgument, RunStopped,
                                 TrackerError)
from tracker.core.events import EVENT_TYPES
from tracker.runs.runner import RunResult, execute
from tracker.sources.analyst.normalize import label_record
from tracker.sources.press.canonical import canonical_url
from tracker.sources.press.outlets import sync_outlets
from tracker.store.db import open_db, read_connection


def run_analysis(cfg, story_id: str | None = None, full: bool = False, **kw) -> RunResult:
    """Bring every story of the config (or one) up to date in one transaction, incrementally
    where it can (``full``: from scratch); recorded in runs. ``details`` holds per story its
    counts by event type, and how it was analysed (``mode``, ``relabelled``, ``why``)."""
    if story_id:
        cfg.story(story_id)

    def body(raw, ctx, result: RunResult) -> None:
        try:
            con = open_db(cfg.database, storage_version=cfg.storage.duckdb_storage_version)
        except DatabaseUnavailable as exc:
            raise RunStopped(f"analysis waits: {exc}") from None
        try:
            sync_outlets(con, cfg.press.outlets)      # press.outlets: the views' display names
            for r in analyze(con, cfg.stories, story_id, full=full):
                result.details[r.story_id] = {"events": r.by_event, "mode": r.mode,
                                              "relabelled": r.relabelled, "why": r.why}
        finally:
            con.close()

    return execute(cfg, "analyze", "analysis", body, **kw)


def parse_item(item: str) -> tuple[str, str | None, str]:
    """'post:ID', 'PLATFORM:ID' (e.g. mastodon:1093…), 'article:URL', a bare post id or a URL
    → (item_kind, platform or None when not said, item_id)."""
    if item.startswith("article:"):
        item = item[8:]
    if re.match(r"^https?://", item):
        return "article", "web", canonical_url(item)
    if item.startswith("post:"):
        return "post", None, item[5:]
    named = re.fullmatch(r"([a-z][a-z0-9_]*):(.+)", item)
    if named:
        return "post", named.group(1), named.group(2)
    if re.fullmatch(r"\d{1,25}", item):
        return "post", None, item
    raise InvalidArgument(f"item {item!r}: give a post id, PLATFORM:ID, a URL or article:URL")


def _which(con, kind: str, platform: str | None, item_id: str) -> str:
    """The stored item's platform ('web' for an article); errors name what is wrong."""
    if kind == "article":
        if not con.execute("SELECT count(*) FROM articles WHERE url = ?", [item_id]).fetchone()[0]:
            raise TrackerError(f"article {item_id} is not in the database")
        return "web"
    found = [r[0] for r in con.execute(
        "SELECT DISTINCT platform FROM posts WHERE post_id = ? ORDER BY 1", [item_id]).fetchall()]
    if platform is not None:
        if platform not in found:
            raise TrackerError(f"post {platform}:{item_id} is not in the database")
        return platform
    if not found:
        raise TrackerError(f"post {item_id} is not in the database")
    if len(found) > 1:
        raise TrackerError(f"post {item_id} is on several platforms ({', '.join(found)}): "
                           f"give PLATFORM:{item_id}")
    return found[0]


def _record(cfg, job: str, story_id: str, item: str, action: str,
            event_type: str | None, note: str | None, **kw) -> RunResult:
    cfg.story(story_id)
    if action == "set" and event_type not in EVENT_TYPES:
        raise InvalidArgument(f"event {event_type!r}: choose one of {', '.join(EVENT_TYPES)}")
    kind, platform, item_id = parse_item(item)
    con = read_connection(cfg)
    try:
        platform = _which(con, kind, platform, item_id)
    finally:
        con.close()
    body_json = json.dumps(label_record(story_id, kind, platform, item_id, action, event_type,
                                        note, getpass.getuser()))

    def body(raw, ctx, result: RunResult) -> None:
        raw.page(purpose=job, endpoint=f"tracker {job}", params={"story": story_id,
                 "item": f"{platform}:{item_id}"}, scope=None, fetched_at=ctx.clock(), status=200, headers={},
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

"""What the Bluesky collectors request: profiles, author feeds, threads, posts by URI.

An author feed has no ``since``: it is read newest first, page by page (the AppView's opaque
``cursor``), until it reaches what is stored. Its scope ``feed:<DID>`` keeps a cursor
``{"newest_at", "newest_key", "gap"}``: the feed position (``item_time``) and id of the newest
item stored, below which everything is stored; ``gap`` is an unfinished pagination
``{"cursor", "top_at", "top_key", "until_at", "read"}`` that the next request (or the next run,
after a stop) continues with the AppView's cursor, so a stopped run never leaves a hole. Every
page carries the cursor it justifies and the loader commits both together.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Iterable

from tracker.core.errors import RunStopped, SourceError
from tracker.core.timeutil import iso
from tracker.sources.bluesky.client import Fetcher
from tracker.sources.bluesky.normalize import (FEED, POSTS, PROFILE, THREAD, is_pin, item_key,
                                               item_time, time_of)

log = logging.getLogger("tracker.bluesky")

LOOKUP_BATCH = 25             # getPosts takes at most 25 URIs
# what getProfile answers (HTTP 400) for a handle nobody has, or an account that is gone
PROFILE_GONE = ("InvalidRequest", "AccountTakedown", "AccountDeactivated", "NotFound")


def chunks(items: list, size: int = LOOKUP_BATCH) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def resolve_handle(f: Fetcher, handle: str) -> str | None:
    """A handle's DID, from its profile (None: no such account; the answer is archived)."""
    page = f.get(purpose="profile", endpoint=PROFILE, call=f.client.app.bsky.actor.get_profile,
                 params={"actor": handle}, soft=PROFILE_GONE)
    if page.model is None:
        log.warning("bluesky: handle %s not found (%s: %s); see api_errors", handle,
                    page.error, (page.body or {}).get("message"))
        return None
    return page.model.did


def _at(value: str | None) -> datetime | None:
    return time_of(value)


def collect_feed(f: Fetcher, did: str, cursor: dict | None, *, backfill_max: int,
                 page_size: int, first_page_size: int) -> dict:
    """An account's posts, replies, quotes and reposts since the cursor; the new cursor.

    An incremental read asks for ``first_page_size`` items first (what is new since the last
    run is usually a few: fewer old items come back with it), then ``page_size`` a page."""
    cur = {"newest_at": None, "newest_key": None, "gap": None, **(cursor or {})}
    if cur.get("gap"):
        cur = _paginate(f, did, cur, cur["gap"], backfill_max, page_size, page_size)
    if cur.get("newest_key") is None and backfill_max <= 0:
        return cur
    first = page_size if cur.get("newest_key") is None else first_page_size
    return _paginate(f, did, cur, None, backfill_max, page_size, first)


def _paginate(f: Fetcher, did: str, cur: dict, gap: dict | None, backfill_max: int,
              page_size: int, first_page_size: int) -> dict:
    """Read from the top (or on from ``gap``) down to the stored newest item."""
    floor_at, floor_key = _at(cur.get("newest_at")), cur.get("newest_key")
    scope = f"feed:{did}"
    seen: set[str] = set()

    def judge(body: dict, state: dict | None) -> dict:
        top_at, top_key = (state or {}).get("top_at"), (state or {}).get("top_key")
        until, read, reached = (state or {}).get("until_at"), (state or {}).get("read", 0), False
        feed = body.get("feed")
        if not isinstance(feed, list):
            raise ValueError("the answer has no feed list")
        for item in feed:
            if is_pin(item):
                continue                   # shown on top, out of the feed's order
            at, key = item_time(item), item_key(item)
            if floor_key is not None and (key == floor_key or (
                    at is not None and floor_at is not None and at < floor_at)):
                reached = True
                break
            if top_key is None and key is not None:
                top_at, top_key = (iso(at) if at else None), key
            if at is not None:
                until = iso(at)
            read += 1
        nxt = body.get("cursor") if isinstance(body.get("cursor"), str) else None
        full = floor_key is None and read >= backfill_max
        if reached or not nxt or not feed or full:
            if top_key is None:                 # nothing new
                return {**cur, "gap": None}
            return {**cur, "newest_at": top_at, "newest_key": top_key, "gap": None}
        return {**cur, "gap": {"cursor": nxt, "top_at": top_at, "top_key": top_key,
                               "until_at": until, "read": read}}

    state = gap
    while True:
        # (includePins: the SDK sends its default anyway; said here, it is archived too)
        params: dict[str, Any] = {"actor": did, "limit": page_size if state else first_page_size,
                                  "filter": "posts_with_replies", "includePins": False}
        if state and state.get("cursor"):
            if state["cursor"] in seen:
                raise SourceError(f"{FEED} ({scope}): the AppView repeated cursor "
                                  f"{state['cursor']!r}; stopped a pagination loop (cursor kept)")
            seen.add(state["cursor"])
            params["cursor"] = state["cursor"]
        page = f.get(purpose="feed", endpoint=FEED, scope=scope,
                     call=f.client.app.bsky.feed.get_author_feed, params=params,
                     cursor_fn=lambda model, body, at, state=state: judge(body, state))
        new = page.cursor
        if not new.get("gap"):
            return new
        state = new["gap"]


def read_thread(f: Fetcher, root: str, cursor: dict | None, *, depth: int) -> dict:
    """A conversation's thread from its root (replies ``depth`` levels down); the new cursor
    of scope ``thread:<root>``: when it was read, how many posts it held, how many reads in a
    row found no more (``quiet``)."""
    old = cursor or {}

    def judge(model, body: dict, at: str) -> dict:
        members = 0 if model is None else _members(body.get("thread"))
        grew = members > int(old.get("members") or 0)
        return {"read_at": at, "members": members,
                "quiet": 0 if grew else int(old.get("quiet") or 0) + 1,
                "root_found": model is not None}

    page = f.get(purpose="thread", endpoint=THREAD, scope=f"thread:{root}",
                 call=f.client.app.bsky.feed.get_post_thread,
                 params={"uri": root, "depth": depth, "parentHeight": 0}, soft=("NotFound",),
                 cursor_fn=judge)
    return page.cursor


def _members(node: Any) -> int:
    n, stack = 0, [node]
    while stack:
        nd = stack.pop()
        if isinstance(nd, dict):
            n += isinstance(nd.get("post"), dict)
            stack.extend(nd.get("replies") if isinstance(nd.get("replies"), list) else [])
    return n


def lookup_posts(f: Fetcher, uris: list[str], *, purpose: str) -> int:
    """Look posts up by URI, 25 a request; one left out of the answer is not found (the
    normalizer records the sighting). A batch the AppView answers oddly fails alone; the
    others are still looked up. Returns the requests made."""
    n = 0
    failed: list[str] = []
    for batch in chunks(list(dict.fromkeys(uris))):      # in the plan's order, once each
        try:
            f.get(purpose=purpose, endpoint=POSTS, params={"uris": batch},
                  call=f.client.app.bsky.feed.get_posts)
        except RunStopped:
            raise
        except SourceError as exc:
            failed.append(f"uris {batch[0]}…: {exc}")
        n += 1
    if failed:
        raise SourceError(f"{len(failed)} lookup batches failed (the rest was read): "
                          + "; ".join(failed))
    return n

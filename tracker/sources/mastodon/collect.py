"""What the Mastodon collectors request: handles, statuses, threads, histories, polls, lookups.

An account's statuses keep a cursor ``{"newest_id", "older_than", "read", "account"}`` (the
last, the account's local id on its instance, spares a lookup each run): ``newest_id`` is
the newest status read, and everything the account posted after it is read forward with
``min_id`` (the page just above the cursor; the next one above that, from the Link header's
``prev``), so a stopped run never leaves a hole: each page carries the cursor it justifies and
the loader commits both together. A new account is read backwards from its newest status
(Link ``next``, ``max_id``) up to ``backfill_max_posts``; ``older_than`` is where that backfill
stands until it is done (None).
"""

from __future__ import annotations

import logging

from tracker.core.errors import SourceError
from tracker.sources.fetch import Answer
from tracker.sources.mastodon.client import Fetcher, links
from tracker.sources.mastodon.ids import order_key, qualify, split
from tracker.sources.mastodon.normalize import (CONTEXT, HISTORY, LOOKUP, POLL, STATUS,
                                                STATUSES, version_id)
from tracker.sources.mastodon.normalize import account_id as account_key
from tracker.sources.mastodon.config import split_handle
from tracker.core.timeutil import iso, parse_iso

log = logging.getLogger("tracker.mastodon")


def resolve_handle(f: Fetcher, handle: str, cursor: dict | None) -> str | None:
    """The account's local id on its own instance: from its cursor, or by asking the instance
    (accounts/lookup) once; None when the instance does not know the handle."""
    if cursor and cursor.get("account"):
        return str(cursor["account"])
    user, instance = split_handle(handle)
    answer = f.get(instance, purpose="lookup", endpoint=LOOKUP, call="account_lookup",
                   args={"acct": user}, scope=f"account:{handle}")
    body = answer.parsed
    if answer.status == 200 and isinstance(body, dict) and body.get("id") not in (None, ""):
        return str(body["id"])
    log.warning("mastodon: %s not found on %s (HTTP %s)", handle, instance, answer.status)
    return None


def _page_ids(body) -> list[str]:
    return [str(s["id"]) for s in body if isinstance(s, dict) and s.get("id") not in (None, "")]


def collect_statuses(f: Fetcher, handle: str, local: str, cursor: dict | None, *,
                     page_size: int, backfill_max: int) -> dict:
    """An account's statuses (its posts, replies and boosts) since the cursor, then what is
    left of its backfill; returns the new cursor (which keeps the account's local id)."""
    instance = split_handle(handle)[1]
    account_id = account_key(handle)
    scope = f"statuses:{account_id}"
    cur = {"newest_id": None, "older_than": None, "read": 0, **(cursor or {}),
           "account": local}

    def get(args: dict, judge) -> Answer:
        def cursor_fn(body, answer: Answer):
            if not isinstance(body, list):
                raise TypeError("account statuses: not a list")
            return judge(body, links(answer.headers)), None

        return f.get(instance, purpose="statuses", endpoint=STATUSES, call="account_statuses",
                     args={"id": local, "limit": page_size, **args}, scope=scope,
                     cursor_fn=cursor_fn)

    if cur["newest_id"] is None:
        # the first read: the newest page, then backwards while the backfill lasts
        # (a backfill of 0 reads one status: where the cursor starts)
        limit = min(page_size, max(backfill_max, 1))

        def first(body: list, link: dict) -> dict:
            ids = _page_ids(body)
            newest = link.get("prev", {}).get("min_id") or (ids[0] if ids else None)
            older = link.get("next", {}).get("max_id") or (ids[-1] if ids else None)
            more = len(ids) == limit and "next" in link and len(ids) < backfill_max
            return {"newest_id": newest, "older_than": older if more else None,
                    "read": len(ids), "account": local}

        answer = get({"limit": limit}, first)
        cur = first(answer.parsed, links(answer.headers))
        if cur["newest_id"] is None:
            return cur                       # nothing posted yet: the next run looks again
    else:
        while True:                          # forward from the newest status read
            since = cur["newest_id"]

            def forward(body: list, link: dict, cur=cur) -> dict:
                ids = _page_ids(body)
                if not ids:
                    return cur
                top = link.get("prev", {}).get("min_id") or max(ids, key=order_key)
                return {**cur, "newest_id": max(top, cur["newest_id"], key=order_key)}

            answer = get({"min_id": since}, forward)
            new = forward(answer.parsed, links(answer.headers))
            n = len(_page_ids(answer.parsed))
            if n and order_key(new["newest_id"]) <= order_key(since):
                raise SourceError(f"account statuses ({account_id}): min_id {since} did not "
                                  "move forward; stopped a pagination loop (cursor kept)")
            cur = new
            # a short page is the last one (what is filtered out comes with the next run)
            if n < page_size or "prev" not in links(answer.headers):
                break
    while cur.get("older_than") and cur["read"] < backfill_max:
        older = cur["older_than"]
        limit = min(page_size, backfill_max - cur["read"])

        def back(body: list, link: dict, cur=cur, limit=limit) -> dict:
            ids = _page_ids(body)
            read = cur["read"] + len(ids)
            nxt = link.get("next", {}).get("max_id") or (ids[-1] if ids else None)
            # a short page is the account's first statuses
            done = len(ids) < limit or "next" not in link or read >= backfill_max
            return {**cur, "older_than": None if done else nxt, "read": read}

        answer = get({"max_id": older, "limit": limit}, back)
        new = back(answer.parsed, links(answer.headers))
        if new["older_than"] and order_key(new["older_than"]) >= order_key(older):
            raise SourceError(f"account statuses ({account_id}): max_id {older} did not move "
                              "back; stopped a pagination loop (cursor kept)")
        cur = new
    return cur


def lookup_status(f: Fetcher, post_id: str, purpose: str) -> Answer:
    """A status by id: 200 (it is there, as it is now) or 404/410 (not found: a sighting)."""
    instance, local = split(post_id)
    return f.get(instance, purpose=purpose, endpoint=STATUS, call="status", args={"id": local},
                 scope=f"status:{post_id}")


def new_versions(post_id: str, body, placed: set[str]) -> bool:
    """Whether a status answer shows a text version whose place in its history is unknown."""
    if not isinstance(body, dict) or not body.get("edited_at"):
        return False
    try:
        at = iso(parse_iso(body["edited_at"]))
    except (TypeError, ValueError, OverflowError):
        return False
    return version_id(post_id, at) not in placed


def read_history(f: Fetcher, post_id: str) -> Answer:
    instance, local = split(post_id)
    return f.get(instance, purpose="history", endpoint=HISTORY, call="status_history",
                 args={"id": local}, scope=f"history:{post_id}")


def thread_cursor(before: dict | None, read_at: str, descendants: int,
                  replies: int | None) -> dict:
    """A thread's cursor after a read: when, how many replies were under the post, its
    replies_count, and how many reads in a row found no new reply (the quiet factor)."""
    prev = (before or {}).get("descendants")
    quiet = 0 if prev is None or descendants > prev else int((before or {}).get("quiet") or 0) + 1
    return {"read_at": read_at, "descendants": descendants, "quiet": quiet,
            "replies_count": replies}


def read_context(f: Fetcher, post_id: str, replies: int | None, cursors: dict[str, dict],
                 tracked: set[str]) -> Answer:
    """A tracked post's thread (its ancestors and every reply under it). The page carries the
    post's thread cursor, and that of each tracked post among the replies (a thread of the
    account's own posts), since the page covers their replies too."""
    instance, local = split(post_id)
    scope = f"replies:{post_id}"

    def cursors_fn(body, answer: Answer) -> dict[str, dict]:
        if answer.status != 200:
            return {scope: {**(cursors.get(scope) or {}), "read_at": answer.fetched_at,
                            "gone": True}}
        if not isinstance(body, dict):
            raise TypeError("context: not an object")
        below = [s for s in body.get("descendants") or [] if isinstance(s, dict)
                 and s.get("id") is not None]
        children: dict[str, list[str]] = {}
        for s in below:
            children.setdefault(str(s.get("in_reply_to_id")), []).append(str(s["id"]))

        def count(local_id: str) -> int:
            todo, n, seen = list(children.get(local_id, [])), 0, set()
            while todo:
                k = todo.pop()
                if k not in seen:
                    seen.add(k)
                    n += 1
                    todo += children.get(k, [])
            return n

        out = {scope: thread_cursor(cursors.get(scope), answer.fetched_at, len(below),
                                    replies)}
        for s in below:
            qid = qualify(instance, str(s["id"]))
            if qid in tracked:
                key = f"replies:{qid}"
                out[key] = thread_cursor(cursors.get(key), answer.fetched_at,
                                         count(str(s["id"])), s.get("replies_count"))
        return out

    return f.get(instance, purpose="replies", endpoint=CONTEXT, call="status_context",
                 args={"id": local}, scope=scope, cursors_fn=cursors_fn)


def read_poll(f: Fetcher, poll_id: str) -> Answer:
    instance, local = split(poll_id)
    return f.get(instance, purpose="poll_refresh", endpoint=POLL, call="poll",
                 args={"id": local}, scope=f"poll:{poll_id}")

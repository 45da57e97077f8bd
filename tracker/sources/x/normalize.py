"""Pure normalization of one archived X API v2 page into table rows. No I/O, no clock."""

from __future__ import annotations

import json
from typing import Any

from ...errors import MalformedPage
from ...timeutil import parse_iso
from ..rows import Rows

PLATFORM = "x"

# Errors whose resource is a tweet and what they say about that tweet.
TWEET_ERROR_STATUS = {
    "Not Found Error": "deleted",
    "Authorization Error": "protected",
    "Forbidden": "suspended",
}


def _j(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _ts(value: Any) -> str | None:
    """An ISO timestamp the database can store, or None (a value no parser accepts is dropped)."""
    if not isinstance(value, str):
        return None
    try:
        parse_iso(value)
    except ValueError:
        return None
    return value


def _b(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def parse_body(record: dict) -> dict:
    """The page's JSON body as a dict, or MalformedPage saying why not."""
    body = record.get("body")
    if isinstance(body, dict):
        return body
    if not isinstance(body, str):
        raise MalformedPage("page has no body")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedPage(f"invalid JSON body ({len(body)} bytes): {exc}") from None
    if not isinstance(data, dict):
        raise MalformedPage(f"body is a JSON {type(data).__name__}, expected an object")
    return data


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _is_user(obj: dict) -> bool:
    return "username" in obj and "text" not in obj


def _user_row(u: dict, at: str) -> dict:
    pm = u.get("public_metrics") or {}
    return {
        "platform": PLATFORM, "account_id": _s(u["id"]), "handle": _s(u.get("username")),
        "name": _s(u.get("name")), "description": _s(u.get("description")),
        "created_at": _ts(u.get("created_at")), "protected": _b(u.get("protected")),
        "verified": _b(u.get("verified")), "followers_count": _int(pm.get("followers_count")),
        "following_count": _int(pm.get("following_count")),
        "post_count": _int(pm.get("tweet_count")), "first_seen_at": at, "last_seen_at": at,
    }


def _tweet_row(t: dict, at: str, seen_in: str, handles: dict[str, str]) -> dict:
    refs = {}
    for ref in t.get("referenced_tweets") or []:
        if isinstance(ref, dict) and ref.get("type") and ref.get("id"):
            refs.setdefault(ref["type"], _s(ref["id"]))
    pm = t.get("public_metrics") or {}
    polls = (t.get("attachments") or {}).get("poll_ids") or []
    history = [str(i) for i in (t.get("edit_history_tweet_ids") or [])]
    post_id = _s(t["id"])
    author = _s(t.get("author_id"))
    handle = handles.get(author) if author else None
    url = (f"https://x.com/{handle}/status/{post_id}" if handle
           else f"https://x.com/i/web/status/{post_id}")
    return {
        "platform": PLATFORM, "post_id": post_id, "author_id": author,
        "created_at": _ts(t.get("created_at")), "text": _s(t.get("text")),
        "lang": _s(t.get("lang")),
        "conversation_id": _s(t.get("conversation_id")),
        "reply_to_post_id": refs.get("replied_to"),
        "reply_to_user_id": _s(t.get("in_reply_to_user_id")),
        "quoted_post_id": refs.get("quoted"), "reposted_post_id": refs.get("retweeted"),
        "poll_id": _s(polls[0]) if polls else None, "url": url,
        "like_count": _int(pm.get("like_count")), "repost_count": _int(pm.get("retweet_count")),
        "reply_count": _int(pm.get("reply_count")), "quote_count": _int(pm.get("quote_count")),
        "impression_count": _int(pm.get("impression_count")),
        "edit_chain_id": history[0] if history else post_id,
        "edit_history": _j(history or [post_id]), "entities": _j(t.get("entities")),
        "withheld": _j(t.get("withheld")), "possibly_sensitive": _b(t.get("possibly_sensitive")),
        "seen_in": seen_in, "first_seen_at": at, "last_seen_at": at, "deleted_at": None,
        "unavailable_reason": None, "unavailable_at": None,
    }


def _version_row(t: dict, at: str) -> dict:
    post_id = _s(t["id"])
    history = [str(i) for i in (t.get("edit_history_tweet_ids") or [])] or [post_id]
    index = history.index(post_id) if post_id in history else len(history) - 1
    return {
        "platform": PLATFORM, "edit_chain_id": history[0], "version_post_id": post_id,
        "version_index": index, "text": _s(t.get("text")), "created_at": _ts(t.get("created_at")),
        "first_seen_at": at,
    }


def normalize(record: dict) -> Rows:
    """Turn one raw page record into rows. Raises MalformedPage for an unreadable body.

    Non-2xx pages yield no rows (they stay in raw and in raw_pages). Items that are not objects
    or lack an id are skipped and listed in ``Rows.skipped``; the rest of the page is kept.
    """
    rows = Rows()
    status = record.get("status")
    if status is not None and not (200 <= int(status) < 300):
        return rows
    if record.get("body") is None and status is None:
        return rows  # a connection error: nothing was received
    body = parse_body(record)
    at = record.get("fetched_at")
    if not at:
        raise MalformedPage("page has no fetched_at")
    page_id = record.get("page_id") or f"{record.get('run_id')}:{record.get('seq')}"

    data = _as_list(body.get("data"))
    includes = body.get("includes") if isinstance(body.get("includes"), dict) else {}
    inc_users = _as_list(includes.get("users"))
    inc_tweets = _as_list(includes.get("tweets"))
    inc_polls = _as_list(includes.get("polls"))

    def valid(obj: Any, where: str) -> bool:
        if isinstance(obj, dict) and obj.get("id") is not None:
            return True
        rows.skipped.append(f"{where}: item without an id")
        return False

    data = [d for d in data if valid(d, "data")]
    rows.items = len(data)
    users = [u for u in inc_users if valid(u, "includes.users")]
    users += [d for d in data if _is_user(d)]
    tweets_data = [d for d in data if not _is_user(d)]
    tweets_inc = [t for t in inc_tweets if valid(t, "includes.tweets")]
    handles = {_s(u["id"]): u.get("username") for u in users if u.get("username")}

    for u in users:
        rows.add("accounts", _user_row(u, at))
        if u.get("username"):
            rows.add("account_handles", {
                "platform": PLATFORM, "account_id": _s(u["id"]), "handle": _s(u["username"]),
                "first_seen_at": at, "last_seen_at": at})

    poll_posts: dict[str, str] = {}
    for seen_in, group in (("data", tweets_data), ("includes", tweets_inc)):
        for t in group:
            post = _tweet_row(t, at, seen_in, handles)
            rows.add("posts", post)
            rows.add("post_versions", _version_row(t, at))
            # A retweet carries its original's attachments: the poll belongs to the original.
            owner = post["reposted_post_id"] or post["post_id"]
            for pid in (t.get("attachments") or {}).get("poll_ids") or []:
                poll_posts.setdefault(str(pid), owner)

    for p in inc_polls:
        if not valid(p, "includes.polls"):
            continue
        poll_id = _s(p["id"])
        options = [o for o in _as_list(p.get("options")) if isinstance(o, dict)]
        voting_status = p.get("voting_status")
        rows.add("polls", {
            "platform": PLATFORM, "poll_id": poll_id, "post_id": poll_posts.get(poll_id),
            "options": _j([_s(o.get("label")) for o in options]),
            "duration_minutes": _int(p.get("duration_minutes")), "end_at": _ts(p.get("end_datetime")),
            "voting_status": _s(voting_status), "first_seen_at": at, "last_seen_at": at,
            "final_snapshot_at": at if voting_status == "closed" else None,
        })
        for i, o in enumerate(options):
            rows.add("poll_snapshots", {
                "platform": PLATFORM, "poll_id": poll_id, "captured_at": at,
                "position": _int(o.get("position")) or i + 1, "label": _s(o.get("label")),
                "votes": _int(o.get("votes")), "voting_status": _s(voting_status),
                "page_id": page_id,
            })

    for idx, e in enumerate(_as_list(body.get("errors"))):
        if not isinstance(e, dict):
            e = {"detail": str(e)}
        rows.add("api_errors", {
            "page_id": page_id, "idx": idx, "source": "x", "fetched_at": at,
            "title": _s(e.get("title")), "detail": _s(e.get("detail") or e.get("message")),
            "type": _s(e.get("type")), "resource_type": _s(e.get("resource_type")),
            "resource_id": _s(e.get("resource_id")), "parameter": _s(e.get("parameter")),
            "value": _s(e.get("value")), "section": _s(e.get("section")),
        })
        if e.get("resource_type") == "tweet" and e.get("resource_id"):
            state = TWEET_ERROR_STATUS.get(e.get("title"))
            if state:
                rows.post_status.append((PLATFORM, _s(e["resource_id"]), state, at))
    return rows

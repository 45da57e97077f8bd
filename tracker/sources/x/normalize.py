"""Pure normalization of one archived X API v2 page into table rows. No I/O, no clock."""

from __future__ import annotations

import json
import re
from typing import Any

from tracker.core.errors import MalformedPage
from tracker.core.jsonload import loads
from tracker.core.timeutil import parse_iso
from tracker.store.rows import Rows

PLATFORM = "x"

# Errors whose resource is a tweet and what they say about that tweet. "Not Found" is a
# sighting: the loader sets deleted_at only once a later run's lookup confirms it.
TWEET_ERROR_STATUS = {
    "Not Found Error": "not_found",
    "Authorization Error": "protected",
    "Forbidden": "suspended",
}


_API_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})\Z")


def _utf8(text: str) -> str:
    """Text the database can store: a lone surrogate (invalid UTF-8) becomes U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def _j(value: Any) -> str | None:
    if value is None:
        return None
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):        # NaN/Infinity: not JSON the database accepts
        text = json.dumps(value, ensure_ascii=True, sort_keys=True, default=str).replace(
            "NaN", "null").replace("-Infinity", "null").replace("Infinity", "null")
    return _utf8(text)


def _no_nan(value: Any) -> Any:
    """The value with NaN and the infinities as None (JSON has no such numbers)."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def as_sent(value: Any) -> str | None:
    """An API object's JSON text as X sent it, compact: its keys in their order, no spaces,
    non-ASCII as is (how ``entities`` and ``withheld`` are stored). DuckDB's JSON writer gives
    the same text for the same value wherever the batched path lets it (``fast.SQL_AS_SENT``
    says where it does not), so both paths store the same bytes without a Python pass."""
    if value is None:
        return None
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:                     # NaN/Infinity: not JSON the database accepts
        text = json.dumps(_no_nan(value), ensure_ascii=False, separators=(",", ":"))
    return _utf8(text)


def _s(value: Any) -> str | None:
    return None if value is None else _utf8(str(value))


def _d(value: Any) -> dict:
    """A field that should be an object; anything else counts as absent."""
    return value if isinstance(value, dict) else {}


def _ts(value: Any) -> str | None:
    """An ISO timestamp the database can store, or None (a value no parser accepts is dropped)."""
    if not isinstance(value, str):
        return None
    try:
        dt = parse_iso(value)
    except (ValueError, OverflowError):
        return None
    if dt is None:
        return None
    # the API's own form is kept as is; any other form Python reads is rewritten in one
    # DuckDB reads too (Python also accepts e.g. '20221003')
    return value if _API_TIME.match(value) else dt.isoformat()


def _b(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _int(value: Any, bits: int = 64) -> int | None:
    try:
        n = None if value is None else int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    limit = 2 ** (bits - 1)
    return n if n is None or -limit <= n < limit else None    # BIGINT (or INTEGER: bits=32)


def _ids(value: Any) -> list[str]:
    """A list of ids (edit history, poll ids); what is not an id is left out."""
    return [_utf8(str(i)) for i in _as_list(value)
            if (isinstance(i, str) and i) or (isinstance(i, int) and not isinstance(i, bool))]


class Utf8Body(bytes):
    """A page's body held as its UTF-8 bytes while the page waits for its batch (bulk.py): a
    str of non-ASCII text takes up to 4 bytes a character. Read as the text it encodes."""


def parse_body(record: dict) -> dict:
    """The page's JSON body as a dict, or MalformedPage saying why not."""
    body = record.get("body")
    if isinstance(body, dict):
        return body
    if isinstance(body, Utf8Body):
        body = body.decode("utf-8")
    if not isinstance(body, str):
        raise MalformedPage("page has no body")
    try:
        data = loads(body)
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
    pm = _d(u.get("public_metrics"))
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
    for ref in _as_list(t.get("referenced_tweets")):
        if isinstance(ref, dict) and isinstance(ref.get("type"), str) and _ids(ref.get("id")):
            refs.setdefault(ref["type"], _s(ref["id"]))
    pm = _d(t.get("public_metrics"))
    polls = _ids(_d(t.get("attachments")).get("poll_ids"))
    history = _ids(t.get("edit_history_tweet_ids"))
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
        "edit_history": _j(history or [post_id]), "entities": as_sent(t.get("entities")),
        "withheld": as_sent(t.get("withheld")),
        "possibly_sensitive": _b(t.get("possibly_sensitive")),
        "seen_in": seen_in, "first_seen_at": at, "last_seen_at": at, "deleted_at": None,
        "unavailable_reason": None, "unavailable_at": None,
    }


def _version_row(t: dict, at: str) -> dict:
    post_id = _s(t["id"])
    history = _ids(t.get("edit_history_tweet_ids")) or [post_id]
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
        if isinstance(obj, dict) and _ids(obj.get("id")):
            return True
        rows.skipped.append(f"{where}: item without an id")
        return False

    def guarded(where: str, item: dict, make) -> None:
        """Add an item's rows, or skip the item saying why: one odd item never costs the page."""
        try:
            made = make()
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
            rows.skipped.append(f"{where} {_s(item.get('id'))}: {type(exc).__name__}: {exc}"[:300])
            return
        for table, row in made:
            rows.add(table, row)

    data = [d for d in data if valid(d, "data")]
    rows.items = len(data)
    users = [u for u in inc_users if valid(u, "includes.users")]
    users += [d for d in data if _is_user(d)]
    tweets_data = [d for d in data if not _is_user(d)]
    tweets_inc = [t for t in inc_tweets if valid(t, "includes.tweets")]
    handles = {_s(u["id"]): _s(u.get("username")) for u in users if u.get("username")}

    def user_rows(u: dict) -> list:
        out = [("accounts", _user_row(u, at))]
        if u.get("username"):
            out.append(("account_handles", {
                "platform": PLATFORM, "account_id": _s(u["id"]), "handle": _s(u["username"]),
                "first_seen_at": at, "last_seen_at": at}))
        return out

    for u in users:
        guarded("user", u, lambda u=u: user_rows(u))

    poll_posts: dict[str, str] = {}

    def tweet_rows(t: dict, seen_in: str) -> list:
        post = _tweet_row(t, at, seen_in, handles)
        # A retweet carries its original's attachments: the poll belongs to the original.
        owner = post["reposted_post_id"] or post["post_id"]
        for pid in _ids(_d(t.get("attachments")).get("poll_ids")):
            poll_posts.setdefault(pid, owner)
        return [("posts", post), ("post_versions", _version_row(t, at))]

    for seen_in, group in (("data", tweets_data), ("includes", tweets_inc)):
        for t in group:
            guarded(f"{seen_in} post", t, lambda t=t, seen_in=seen_in: tweet_rows(t, seen_in))

    def poll_rows(p: dict) -> list:
        poll_id = _s(p["id"])
        options = [o for o in _as_list(p.get("options")) if isinstance(o, dict)]
        voting_status = _s(p.get("voting_status"))
        out = [("polls", {
            "platform": PLATFORM, "poll_id": poll_id, "post_id": poll_posts.get(poll_id),
            "options": _j([_s(o.get("label")) for o in options]),
            "duration_minutes": _int(p.get("duration_minutes"), 32),
            "end_at": _ts(p.get("end_datetime")),
            "voting_status": voting_status, "first_seen_at": at, "last_seen_at": at,
            "final_snapshot_at": at if voting_status == "closed" else None,
        })]
        for i, o in enumerate(options):
            out.append(("poll_snapshots", {
                "platform": PLATFORM, "poll_id": poll_id, "captured_at": at,
                "position": _int(o.get("position"), 32) or i + 1, "label": _s(o.get("label")),
                "votes": _int(o.get("votes")), "voting_status": voting_status,
                "page_id": page_id,
            }))
        return out

    for p in inc_polls:
        if valid(p, "includes.polls"):
            guarded("poll", p, lambda p=p: poll_rows(p))

    for idx, e in enumerate(_as_list(body.get("errors"))):
        if not isinstance(e, dict):
            e = {"detail": _s(e)}
        rows.add("api_errors", {
            "page_id": page_id, "idx": idx, "source": "x", "fetched_at": at,
            "title": _s(e.get("title")), "detail": _s(e.get("detail") or e.get("message")),
            "type": _s(e.get("type")), "resource_type": _s(e.get("resource_type")),
            "resource_id": _s(e.get("resource_id")), "parameter": _s(e.get("parameter")),
            "value": _s(e.get("value")), "section": _s(e.get("section")),
        })
        if e.get("resource_type") == "tweet" and _ids(e.get("resource_id")):
            state = TWEET_ERROR_STATUS.get(_s(e.get("title")))
            if state:
                rows.post_status.append((PLATFORM, _s(e["resource_id"]), state, at))
    return rows

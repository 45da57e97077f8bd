"""What the X collectors request: handles, timelines, replies, poll refreshes, deletion checks.

Incremental scopes (a timeline, a conversation) keep a cursor ``{"newest_id", "gap"}``:
``newest_id`` is the newest post id below which everything is stored; ``gap`` is an unfinished
pagination ``{"since_id", "until_id", "newest_id", "read"}`` that the next request (or the next
run, after a stop) continues with ``until_id``, so a stopped run never leaves a hole. Every page
carries the cursor it justifies and the loader commits both together.
"""

from __future__ import annotations

from typing import Callable, Iterable

from ...errors import RunStopped, SourceError
from .client import Fetcher

TWEET_FIELDS = ["attachments", "author_id", "conversation_id", "created_at", "edit_controls",
                "edit_history_tweet_ids", "entities", "in_reply_to_user_id", "lang",
                "possibly_sensitive", "public_metrics", "referenced_tweets", "reply_settings",
                "withheld"]
EXPANSIONS = ["author_id", "attachments.poll_ids", "referenced_tweets.id",
              "referenced_tweets.id.author_id", "in_reply_to_user_id", "edit_history_tweet_ids"]
POLL_FIELDS = ["duration_minutes", "end_datetime", "id", "options", "voting_status"]
USER_FIELDS = ["created_at", "description", "name", "protected", "public_metrics", "username",
               "verified"]
FULL = {"tweet_fields": TWEET_FIELDS, "expansions": EXPANSIONS, "poll_fields": POLL_FIELDS,
        "user_fields": USER_FIELDS}
LOOKUP_BATCH = 100


def chunks(items: list, size: int = LOOKUP_BATCH) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def resolve_handles(fetcher: Fetcher, handles: list[str], known: dict[str, str]) -> dict[str, str]:
    """Map handles to account ids, asking the API (users/by, 100 a request) only for unknown ones."""
    out = {h: known[h.lower()] for h in handles if h.lower() in known}
    missing = [h for h in handles if h.lower() not in known]
    for batch in chunks(missing):
        page = fetcher.get(purpose="users", endpoint="GET /2/users/by",
                           call=fetcher.client.get_users,
                           params={"usernames": batch, "user_fields": USER_FIELDS})
        by_name = {u["username"].lower(): str(u["id"]) for u in page.data
                   if isinstance(u, dict) and u.get("username") and u.get("id")}
        for h in batch:
            if h.lower() in by_name:
                out[h] = by_name[h.lower()]
    return out


def _ids(body: dict) -> list[int]:
    data = body.get("data") or []
    if not isinstance(data, list):
        data = [data]
    return [int(t["id"]) for t in data if isinstance(t, dict) and str(t.get("id", "")).isdigit()]


def _id(value) -> str | None:
    return str(value) if value is not None and str(value).isdigit() else None


def _bounds(body: dict) -> tuple[str | None, str | None, int]:
    meta = body.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    ids = _ids(body)
    newest = _id(meta.get("newest_id")) or (str(max(ids)) if ids else None)
    oldest = _id(meta.get("oldest_id")) or (str(min(ids)) if ids else None)
    return newest, oldest, len(ids)


def _next_token(body: dict) -> str | None:
    meta = body.get("meta")
    token = meta.get("next_token") if isinstance(meta, dict) else None
    return token if isinstance(token, str) and token else None


def collect_incremental(fetcher: Fetcher, *, purpose: str, endpoint: str, call: Callable,
                        params: dict, scope: str, cursor: dict | None, backfill_max: int,
                        page_size: int) -> dict:
    """Read everything newer than the cursor (finishing any gap first); return the new cursor.

    Only a missing ``next_token`` ends a pagination: the search endpoints answer some pages
    with no results and a token to the rest. The repeated-token and until_id guards and the
    request budget bound the loop.
    """
    cur = {"newest_id": None, "gap": None, **(cursor or {})}
    seen_tokens: set[str] = set()

    def fill_gap(cur: dict, token: str | None) -> dict:
        while cur.get("gap"):
            if token is not None:
                if token in seen_tokens:
                    raise SourceError(f"{endpoint} ({scope}): the API repeated pagination token "
                                      f"{token!r}; stopped a pagination loop (cursor kept)")
                seen_tokens.add(token)
            gap = cur["gap"]
            p = {**params, "max_results": page_size}
            if gap.get("since_id"):
                p["since_id"] = gap["since_id"]
            if token:
                p["pagination_token"] = token
            elif gap.get("until_id"):
                p["until_id"] = gap["until_id"]

            def after(body: dict, cur=cur, gap=gap) -> dict:
                newest, oldest, n = _bounds(body)
                read = gap.get("read", 0) + n
                top = gap.get("newest_id") or newest
                limit = gap.get("since_id") is None and read >= backfill_max
                if not _next_token(body) or limit:
                    return {"newest_id": top or cur.get("newest_id"), "gap": None}
                return {"newest_id": cur.get("newest_id"),
                        "gap": {**gap, "until_id": oldest or gap.get("until_id"),
                                "newest_id": top, "read": read}}

            page = fetcher.get(purpose=purpose, endpoint=endpoint, call=call, params=p,
                               scope=scope, cursor_fn=after)
            new = after(page.body)
            if (new.get("gap") and cur["gap"].get("until_id") and new["gap"].get("until_id")
                    and int(new["gap"]["until_id"]) >= int(cur["gap"]["until_id"])
                    and not token):
                raise SourceError(f"{endpoint} ({scope}): until_id did not move back "
                                  f"({new['gap']['until_id']}); stopped a pagination loop")
            cur = new
            token = _next_token(page.body)
        return cur

    if cur.get("gap"):
        cur = fill_gap(cur, None)

    p = {**params, "max_results": page_size}
    if cur.get("newest_id"):
        p["since_id"] = cur["newest_id"]

    def first(body: dict, cur=cur) -> dict:
        newest, oldest, n = _bounds(body)
        nxt = _next_token(body)
        if not n and not nxt:
            return dict(cur)
        limit = cur.get("newest_id") is None and n >= backfill_max
        if nxt and not limit:
            return {"newest_id": cur.get("newest_id"),
                    "gap": {"since_id": cur.get("newest_id"), "until_id": oldest,
                            "newest_id": newest, "read": n}}
        return {"newest_id": newest or cur.get("newest_id"), "gap": None}

    if cur.get("newest_id") is None and backfill_max <= 0:
        return cur
    page = fetcher.get(purpose=purpose, endpoint=endpoint, call=call, params=p, scope=scope,
                       cursor_fn=first)
    cur = first(page.body)
    if cur.get("gap"):
        cur = fill_gap(cur, _next_token(page.body))
    return cur


def collect_timeline(fetcher: Fetcher, account_id: str, cursor: dict | None, *,
                     backfill_max: int, page_size: int) -> dict:
    """A tracked account's posts, replies, quotes and reposts since the cursor."""
    return collect_incremental(
        fetcher, purpose="timeline", endpoint="GET /2/users/:id/tweets",
        call=fetcher.client.get_users_tweets, params={"id": account_id, **FULL},
        scope=f"timeline:{account_id}", cursor=cursor, backfill_max=backfill_max,
        page_size=page_size)


def collect_conversation(fetcher: Fetcher, conversation_id: str, cursor: dict | None, *,
                         backfill_max: int, page_size: int) -> dict:
    """Replies in one conversation via recent search ``conversation_id:<id>``."""
    return collect_incremental(
        fetcher, purpose="replies", endpoint="GET /2/tweets/search/recent",
        call=fetcher.client.search_recent_tweets,
        params={"query": f"conversation_id:{conversation_id}", **FULL},
        scope=f"replies:{conversation_id}", cursor=cursor, backfill_max=backfill_max,
        page_size=max(10, page_size))


# A deletion check does not expand polls: only poll refreshes (and first sightings) snapshot
# them, so a closed poll is never read again.
NO_POLLS = {**FULL, "expansions": [e for e in EXPANSIONS if e != "attachments.poll_ids"]}


def lookup_posts(fetcher: Fetcher, post_ids: list[str], *, purpose: str) -> int:
    """Look posts up by id, 100 a request (poll refresh or deletion check). Returns requests.

    A batch the API answers oddly fails alone; the others are still looked up."""
    n = 0
    failed: list[str] = []
    fields = FULL if purpose == "poll_refresh" else NO_POLLS
    for batch in chunks(list(dict.fromkeys(post_ids))):   # in the plan's order, once each
        try:
            fetcher.get(purpose=purpose, endpoint="GET /2/tweets",
                        call=fetcher.client.get_tweets, params={"ids": batch, **fields})
        except RunStopped:
            raise
        except SourceError as exc:
            failed.append(f"ids {batch[0]}…: {exc}")
        n += 1
    if failed:
        raise SourceError(f"{len(failed)} lookup batches failed (the rest was read): "
                          + "; ".join(failed))
    return n

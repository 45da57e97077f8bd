"""What the X collectors request: handles, timelines, replies, poll refreshes, deletion checks.

Incremental scopes (a timeline, a conversation) keep a cursor ``{"newest_id", "gap"}``:
``newest_id`` is the newest post id below which everything is stored; ``gap`` is an unfinished
pagination ``{"since_id", "until_id", "newest_id", "read"}`` that the next request (or the next
run, after a stop) continues with ``until_id``, so a stopped run never leaves a hole. Every page
carries the cursor it justifies and the loader commits both together.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable

from tracker.core.errors import RunStopped, SourceError
from tracker.core.timeutil import parse_iso, snowflake_at
from tracker.sources.x.client import Fetcher

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
                        page_size: int,
                        fan_out: Callable[[dict, dict, str], dict[str, dict]] | None = None,
                        on_page: Callable[[dict], None] | None = None,
                        margin: timedelta | None = None,
                        token_param: str = "pagination_token") -> dict:
    """Read everything newer than the cursor (finishing any gap first); return the new cursor.

    Only a missing ``next_token`` ends a pagination: the search endpoints answer some pages
    with no results and a token to the rest. The repeated-token and until_id guards and the
    request budget bound the loop. ``fan_out(cursor, body, seen_at)`` turns the cursor of a
    page that covers several scopes (a batched search) into one cursor per scope, which the
    page carries instead; ``on_page(body)`` sees every page read.

    ``margin``: a finished pagination covers everything posted up to its first page's time
    (the earlier of our clock and the server's Date) less the margin, so the cursor moves to
    at least that moment's id even when nothing new was posted. Cursors of a quiet and a busy
    scope then stay alike, and a batched search for both re-reads nothing.
    """
    cur = {"newest_id": None, "gap": None, **(cursor or {})}
    seen_tokens: set[str] = set()
    started: dict[str, str] = {}        # "at": when this call's own pagination began

    def done(newest: str | None) -> dict:
        if margin is not None and started.get("at"):
            floor = str(snowflake_at(parse_iso(started["at"]) - margin))
            newest = max(filter(None, (_id(newest), floor)), key=int)
        return {"newest_id": newest, "gap": None}

    def get(p: dict, judge: Callable[[dict], dict], opens: bool = False):
        def note(at: str) -> None:
            if opens and at:
                started.setdefault("at", at)

        if fan_out is None:
            def one(body: dict, at: str) -> dict:
                note(at)
                return judge(body)
            page = fetcher.get(purpose=purpose, endpoint=endpoint, call=call, params=p,
                               scope=scope, cursor_fn=one)
        else:
            def many(body: dict, at: str) -> dict[str, dict]:
                note(at)
                return fan_out(judge(body), body, at)
            page = fetcher.get(purpose=purpose, endpoint=endpoint, call=call, params=p,
                               scope=scope, cursors_fn=many)
        if on_page is not None:
            on_page(page.body)
        return page

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
                p[token_param] = token       # search calls it next_token
            elif gap.get("until_id"):
                p["until_id"] = gap["until_id"]

            def after(body: dict, cur=cur, gap=gap) -> dict:
                newest, oldest, n = _bounds(body)
                read = gap.get("read", 0) + n
                top = gap.get("newest_id") or newest
                limit = gap.get("since_id") is None and read >= backfill_max
                if not _next_token(body) or limit:
                    return done(top or cur.get("newest_id"))
                return {"newest_id": cur.get("newest_id"),
                        "gap": {**gap, "until_id": oldest or gap.get("until_id"),
                                "newest_id": top, "read": read}}

            page = get(p, after)
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
        cur = fill_gap(cur, None)      # a pagination a stopped run left: no time of its own

    p = {**params, "max_results": page_size}
    if cur.get("newest_id"):
        p["since_id"] = cur["newest_id"]

    def first(body: dict, cur=cur) -> dict:
        newest, oldest, n = _bounds(body)
        nxt = _next_token(body)
        if not n and not nxt:
            return done(cur.get("newest_id"))
        limit = cur.get("newest_id") is None and n >= backfill_max
        if nxt and not limit:
            return {"newest_id": cur.get("newest_id"),
                    "gap": {"since_id": cur.get("newest_id"), "until_id": oldest,
                            "newest_id": newest, "read": n}}
        return done(newest or cur.get("newest_id"))

    if cur.get("newest_id") is None and backfill_max <= 0:
        return cur
    page = get(p, first, opens=True)
    cur = first(page.body)
    if cur.get("gap"):
        cur = fill_gap(cur, _next_token(page.body))
    return cur


def collect_timeline(fetcher: Fetcher, account_id: str, cursor: dict | None, *,
                     backfill_max: int, page_size: int,
                     margin: timedelta | None = None) -> dict:
    """A tracked account's posts, replies, quotes and reposts since the cursor."""
    return collect_incremental(
        fetcher, purpose="timeline", endpoint="GET /2/users/:id/tweets",
        call=fetcher.client.get_users_tweets, params={"id": account_id, **FULL},
        scope=f"timeline:{account_id}", cursor=cursor, backfill_max=backfill_max,
        page_size=page_size, margin=margin)


# What a conversation search asks for: no referenced posts (the conversation's root and the
# parents are stored already, or come in the same results; the rest are looked up by id, once),
# so a page never brings back a post the database holds.
REPLY_EXPANSIONS = [e for e in EXPANSIONS
                    if e not in ("referenced_tweets.id", "referenced_tweets.id.author_id")]
REPLY_FIELDS = {**FULL, "expansions": REPLY_EXPANSIONS}
SEARCH_WINDOW = timedelta(days=7)       # what recent search reaches back
SEPARATOR = " OR "
REPLIES_ONLY = "is:reply"


@dataclass
class Member:
    """One scope of a batched search: a conversation or an account."""

    scope: str                      # "replies:<conversation id>" or "timeline:<account id>"
    term: str                       # "conversation_id:<id>" or "from:<id>"
    key: str                        # what results match on: conversation id or author id
    cursor: dict | None
    floor: str | None = None        # everything at or below this id is not wanted
    done: dict = field(default_factory=dict)   # set on the cursor when a search completes
    last: str | None = None         # the newest post of this scope already stored

    @property
    def newest(self) -> str | None:
        mine = _id((self.cursor or {}).get("newest_id"))
        return max(filter(None, (mine, self.floor)), key=int, default=None)


def pack_alike(members: list[Member], max_chars: int) -> list[list[Member]]:
    """Members in batches that fit max_chars and re-read nothing, the first member's batch
    first.

    A batch searches after its members' oldest cursor S; a member whose stored posts reach
    past S would get them again (billed again). So a batch only holds members whose newest
    stored post is at or before S (each member's [newest stored, cursor] interval contains S):
    the fewest such batches come from taking, again and again, the lowest remaining cursor as
    S and every member it fits (interval stabbing). Members in an unfinished pagination only
    batch with members in exactly the same one, so that it resumes where it stopped.
    """
    order = {id(m): i for i, m in enumerate(members)}
    groups: dict[str, list[Member]] = defaultdict(list)
    for m in members:
        c = m.cursor or {}
        key = json.dumps([c.get("newest_id"), c.get("gap")], sort_keys=True) \
            if c.get("gap") else ""
        groups[key].append(m)
    batches: list[list[Member]] = []
    for key, group in groups.items():
        if key:
            batches += pack(group, max_chars)
            continue
        left = sorted(group, key=lambda m: (int(m.newest or 0), order[id(m)]))
        while left:
            since = int(left[0].newest or 0)
            fits = [m for m in left if int(m.last or 0) <= since]
            chosen = pack(fits or left[:1], max_chars)[0]
            batches.append(chosen)
            taken = {id(m) for m in chosen}
            left = [m for m in left if id(m) not in taken]
    batches.sort(key=lambda b: min(order[id(m)] for m in b))
    return batches


def pack(members: list[Member], max_chars: int) -> list[list[Member]]:
    """Members in batches whose ``term OR term …`` query fits in max_chars, in order (with
    room for the parentheses and ``is:reply`` around conversations)."""
    if members and members[0].term.startswith("conversation_id:"):
        max_chars -= len(f"() {REPLIES_ONLY}")
    batches: list[list[Member]] = []
    length = 0
    for m in members:
        extra = len(m.term) + (len(SEPARATOR) if batches and batches[-1] else 0)
        if not batches or length + extra > max_chars:
            batches.append([m])
            length = len(m.term)
        else:
            batches[-1].append(m)
            length += extra
    return batches


def search_floor(now: datetime) -> str:
    """The oldest since_id recent search accepts (a little inside its 7-day window)."""
    return str(snowflake_at(now - SEARCH_WINDOW + timedelta(minutes=10)))


def collect_batch(fetcher: Fetcher, members: list[Member], *, purpose: str, now: datetime,
                  page_size: int, fields: dict, margin: timedelta | None = None,
                  on_page: Callable[[dict], None] | None = None) -> dict[str, dict]:
    """One recent search for several scopes (``term OR term …``); returns each scope's cursor.

    The search starts after the oldest member's cursor (never skipping a reply or post of any
    member); members whose state is exactly alike resume a stopped pagination where it
    stopped. Every page carries every member's cursor: while a pagination is unfinished the
    shared gap, once finished the batch's newest id (what the search covered for all of them)
    and the member's ``done`` fields, with ``quiet`` counting searches that found nothing.
    """
    floor = search_floor(now)
    states = {json.dumps({"n": (m.cursor or {}).get("newest_id"), "g": (m.cursor or {}).get(
        "gap")}, sort_keys=True) for m in members}
    first = members[0].cursor or {}
    if len(states) == 1 and first.get("gap") and _id(first.get("newest_id")):
        start = {"newest_id": first["newest_id"], "gap": first["gap"]}
    else:
        since = min((m.newest for m in members if m.newest), key=int, default=None)
        start = {"newest_id": max(filter(None, (since, floor)), key=int), "gap": None}
    found: dict[str, int] = {m.key: 0 for m in members}
    match = "conversation_id" if members[0].term.startswith("conversation_id:") else "author_id"
    last: dict[str, dict] = {}

    def fan(batch: dict, body: dict, fetched_at: str) -> dict[str, dict]:
        data = body.get("data")
        for t in data if isinstance(data, list) else []:
            if isinstance(t, dict) and str(t.get(match)) in found \
                    and str(t.get("id")) != str(t.get(match)):
                found[str(t.get(match))] += 1
        out = {}
        for m in members:
            old = m.cursor or {}
            if batch.get("gap"):
                out[m.scope] = {**old, "newest_id": old.get("newest_id"), "gap": batch["gap"]}
            else:
                top = max(filter(None, (m.newest, _id(batch.get("newest_id")))), key=int,
                          default=None)
                quiet = 0 if found[m.key] else int(old.get("quiet") or 0) + 1
                out[m.scope] = {**old, **m.done, "newest_id": top, "gap": None,
                                "quiet": quiet, "searched_at": fetched_at}
        last.clear()
        last.update(out)
        return out

    query = SEPARATOR.join(m.term for m in members)
    if match == "conversation_id":
        # a conversation's root is no reply: `is:reply` keeps the stored roots out
        query = f"({query}) {REPLIES_ONLY}"
    label = members[0].scope + (f" +{len(members) - 1}" if len(members) > 1 else "")
    collect_incremental(
        fetcher, purpose=purpose, endpoint="GET /2/tweets/search/recent",
        call=fetcher.client.search_recent_tweets, params={"query": query, **fields},
        scope=label, cursor=start, backfill_max=0, page_size=max(10, page_size),
        fan_out=fan, on_page=on_page, margin=margin, token_param="next_token")
    return dict(last)


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

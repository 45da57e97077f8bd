"""Pure normalization of one archived Mastodon API answer into table rows. No I/O, no clock.

The page's ``params`` carry the instance that answered and the call's arguments (the status
id of a lookup, a context or a history), so every status and poll id is qualified here
(ids.py): ``<instance>:<local id>``; an account's id is its full handle (``account_id``).
What each endpoint gives:

- account lookup → accounts, account_handles (handles are ``user@instance``);
- account statuses, status lookup → posts (boosts with ``reposted_post_id``, the original and a
  quoted status as referenced posts), their authors, the current text version, polls and a
  poll snapshot per read;
- context → the ancestors and replies (``conversation_id`` is the thread's first post);
- history → one post_versions row per version (``version_index`` in edit order);
- poll → polls and a snapshot (``votes`` NULL where the server hides counts, never 0);
- a 404/410 with Mastodon's ``{"error": …}`` for a status lookup, context or history → the
  status was not found: a sighting (``post_status`` 'not_found') that a later run's lookup
  confirms, as for every platform; and an api_errors row.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from tracker.core.errors import MalformedPage
from tracker.core.jsonload import loads
from tracker.core.timeutil import iso, parse_iso
from tracker.sources.mastodon.ids import qualify
from tracker.sources.mastodon.text import html_text
from tracker.store.rows import Rows

PLATFORM = "mastodon"

LOOKUP = "GET /api/v1/accounts/lookup"
STATUSES = "GET /api/v1/accounts/:id/statuses"
STATUS = "GET /api/v1/statuses/:id"
CONTEXT = "GET /api/v1/statuses/:id/context"
HISTORY = "GET /api/v1/statuses/:id/history"
POLL = "GET /api/v1/polls/:id"
GONE = (404, 410)


def _utf8(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def _s(value: Any) -> str | None:
    return None if value is None else _utf8(str(value))


def _j(value: Any) -> str | None:
    if value is None:
        return None
    return _utf8(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def _d(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _b(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _int(value: Any, bits: int = 64) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return n if -2 ** (bits - 1) <= n < 2 ** (bits - 1) else None


def _ts(value: Any) -> str | None:
    """An API time as the tracker's ISO form, or None (a value no parser accepts)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = parse_iso(value)
    except (ValueError, OverflowError):
        return None
    return iso(dt) if dt is not None else None


def _is_status(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("id") not in (None, "") \
        and isinstance(obj.get("account"), dict)


def parse_body(record: dict) -> Any:
    body = record.get("body")
    if not isinstance(body, str):
        raise MalformedPage("page has no body")
    try:
        return loads(body)
    except ValueError as exc:
        raise MalformedPage(f"invalid JSON body ({len(body)} bytes): {exc}") from None


def account_id(handle: str) -> str:
    """An account's id: its full handle ``user@domain`` lower-cased. Unlike its local id, it
    is the same whichever instance answered, and Mastodon never renames an account (a move
    makes a new one), so one person is one account across instances."""
    return handle.lower()


def version_id(post_id: str, at: str) -> str:
    """A text version's id: its status's id and when the version was written."""
    return f"{post_id}@{at}"


class _Page:
    """One page's rows under construction."""

    def __init__(self, record: dict, instance: str, at: str):
        self.rows = Rows()
        self.instance = instance
        self.at = at
        self.page_id = record.get("page_id") or f"{record.get('run_id')}:{record.get('seq')}"

    def q(self, local) -> str | None:
        return qualify(self.instance, local)

    def guarded(self, what: str, item: Any, make: Callable[[], None]) -> None:
        """One odd item never costs the page: it is skipped, saying why."""
        try:
            make()
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
            ident = item.get("id") if isinstance(item, dict) else None
            self.rows.skipped.append(f"{what} {ident}: {type(exc).__name__}: {exc}"[:300])

    # ---- accounts ----------------------------------------------------------------------
    def handle(self, acct: Any) -> str | None:
        if not isinstance(acct, str) or not acct:
            return None
        user, _, domain = acct.partition("@")
        return f"{user}@{(domain or self.instance).lower()}"

    def account(self, a: dict) -> str:
        """An account's rows; its id is its full handle, lower-cased (see account_id)."""
        handle = self.handle(a.get("acct") or a.get("username"))
        if handle is None:
            raise ValueError("account without acct or username")
        aid = account_id(handle)
        self.rows.add("accounts", {
            "platform": PLATFORM, "account_id": aid, "handle": handle,
            "name": _s(a.get("display_name")), "description": html_text(_s(a.get("note"))),
            "created_at": _ts(a.get("created_at")), "protected": _b(a.get("locked")),
            "verified": None, "followers_count": _int(a.get("followers_count")),
            "following_count": _int(a.get("following_count")),
            "post_count": _int(a.get("statuses_count")),
            "first_seen_at": self.at, "last_seen_at": self.at})
        self.rows.add("account_handles", {
            "platform": PLATFORM, "account_id": aid, "handle": handle,
            "first_seen_at": self.at, "last_seen_at": self.at})
        return aid

    def replied_to(self, s: dict) -> str | None:
        """The account a reply answers: its local id is the answering instance's, so it is
        named through the status's author or mentions (None when neither holds it)."""
        local = s.get("in_reply_to_account_id")
        if local is None:
            return None
        for a in [s.get("account"), *_list(s.get("mentions"))]:
            if isinstance(a, dict) and str(a.get("id")) == str(local):
                handle = self.handle(a.get("acct") or a.get("username"))
                return account_id(handle) if handle else None
        return None

    # ---- statuses ----------------------------------------------------------------------
    def status(self, s: dict, seen_in: str, conversation: str | None = None) -> str:
        """A status's rows (and those of what it carries: its author, a boosted or quoted
        status, a poll); returns its id."""
        post_id = self.q(s["id"])
        if post_id is None:
            raise ValueError("status without an id")
        author = self.account(s["account"])
        reblog = s.get("reblog") if _is_status(s.get("reblog")) else None
        reposted = self.status(reblog, "includes") if reblog is not None else None
        quoted = self.quote(s.get("quote"))
        reply_to = self.q(s.get("in_reply_to_id"))
        if conversation is None and reply_to is None and reposted is None:
            conversation = post_id           # a thread's first post is its conversation
        media = [{"type": _s(m.get("type")), "url": _s(m.get("url") or m.get("remote_url")),
                  "description": _s(m.get("description"))}
                 for m in _list(s.get("media_attachments")) if isinstance(m, dict)]
        card = _d(s.get("card"))
        entities = {k: v for k, v in {
            "mentions": [self.handle(m.get("acct")) for m in _list(s.get("mentions"))
                         if isinstance(m, dict)],
            "tags": [_s(t.get("name")) for t in _list(s.get("tags")) if isinstance(t, dict)],
            "media": media,
            "card": {"type": _s(card.get("type")), "url": _s(card.get("url")),
                     "title": _s(card.get("title"))} if card else None,
            "spoiler_text": _s(s.get("spoiler_text")) or None,
            "visibility": _s(s.get("visibility")),
            "edited_at": _ts(s.get("edited_at")),
        }.items() if v}
        poll = _d(s.get("poll"))
        poll_id = self.q(poll.get("id")) if poll else None
        self.rows.add("posts", {
            "platform": PLATFORM, "post_id": post_id, "author_id": author,
            "created_at": _ts(s.get("created_at")), "text": html_text(_s(s.get("content"))),
            "lang": _s(s.get("language")), "conversation_id": conversation,
            "reply_to_post_id": reply_to,
            "reply_to_user_id": self.replied_to(s),
            "quoted_post_id": quoted, "reposted_post_id": reposted, "poll_id": poll_id,
            "url": _s(s.get("url") or s.get("uri")),
            "like_count": _int(s.get("favourites_count")),
            "repost_count": _int(s.get("reblogs_count")),
            "reply_count": _int(s.get("replies_count")),
            "quote_count": _int(s.get("quotes_count")), "impression_count": None,
            "edit_chain_id": post_id, "edit_history": None, "entities": _j(entities or None),
            "withheld": None, "possibly_sensitive": _b(s.get("sensitive")),
            "seen_in": seen_in, "first_seen_at": self.at, "last_seen_at": self.at,
            "deleted_at": None, "unavailable_reason": None, "unavailable_at": None})
        if reposted is None:
            version_at = _ts(s.get("edited_at")) or _ts(s.get("created_at"))
            if version_at:
                self.rows.add("post_versions", {
                    "platform": PLATFORM, "edit_chain_id": post_id,
                    "version_post_id": version_id(post_id, version_at),
                    # an edited status's place among its versions is known from its history
                    "version_index": 0 if s.get("edited_at") is None else None,
                    "text": html_text(_s(s.get("content"))), "created_at": version_at,
                    "first_seen_at": self.at})
        if poll_id is not None:
            self.poll(poll, post_id)
        elif poll:
            # the post is kept; a poll that cannot be named cannot be stored, and says so
            self.rows.skipped.append(f"poll of status {post_id}: no id")
        return post_id

    def quote(self, quote: Any) -> str | None:
        """The quoted status's id (a Quote with its status, a ShallowQuote with its id, or a
        fork's plain status), its rows when it came whole."""
        if not isinstance(quote, dict):
            return None
        if _is_status(quote):
            return self.status(quote, "includes")
        inner = quote.get("quoted_status")
        if _is_status(inner):
            return self.status(inner, "includes")
        return self.q(quote.get("quoted_status_id"))

    # ---- polls -------------------------------------------------------------------------
    def poll(self, p: dict, post_id: str | None) -> None:
        poll_id = self.q(p["id"])
        if poll_id is None:
            raise ValueError("poll without an id")
        options = [o for o in _list(p.get("options")) if isinstance(o, dict)]
        expired = _b(p.get("expired"))
        status = None if expired is None else ("closed" if expired else "open")
        self.rows.add("polls", {
            "platform": PLATFORM, "poll_id": poll_id, "post_id": post_id,
            "options": _j([_s(o.get("title")) for o in options]), "duration_minutes": None,
            "end_at": _ts(p.get("expires_at")), "voting_status": status,
            "first_seen_at": self.at, "last_seen_at": self.at,
            "final_snapshot_at": self.at if expired else None})
        for i, o in enumerate(options):
            self.rows.add("poll_snapshots", {
                "platform": PLATFORM, "poll_id": poll_id, "captured_at": self.at,
                "position": i + 1, "label": _s(o.get("title")),
                # hidden until the end on some polls: null is unknown, never 0
                "votes": _int(o.get("votes_count")), "voting_status": status,
                "page_id": self.page_id, "voters_count": _int(p.get("voters_count"))})

    # ---- answers that say a thing is gone ----------------------------------------------
    def gone(self, body: Any, status: int, kind: str, resource: str | None) -> None:
        """A 404/410 from the API itself (``{"error": …}``, not a proxy's HTML page)."""
        if not (isinstance(body, dict) and isinstance(body.get("error"), str)):
            return
        self.rows.add("api_errors", {
            "page_id": self.page_id, "idx": 0, "source": PLATFORM, "fetched_at": self.at,
            "title": _s(body["error"]), "detail": _s(body.get("error_description")),
            "type": f"HTTP {status}", "resource_type": kind, "resource_id": resource,
            "parameter": None, "value": None, "section": None})
        if kind == "status" and resource:
            self.rows.post_status.append((PLATFORM, resource, "not_found", self.at))


def normalize(record: dict) -> Rows:
    """Turn one raw page record into rows. Raises MalformedPage for an unreadable page.

    Answers other than 200 (and a status's 404/410) yield no rows: they stay in raw and in
    raw_pages. Items that are not what the endpoint promises are skipped and listed in
    ``Rows.skipped``; the rest of the page is kept.
    """
    status = record.get("status")
    if status is None or (status != 200 and status not in GONE):
        return Rows()
    at = _ts(record.get("fetched_at"))
    if not at:
        raise MalformedPage("page has no fetched_at")
    params = _d(record.get("params"))
    instance = params.get("instance")
    if not isinstance(instance, str) or not instance:
        raise MalformedPage("page has no params.instance (which server answered)")
    endpoint = record.get("endpoint")
    page = _Page(record, instance, at)
    body = parse_body(record) if status == 200 else _gone_body(record)
    subject = page.q(params.get("id")) if params.get("id") is not None else None

    if status in GONE:
        kind = {STATUS: "status", CONTEXT: "status", HISTORY: "status", POLL: "poll",
                LOOKUP: "account", STATUSES: "account"}.get(endpoint)
        resource = _s(params.get("acct")) if endpoint == LOOKUP else subject
        if kind:
            page.gone(body, status, kind, resource)
        return page.rows

    rows = page.rows
    if endpoint == LOOKUP:
        if not isinstance(body, dict) or body.get("id") in (None, ""):
            raise MalformedPage("account lookup: not an account")
        page.guarded("account", body, lambda: page.account(body))
    elif endpoint in (STATUSES, STATUS):
        items = body if isinstance(body, list) else [body]
        if endpoint == STATUSES and not isinstance(body, list):
            raise MalformedPage("account statuses: not a list")
        for s in items:
            if not _is_status(s):
                rows.skipped.append("status without an id or account")
                continue
            rows.items += 1
            page.guarded("status", s, lambda s=s: page.status(s, "data"))
    elif endpoint == CONTEXT:
        if not isinstance(body, dict):
            raise MalformedPage("context: not an object")
        ancestors = [s for s in _list(body.get("ancestors")) if _is_status(s)]
        root = page.q(ancestors[0]["id"]) if ancestors else subject
        for key in ("ancestors", "descendants"):
            for s in _list(body.get(key)):
                if not _is_status(s):
                    rows.skipped.append(f"{key}: status without an id or account")
                    continue
                rows.items += 1
                page.guarded("status", s, lambda s=s: page.status(s, "data", root))
    elif endpoint == HISTORY:
        if not isinstance(body, list) or subject is None:
            raise MalformedPage("history: not a list of versions of a status")
        for i, v in enumerate(body):
            when = _ts(v.get("created_at")) if isinstance(v, dict) else None
            if not when:
                rows.skipped.append(f"version {i}: no created_at")
                continue
            rows.items += 1
            rows.add("post_versions", {
                "platform": PLATFORM, "edit_chain_id": subject,
                "version_post_id": version_id(subject, when), "version_index": i,
                "text": html_text(_s(v.get("content"))), "created_at": when,
                "first_seen_at": at})
    elif endpoint == POLL:
        if not isinstance(body, dict) or body.get("id") in (None, ""):
            raise MalformedPage("poll: not a poll")
        rows.items = 1
        page.guarded("poll", body, lambda: page.poll(body, None))
    else:
        raise MalformedPage(f"no Mastodon normalizer for endpoint {endpoint!r}")
    return rows


def _gone_body(record: dict) -> Any:
    try:
        return loads(record.get("body") or "")
    except ValueError:
        return None


_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def local_id_ok(value: Any) -> bool:
    """Whether a value looks like a local id (what a request may be sent with)."""
    return isinstance(value, str) and bool(_ID.match(value))

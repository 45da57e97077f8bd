"""Pure normalization of one archived Bluesky AppView page into table rows. No I/O, no clock.

Ids: an account is its DID (handles change; every handle seen goes to ``account_handles``); a
post is its ``at://`` URI and ``url`` its bsky.app page; a repost is the repost record's URI
(``reason.uri``; answers from before 2024 lack it, and then the id is
``repost:<reposter DID>:<post URI>``). A reply's ``conversation_id`` is its thread root's URI, a
post's own URI otherwise. Bluesky has no polls and no edits: no ``polls`` and no
``post_versions`` rows are made.

Deletions: a ``notFoundPost`` (a thread's or a feed item's parent or root), a quote whose view
is ``viewNotFound``, a thread root the AppView answers ``NotFound`` for, and a URI that
``getPosts`` leaves out are sightings (``Rows.post_status`` 'not_found'); the loader sets
``deleted_at`` once a later run sees the same. A ``blockedPost`` says only that two authors
block each other, nothing about the post: it is not recorded.

The helpers that say what a feed item is (its key, its place in the feed's order) are shared
with the collector, so the feed's cursor and the rows agree.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from tracker.core.errors import MalformedPage
from tracker.core.jsonload import loads
from tracker.core.timeutil import parse_iso
from tracker.store.rows import Rows

PLATFORM = "bluesky"
SOURCE = "bluesky"
POST_TYPE = "app.bsky.feed.post"
NOT_FOUND = "app.bsky.feed.defs#notFoundPost"
BLOCKED = "app.bsky.feed.defs#blockedPost"
REPOST = "app.bsky.feed.defs#reasonRepost"
PIN = "app.bsky.feed.defs#reasonPin"
VIEW_RECORD = "app.bsky.embed.record#viewRecord"
VIEW_NOT_FOUND = "app.bsky.embed.record#viewNotFound"
# the queries the collector sends (raw pages carry them as their endpoint)
FEED = "app.bsky.feed.getAuthorFeed"
THREAD = "app.bsky.feed.getPostThread"
POSTS = "app.bsky.feed.getPosts"
PROFILE = "app.bsky.actor.getProfile"
RESOLVE = "com.atproto.identity.resolveHandle"
INVALID_HANDLE = "handle.invalid"
# labels that say a post shows adult or graphic content (possibly_sensitive)
SENSITIVE = {"porn", "sexual", "nudity", "graphic-media", "gore"}
MAX_EMBED_DEPTH = 4          # quotes of quotes: the AppView nests two levels

_API_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})\Z")
_URI = re.compile(r"at://([^/\s]+)(?:/([^/\s]+)(?:/([^/\s?#]+))?)?\Z")


# ---- small, total conversions -------------------------------------------------------------

def _utf8(text: str) -> str:
    """Text the database can store: a lone surrogate (invalid UTF-8) becomes U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def _s(value: Any) -> str | None:
    return _utf8(value) if isinstance(value, str) else None


def _j(value: Any) -> str | None:
    if value is None:
        return None
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        text = json.dumps(value, ensure_ascii=True, sort_keys=True, default=str).replace(
            "NaN", "null").replace("-Infinity", "null").replace("Infinity", "null")
    return _utf8(text)


def _d(value: Any) -> dict:
    """A field that should be an object; anything else counts as absent."""
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if -(2 ** 63) <= value < 2 ** 63 else None


def _ts(value: Any) -> str | None:
    """An ISO timestamp the database can store, or None (what no parser accepts is dropped)."""
    dt = time_of(value)
    if dt is None:
        return None
    return value if _API_TIME.match(value) else dt.isoformat()


def time_of(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_iso(value)
    except (ValueError, OverflowError):
        return None


# ---- ids ----------------------------------------------------------------------------------

def split_uri(uri: Any) -> tuple[str, str | None, str | None] | None:
    """(authority, collection, record key) of an ``at://`` URI, or None."""
    m = _URI.match(uri) if isinstance(uri, str) else None
    return (m.group(1), m.group(2), m.group(3)) if m else None


def did_of(uri: Any) -> str | None:
    """The DID an ``at://did:…/…`` URI names (None for a handle or not a URI)."""
    parts = split_uri(uri)
    return parts[0] if parts and parts[0].startswith("did:") else None


def web_url(uri: Any) -> str | None:
    """A post's page on bsky.app (by DID: it outlives handle changes)."""
    parts = split_uri(uri)
    if not parts or parts[1] != POST_TYPE or not parts[2]:
        return None
    return f"https://bsky.app/profile/{parts[0]}/post/{parts[2]}"


def is_post_uri(uri: Any) -> bool:
    """A post's URI (or a stand-in the AppView's tests put in its place: not another record)."""
    if not isinstance(uri, str) or not uri:
        return False
    parts = split_uri(uri)
    return parts is None or parts[1] == POST_TYPE


def repost_id(reason: dict, subject: str) -> str | None:
    uri = reason.get("uri")
    if isinstance(uri, str) and uri:
        return uri
    by = _s(_d(reason.get("by")).get("did"))
    return f"repost:{by}:{subject}" if by else None


def item_key(item: Any) -> str | None:
    """A feed item's id: its repost's, or its post's."""
    post = _d(_d(item).get("post"))
    uri = post.get("uri") if isinstance(post.get("uri"), str) else None
    reason = _d(_d(item).get("reason"))
    if uri and reason.get("$type") == REPOST:
        return repost_id(reason, uri)
    return uri


def item_time(item: Any) -> datetime | None:
    """Where an item sits in an author feed, newest first: a repost by when it was made, a
    post by the earlier of its creation and indexing (what the AppView sorts by: a post
    dated in the past sorts there)."""
    item = _d(item)
    reason = _d(item.get("reason"))
    if reason.get("$type") == REPOST:
        return time_of(reason.get("indexedAt"))
    post = _d(item.get("post"))
    times = [t for t in (time_of(post.get("indexedAt")),
                         time_of(_d(post.get("record")).get("createdAt"))) if t is not None]
    return min(times) if times else None


def is_pin(item: Any) -> bool:
    """A pinned post shown at the top of a feed, out of its order."""
    return _d(_d(item).get("reason")).get("$type") == PIN


def quoted_uri(embed: Any) -> str | None:
    """The post a record's embed quotes (``embed.record`` or ``recordWithMedia``)."""
    e = _d(embed)
    kind = e.get("$type")
    if kind == "app.bsky.embed.record":
        ref = _d(e.get("record"))
    elif kind == "app.bsky.embed.recordWithMedia":
        ref = _d(_d(e.get("record")).get("record"))
    else:
        return None
    uri = ref.get("uri")
    return _s(uri) if is_post_uri(uri) else None


def _external(embed: Any) -> dict | None:
    e = _d(embed)
    if e.get("$type") == "app.bsky.embed.recordWithMedia":
        e = _d(e.get("media"))
    if e.get("$type") != "app.bsky.embed.external":
        return None
    ext = _d(e.get("external"))
    out = {k: ext.get(k) for k in ("uri", "title", "description") if isinstance(ext.get(k), str)}
    return out or None


def _entities(record: dict) -> str | None:
    out: dict = {}
    if _l(record.get("facets")):
        out["facets"] = record["facets"]
    ext = _external(record.get("embed"))
    if ext:
        out["external"] = ext
    if _l(record.get("tags")):
        out["tags"] = record["tags"]
    return _j(out) if out else None


def _sensitive(labels: Any) -> bool | None:
    if not isinstance(labels, list):
        return None
    return any(isinstance(lb, dict) and lb.get("val") in SENSITIVE for lb in labels)


def _handle(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value == INVALID_HANDLE:
        return None
    return _utf8(value.lower())


def _not_found(node: dict) -> bool:
    return node.get("$type") in (NOT_FOUND, VIEW_NOT_FOUND) or node.get("notFound") is True


def _blocked(node: dict) -> bool:
    return node.get("$type") == BLOCKED or node.get("blocked") is True


# ---- the rows of one page ----------------------------------------------------------------

class _Page:
    """Rows of one page, each post and account once (the page's richest view of it)."""

    def __init__(self, rows: Rows, at: str):
        self.rows, self.at = rows, at
        self.posts: dict[str, dict] = {}
        self.accounts: dict[str, dict] = {}
        self.handles: dict[tuple[str, str], None] = {}
        self.missing: dict[str, None] = {}

    def guarded(self, where: str, fn, *args) -> Any:
        """One odd item never costs the page: it is skipped, saying why."""
        try:
            return fn(*args)
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
            self.rows.skipped.append(f"{where}: {type(exc).__name__}: {exc}"[:300])
            return None

    def account(self, profile: Any) -> None:
        p = _d(profile)
        did = _s(p.get("did"))
        if not did:
            return
        verification = _d(p.get("verification"))
        row = {
            "platform": PLATFORM, "account_id": did, "handle": _handle(p.get("handle")),
            "name": _s(p.get("displayName")), "description": _s(p.get("description")),
            "created_at": _ts(p.get("createdAt")), "protected": None,
            "verified": (verification.get("verifiedStatus") == "valid") if verification
            else None,
            "followers_count": _int(p.get("followersCount")),
            "following_count": _int(p.get("followsCount")),
            "post_count": _int(p.get("postsCount")),
            "first_seen_at": self.at, "last_seen_at": self.at}
        old = self.accounts.get(did)
        if old is None:
            self.accounts[did] = row
        else:
            old.update({k: v for k, v in row.items() if v is not None})
        if row["handle"]:
            self.handles[(did, row["handle"])] = None

    def add_post(self, row: dict) -> None:
        old = self.posts.get(row["post_id"])
        if old is None:
            self.posts[row["post_id"]] = row
            return
        seen_in = min(old["seen_in"], row["seen_in"])
        old.update({k: v for k, v in row.items() if v is not None})
        old["seen_in"] = seen_in

    def status(self, uri: Any) -> None:
        if isinstance(uri, str) and uri:
            self.missing[_utf8(uri)] = None

    def post(self, view: Any, seen_in: str, record_key: str = "record", depth: int = 0
             ) -> str | None:
        """A post view (``postView``, or a quote's ``viewRecord`` whose record is ``value``)."""
        view = _d(view)
        uri = _s(view.get("uri"))
        if not uri:
            self.rows.skipped.append(f"{seen_in} post: without a uri")
            return None
        record = _d(view.get(record_key))
        if record.get("$type") not in (None, POST_TYPE):
            return None                    # a quoted feed, list or starter pack: not a post
        author = _d(view.get("author"))
        self.account(author)
        reply = _d(record.get("reply"))
        parent = _s(_d(reply.get("parent")).get("uri"))
        root = _s(_d(reply.get("root")).get("uri")) or parent
        langs = [x for x in _l(record.get("langs")) if isinstance(x, str)]
        self.add_post({
            "platform": PLATFORM, "post_id": uri,
            "author_id": _s(author.get("did")) or did_of(uri),
            "created_at": _ts(record.get("createdAt")), "text": _s(record.get("text")),
            "lang": _utf8(langs[0]) if langs else None,
            "conversation_id": root or uri, "reply_to_post_id": parent,
            "reply_to_user_id": did_of(parent), "quoted_post_id": quoted_uri(record.get("embed")),
            "reposted_post_id": None, "poll_id": None, "url": web_url(uri),
            "like_count": _int(view.get("likeCount")),
            "repost_count": _int(view.get("repostCount")),
            "reply_count": _int(view.get("replyCount")),
            "quote_count": _int(view.get("quoteCount")), "impression_count": None,
            "edit_chain_id": None, "edit_history": None, "entities": _entities(record),
            "withheld": None, "possibly_sensitive": _sensitive(view.get("labels")),
            "seen_in": seen_in, "first_seen_at": self.at, "last_seen_at": self.at,
            "deleted_at": None, "unavailable_reason": None, "unavailable_at": None})
        if depth < MAX_EMBED_DEPTH:
            embeds = view.get("embeds") if record_key == "value" else [view.get("embed")]
            for e in _l(embeds):
                self.embed(e, depth + 1)
        return uri

    def embed(self, view: Any, depth: int) -> None:
        """A quote's view: the quoted post (``includes``), or its absence (a sighting)."""
        e = _d(view)
        kind = e.get("$type")
        if kind == "app.bsky.embed.recordWithMedia#view":
            e, kind = _d(e.get("record")), "app.bsky.embed.record#view"
        if kind != "app.bsky.embed.record#view":
            return
        rec = _d(e.get("record"))
        if _not_found(rec):
            if is_post_uri(rec.get("uri")):
                self.status(rec.get("uri"))
        elif rec.get("$type") == VIEW_RECORD or ("value" in rec and "author" in rec
                                                 and "$type" not in rec):
            self.post(rec, "includes", "value", depth)

    def reference(self, node: Any) -> None:
        """A feed item's reply root or parent: a post, deleted, or blocked."""
        node = _d(node)
        if not node:
            return
        if _not_found(node):
            self.status(node.get("uri"))
        elif not _blocked(node):
            self.post(node, "includes")

    def feed_item(self, item: Any) -> None:
        item = _d(item)
        post = _d(item.get("post"))
        reason = _d(item.get("reason"))
        if reason.get("$type") == REPOST:
            subject = self.post(post, "includes")
            by = _d(reason.get("by"))
            self.account(by)
            rid = repost_id(reason, subject) if subject else None
            if not rid:
                self.rows.skipped.append("repost: without its post or its reposter")
            else:
                self.add_post({
                    "platform": PLATFORM, "post_id": rid,
                    "author_id": _s(by.get("did")) or did_of(rid),
                    "created_at": _ts(reason.get("indexedAt")), "text": None, "lang": None,
                    "conversation_id": None, "reply_to_post_id": None,
                    "reply_to_user_id": None, "quoted_post_id": None,
                    "reposted_post_id": subject, "poll_id": None, "url": web_url(subject),
                    "seen_in": "data", "first_seen_at": self.at, "last_seen_at": self.at,
                    "deleted_at": None, "unavailable_reason": None, "unavailable_at": None})
        else:
            self.post(post, "data")
        reply = _d(item.get("reply"))
        self.reference(reply.get("root"))
        self.reference(reply.get("parent"))
        self.account(reply.get("grandparentAuthor"))

    def thread(self, node: Any) -> int:
        """Every post of a thread (its parents and its replies); returns how many."""
        n = 0
        stack = [node]
        while stack:
            nd = _d(stack.pop())
            if not nd:
                continue
            if _not_found(nd):
                self.status(nd.get("uri"))
                continue
            if _blocked(nd):
                continue
            if "post" in nd and self.guarded("thread post", self.post, nd["post"], "data"):
                n += 1
            stack.append(nd.get("parent"))
            stack.extend(reversed(_l(nd.get("replies"))))
        return n

    def finish(self) -> None:
        for row in self.accounts.values():
            self.rows.add("accounts", row)
        for did, handle in self.handles:
            self.rows.add("account_handles", {
                "platform": PLATFORM, "account_id": did, "handle": handle,
                "first_seen_at": self.at, "last_seen_at": self.at})
        for row in self.posts.values():
            self.rows.add("posts", row)
        # a post seen in the same page is no sighting of its absence
        for uri in self.missing:
            if uri not in self.posts:
                self.rows.post_status.append((PLATFORM, uri, "not_found", self.at))


def parse_body(record: dict) -> Any:
    body = record.get("body")
    if not isinstance(body, str):
        raise MalformedPage("page has no body")
    try:
        return loads(body)
    except ValueError as exc:
        raise MalformedPage(f"invalid JSON body ({len(body)} bytes): {exc}") from None


def requested_uris(params: Any) -> list[str]:
    uris = _d(params).get("uris")
    if isinstance(uris, str):
        uris = uris.split(",")
    return [u for u in _l(uris) if isinstance(u, str) and u]


def _error_page(record: dict, rows: Rows, at: str, page_id: str) -> None:
    """An XRPC error answer (``{"error", "message"}``): an api_errors row; a thread whose
    root is gone (``NotFound``) is a sighting of that post's deletion."""
    try:
        body = loads(record.get("body") or "")
    except ValueError:
        return
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return
    params = _d(record.get("params"))
    endpoint = record.get("endpoint")
    parameter = "uri" if endpoint == THREAD else ("actor" if "actor" in params else None)
    value = _s(params.get(parameter)) if parameter else None
    rows.add("api_errors", {
        "page_id": page_id, "idx": 0, "source": SOURCE, "fetched_at": at,
        "title": _s(body.get("error")), "detail": _s(body.get("message")), "type": None,
        "resource_type": "post" if parameter == "uri" else ("actor" if parameter else None),
        "resource_id": value, "parameter": parameter, "value": value, "section": None})
    if endpoint == THREAD and body["error"] == "NotFound" and value:
        rows.post_status.append((PLATFORM, value, "not_found", at))


def normalize(record: dict) -> Rows:
    """Turn one raw page record into rows. Raises MalformedPage for an unreadable body.

    Error answers yield an api_errors row at most (see ``_error_page``); an answer to a query
    the collector does not send, or without the part its query answers with, is malformed. Items that cannot be read are skipped and
    listed in ``Rows.skipped``; the rest of the page is kept.
    """
    rows = Rows()
    status = record.get("status")
    if status is None:
        return rows                        # a connection error: nothing was received
    at = record.get("fetched_at")
    if not at:
        raise MalformedPage("page has no fetched_at")
    page_id = record.get("page_id") or f"{record.get('run_id')}:{record.get('seq')}"
    if not 200 <= int(status) < 300:
        if 400 <= int(status) < 500 and status != 429:
            _error_page(record, rows, at, page_id)
        return rows
    body = parse_body(record)
    if not isinstance(body, dict):
        raise MalformedPage(f"body is a JSON {type(body).__name__}, expected an object")
    page = _Page(rows, at)
    endpoint = record.get("endpoint")
    need = {FEED: "feed", THREAD: "thread", POSTS: "posts", PROFILE: "did", RESOLVE: "did"}
    if endpoint not in need:
        raise MalformedPage(f"{endpoint!r} is not an AppView query this source reads")
    if need[endpoint] not in body:
        raise MalformedPage(f"{endpoint} answer without {need[endpoint]!r}")
    if endpoint == FEED:
        feed = _l(body["feed"])
        rows.items = len(feed)
        for i, item in enumerate(feed):
            page.guarded(f"feed[{i}]", page.feed_item, item)
    elif endpoint == THREAD:
        rows.items = page.thread(body["thread"])
    elif endpoint == POSTS:
        posts = _l(body["posts"])
        rows.items = len(posts)
        seen = {page.guarded(f"posts[{i}]", page.post, p, "data") for i, p in enumerate(posts)}
        for uri in requested_uris(record.get("params")):
            if uri not in seen:
                page.status(uri)
    elif endpoint == PROFILE:
        rows.items = 1
        page.account(body)
    else:                                          # resolveHandle: the handle asked about
        rows.items = 1
        handle = _handle(_d(record.get("params")).get("handle"))
        if handle and isinstance(body.get("did"), str):
            page.handles[(_utf8(body["did"]), handle)] = None
    page.finish()
    return rows

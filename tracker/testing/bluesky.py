"""A local Bluesky AppView over an in-memory world of accounts, posts and reposts.

It answers the XRPC queries the tracker uses in the shapes of the real recorded answers
(../shared/corpus/bluesky): ``com.atproto.identity.resolveHandle``, ``app.bsky.actor.getProfile``,
``app.bsky.feed.getAuthorFeed`` (newest first by ``sortAt``, ``limit``/``cursor`` pagination with
the ``<ms>::<cid>`` cursor, reposts with ``reasonRepost``, replies with ``reply.root/parent``, a
deleted parent as ``notFoundPost``), ``app.bsky.feed.getPostThread`` (``threadViewPost`` trees,
``notFoundPost`` and ``blockedPost`` nodes, HTTP 400 ``NotFound`` for a missing root) and
``app.bsky.feed.getPosts`` (missing URIs left out). Every answer carries ``ratelimit-*`` headers
of a window of ``limit`` requests; past it, HTTP 429. Faults (429, 5xx, truncated bodies, slow
answers, resets) can be queued. Nothing here reaches the network.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import socket
import struct
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

from tracker.testing.xapi import Fault, write_body

POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"
DEFS = "app.bsky.feed.defs"
S32 = "234567abcdefghijklmnopqrstuvwxyz"


def tid(at: datetime, clock_id: int = 0) -> str:
    """A record key of atproto's TID form (microseconds and a clock id, base32-sortable)."""
    n = (int(at.timestamp() * 1_000_000) << 10) | (clock_id & 0x3FF)
    out = []
    for _ in range(13):
        out.append(S32[n & 31])
        n >>= 5
    return "".join(reversed(out))


def fake_cid(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


def stamp(at: datetime) -> str:
    """The AppView's time format: milliseconds and Z."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def xrpc_error(error: str, message: str) -> str:
    return json.dumps({"error": error, "message": message})


@dataclass
class Request:
    method: str
    path: str                      # e.g. /xrpc/app.bsky.feed.getAuthorFeed
    params: dict                   # the last value of each parameter
    lists: dict                    # every value of each parameter

    @property
    def nsid(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class Record:
    uri: str
    cid: str
    did: str
    value: dict
    indexed_at: datetime
    created_at: datetime
    subject: str | None = None       # a repost's post
    likes: int = 0

    @property
    def sort_at(self) -> datetime:
        return min(self.indexed_at, self.created_at)


@dataclass
class BskyWorld:
    """The state the server answers from. Mutate it between runs to script a story.

    ``clock`` gives the server's time in epoch seconds (for the rate-limit window and its
    ``ratelimit-reset``): tests pass their own clock's."""

    clock: Callable[[], float] = time.time
    limit: int = 3000                 # requests per rate-limit window
    window_seconds: int = 300
    actors: dict[str, dict] = field(default_factory=dict)      # did -> profile
    posts: dict[str, Record] = field(default_factory=dict)     # uri -> post
    reposts: dict[str, Record] = field(default_factory=dict)   # uri -> repost
    deleted: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)             # shown as blockedPost
    faults: list[Fault] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _after: dict[int, int] = field(default_factory=dict)     # fault -> answers before it
    _window_start: float | None = None
    _used: int = 0
    _seq: int = 0

    # ---- building the world ------------------------------------------------------------
    def add_actor(self, handle: str, did: str | None = None, **profile) -> str:
        did = did or "did:plc:" + fake_cid(handle)[7:31]
        with self.lock:
            self.actors[did] = {"did": did, "handle": handle,
                                "displayName": handle.split(".")[0].title(),
                                "createdAt": "2023-04-26T19:05:34.249Z", "description": "",
                                "followersCount": 10, "followsCount": 5, **profile}
        return did

    def rename(self, did: str, handle: str) -> None:
        with self.lock:
            self.actors[did]["handle"] = handle

    def did(self, actor: str) -> str | None:
        if actor in self.actors:
            return actor
        return next((d for d, a in self.actors.items() if a["handle"] == actor.lower()), None)

    def post(self, actor: str, text: str, at: datetime, *, reply_to: str | None = None,
             quote: str | None = None, media: bool = False, langs: tuple = ("en",),
             created_at: datetime | None = None) -> str:
        """Publish a post (a reply to ``reply_to``, quoting ``quote``, with an image beside
        the quote if ``media``); returns its URI."""
        with self.lock:
            did = self.did(actor)
            self._seq += 1
            uri = f"at://{did}/{POST}/{tid(at, self._seq)}"
            created = created_at or at
            value: dict = {"$type": POST, "createdAt": stamp(created), "langs": list(langs),
                           "text": text}
            if reply_to:
                parent = self.posts[reply_to]
                root = parent.value.get("reply", {}).get("root") or {
                    "cid": parent.cid, "uri": parent.uri}
                value["reply"] = {"parent": {"cid": parent.cid, "uri": parent.uri},
                                  "root": dict(root)}
            if quote:
                ref = {"$type": "app.bsky.embed.record",
                       "record": {"cid": self.posts[quote].cid, "uri": quote}}
                value["embed"] = ref if not media else {
                    "$type": "app.bsky.embed.recordWithMedia", "record": ref,
                    "media": {"$type": "app.bsky.embed.images", "images": []}}
            self.posts[uri] = Record(uri, fake_cid(uri, text), did, value, at, created)
            return uri

    def repost(self, actor: str, subject: str, at: datetime) -> str:
        with self.lock:
            did = self.did(actor)
            self._seq += 1
            uri = f"at://{did}/{REPOST}/{tid(at, self._seq)}"
            self.reposts[uri] = Record(uri, fake_cid(uri), did, {
                "$type": REPOST, "createdAt": stamp(at),
                "subject": {"cid": self.posts[subject].cid, "uri": subject}}, at, at, subject)
            return uri

    def delete(self, uri: str) -> None:
        with self.lock:
            self.deleted.add(uri)

    def count(self, nsid: str) -> int:
        return sum(1 for r in self.requests if r.nsid == nsid)

    def fail(self, nsid: str, status: int = 503, times: int = 1, after: int = 0, **kw) -> None:
        """Queue ``times`` failing answers to a query (an XRPC error body by default), once
        ``after`` requests to it have been answered normally."""
        body = kw.pop("body", xrpc_error("InternalServerError", "injected fault"))
        fault = Fault(re.escape(nsid) + "$", status, body, times=times, **kw)
        self.faults.append(fault)
        if after:
            self._after[id(fault)] = after

    def rate_limited(self, nsid: str, reset_in: float | None, times: int = 1,
                     after: int = 0) -> None:
        """Queue 429s whose ``ratelimit-reset`` lies ``reset_in`` seconds ahead (None: no
        ``ratelimit-reset`` header)."""
        headers = {"ratelimit-remaining": "0"}
        headers["ratelimit-reset"] = (str(int(self.clock() + reset_in))
                                      if reset_in is not None else None)
        self.fail(nsid, 429, times, after, headers=headers,
                  body=xrpc_error("RateLimitExceeded", "Rate Limit Exceeded"))

    def take_fault(self, path: str) -> Fault | None:
        """The fault that answers this request, if any is due."""
        with self.lock:
            for f in self.faults:
                if f.times > 0 and re.search(f.path, path):
                    if self._after.get(id(f), 0) > 0:
                        self._after[id(f)] -= 1
                        continue
                    f.times -= 1
                    return f
        return None

    # ---- views --------------------------------------------------------------------------
    def _live(self, uri: str | None) -> bool:
        return uri in self.posts and uri not in self.deleted

    def basic(self, did: str) -> dict:
        a = self.actors[did]
        return {"did": did, "handle": a["handle"], "displayName": a["displayName"],
                "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/{fake_cid(did)}@jpeg",
                "associated": {"chat": {"allowIncoming": "all"}},
                "viewer": {"muted": False, "blockedBy": False}, "labels": [],
                "createdAt": a["createdAt"]}

    def detailed(self, did: str) -> dict:
        a = self.actors[did]
        posts = sum(1 for p in self.posts.values() if p.did == did and self._live(p.uri))
        return {**self.basic(did), "description": a["description"],
                "followersCount": a["followersCount"], "followsCount": a["followsCount"],
                "postsCount": posts, "indexedAt": a["createdAt"]}

    def _view_record(self, uri: str) -> dict:
        if not self._live(uri):
            return {"$type": "app.bsky.embed.record#viewNotFound", "uri": uri,
                    "notFound": True}
        p = self.posts[uri]
        return {"$type": "app.bsky.embed.record#viewRecord", "uri": uri, "cid": p.cid,
                "author": self.basic(p.did), "value": copy.deepcopy(p.value), "labels": [],
                "likeCount": p.likes, "replyCount": self._replies(uri),
                "repostCount": self._reposts(uri), "quoteCount": 0,
                "indexedAt": stamp(p.indexed_at), "embeds": []}

    def _replies(self, uri: str) -> int:
        return sum(1 for p in self.posts.values() if self._live(p.uri)
                   and p.value.get("reply", {}).get("parent", {}).get("uri") == uri)

    def _reposts(self, uri: str) -> int:
        return sum(1 for r in self.reposts.values() if r.subject == uri
                   and r.uri not in self.deleted)

    def post_view(self, uri: str) -> dict:
        p = self.posts[uri]
        view = {"uri": uri, "cid": p.cid, "author": self.basic(p.did),
                "record": copy.deepcopy(p.value)}
        embed = p.value.get("embed")
        if embed:
            ref = embed if embed["$type"] == "app.bsky.embed.record" else embed["record"]
            rec = {"$type": "app.bsky.embed.record#view",
                   "record": self._view_record(ref["record"]["uri"])}
            view["embed"] = rec if embed is ref else {
                "$type": "app.bsky.embed.recordWithMedia#view", "record": rec,
                "media": {"$type": "app.bsky.embed.images#view", "images": []}}
        view.update({"bookmarkCount": 0, "replyCount": self._replies(uri),
                     "repostCount": self._reposts(uri), "likeCount": p.likes, "quoteCount": 0,
                     "indexedAt": stamp(p.indexed_at), "viewer": {}, "labels": []})
        return view

    def _ref(self, uri: str) -> dict:
        """A reply's root or parent as a feed item shows it."""
        if uri in self.blocked and self._live(uri):
            return {"$type": f"{DEFS}#blockedPost", "uri": uri, "blocked": True,
                    "author": {"did": self.posts[uri].did, "viewer": {"blockedBy": False}}}
        if not self._live(uri):
            return {"$type": f"{DEFS}#notFoundPost", "uri": uri, "notFound": True}
        return {"$type": f"{DEFS}#postView", **self.post_view(uri)}

    def _item(self, kind: str, rec: Record) -> dict:
        post = rec.subject if kind == "repost" else rec.uri
        item: dict = {"post": self.post_view(post)}
        reply = self.posts[post].value.get("reply")
        if reply:
            item["reply"] = {"root": self._ref(reply["root"]["uri"]),
                             "parent": self._ref(reply["parent"]["uri"])}
            parent = self.posts.get(reply["parent"]["uri"])
            if parent is not None and self._live(parent.uri) and parent.value.get("reply"):
                grand = self.posts.get(parent.value["reply"]["parent"]["uri"])
                if grand is not None:
                    item["reply"]["grandparentAuthor"] = self.basic(grand.did)
        if kind == "repost":
            item["reason"] = {"$type": f"{DEFS}#reasonRepost", "by": self.basic(rec.did),
                              "uri": rec.uri, "cid": rec.cid, "indexedAt": stamp(rec.indexed_at)}
        return item

    def _thread(self, uri: str, depth: int, height: int) -> dict:
        if uri in self.blocked:
            return {"$type": f"{DEFS}#blockedPost", "uri": uri, "blocked": True,
                    "author": {"did": self.posts[uri].did, "viewer": {"blockedBy": False}}}
        node: dict = {"$type": f"{DEFS}#threadViewPost", "post": self.post_view(uri)}
        parent = self.posts[uri].value.get("reply", {}).get("parent", {}).get("uri")
        if parent and height > 0:
            node["parent"] = (self._thread(parent, 0, height - 1) if self._live(parent)
                              else {"$type": f"{DEFS}#notFoundPost", "uri": parent,
                                    "notFound": True})
        if depth > 0:
            children = sorted((p for p in self.posts.values() if self._live(p.uri)
                               and p.value.get("reply", {}).get("parent", {}).get("uri") == uri),
                              key=lambda p: p.created_at)
            node["replies"] = [self._thread(c.uri, depth - 1, 0) for c in children]
        return node

    # ---- answering ----------------------------------------------------------------------
    def answer(self, nsid: str, params: dict, lists: dict) -> tuple[int, dict]:
        with self.lock:
            if nsid == "com.atproto.identity.resolveHandle":
                did = self.did(params.get("handle", ""))
                if did is None or self.actors[did]["handle"] != params.get("handle", "").lower():
                    return 400, {"error": "InvalidRequest", "message": "Unable to resolve handle"}
                return 200, {"did": did}
            if nsid == "app.bsky.actor.getProfile":
                did = self.did(params.get("actor", ""))
                if did is None:
                    return 400, {"error": "InvalidRequest", "message": "Profile not found"}
                return 200, self.detailed(did)
            if nsid == "app.bsky.feed.getAuthorFeed":
                return self._feed(params)
            if nsid == "app.bsky.feed.getPostThread":
                uri = params.get("uri", "")
                if not self._live(uri):
                    return 400, {"error": "NotFound", "message": f"Post not found: {uri}"}
                return 200, {"thread": self._thread(uri, int(params.get("depth", 6)),
                                                    int(params.get("parentHeight", 80)))}
            if nsid == "app.bsky.feed.getPosts":
                uris = lists.get("uris", [])
                if len(uris) > 25:
                    return 400, {"error": "InvalidRequest",
                                 "message": "uris must not have more than 25 elements"}
                return 200, {"posts": [self.post_view(u) for u in uris if self._live(u)]}
            return 501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"}

    def _feed(self, params: dict) -> tuple[int, dict]:
        did = self.did(params.get("actor", ""))
        if did is None:
            return 400, {"error": "InvalidRequest", "message": "Profile not found"}
        limit = int(params.get("limit", 50))
        if not 1 <= limit <= 100:
            return 400, {"error": "InvalidRequest", "message": "limit must be 1 to 100"}
        no_replies = params.get("filter") == "posts_no_replies"
        items = [("post", p, p.sort_at) for p in self.posts.values() if p.did == did
                 and self._live(p.uri) and not (no_replies and p.value.get("reply"))]
        items += [("repost", r, r.indexed_at) for r in self.reposts.values() if r.did == did
                  and r.uri not in self.deleted and self._live(r.subject)]
        items.sort(key=lambda i: (i[2], i[1].cid), reverse=True)
        if params.get("cursor"):
            ms, _, cid = params["cursor"].partition("::")
            if not ms.isdigit():
                return 400, {"error": "InvalidRequest", "message": "Malformed cursor"}
            items = [i for i in items
                     if (int(i[2].timestamp() * 1000), i[1].cid) < (int(ms), cid)]
        page = items[:limit]
        body: dict = {"feed": [self._item(kind, rec) for kind, rec, _ in page]}
        if len(page) == limit:
            last = page[-1]
            body["cursor"] = f"{int(last[2].timestamp() * 1000)}::{last[1].cid}"
        return 200, body

    def window(self) -> tuple[int, int]:
        """Count a request in the rate-limit window: (remaining after it, reset time)."""
        now = self.clock()
        if self._window_start is None or now >= self._window_start + self.window_seconds:
            self._window_start, self._used = now, 0
        self._used += 1
        return self.limit - self._used, int(self._window_start + self.window_seconds)


def _handler(world: BskyWorld):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes; with Nagle's algorithm the body would wait for
        # the client's delayed ACK (~40 ms an answer)
        disable_nagle_algorithm = True

        def log_message(self, *args):  # keep test output clean
            pass

        def _send(self, status: int, body: bytes, headers: dict, fault=None) -> None:
            self.send_response(status)
            for k, v in headers.items():
                if v is not None:          # a fault can drop a header: {"ratelimit-reset": None}
                    self.send_header(k, v)
            length = fault.huge_bytes if fault is not None and fault.huge_bytes else len(body)
            self.send_header("Content-Length", str(length))
            try:
                self.end_headers()
                write_body(self.wfile, body, fault)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def do_GET(self):
            parts = urlsplit(self.path)
            lists = parse_qs(parts.query)
            params = {k: v[-1] for k, v in lists.items()}
            world.requests.append(Request("GET", parts.path, params, lists))
            with world.lock:
                remaining, reset = world.window()
            headers = {"Content-Type": "application/json; charset=utf-8",
                       "ratelimit-limit": str(world.limit),
                       "ratelimit-remaining": str(max(remaining, 0)),
                       "ratelimit-reset": str(reset),
                       "ratelimit-policy": f"{world.limit};w={world.window_seconds}"}
            fault = world.take_fault(parts.path)
            if fault and fault.delay:
                time.sleep(fault.delay)
            if fault and fault.reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            if fault and fault.huge_bytes:
                return self._send(200, b"", headers, fault)
            if fault and not fault.truncate and not fault.drip_seconds:
                return self._send(fault.status, fault.body.encode(), {**headers, **fault.headers})
            if remaining < 0:
                return self._send(429, xrpc_error("RateLimitExceeded",
                                                  "Rate Limit Exceeded").encode(), headers)
            if not parts.path.startswith("/xrpc/"):
                return self._send(404, b'{"error": "NotFound", "message": "Not Found"}',
                                  headers)
            try:
                status, body = world.answer(parts.path[len("/xrpc/"):], params, lists)
            except (ValueError, KeyError) as exc:
                status, body = 400, {"error": "InvalidRequest", "message": str(exc)}
            data = json.dumps(body).encode()
            if fault and fault.truncate:
                data = data[: max(1, len(data) // 2)]
            self._send(status, data, headers, fault)

    return Handler


@contextmanager
def serve(world: BskyWorld) -> Iterator[str]:
    """Serve ``world`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(world))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

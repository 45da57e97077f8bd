"""A local X API v2 server over an in-memory world of users, posts and polls.

It answers the endpoints the tracker uses (users/by, user timelines, tweet lookup, recent search
by conversation_id) the way the real API does: newest first, since_id / until_id /
pagination_token, includes for authors, referenced posts, edit history and polls, ``errors``
entries for deleted and protected posts, and rate-limit headers. Faults (429, 5xx, truncated
bodies, slow answers, connection resets, any status/body/headers) can be queued. Tests,
``tracker demo`` and bench/ use it; nothing here reaches the network.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import struct
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

from tracker.core.timeutil import snowflake_at


@dataclass
class Fault:
    """A scripted answer for the next ``times`` requests whose path matches ``path``."""

    path: str
    status: int = 503
    body: str = '{"title": "Service Unavailable", "detail": "injected fault"}'
    headers: dict = field(default_factory=dict)
    times: int = 1
    truncate: bool = False     # serve the real answer cut in half, with status 200
    delay: float = 0.0         # wait this long before answering (longer than the client's
                               # timeout: a timeout)
    reset: bool = False        # close the connection without answering (a connection reset)
    drip_seconds: float = 0.0  # send the answer one byte at a time, this long apart
    huge_bytes: int = 0        # answer 200 with a body this big (a JSON array that never ends)


def write_body(wfile, body: bytes, fault: "Fault | None") -> None:
    """Write a body as a fault says: at once, dripping, or a huge one streamed."""
    if fault is not None and fault.huge_bytes:
        chunk = b"[" + b"0," * 32767
        left = fault.huge_bytes
        while left > 0:
            wfile.write(chunk[:left])
            left -= len(chunk)
        return
    if fault is not None and fault.drip_seconds:
        for i in range(len(body)):
            wfile.write(body[i:i + 1])
            wfile.flush()
            time.sleep(fault.drip_seconds)
        return
    wfile.write(body)


@dataclass
class Request:
    method: str
    path: str
    params: dict
    authorization: str | None


class XWorld:
    """The state the server answers from. Mutate it between runs to script a story."""

    def __init__(self, token: str | None = None):
        self.users: dict[str, dict] = {}
        self.tweets: dict[str, dict] = {}
        self.polls: dict[str, dict] = {}
        self.deleted: set[str] = set()
        self.protected: set[str] = set()
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.token = token
        self.lock = threading.RLock()
        self.window_remaining: dict[str, int] = {}
        self.max_query_chars = 4096    # the API's limit for the access level being served
        self.now: datetime | None = None   # set: search reaches back 7 days from it
        self.delay = 0.0   # seconds every answer waits (tests of runs interrupted mid-request)

    # ---- building the world ----
    def add_user(self, user: dict) -> None:
        with self.lock:
            self.users[str(user["id"])] = dict(user)

    def add_tweet(self, tweet: dict) -> None:
        with self.lock:
            t = dict(tweet)
            t.setdefault("edit_history_tweet_ids", [t["id"]])
            t.setdefault("conversation_id", t["id"])
            self.tweets[str(t["id"])] = t

    def add_poll(self, poll: dict) -> None:
        with self.lock:
            self.polls[str(poll["id"])] = copy.deepcopy(poll)

    def set_poll(self, poll_id: str, votes: list[int], voting_status: str | None = None) -> None:
        with self.lock:
            poll = self.polls[str(poll_id)]
            for option, v in zip(poll["options"], votes):
                option["votes"] = v
            if voting_status:
                poll["voting_status"] = voting_status

    def edit(self, old_id: str, new_tweet: dict) -> None:
        """Publish an edit: a new id whose history chains back to old_id."""
        with self.lock:
            chain = list(self.tweets[str(old_id)]["edit_history_tweet_ids"]) + [new_tweet["id"]]
            self.add_tweet({**new_tweet, "edit_history_tweet_ids": chain})
            for tid in chain:
                if tid in self.tweets:
                    self.tweets[tid]["edit_history_tweet_ids"] = chain

    def delete(self, tweet_id: str) -> None:
        with self.lock:
            self.deleted.add(str(tweet_id))

    def count(self, path_re: str) -> int:
        return sum(1 for r in self.requests if re.search(path_re, r.path))

    # ---- answering ----
    def search(self, params: dict) -> tuple[int, dict]:
        """Recent search: ``conversation_id:ID`` and ``from:ID|username`` terms joined by OR,
        optionally as ``(…) is:reply`` (what the tracker sends), else all words. A
        conversation's root matches its own conversation_id, as on the API. The query length is limited like the API's
        access levels; with ``now`` set, only the last 7 days are searched and an older
        since_id is refused, as the API does."""
        q = (params.get("query") or "").strip()
        if len(q) > self.max_query_chars:
            return 400, {"title": "Invalid Request", "detail": f"query is {len(q)} "
                         f"characters, more than {self.max_query_chars}"}
        floor = None
        if self.now is not None:
            floor = snowflake_at(self.now - timedelta(days=7))
            if params.get("since_id") and int(params["since_id"]) < floor:
                return 400, {"title": "Invalid Request",
                             "detail": "'since_id' must be a Tweet ID created after the start "
                                       "of the search window"}
        replies_only = False
        wrapped = re.fullmatch(r"\((.*)\)\s+is:reply", q)
        if wrapped:
            q, replies_only = wrapped.group(1), True
        terms = [t.strip() for t in re.split(r"\s+OR\s+", q) if t.strip()]
        ops = [re.fullmatch(r"(conversation_id|from):(\S+)", t) for t in terms]
        if terms and all(ops):
            found = self.search_terms(ops)
            if replies_only:
                found = [t for t in found if any(r.get("type") == "replied_to" for r in
                                                 t.get("referenced_tweets") or [])]
            return 200, self._page(found, params, 10, 100, floor)
        words = q.lower().split()
        cands = [t for t in self.tweets.values() if self._visible(t["id"])
                 and self._latest(t) and all(w in t["text"].lower() for w in words)]
        return 200, self._page(cands, params, 10, 100, floor)

    def search_terms(self, ops: list) -> list[dict]:
        convs = {m.group(2) for m in ops if m.group(1) == "conversation_id"}
        froms = {m.group(2).lower() for m in ops if m.group(1) == "from"}
        names = {str(u["id"]) for u in self.users.values()
                 if str(u.get("username", "")).lower() in froms}
        return [t for t in self.tweets.values() if self._visible(t["id"]) and self._latest(t)
                and (str(t.get("conversation_id")) in convs or str(t.get("author_id")) in froms
                     or str(t.get("author_id")) in names)]

    def _visible(self, tid: str) -> bool:
        return tid in self.tweets and tid not in self.deleted and tid not in self.protected

    def _latest(self, t: dict) -> bool:
        return str(t["edit_history_tweet_ids"][-1]) == str(t["id"])

    def _expand(self, data: list[dict], params: dict) -> dict:
        exp = set((params.get("expansions") or "").split(","))
        users, tweets, polls = {}, {}, {}
        ids_in_data = {t["id"] for t in data}

        def add_user(uid):
            if uid and str(uid) in self.users:
                users[str(uid)] = self._user_out(self.users[str(uid)])

        for t in data:
            if "author_id" in exp:
                add_user(t.get("author_id"))
            if "in_reply_to_user_id" in exp:
                add_user(t.get("in_reply_to_user_id"))
            if "referenced_tweets.id" in exp:
                for ref in t.get("referenced_tweets") or []:
                    rid = str(ref["id"])
                    if self._visible(rid) and rid not in ids_in_data:
                        tweets[rid] = self.tweets[rid]
                        if "referenced_tweets.id.author_id" in exp:
                            add_user(self.tweets[rid].get("author_id"))
            if "edit_history_tweet_ids" in exp:
                for vid in t.get("edit_history_tweet_ids") or []:
                    vid = str(vid)
                    if vid != t["id"] and self._visible(vid) and vid not in ids_in_data:
                        tweets[vid] = self.tweets[vid]
            if "attachments.poll_ids" in exp:
                for pid in (t.get("attachments") or {}).get("poll_ids") or []:
                    if str(pid) in self.polls:
                        polls[str(pid)] = self.polls[str(pid)]
        out = {}
        if users:
            out["users"] = list(users.values())
        if tweets:
            out["tweets"] = list(tweets.values())
        if polls:
            out["polls"] = list(polls.values())
        return out

    @staticmethod
    def _user_out(u: dict) -> dict:
        return {k: v for k, v in u.items() if not k.startswith("_")}

    def _tweet_out(self, t: dict) -> dict:
        return {k: v for k, v in t.items() if not k.startswith("_")}

    def _page(self, candidates: list[dict], params: dict, lo: int, hi: int,
              floor: int | None = None) -> dict:
        items = sorted(candidates, key=lambda t: int(t["id"]), reverse=True)
        if floor is not None:
            items = [t for t in items if int(t["id"]) >= floor]
        if params.get("since_id"):
            items = [t for t in items if int(t["id"]) > int(params["since_id"])]
        if params.get("until_id"):
            items = [t for t in items if int(t["id"]) < int(params["until_id"])]
        token = params.get("pagination_token") or params.get("next_token")
        if token:
            if not token.startswith("next-"):
                raise ValueError("invalid pagination_token")
            items = [t for t in items if int(t["id"]) < int(token[5:])]
        n = max(lo, min(hi, int(params.get("max_results") or 10)))
        page, rest = items[:n], items[n:]
        body: dict = {}
        if page:
            data = [self._tweet_out(t) for t in page]
            body["data"] = data
            inc = self._expand(data, params)
            if inc:
                body["includes"] = inc
        meta = {"result_count": len(page)}
        if page:
            meta["newest_id"] = page[0]["id"]
            meta["oldest_id"] = page[-1]["id"]
        if rest:
            meta["next_token"] = f"next-{page[-1]['id']}"
        body["meta"] = meta
        return body

    def answer(self, path: str, params: dict) -> tuple[int, dict]:
        with self.lock:
            if path == "/2/users/by":
                names = [n for n in (params.get("usernames") or "").split(",") if n]
                by_name = {u["username"].lower(): u for u in self.users.values()}
                data, errors = [], []
                for n in names:
                    u = by_name.get(n.lower())
                    if u:
                        data.append(self._user_out(u))
                    else:
                        errors.append({"value": n, "detail": f"Could not find user with usernames: [{n}].",
                                       "title": "Not Found Error", "resource_type": "user",
                                       "parameter": "usernames", "resource_id": n,
                                       "type": "https://api.twitter.com/2/problems/resource-not-found"})
                body = {}
                if data:
                    body["data"] = data
                if errors:
                    body["errors"] = errors
                return 200, body
            m = re.fullmatch(r"/2/users/(\d+)/tweets", path)
            if m:
                uid = m.group(1)
                if uid not in self.users:
                    return 404, {"title": "Not Found Error", "detail": f"user {uid} not found"}
                cands = [t for t in self.tweets.values() if str(t.get("author_id")) == uid
                         and self._visible(t["id"]) and self._latest(t)]
                return 200, self._page(cands, params, 5, 100)
            if path == "/2/tweets/search/recent":
                return self.search(params)
            if path == "/2/tweets":
                ids = [i for i in (params.get("ids") or "").split(",") if i]
                if not ids or len(ids) > 100:
                    return 400, {"title": "Invalid Request",
                                 "detail": "ids must hold 1 to 100 ids"}
                data, errors = [], []
                for i in ids:
                    if self._visible(i):
                        data.append(self._tweet_out(self.tweets[i]))
                    elif i in self.protected:
                        errors.append({"value": i, "detail": f"Sorry, you are not authorized to see the Tweet with ids: [{i}].",
                                       "title": "Authorization Error", "resource_type": "tweet",
                                       "parameter": "ids", "resource_id": i,
                                       "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"})
                    else:
                        errors.append({"value": i, "detail": f"Could not find tweet with ids: [{i}].",
                                       "title": "Not Found Error", "resource_type": "tweet",
                                       "parameter": "ids", "resource_id": i,
                                       "type": "https://api.twitter.com/2/problems/resource-not-found"})
                body = {}
                if data:
                    body["data"] = data
                    inc = self._expand(data, params)
                    if inc:
                        body["includes"] = inc
                if errors:
                    body["errors"] = errors
                return 200, body
            return 404, {"title": "Not Found", "detail": f"no route {path}"}


def _handler(world: XWorld):
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
                if v is not None:          # a fault can drop a header: {"x-rate-limit-reset": None}
                    self.send_header(k, v)
            length = fault.huge_bytes if fault is not None and fault.huge_bytes else len(body)
            self.send_header("Content-Length", str(length))
            try:
                self.end_headers()
                write_body(self.wfile, body, fault)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True   # the client gave up (timed out) first

        def do_GET(self):
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            world.requests.append(Request("GET", parts.path, params,
                                          self.headers.get("Authorization")))
            if world.delay:
                time.sleep(world.delay)
            reset = int(time.time()) + 900
            key = re.sub(r"\d+", ":id", parts.path)
            remaining = world.window_remaining.get(key, 900) - 1
            world.window_remaining[key] = remaining
            headers = {"Content-Type": "application/json; charset=utf-8",
                       "x-rate-limit-limit": "900",
                       "x-rate-limit-remaining": str(max(remaining, 0)),
                       "x-rate-limit-reset": str(reset)}
            if world.token and self.headers.get("Authorization") != f"Bearer {world.token}":
                body = {"title": "Unauthorized", "type": "about:blank", "status": 401,
                        "detail": "Unauthorized"}
                return self._send(401, json.dumps(body).encode(), headers)
            fault = None
            with world.lock:
                for f in world.faults:
                    if f.times > 0 and re.search(f.path, parts.path):
                        f.times -= 1
                        fault = f
                        break
            if fault and fault.delay:
                time.sleep(fault.delay)
            if fault and fault.reset:
                # RST instead of an answer: linger 0, then close
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            if fault and fault.huge_bytes:
                return self._send(200, b"", headers, fault)
            if fault and not fault.truncate and not fault.drip_seconds:
                return self._send(fault.status, fault.body.encode(), {**headers, **fault.headers})
            try:
                status, body = world.answer(parts.path, params)
            except ValueError as exc:
                status, body = 400, {"title": "Invalid Request", "detail": str(exc)}
            data = json.dumps(body).encode()
            if fault and fault.truncate:
                data = data[: max(1, len(data) // 2)]
            self._send(status, data, headers, fault)

    return Handler


@contextmanager
def serve(world: XWorld) -> Iterator[str]:
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

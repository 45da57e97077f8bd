"""A local Mastodon API server over an in-memory world of instances, accounts and statuses.

One server on 127.0.0.1 stands in for any number of instances, each under its own path prefix
(``http://127.0.0.1:PORT/<instance>``, the ``mastodon.base_urls`` a test sets). It answers
what the tracker reads the way Mastodon 4.x does, in the shapes of the recorded answers
(../shared/corpus/mastodon): account lookup; an account's statuses newest first with
``limit``/``max_id``/``min_id``/``since_id`` and a Link header (``next``: max_id, ``prev``:
min_id) on every non-empty page; a status, its context and its edit history; a poll (counts
``null`` while a ``hide_totals`` poll is open; ``expired`` by the world's clock); 404
``{"error": "Record not found"}`` for a deleted status. Every answer carries the instance's
``X-RateLimit-Limit/Remaining/Reset`` (an ISO time, as Mastodon sends it) and a spent window
answers 429. Faults (any status, body and headers, a number of times) and canned answers (a
recorded page for one request) can be queued. Nothing here reaches the network.
"""

from __future__ import annotations

import copy
import email.utils
import json
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

from tracker.core.timeutil import utcnow

WINDOW = timedelta(minutes=5)
NOT_FOUND = {"error": "Record not found"}


@dataclass
class Fault:
    """A scripted answer for the next ``times`` requests whose path (with the instance prefix,
    e.g. ``/mastodon.social/api/v1/statuses/1``) matches ``path``."""

    path: str
    status: int = 503
    body: str = '{"error": "injected fault"}'
    headers: dict = field(default_factory=dict)
    times: int = 1


@dataclass
class Request:
    method: str
    instance: str
    path: str                  # without the instance prefix: /api/v1/...
    params: dict
    authorization: str | None


@dataclass
class Window:
    limit: int = 300
    remaining: int = 300
    reset_at: datetime | None = None


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class Instance:
    """One server's state: accounts, statuses (by local id), polls, edits, deletions."""

    def __init__(self, name: str, world: "MastodonWorld"):
        self.name = name
        self.world = world
        self.accounts: dict[str, dict] = {}
        self.statuses: dict[str, dict] = {}
        self.polls: dict[str, dict] = {}
        self.deleted: set[str] = set()
        self.window = Window()
        self.canned: dict[tuple[str, tuple], tuple[int, str, dict]] = {}
        self._seq = 0

    # ---- building the world ------------------------------------------------------------
    def next_id(self, at: datetime) -> str:
        """A Mastodon-style id: milliseconds since the epoch, shifted, plus a sequence."""
        self._seq += 1
        return str((int(at.timestamp() * 1000) << 16) + self._seq)

    def account(self, username: str, *, domain: str | None = None, name: str | None = None,
                at: datetime | None = None, **extra) -> dict:
        at = at or self.world.now()
        aid = self.next_id(at)
        host = domain or self.name
        acct = f"{username}@{domain}" if domain else username
        self.accounts[aid] = {
            "id": aid, "username": username, "acct": acct,
            "display_name": name or username.title(), "locked": False, "bot": False,
            "discoverable": True, "indexable": True, "group": False,
            "created_at": _iso(at.replace(hour=0, minute=0, second=0, microsecond=0)),
            "note": f"<p>{escape(username)} on {escape(host)}</p>",
            "url": f"https://{host}/@{username}", "uri": f"https://{host}/users/{username}",
            "avatar": f"https://{host}/avatars/original/missing.png",
            "avatar_static": f"https://{host}/avatars/original/missing.png",
            "header": f"https://{host}/headers/original/missing.png",
            "header_static": f"https://{host}/headers/original/missing.png",
            "followers_count": 0, "following_count": 0, "statuses_count": 0,
            "last_status_at": None, "hide_collections": False, "noindex": False,
            "emojis": [], "roles": [], "fields": [], **extra}
        return self.accounts[aid]

    def by_acct(self, acct: str) -> dict | None:
        acct = acct.lower()
        for a in self.accounts.values():
            if a["acct"].lower() in (acct, f"{acct}@{self.name}") or (
                    "@" in acct and acct == f"{a['acct'].lower()}@{self.name}"):
                return a
        return None

    def post(self, account: dict, text: str, at: datetime, *, reply_to: dict | None = None,
             boost_of: dict | None = None, quote_of: dict | None = None,
             poll: dict | None = None, visibility: str = "public", language: str = "en",
             **extra) -> dict:
        """A status by ``account``. ``poll``: {"options": [...], "expires_at": datetime,
        "multiple": bool, "hide_totals": bool}."""
        sid = self.next_id(at)
        host = account["acct"].split("@", 1)[1] if "@" in account["acct"] else self.name
        status = {
            "id": sid, "created_at": _iso(at),
            "in_reply_to_id": reply_to["id"] if reply_to else None,
            "in_reply_to_account_id": reply_to["_account"] if reply_to else None,
            "sensitive": False, "spoiler_text": "", "visibility": visibility,
            "language": language,
            "uri": f"https://{host}/users/{account['username']}/statuses/{sid}",
            "url": f"https://{host}/@{account['username']}/{sid}",
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "quotes_count": 0,
            "edited_at": None, "content": "" if boost_of else f"<p>{escape(text)}</p>",
            "_reblog": boost_of["id"] if boost_of else None,
            "_quote": quote_of["id"] if quote_of else None,
            "application": None, "_account": account["id"], "media_attachments": [],
            "mentions": [], "tags": [], "emojis": [], "card": None, "_poll": None,
            "_versions": [], **extra}
        if boost_of:
            status["uri"] = f"https://{host}/users/{account['username']}/statuses/{sid}/activity"
            status["url"] = None
            boost_of["reblogs_count"] += 1
        if reply_to:
            reply_to["replies_count"] += 1
            parent = self.accounts[reply_to["_account"]]
            status["mentions"] = [{"id": parent["id"], "username": parent["username"],
                                   "url": parent["url"], "acct": parent["acct"]}]
        if poll:
            pid = str(len(self.polls) + 1)
            self.polls[pid] = {
                "id": pid, "expires_at": poll["expires_at"],
                "multiple": bool(poll.get("multiple")),
                "hide_totals": bool(poll.get("hide_totals")),
                "options": [{"title": t, "votes_count": 0} for t in poll["options"]],
                "voters_count": 0}
            status["_poll"] = pid
        self._version(status, at)
        self.statuses[sid] = status
        account["statuses_count"] += 1
        account["last_status_at"] = at.strftime("%Y-%m-%d")
        return status

    def _version(self, status: dict, at: datetime) -> None:
        status["_versions"].append({
            "content": status["content"], "spoiler_text": status["spoiler_text"],
            "sensitive": status["sensitive"], "created_at": _iso(at),
            "poll": ({"options": [{"title": o["title"]}
                                  for o in self.polls[status["_poll"]]["options"]]}
                     if status["_poll"] else None),
            "media_attachments": [], "emojis": []})

    def edit(self, status: dict, text: str, at: datetime) -> None:
        status["content"] = f"<p>{escape(text)}</p>"
        status["edited_at"] = _iso(at)
        self._version(status, at)

    def vote(self, poll_id: str, counts: list[int], voters: int | None = None) -> None:
        poll = self.polls[poll_id]
        for option, n in zip(poll["options"], counts):
            option["votes_count"] = n
        poll["voters_count"] = sum(counts) if voters is None else voters

    def delete(self, status: dict) -> None:
        self.deleted.add(status["id"])

    def can(self, path: str, query: dict, status: int, body: str, headers: dict | None = None
            ) -> None:
        """Answer exactly this request (path and query) with a recorded answer."""
        self.canned[(path, tuple(sorted(query.items())))] = (status, body, headers or {})

    # ---- rendering ----------------------------------------------------------------------
    def visible(self, sid: str | None) -> bool:
        return sid is not None and sid in self.statuses and sid not in self.deleted

    def poll_out(self, pid: str) -> dict:
        poll = self.polls[pid]
        expired = self.world.now() >= poll["expires_at"]
        shown = expired or not poll["hide_totals"]
        return {"id": pid, "expires_at": _iso(poll["expires_at"]), "expired": expired,
                "multiple": poll["multiple"],
                "votes_count": sum(o["votes_count"] for o in poll["options"]),
                "voters_count": poll["voters_count"], "voted": False, "own_votes": [],
                "options": [{"title": o["title"],
                             "votes_count": o["votes_count"] if shown else None}
                            for o in poll["options"]], "emojis": []}

    def status_out(self, sid: str) -> dict:
        s = self.statuses[sid]
        out = {k: copy.deepcopy(v) for k, v in s.items() if not k.startswith("_")}
        out["account"] = copy.deepcopy(self.accounts[s["_account"]])
        out["reblog"] = (self.status_out(s["_reblog"]) if self.visible(s["_reblog"]) else None)
        if s["_quote"]:
            out["quote"] = ({"state": "accepted", "quoted_status": self.status_out(s["_quote"])}
                            if self.visible(s["_quote"])
                            else {"state": "deleted", "quoted_status": None})
        else:
            out["quote"] = None
        out["poll"] = self.poll_out(s["_poll"]) if s["_poll"] else None
        out["filtered"] = []
        out["favourited"] = out["reblogged"] = out["muted"] = out["bookmarked"] = False
        out["pinned"] = False
        return out

    def ancestors(self, sid: str) -> list[str]:
        out: list[str] = []
        up = self.statuses[sid]["in_reply_to_id"]
        while up and self.visible(up) and up not in out:
            out.insert(0, up)
            up = self.statuses[up]["in_reply_to_id"]
        return out

    def descendants(self, sid: str) -> list[str]:
        out: list[str] = []
        todo = [sid]
        while todo:
            parent = todo.pop(0)
            kids = sorted((k for k, s in self.statuses.items()
                           if s["in_reply_to_id"] == parent and self.visible(k)),
                          key=lambda k: (len(k), k))
            out += kids
            todo += kids
        return sorted(out, key=lambda k: (len(k), k))


class MastodonWorld:
    """Every instance the server stands in for. Mutate it between runs to script a story."""

    def __init__(self, clock: Callable[[], datetime] = utcnow):
        self.now = clock
        self.instances: dict[str, Instance] = {}
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    def instance(self, name: str) -> Instance:
        if name not in self.instances:
            self.instances[name] = Instance(name, self)
        return self.instances[name]

    def count(self, path_re: str) -> int:
        return sum(1 for r in self.requests if re.search(path_re, r.path))

    def window(self, name: str, remaining: int, reset_in: float, limit: int = 300) -> None:
        """Set an instance's rate-limit window: ``remaining`` requests until ``reset_in``
        seconds from now (by the world's clock)."""
        self.instance(name).window = Window(limit, remaining,
                                            self.now() + timedelta(seconds=reset_in))

    # ---- answering -----------------------------------------------------------------------
    def answer(self, inst: Instance, path: str, params: dict, base: str
               ) -> tuple[int, object, dict]:
        """(status, body, extra headers) for one GET."""
        key = (path, tuple(sorted(params.items())))
        if key in inst.canned:
            status, body, headers = inst.canned[key]
            return status, body, headers
        m = re.fullmatch(r"/api/v1/accounts/lookup", path)
        if m:
            account = inst.by_acct(params.get("acct", ""))
            return (200, account, {}) if account else (404, NOT_FOUND, {})
        m = re.fullmatch(r"/api/v1/accounts/([^/]+)/statuses", path)
        if m:
            return self.statuses(inst, m.group(1), params, base + path)
        m = re.fullmatch(r"/api/v1/statuses/([^/]+)(/context|/history)?", path)
        if m:
            sid, what = m.group(1), m.group(2)
            if not inst.visible(sid):
                return 404, NOT_FOUND, {}
            if what == "/context":
                return 200, {"ancestors": [inst.status_out(a) for a in inst.ancestors(sid)],
                             "descendants": [inst.status_out(d)
                                             for d in inst.descendants(sid)]}, {}
            if what == "/history":
                s = inst.statuses[sid]
                account = inst.accounts[s["_account"]]
                return 200, [{**v, "account": copy.deepcopy(account)}
                             for v in s["_versions"]], {}
            return 200, inst.status_out(sid), {}
        m = re.fullmatch(r"/api/v1/polls/([^/]+)", path)
        if m:
            pid = m.group(1)
            owner = next((s for s in inst.statuses.values() if s["_poll"] == pid), None)
            if pid not in inst.polls or owner is None or not inst.visible(owner["id"]):
                return 404, NOT_FOUND, {}
            return 200, inst.poll_out(pid), {}
        return 404, {"error": "Not Found"}, {}

    def statuses(self, inst: Instance, account_id: str, params: dict, url: str
                 ) -> tuple[int, object, dict]:
        if account_id not in inst.accounts:
            return 404, NOT_FOUND, {}
        key = lambda sid: (len(sid), sid)       # noqa: E731 - how ids sort by age
        mine = sorted((sid for sid, s in inst.statuses.items()
                       if s["_account"] == account_id and inst.visible(sid)), key=key)
        limit = max(1, min(int(params.get("limit") or 20), 40))
        if params.get("max_id"):
            mine = [s for s in mine if key(s) < key(params["max_id"])]
        if params.get("since_id"):
            mine = [s for s in mine if key(s) > key(params["since_id"])]
        if params.get("min_id"):
            mine = [s for s in mine if key(s) > key(params["min_id"])][:limit]
        else:
            mine = mine[-limit:]
        page = list(reversed(mine))                # newest first
        headers = {}
        if page:
            q = {"limit": str(limit)}
            headers["Link"] = (f'<{url}?{urlencode({**q, "max_id": page[-1]})}>; rel="next", '
                               f'<{url}?{urlencode({**q, "min_id": page[0]})}>; rel="prev"')
        return 200, [inst.status_out(s) for s in page], headers

    def rate(self, inst: Instance) -> tuple[bool, dict]:
        """(within the window?, the rate-limit headers) for one request."""
        now = self.now()
        w = inst.window
        if w.reset_at is None or now >= w.reset_at:
            w.remaining, w.reset_at = w.limit, now + WINDOW
        ok = w.remaining > 0
        if ok:
            w.remaining -= 1
        return ok, {"X-RateLimit-Limit": str(w.limit), "X-RateLimit-Remaining": str(w.remaining),
                    "X-RateLimit-Reset": w.reset_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def _handler(world: MastodonWorld):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Date", email.utils.format_datetime(world.now(), usegmt=True))
            for k, v in headers.items():
                if v is not None:         # a fault can drop a header: {"X-RateLimit-Reset": None}
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            parts = url.path.split("/", 2)
            instance, path = (parts[1], "/" + parts[2]) if len(parts) == 3 else ("", url.path)
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            with world.lock:
                world.requests.append(Request("GET", instance, path, params,
                                              self.headers.get("Authorization")))
                if instance not in world.instances:
                    self._send(404, b'{"error": "no such instance"}', {})
                    return
                inst = world.instances[instance]
                ok, rate_headers = world.rate(inst)
                fault = next((f for f in world.faults if f.times > 0
                              and re.search(f.path, url.path)), None)
                if fault is not None:
                    fault.times -= 1
                    self._send(fault.status, fault.body.encode(),
                               {**rate_headers, **fault.headers})
                    return
                if not ok:
                    self._send(429, b'{"error": "Too many requests"}', rate_headers)
                    return
                base = f"http://{self.headers.get('Host')}/{instance}"
                status, body, headers = world.answer(inst, path, params, base)
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self._send(status, data, {**rate_headers, **headers})

    return Handler


@contextmanager
def serve(world: MastodonWorld) -> Iterator[str]:
    """Serve the world on 127.0.0.1; yields the root URL (an instance's base URL is
    ``<root>/<instance>``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(world))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

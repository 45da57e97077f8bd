"""A local press server: RSS/Atom feeds, the GDELT DOC 2.0 API and HTML pages, on 127.0.0.1.

- Feeds and pages are documents at a path, served with an ETag and a Last-Modified; a request
  whose If-None-Match (or, without it, If-Modified-Since) matches gets ``304 Not Modified`` with
  no body. A *timed* feed only shows the items published by ``world.now`` (the demo's clock),
  so its ETag changes when an item appears, as a real feed's would.
- ``/api/v2/doc/doc`` answers ``mode=artlist`` and ``mode=timelinevolraw`` with ``format=json``
  from the articles given per query, honouring ``startdatetime``/``enddatetime``, ``sort`` and
  ``maxrecords`` (default 75, never more than 250 a call, as GDELT does). A query registered with
  an error answers like GDELT does: status 200, a short text/html message instead of JSON.
- A *versioned* page changes at given times (``put_versions``): it serves the latest version
  published by ``world.now``, so scheduled re-fetches see an article being edited.
- A Wayback stand-in: ``/cdx/search/cdx`` answers the CDX plain-text format (7 fields a line,
  ``from``/``to``/``limit`` honoured, a resume key when cut) from the captures given per URL
  (``add_captures``) or a recorded body (``set_cdx``); ``/web/<timestamp>id_/<url>`` serves the
  capture's HTML with ``Memento-Datetime``.
- Faults (5xx, 429, any body) can be queued per path, as with the X server.

Tests, ``tracker demo`` and the press tests use it; nothing here reaches the network.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

from tracker.testing.sample import sample_dir
from tracker.testing.xapi import Fault, write_body

GDELT_PATH = "/api/v2/doc/doc"
CDX_PATH = "/cdx/search/cdx"
GDELT_CAP = 250
FMT = "%Y%m%d%H%M%S"


@dataclass
class Doc:
    body: bytes
    content_type: str
    last_modified: datetime | None = None
    validators: bool = True           # send ETag / Last-Modified (and honour them)
    timed: bool = False               # a feed whose items appear as world.now passes them
    versions: list[tuple[datetime, bytes]] = field(default_factory=list)  # (from, body)


@dataclass
class Capture:
    """One capture the Wayback stand-in lists (and serves, when it has a body)."""

    timestamp: str                    # 14 digits
    digest: str
    html: bytes | None = None
    status: str = "200"
    mimetype: str = "text/html"


@dataclass
class PressRequest:
    path: str
    params: dict
    headers: dict
    status: int = 0


def _http_date(dt: datetime) -> str:
    return email.utils.format_datetime(dt.astimezone(timezone.utc), usegmt=True)


_BLOCK = re.compile(rb"<(item|entry)\b.*?</\1\s*>", re.S | re.I)
_DATE = re.compile(rb"<(pubDate|published|updated|dc:date)\b[^>]*>(.*?)</\1\s*>", re.S | re.I)


def _item_time(block: bytes) -> datetime | None:
    m = _DATE.search(block)
    if not m:
        return None
    raw = m.group(2).decode("utf-8", "replace").strip()
    try:
        dt = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


def gdelt_seen(article: dict) -> datetime:
    return datetime.strptime(article["seendate"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


class PressWorld:
    """What the press server answers from. Mutate it between runs to script a story."""

    def __init__(self):
        self.docs: dict[str, Doc] = {}
        self.articles: dict[str, list[dict]] = {}     # GDELT query -> artlist articles
        self.errors: dict[str, str] = {}              # GDELT query -> error text
        self.norm_per_15m = 4000                      # 'norm': articles GDELT saw per 15 min
        self.faults: list[Fault] = []
        self.requests: list[PressRequest] = []
        self.now: datetime | None = None              # timed feeds show items up to now
        self.captures: dict[str, list[Capture]] = {}  # URL -> Wayback captures
        self.cdx_bodies: dict[str, str] = {}          # URL -> a recorded CDX answer
        self.lock = threading.RLock()

    # ---- building the world ----
    def put(self, path: str, body: str | bytes, content_type: str, *,
            last_modified: datetime | None = None, validators: bool = True,
            timed: bool = False) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self.lock:
            self.docs[path] = Doc(data, content_type,
                                  last_modified or datetime(2022, 10, 1, tzinfo=timezone.utc),
                                  validators, timed)

    def put_feed(self, path: str, body: str | bytes,
                 content_type: str = "application/rss+xml; charset=utf-8", **kw) -> None:
        self.put(path, body, content_type, **kw)

    def put_page(self, path: str, html: str | bytes,
                 content_type: str = "text/html; charset=utf-8", **kw) -> None:
        self.put(path, html, content_type, **kw)

    def put_versions(self, path: str, versions: list[tuple[datetime, str | bytes]],
                     content_type: str = "text/html; charset=utf-8", **kw) -> None:
        """A page that changes: each body is served from its time on (by ``world.now``)."""
        data = [(at, b.encode("utf-8") if isinstance(b, str) else b) for at, b in versions]
        data.sort(key=lambda v: v[0])
        self.put(path, data[0][1], content_type, last_modified=data[0][0], **kw)
        with self.lock:
            self.docs[path].versions = data

    def add_captures(self, url: str, captures: list[Capture]) -> None:
        with self.lock:
            self.captures.setdefault(url, []).extend(captures)

    def set_cdx(self, url: str, body: str) -> None:
        """Answer CDX searches for ``url`` with this body, as recorded (shape tests)."""
        with self.lock:
            self.cdx_bodies[url] = body

    def add_articles(self, query: str, articles: list[dict]) -> None:
        with self.lock:
            self.articles.setdefault(query, []).extend(articles)

    def count(self, path_re: str) -> int:
        return sum(1 for r in self.requests if re.search(path_re, r.path))

    # ---- answering ----
    def _doc_now(self, doc: Doc) -> tuple[bytes, datetime | None]:
        if doc.versions:
            shown = [v for v in doc.versions if self.now is None or v[0] <= self.now]
            at, body = (shown or doc.versions[:1])[-1]
            return body, at
        if not doc.timed or self.now is None:
            return doc.body, doc.last_modified
        kept_times: list[datetime] = []

        def keep(m: re.Match) -> bytes:
            t = _item_time(m.group(0))
            if t is not None and t > self.now:
                return b""
            if t is not None:
                kept_times.append(t)
            return m.group(0)

        body = _BLOCK.sub(keep, doc.body)
        return body, max(kept_times) if kept_times else doc.last_modified

    def document(self, path: str, headers: dict) -> tuple[int, bytes, dict]:
        with self.lock:
            doc = self.docs.get(path)
            if doc is None:
                return 404, b"<html><body><h1>404 Not Found</h1></body></html>", {
                    "Content-Type": "text/html; charset=utf-8"}
            body, modified = self._doc_now(doc)
        out = {"Content-Type": doc.content_type}
        if not doc.validators:
            return 200, body, out
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        out["ETag"] = etag
        if modified is not None:
            out["Last-Modified"] = _http_date(modified)
        inm = headers.get("if-none-match")
        ims = headers.get("if-modified-since")
        if inm is not None:
            if etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*":
                return 304, b"", {k: v for k, v in out.items() if k != "Content-Type"}
        elif ims and modified is not None:
            try:
                since = email.utils.parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                since = None
            if since is not None and modified.replace(microsecond=0) <= since:
                return 304, b"", {k: v for k, v in out.items() if k != "Content-Type"}
        return 200, body, out

    def gdelt(self, params: dict) -> tuple[int, bytes, dict]:
        text = {"Content-Type": "text/html; charset=utf-8"}
        js = {"Content-Type": "application/json; charset=utf-8"}
        query = (params.get("query") or "").strip()
        mode = (params.get("mode") or "artlist").lower()
        with self.lock:
            if query in self.errors:
                return 200, (self.errors[query] + "\n").encode(), text
            if not query:
                return 200, b"The specified query was empty.\n", text
            try:
                start = (datetime.strptime(params["startdatetime"], FMT).replace(
                    tzinfo=timezone.utc) if params.get("startdatetime") else None)
                end = (datetime.strptime(params["enddatetime"], FMT).replace(
                    tzinfo=timezone.utc) if params.get("enddatetime") else None)
            except ValueError:
                return 200, b"Invalid STARTDATETIME or ENDDATETIME.\n", text
            arts = [a for a in self.articles.get(query, [])
                    if (start is None or gdelt_seen(a) >= start)
                    and (end is None or gdelt_seen(a) < end)]
        if mode == "artlist":
            sort = (params.get("sort") or "").lower()
            if sort in ("dateasc", "datedesc"):
                arts = sorted(arts, key=lambda a: (a["seendate"], a["url"]),
                              reverse=sort == "datedesc")
            try:
                n = int(params.get("maxrecords") or 75)
            except ValueError:
                n = 75
            n = max(1, min(n, GDELT_CAP))
            out = [{"url": a["url"], "url_mobile": a.get("url_mobile", ""),
                    "title": a.get("title", ""), "seendate": a["seendate"],
                    "socialimage": a.get("socialimage", ""), "domain": a.get("domain", ""),
                    "language": a.get("language", "English"),
                    "sourcecountry": a.get("sourcecountry", "")} for a in arts[:n]]
            return 200, json.dumps({"articles": out} if out else {}).encode(), js
        if mode == "timelinevolraw":
            if start is None or end is None:
                return 200, b"timelinevolraw needs STARTDATETIME and ENDDATETIME here.\n", text
            span = end - start
            if span <= timedelta(hours=72):
                res, step = "15m", timedelta(minutes=15)
            elif span <= timedelta(days=7):
                res, step = "hour", timedelta(hours=1)
            else:
                res, step = "day", timedelta(days=1)
            epoch = datetime(2000, 1, 1, tzinfo=timezone.utc)
            t = epoch + ((start - epoch) // step) * step
            data = []
            while t < end:
                n = sum(1 for a in arts if t <= gdelt_seen(a) < t + step)
                data.append({"date": t.strftime("%Y%m%dT%H%M%SZ"), "value": n,
                             "norm": int(self.norm_per_15m * (step / timedelta(minutes=15)))})
                t += step
            body = {"query_details": {"title": query, "date_resolution": res},
                    "timeline": [{"series": "Article Count", "data": data}]}
            return 200, json.dumps(body).encode(), js
        return 200, f"Invalid mode {mode!r}.\n".encode(), text

    def cdx(self, params: dict) -> tuple[int, bytes, dict]:
        text = {"Content-Type": "text/plain;charset=UTF-8"}
        url = params.get("url") or ""
        with self.lock:
            if url in self.cdx_bodies:
                return 200, self.cdx_bodies[url].encode("utf-8"), text
            caps = sorted(self.captures.get(url, []), key=lambda c: c.timestamp)
        lo, hi = params.get("from") or "", params.get("to") or ""
        caps = [c for c in caps if (not lo or c.timestamp >= lo[:14].ljust(14, "0"))
                and (not hi or c.timestamp <= hi[:14].ljust(14, "9"))]
        limit = int(params["limit"]) if (params.get("limit") or "").isdigit() else len(caps)
        key = urlsplit(url).hostname or "-"
        lines = [f"{key})/ {c.timestamp} {url} {c.mimetype} {c.status} {c.digest} "
                 f"{len(c.html or b'')}" for c in caps[:limit]]
        body = "\n".join(lines) + ("\n" if lines else "")
        if len(caps) > limit and params.get("showResumeKey") == "true":
            body += "\n" + caps[limit].timestamp + "\n"
        return 200, body.encode("utf-8"), text

    def memento(self, path: str) -> tuple[int, bytes, dict]:
        m = re.match(r"^/web/(\d{14})id_/(.+)$", path)
        html = {"Content-Type": "text/html; charset=utf-8"}
        if not m:
            return 404, b"<html><body>Wayback Machine has not archived that URL.</body></html>", html
        ts, url = m.group(1), m.group(2)
        with self.lock:
            found = [c for c in self.captures.get(url, []) if c.timestamp == ts and c.html]
        if not found:
            return 404, b"<html><body>Wayback Machine has not archived that URL.</body></html>", html
        at = datetime.strptime(ts, FMT).replace(tzinfo=timezone.utc)
        return 200, found[0].html, {**html, "Memento-Datetime": _http_date(at)}

    def answer(self, path: str, params: dict, headers: dict) -> tuple[int, bytes, dict]:
        if path == GDELT_PATH:
            return self.gdelt(params)
        if path == CDX_PATH:
            return self.cdx(params)
        if path.startswith("/web/"):
            return self.memento(path)
        return self.document(path, headers)


def _handler(world: PressWorld):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes; with Nagle's algorithm the body would wait for
        # the client's delayed ACK (~40 ms an answer)
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def _send(self, status: int, body: bytes, headers: dict, fault=None) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if status != 304:
                length = fault.huge_bytes if fault is not None and fault.huge_bytes \
                    else len(body)
                self.send_header("Content-Length", str(length))
            try:
                self.end_headers()
                if status != 304 and self.command != "HEAD":
                    write_body(self.wfile, body, fault)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True   # the client gave up first

        def do_GET(self):
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            req = PressRequest(parts.path, params, headers)
            world.requests.append(req)
            fault = None
            with world.lock:
                for f in world.faults:
                    if f.times > 0 and re.search(f.path, parts.path):
                        f.times -= 1
                        fault = f
                        break
            if fault is not None and fault.huge_bytes:
                req.status = 200
                return self._send(200, b"", {"Content-Type": "application/rss+xml"}, fault)
            if fault is not None and not fault.truncate and not fault.drip_seconds:
                req.status = fault.status
                return self._send(fault.status, fault.body.encode(),
                                  {"Content-Type": "text/plain; charset=utf-8",
                                   **fault.headers})
            status, body, out = world.answer(parts.path, params, headers)
            if fault is not None and fault.truncate:
                body = body[: max(1, len(body) // 2)]
            req.status = status
            self._send(status, body, out, fault)

    return Handler


@contextmanager
def serve(world: PressWorld) -> Iterator[str]:
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


# ---- the bundled sample -------------------------------------------------------------------

def sample_press_dir() -> Path:
    return sample_dir() / "press"


@dataclass
class PressSample:
    """data/sample/press: feeds and GDELT answers of the October 2022 story (reconstructed)."""

    world: PressWorld
    feeds: list[dict] = field(default_factory=list)     # {name, path}
    queries: list[dict] = field(default_factory=list)   # press.queries entries
    hosts: list[str] = field(default_factory=list)      # article hosts served here (pages)
    outlets: list[dict] = field(default_factory=list)   # press.outlets entries

    @classmethod
    def load(cls, folder: Path | None = None) -> "PressSample":
        folder = Path(folder or sample_press_dir())
        spec = json.loads((folder / "sample.json").read_text(encoding="utf-8"))
        world = PressWorld()
        for f in spec["feeds"]:
            world.put_feed(f["path"], (folder / f["file"]).read_bytes(), f["content_type"],
                           timed=True)
        for g in spec["gdelt"]:
            answer = json.loads((folder / g["file"]).read_text(encoding="utf-8"))
            world.add_articles(g["query"], answer.get("articles") or [])
        hosts: list[str] = []
        for page in spec.get("pages", []):
            parts = urlsplit(page["url"])
            world.put_versions(parts.path, [
                (datetime.fromisoformat(v["from"].replace("Z", "+00:00")),
                 (folder / v["file"]).read_bytes()) for v in page["versions"]])
            if parts.hostname not in hosts:
                hosts.append(parts.hostname)
        return cls(world, [{"name": f["name"], "path": f["path"]} for f in spec["feeds"]],
                   spec["queries"], hosts, spec.get("outlets", []))

    def config(self, base_url: str) -> dict:
        """The `press` section pointing at the local server."""
        domains = sorted({h[4:] if h.startswith("www.") else h for h in self.hosts})
        return {"feeds": [{"name": f["name"], "url": base_url + f["path"]} for f in self.feeds],
                "gdelt": {"api_base_url": base_url + GDELT_PATH, "min_interval_seconds": 0},
                "queries": self.queries, "outlets": self.outlets,
                # the sample's article pages are served here: re-fetch only those outlets
                "connect_to": {h: base_url for h in self.hosts},
                "refetch": {"domains": domains}}

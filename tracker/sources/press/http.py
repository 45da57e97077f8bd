"""HTTP for the press sources: the archiving fetcher (sources/fetch.py) and body decoding.

Every attempt's response (304s, errors and connection failures included) is archived verbatim
before anything is derived from it. 5xx, 429 and connection errors are retried with bounded
exponential backoff; any other non-2xx answer is an error for that feed or query alone.
"""

from __future__ import annotations

import codecs
import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator
from urllib.parse import urlsplit

import requests

from tracker import __version__
from tracker.sources.press.config import PressConfig
from tracker.store.raw import RawWriter
from tracker.core.timeutil import utcnow
from tracker.sources.fetch import ArchivingFetcher, FetchLimits
from tracker.sources.http import GuardedAdapter

log = logging.getLogger("tracker.press")

KEPT_HEADERS = ("content-type", "etag", "last-modified", "date", "retry-after",
                "content-location", "cache-control", "memento-datetime")
FINAL_URL = "x-final-url"     # stored beside the headers when a redirect moved the request

_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""", re.I)
_HTML_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)


def _codec(name: str | bytes | None) -> str | None:
    if not name:
        return None
    if isinstance(name, bytes):
        name = name.decode("ascii", "ignore")
    try:
        return codecs.lookup(name.strip()).name
    except LookupError:
        return None


def body_encoding(head: bytes, content_type: str | None) -> str:
    """The encoding a body is read with: HTTP charset, BOM, XML declaration, HTML meta, UTF-8.

    Used when fetching (on the bytes) and when normalizing (on the stored text re-encoded), so a
    feed is parsed from the same bytes in both places.
    """
    if content_type:
        m = _CHARSET.search(content_type.encode("latin-1", "ignore"))
        enc = _codec(m.group(1)) if m else None
        if enc:
            return enc
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
                     (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return enc
    m = _XML_DECL.match(head[:512]) or _HTML_META.search(head[:4096])
    enc = _codec(m.group(1)) if m else None
    return enc or "utf-8"


def decode(content: bytes, content_type: str | None) -> str:
    enc = body_encoding(content[:4096], content_type)
    text = content.decode(enc, errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


@dataclass
class Fetched:
    """One archived answer as the collectors see it."""

    url: str
    status: int
    text: str
    headers: dict
    seq: int
    fetched_at: str = ""
    extra: object = None           # what cursor_fn worked out from the body


def make_session(cfg: PressConfig) -> requests.Session:
    """A session whose every request is bounded by the press deadline and body cap."""
    session = requests.Session()
    session.headers["User-Agent"] = f"{cfg.user_agent} tracker/{__version__}"
    adapter = GuardedAdapter(timeout=cfg.timeout_seconds, deadline=cfg.request_deadline_seconds,
                             max_body_bytes=cfg.max_body_bytes)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class PressFetcher(ArchivingFetcher):
    """GETs within the run's request cap; archives every attempt first."""

    kept_headers = KEPT_HEADERS
    source_label = "press"

    def __init__(self, cfg: PressConfig, raw: RawWriter, *,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock=utcnow):
        super().__init__(raw, FetchLimits(
            max_requests=cfg.max_requests_per_run, max_retries=cfg.max_retries,
            backoff_base_seconds=cfg.backoff_base_seconds,
            backoff_max_seconds=cfg.backoff_max_seconds), sleep=sleep, clock=clock)
        self.cfg = cfg
        self.session = session or make_session(cfg)
        self.also_accepted: frozenset[int] = frozenset()

    def accepted(self, status) -> bool:
        return status is not None and (200 <= status < 300 or status == 304
                                       or status in self.also_accepted)

    @contextmanager
    def accepting(self, statuses: set[int]) -> Iterator[None]:
        """Take these statuses as answers too meanwhile (a re-fetched article's 404: gone)."""
        before = self.also_accepted
        self.also_accepted = frozenset(statuses)
        try:
            yield
        finally:
            self.also_accepted = before

    def target(self, url: str) -> str:
        """Where a request for ``url`` goes: ``press.connect_to`` may send a host elsewhere
        (a mirror, a proxy, the local test server); the archive records where it went."""
        parts = urlsplit(url)
        base = self.cfg.connect_to.get((parts.hostname or "").lower())
        if not base:
            return url
        rest = parts.path or "/"
        return base + rest + (f"?{parts.query}" if parts.query else "")

    def remaining(self) -> int:
        """Requests this run may still make."""
        return max(self.limits.max_requests - self.stats.requests, 0)

    def decode(self, resp: requests.Response) -> str:
        return decode(resp.content, resp.headers.get("content-type"))

    def headers_of(self, resp: requests.Response) -> dict:
        kept = super().headers_of(resp)
        if resp.history and resp.url:
            kept[FINAL_URL] = resp.url
        return kept

    def get(self, url: str, *, purpose: str, scope: str | None = None,
            params: dict | None = None, headers: dict | None = None,
            archive_params: dict | None = None,
            cursor_fn: Callable[[int, str, dict], tuple[dict | None, object]] | None = None,
            pace: tuple[str, float] | None = None) -> Fetched:
        """Fetch ``url``; return its 2xx or 304 answer. Raises BudgetExhausted or SourceError.

        ``cursor_fn(status, text, headers) -> (cursor_after, extra)`` runs on a 200 answer
        before it is archived, so the page carries the cursor it justifies.
        """
        def judge(_parsed, a):
            if a.status == 200 and cursor_fn is not None:
                return cursor_fn(a.status, a.text, a.headers)
            return None, None

        url = self.target(url)
        a = self.fetch(
            purpose=purpose, endpoint=url, params={**(params or {}), **(archive_params or {})},
            scope=scope, pace=pace, url=url, cursor_fn=judge,
            send=lambda: self.session.get(url, params=params, headers=headers or {},
                                          timeout=self.cfg.timeout_seconds,
                                          allow_redirects=True))
        return Fetched(url, a.status, a.text, a.headers, a.seq, a.fetched_at, a.extra)


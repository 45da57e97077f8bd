"""Plain HTTP for the press sources: timeouts, bounded retries, a per-run request cap, raw first.

Every attempt's response (304s, errors and connection failures included) is archived verbatim
before anything is derived from it. 5xx, 429 and connection errors are retried with bounded
exponential backoff; any other non-2xx answer is an error for that feed or query alone.
"""

from __future__ import annotations

import codecs
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Callable

import requests

from ... import __version__
from ...config import PressConfig
from ...errors import BudgetExhausted, SourceError
from ...store.raw import RawWriter
from ...timeutil import iso, utcnow

log = logging.getLogger("tracker.press")

KEPT_HEADERS = ("content-type", "etag", "last-modified", "date", "retry-after",
                "content-location", "cache-control")
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
class FetchStats:
    requests: int = 0
    pages: int = 0
    posts_read: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    by_purpose: dict[str, int] = field(default_factory=dict)


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


class PressFetcher:
    """GETs within the run's request cap; archives every attempt first."""

    def __init__(self, cfg: PressConfig, raw: RawWriter, *,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock=utcnow):
        self.cfg = cfg
        self.raw = raw
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"{cfg.user_agent} tracker/{__version__}"
        self.sleep = sleep
        self.clock = clock
        self.stats = FetchStats()
        self._last: dict[str, float] = {}

    def pace(self, key: str, interval: float) -> None:
        """Keep ``interval`` seconds between requests of one kind (GDELT asks for 5 s)."""
        last = self._last.get(key)
        if last is not None and interval > 0:
            wait = interval - (time.monotonic() - last)
            if wait > 0:
                self.stats.waited_seconds += wait
                self.sleep(wait)
        self._last[key] = time.monotonic()

    def get(self, url: str, *, purpose: str, scope: str | None = None,
            params: dict | None = None, headers: dict | None = None,
            archive_params: dict | None = None,
            cursor_fn: Callable[[int, str, dict], tuple[dict | None, object]] | None = None,
            pace: tuple[str, float] | None = None) -> Fetched:
        """Fetch ``url``; return its 2xx or 304 answer. Raises BudgetExhausted or SourceError.

        ``cursor_fn(status, text, headers) -> (cursor_after, extra)`` runs on a 200 answer
        before it is archived, so the page carries the cursor it justifies.
        """
        attempt = 0
        while True:
            if self.stats.requests >= self.cfg.max_requests_per_run:
                raise BudgetExhausted(
                    f"request cap of {self.cfg.max_requests_per_run} per run reached "
                    "(press.max_requests_per_run); the next run goes on from the saved cursors")
            if pace:
                self.pace(*pace)
            self.stats.requests += 1
            self.stats.by_purpose[purpose] = self.stats.by_purpose.get(purpose, 0) + 1
            resp, conn_error = None, None
            try:
                resp = self.session.get(url, params=params, headers=headers or {},
                                        timeout=self.cfg.timeout_seconds, allow_redirects=True)
            except requests.RequestException as exc:
                conn_error = _short_error(exc)
            fetched_at = self.clock()
            status = resp.status_code if resp is not None else None
            kept = {}
            text = None
            if resp is not None:
                kept = {k: resp.headers[k] for k in KEPT_HEADERS if k in resp.headers}
                if resp.history and resp.url:
                    kept[FINAL_URL] = resp.url
                text = decode(resp.content, resp.headers.get("content-type"))
            cursor, extra = None, None
            if status == 200 and cursor_fn is not None:
                cursor, extra = cursor_fn(status, text, kept)
            seq = self.raw.page(purpose=purpose, endpoint=url,
                                params={**(params or {}), **(archive_params or {})},
                                scope=scope, fetched_at=fetched_at, status=status,
                                headers=kept, body=text, cursor_after=cursor, error=conn_error)
            self.stats.pages += 1
            if status is not None and (200 <= status < 300 or status == 304):
                return Fetched(url, status, text or "", kept, seq, iso(fetched_at), extra)
            attempt += 1
            retryable = conn_error is not None or status == 429 or (status or 0) >= 500
            what = conn_error or f"HTTP {status}"
            if not retryable:
                raise SourceError(f"{url}: {what}: {_snippet(text)}")
            if attempt > self.cfg.max_retries:
                raise SourceError(f"{url}: gave up after {attempt} attempts: {what}"
                                  + (f": {_snippet(text)}" if text else ""))
            delay = min(self.cfg.backoff_base_seconds * 2 ** (attempt - 1),
                        self.cfg.backoff_max_seconds)
            retry_after = resp.headers.get("retry-after") if resp is not None else None
            if retry_after and retry_after.strip().isdigit():
                delay = min(max(delay, float(retry_after)), self.cfg.backoff_max_seconds)
            log.warning("press %s: %s; retry %d in %.1fs", url, what, attempt, delay)
            self.stats.retries += 1
            self.stats.waited_seconds += delay
            self.sleep(delay)


def _short_error(exc: Exception) -> str:
    """``ConnectionError: [Errno 111] Connection refused`` rather than urllib3's nested repr."""
    text = str(exc)
    m = re.search(r"(\[Errno -?\d+\][^'\")]*|Read timed out[^'\")]*|Name or service not known)",
                  text)
    if m:
        text = m.group(1).strip().rstrip(".")
    return f"{type(exc).__name__}: {text[:300]}"


def _snippet(text: str | None, n: int = 200) -> str:
    if not text:
        return "(empty body)"
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:n] + ("…" if len(text) > n else "")

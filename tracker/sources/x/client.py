"""tweepy's v2 Client pointed at a configurable base URL, with budget, retries and archiving.

tweepy hard-codes its host; a transport adapter mounted on ``client.session`` rewrites each
request to ``x.api_base_url`` (api.x.com, a proxy, or a local test server). Rate limits are
handled here, never with ``wait_on_rate_limit`` (which sleeps without bound, also on usage caps).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter

from ...config import XConfig
from ...errors import BudgetExhausted, RateLimited, SourceError
from ...store.raw import RawWriter
from ...timeutil import utcnow

log = logging.getLogger("tracker.x")

TWEEPY_HOST = "https://api.twitter.com"
KEPT_HEADERS = ("content-type", "x-rate-limit-limit", "x-rate-limit-remaining",
                "x-rate-limit-reset", "retry-after", "date")


class BaseURLAdapter(HTTPAdapter):
    """Sends every request to ``base_url`` keeping path and query; applies a default timeout."""

    def __init__(self, base_url: str, timeout: float):
        super().__init__()
        self.base = urlsplit(base_url.rstrip("/"))
        self.timeout = timeout

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.url = urlunsplit((self.base.scheme, self.base.netloc,
                                  self.base.path + parts.path, parts.query, ""))
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def make_client(cfg: XConfig) -> tweepy.Client:
    """A tweepy Client returning raw ``requests.Response`` objects, routed to cfg.api_base_url."""
    client = tweepy.Client(bearer_token=cfg.bearer_token(), return_type=requests.Response,
                           wait_on_rate_limit=False)
    client.session.mount(TWEEPY_HOST, BaseURLAdapter(cfg.api_base_url, cfg.timeout_seconds))
    return client


@dataclass
class Page:
    """A parsed 200 response as the collectors see it."""

    body: dict
    seq: int

    @property
    def meta(self) -> dict:
        return self.body.get("meta") or {}

    @property
    def data(self) -> list:
        d = self.body.get("data")
        return d if isinstance(d, list) else ([d] if d else [])


@dataclass
class FetchStats:
    requests: int = 0
    pages: int = 0
    posts_read: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    by_purpose: dict[str, int] = field(default_factory=dict)


def _posts_in(body: dict) -> int:
    data = body.get("data")
    items = data if isinstance(data, list) else ([data] if data else [])
    tweets = [d for d in items if isinstance(d, dict) and "username" not in d]
    inc = (body.get("includes") or {}).get("tweets") or []
    return len(tweets) + len(inc)


class Fetcher:
    """Makes API calls within the run's request budget and archives every response first."""

    def __init__(self, cfg: XConfig, raw: RawWriter, *, client: tweepy.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock=utcnow):
        self.cfg = cfg
        self.raw = raw
        self.client = client or make_client(cfg)
        self.sleep = sleep
        self.clock = clock
        self.stats = FetchStats()
        self._last_response = None
        hooks = self.client.session.hooks.setdefault("response", [])
        hooks[:] = [h for h in hooks if not getattr(h, "_tracker", False)]

        def remember(response, *args, **kwargs):
            self._last_response = response

        remember._tracker = True
        hooks.append(remember)

    def _send(self, call: Callable[..., Any], params: dict):
        """One HTTP request through tweepy; returns (response or None, error text or None)."""
        self._last_response = None
        try:
            return call(**params), None
        except tweepy.HTTPException as exc:
            return exc.response, None
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}"
        except ValueError as exc:
            # tweepy could not read the answer itself (e.g. a 429 whose x-rate-limit-reset is
            # not a number): judge the response it received like any other
            if self._last_response is not None:
                return self._last_response, None
            return None, f"unreadable response: {type(exc).__name__}: {exc}"

    def get(self, *, purpose: str, endpoint: str, call: Callable[..., Any], params: dict,
            scope: str | None = None,
            cursor_fn: Callable[[dict], dict | None] | None = None) -> Page:
        """Fetch one page. Archives every attempt's response, then returns the parsed body.

        Raises BudgetExhausted, RateLimited (cursor intact, resumes) or SourceError.
        """
        attempt = 0
        while True:
            if self.stats.requests >= self.cfg.max_requests_per_run:
                raise BudgetExhausted(
                    f"request budget of {self.cfg.max_requests_per_run} per run reached "
                    "(x.max_requests_per_run); the next run resumes from the saved cursor")
            self.stats.requests += 1
            self.stats.by_purpose[purpose] = self.stats.by_purpose.get(purpose, 0) + 1
            resp, conn_error = self._send(call, params)
            fetched_at = self.clock()
            status = resp.status_code if resp is not None else None
            # verbatim, except the token: a proxy or an error page that echoes the request's
            # Authorization header must not put the secret in the archive
            text = self._no_secret(resp.text) if resp is not None else None
            headers = ({k: self._no_secret(resp.headers[k]) for k in KEPT_HEADERS
                        if k in resp.headers} if resp is not None else {})
            conn_error = self._no_secret(conn_error)
            body, parse_error = None, None
            if status == 200:
                try:
                    body = json.loads(text)
                    if not isinstance(body, dict):
                        raise ValueError("not a JSON object")
                except ValueError as exc:
                    parse_error = f"invalid JSON body: {exc}"
            cursor = cursor_fn(body) if (body is not None and cursor_fn) else None
            seq = self.raw.page(purpose=purpose, endpoint=endpoint, params=_clean(params),
                                scope=scope, fetched_at=fetched_at, status=status,
                                headers=headers, body=text, cursor_after=cursor,
                                error=conn_error or parse_error)
            self.stats.pages += 1
            if body is not None:
                self.stats.posts_read += _posts_in(body)
                return Page(body, seq)
            attempt += 1
            if status == 429:
                self._on_rate_limit(resp, endpoint, attempt)
                continue
            retryable = conn_error or parse_error or (status is not None and status >= 500)
            if not retryable:
                raise SourceError(f"{endpoint}: HTTP {status}: {_api_detail(text)}")
            if attempt > self.cfg.max_retries:
                raise SourceError(f"{endpoint}: gave up after {attempt} attempts: "
                                  f"{conn_error or parse_error or f'HTTP {status}'}")
            delay = min(self.cfg.backoff_base_seconds * 2 ** (attempt - 1),
                        self.cfg.backoff_max_seconds)
            log.warning("x %s: %s; retry %d in %.1fs", endpoint,
                        conn_error or parse_error or f"HTTP {status}", attempt, delay)
            self.stats.retries += 1
            self.stats.waited_seconds += delay
            self.sleep(delay)

    def _no_secret(self, text: str | None) -> str | None:
        token = os.environ.get(self.cfg.bearer_token_env, "").strip()
        if text and token and token in text:
            return text.replace(token, "[REDACTED]")
        return text

    def _on_rate_limit(self, resp, endpoint: str, attempt: int) -> None:
        detail = _api_detail(resp.text)
        if "usagecap" in detail.replace(" ", "").lower():
            raise RateLimited(f"{endpoint}: monthly usage cap reached ({detail}); stopping")
        if attempt > self.cfg.max_retries:
            # a 429 storm: the waits are bounded, and so is their number (x.max_retries)
            raise RateLimited(f"{endpoint}: still rate limited (HTTP 429) after {attempt} "
                              "attempts; stopping with cursors intact")
        reset = resp.headers.get("x-rate-limit-reset")
        try:
            reset_ts = float(reset) if reset is not None else None
        except ValueError:
            reset_ts = None                       # an unreadable header counts as none
        if reset_ts is None or not math.isfinite(reset_ts):
            wait = min(self.cfg.backoff_max_seconds, self.cfg.max_rate_limit_wait_seconds)
        else:
            wait = max(0.0, reset_ts - self.clock().timestamp()) + 1
        if wait > self.cfg.max_rate_limit_wait_seconds:
            raise RateLimited(
                f"{endpoint}: rate limited until {reset} (in {wait:.0f}s, more than "
                f"x.max_rate_limit_wait_seconds={self.cfg.max_rate_limit_wait_seconds:g}); "
                "stopping with cursors intact", reset_at=reset)
        log.warning("x %s: HTTP 429, waiting %.0fs for the rate-limit window", endpoint, wait)
        self.stats.waited_seconds += wait
        self.sleep(wait)


def _clean(params: dict) -> dict:
    """Params as archived: plain JSON values, never credentials (tweepy keeps those in headers)."""
    out = {}
    for k, v in params.items():
        if k in ("user_auth",) or v is None:
            continue
        out[k] = ",".join(map(str, v)) if isinstance(v, (list, tuple)) else v
    return out


def _api_detail(text: str | None) -> str:
    if not text:
        return "(empty body)"
    try:
        body = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(body, dict):
        parts = [str(body.get(k)) for k in ("title", "detail") if body.get(k)]
        for e in body.get("errors") or []:
            if isinstance(e, dict):
                parts.append(str(e.get("message") or e.get("detail") or e))
        return "; ".join(parts) or text[:200]
    return text[:200]

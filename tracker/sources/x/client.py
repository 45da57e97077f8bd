"""tweepy's v2 Client pointed at a configurable base URL, with budget, retries and archiving.

tweepy hard-codes its host; the guarded transport (sources/http.py) mounted on
``client.session`` sends each request to ``x.api_base_url`` (api.x.com, a proxy, or a local test
server), within a total deadline and a body size cap. Rate limits are
handled here, never with ``wait_on_rate_limit`` (which sleeps without bound, also on usage caps).
"""

from __future__ import annotations

import email.utils
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import requests
import tweepy

from tracker.sources.x.config import XConfig
from tracker.core.errors import RateLimited
from tracker.core.jsonload import loads
from tracker.store.raw import RawWriter
from tracker.core.timeutil import iso, parse_iso, utcnow
from tracker.sources.fetch import ArchivingFetcher, FetchLimits
from tracker.sources.http import GuardedAdapter

log = logging.getLogger("tracker.x")

TWEEPY_HOST = "https://api.twitter.com"
KEPT_HEADERS = ("content-type", "x-rate-limit-limit", "x-rate-limit-remaining",
                "x-rate-limit-reset", "retry-after", "date")


def make_client(cfg: XConfig) -> tweepy.Client:
    """A tweepy Client returning raw ``requests.Response`` objects, routed to cfg.api_base_url."""
    client = tweepy.Client(bearer_token=cfg.bearer_token(), return_type=requests.Response,
                           wait_on_rate_limit=False)
    client.session.mount(TWEEPY_HOST, GuardedAdapter(
        base_url=cfg.api_base_url, timeout=cfg.timeout_seconds,
        deadline=cfg.request_deadline_seconds, max_body_bytes=cfg.max_body_bytes))
    return client


@dataclass
class Page:
    """A parsed 200 response as the collectors see it."""

    body: dict
    seq: int
    seen_at: str = ""        # the earlier of our clock and the server's Date

    @property
    def meta(self) -> dict:
        meta = self.body.get("meta")
        return meta if isinstance(meta, dict) else {}

    @property
    def data(self) -> list:
        d = self.body.get("data")
        return d if isinstance(d, list) else ([d] if d else [])


def _posts_in(body: dict) -> int:
    data = body.get("data")
    items = data if isinstance(data, list) else ([data] if data else [])
    tweets = [d for d in items if isinstance(d, dict) and "username" not in d]
    includes = body.get("includes")
    inc = (includes.get("tweets") if isinstance(includes, dict) else None) or []
    return len(tweets) + (len(inc) if isinstance(inc, list) else 0)


class Fetcher(ArchivingFetcher):
    """X API calls through tweepy, within the run's request budget, every answer archived."""

    kept_headers = KEPT_HEADERS
    source_label = "x"

    def __init__(self, cfg: XConfig, raw: RawWriter, *, client: tweepy.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock=utcnow):
        super().__init__(raw, FetchLimits(
            max_requests=cfg.max_requests_per_run, max_retries=cfg.max_retries,
            backoff_base_seconds=cfg.backoff_base_seconds,
            backoff_max_seconds=cfg.backoff_max_seconds,
            max_rate_limit_wait_seconds=cfg.max_rate_limit_wait_seconds),
            secret_env=(cfg.bearer_token_env,), sleep=sleep, clock=clock)
        self.cfg = cfg
        self.client = client or make_client(cfg)
        self._last_response = None
        hooks = self.client.session.hooks.setdefault("response", [])
        hooks[:] = [h for h in hooks if not getattr(h, "_tracker", False)]

        def remember(response, *args, **kwargs):
            self._last_response = response

        remember._tracker = True
        hooks.append(remember)

    def _call(self, call: Callable[..., Any], params: dict) -> requests.Response:
        """One request through tweepy; its HTTP errors become the response they carry."""
        self._last_response = None
        try:
            return call(**params)
        except tweepy.HTTPException as exc:
            return exc.response
        except ValueError as exc:
            # tweepy could not read the answer itself (e.g. a 429 whose x-rate-limit-reset is
            # not a number): judge the response it received like any other
            if self._last_response is not None:
                return self._last_response
            raise requests.RequestException(
                f"unreadable response: {type(exc).__name__}: {exc}") from None

    def accepted(self, status) -> bool:
        return status == 200

    def parse(self, status, text):
        if status != 200:
            return None, None
        try:
            body = loads(text)
        except ValueError as exc:
            return None, f"invalid JSON body: {exc}"
        if not isinstance(body, dict):
            return None, "invalid JSON body: not a JSON object"
        return body, None

    def count(self, parsed) -> None:
        if isinstance(parsed, dict):
            self.stats.posts_read += _posts_in(parsed)

    def error_detail(self, text):
        return _api_detail(text)

    def get(self, *, purpose: str, endpoint: str, call: Callable[..., Any], params: dict,
            scope: str | None = None,
            cursor_fn: Callable[[dict, str], dict | None] | None = None,
            cursors_fn: Callable[[dict, str], dict[str, dict]] | None = None) -> Page:
        """Fetch one page (see ArchivingFetcher.fetch). The cursor functions get the body and
        when the page was seen (``seen_at``: the earlier of our clock and the server's Date);
        ``cursors_fn`` gives the cursors of a page that covers several scopes. Raises
        BudgetExhausted, RateLimited (cursor intact, resumes) or SourceError."""
        answer = self.fetch(
            purpose=purpose, endpoint=endpoint, params=_clean(params), scope=scope,
            send=lambda: self._call(call, params),
            cursor_fn=(lambda body, a: (cursor_fn(body, seen_at(a)), None)) if cursor_fn
            else None,
            cursors_fn=(lambda body, a: cursors_fn(body, seen_at(a))) if cursors_fn else None)
        return Page(answer.parsed, answer.seq, seen_at(answer))

    def rate_limit_wait(self, resp, endpoint: str, attempt: int) -> float:
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
        return wait


def seen_at(answer) -> str:
    """When an answer was given: our clock, or the server's Date if that is earlier (a clock
    that runs ahead must not make a cursor claim more than the server has shown)."""
    date = answer.headers.get("date")
    if date:
        try:
            server = email.utils.parsedate_to_datetime(date)
            ours = parse_iso(answer.fetched_at)
            if server.tzinfo is not None and server < ours:
                return iso(server)
        except (TypeError, ValueError, OverflowError):
            pass
    return answer.fetched_at


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
        body = loads(text)
    except ValueError:
        return text[:200]
    if isinstance(body, dict):
        parts = [str(body.get(k)) for k in ("title", "detail") if body.get(k)]
        for e in body.get("errors") or []:
            if isinstance(e, dict):
                parts.append(str(e.get("message") or e.get("detail") or e))
        return "; ".join(parts) or text[:200]
    return text[:200]

"""mastodon-py's client, one per instance, sending through the archiving fetcher.

Every instance's ``Mastodon`` object shares one requests session whose adapters are the guarded
transport (sources/http.py: total deadline, body cap), so each call is an ordinary mastodon-py
call whose ``requests.Response`` a session hook hands to the fetcher: archived verbatim, then
judged. mastodon-py's own rate limiting is off (``throw``: it would sleep without bound, up to
5 minutes a request); the fetcher reads the ``X-RateLimit-*`` headers itself, per instance:
it waits for a window's reset within ``mastodon.max_rate_limit_wait_seconds`` or stops that
instance's work cleanly (RateLimited; cursors intact) while the other instances go on.
"""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import requests
from mastodon import Mastodon
from mastodon.errors import MastodonError, MastodonNetworkError

from tracker import __version__
from tracker.core.errors import RateLimited
from tracker.core.jsonload import loads
from tracker.core.timeutil import parse_iso, utcnow
from tracker.sources.fetch import Answer, ArchivingFetcher, FetchLimits
from tracker.sources.http import GuardedAdapter
from tracker.sources.mastodon.config import MastodonConfig
from tracker.store.raw import RawWriter

log = logging.getLogger("tracker.mastodon")

KEPT_HEADERS = ("content-type", "date", "retry-after", "link", "x-ratelimit-limit",
                "x-ratelimit-remaining", "x-ratelimit-reset")
GONE = (404, 410)            # a status that is deleted (or no longer visible) answers these
USER_AGENT = f"poll-denial-tracker/{__version__} (mastodon-py)"


def make_session(cfg: MastodonConfig) -> requests.Session:
    session = requests.Session()
    adapter = GuardedAdapter(timeout=cfg.timeout_seconds, deadline=cfg.request_deadline_seconds,
                             max_body_bytes=cfg.max_body_bytes)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass
class Window:
    """An instance's rate-limit window as its last answer told it (times on our clock)."""

    remaining: int | None = None
    reset_at: datetime | None = None


@dataclass
class Stops:
    """Instances whose work stopped on a rate limit this run, and why."""

    reasons: dict[str, str] = field(default_factory=dict)


def _reset_at(headers: dict, now: datetime) -> datetime | None:
    """When the window resets, on our clock: X-RateLimit-Reset is an ISO time (Mastodon) or
    epoch seconds (GoToSocial), read against the answer's own Date so clock skew cancels."""
    reset = headers.get("x-ratelimit-reset")
    if not reset:
        return None
    server_now = None
    if headers.get("date"):
        try:
            server_now = email.utils.parsedate_to_datetime(headers["date"])
        except (TypeError, ValueError, IndexError, OverflowError):
            server_now = None
        if server_now is not None and server_now.tzinfo is None:
            server_now = None
    try:
        text = str(reset).strip()
        if text.isdigit():
            at = datetime.fromtimestamp(int(text), tz=now.tzinfo)
        else:
            at = parse_iso(text)
    except (ValueError, OverflowError, OSError):
        return None
    if at is None:
        return None
    return now + (at - (server_now or now))


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def links(headers: dict) -> dict[str, dict[str, str]]:
    """The Link header's relations and their query parameters: ``{"next": {"max_id": …},
    "prev": {"min_id": …}}``."""
    out: dict[str, dict[str, str]] = {}
    text = headers.get("link") or ""
    for link in requests.utils.parse_header_links(text.rstrip(">").replace(">,<", ",<")) \
            if text else []:
        rel, url = link.get("rel"), link.get("url")
        if rel and url:
            out[rel] = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items() if v}
    return out


class Fetcher(ArchivingFetcher):
    """Mastodon API calls through mastodon-py, within the run's request budget and each
    instance's rate-limit window, every answer archived."""

    kept_headers = KEPT_HEADERS
    source_label = "mastodon"

    def __init__(self, cfg: MastodonConfig, raw: RawWriter, *, tracked: set[str] = frozenset(),
                 sleep: Callable[[float], None] = time.sleep, clock=utcnow):
        super().__init__(raw, FetchLimits(
            max_requests=cfg.max_requests_per_run, max_retries=cfg.max_retries,
            backoff_base_seconds=cfg.backoff_base_seconds,
            backoff_max_seconds=cfg.backoff_max_seconds,
            max_rate_limit_wait_seconds=cfg.max_rate_limit_wait_seconds),
            secret_env=(cfg.access_token_env,), sleep=sleep, clock=clock)
        self.cfg = cfg
        self.tracked = set(tracked)          # the instances the tracked accounts are on
        self.session = make_session(cfg)
        self.clients: dict[str, Mastodon] = {}
        self.windows: dict[str, Window] = {}
        self.stops = Stops()
        self._instance = ""
        self._last: requests.Response | None = None
        # called with (instance, answer) for every accepted answer (a job watching for edits)
        self.watch: Callable[[str, Answer], None] | None = None

        def remember(response, *args, **kwargs):
            self._last = response

        self.session.hooks["response"] = [remember]

    def client(self, instance: str) -> Mastodon:
        if instance not in self.clients:
            self.clients[instance] = Mastodon(
                api_base_url=self.cfg.base_url(instance),
                access_token=self.cfg.token_for(instance, self.tracked),
                session=self.session, ratelimit_method="throw",
                request_timeout=self.cfg.timeout_seconds, version_check_mode="none",
                user_agent=USER_AGENT)
        return self.clients[instance]

    # ---- the fetcher's hooks -----------------------------------------------------------
    def accepted(self, status) -> bool:
        return status == 200 or status in GONE

    def parse(self, status, text):
        if status != 200 and status not in GONE:
            return None, None
        try:
            body = loads(text or "")
        except ValueError as exc:
            if status in GONE:
                return None, None          # an HTML 404 page: kept, says nothing of a status
            return None, f"invalid JSON body: {exc}"
        if status == 200 and not isinstance(body, (dict, list)):
            return None, "invalid JSON body: neither an object nor an array"
        return body, None

    def count(self, parsed) -> None:
        self.stats.posts_read += statuses_in(parsed)

    def error_detail(self, text):
        try:
            body = loads(text or "")
        except ValueError:
            return super().error_detail(text)
        if isinstance(body, dict) and body.get("error"):
            return str(body["error"])[:200]
        return super().error_detail(text)

    def rate_limit_wait(self, resp, endpoint: str, attempt: int) -> float:
        instance = self._instance
        self._note_window(resp)
        if attempt > self.cfg.max_retries:
            self._stop(instance, f"{endpoint}: still rate limited (HTTP 429) after {attempt} "
                                 "attempts")
        window = self.windows.get(instance)
        now = self.clock()
        if window is None or window.reset_at is None:
            wait = min(self.backoff(attempt, resp), self.cfg.max_rate_limit_wait_seconds)
        else:
            wait = max(0.0, (window.reset_at - now).total_seconds()) + 1
        if wait > self.cfg.max_rate_limit_wait_seconds:
            self._stop(instance, f"{endpoint}: rate limited (HTTP 429) for {wait:.0f}s more, "
                                 "beyond mastodon.max_rate_limit_wait_seconds="
                                 f"{self.cfg.max_rate_limit_wait_seconds:g}")
        log.warning("mastodon %s %s: HTTP 429, waiting %.0fs for the rate-limit window",
                    instance, endpoint, wait)
        return wait

    # ---- requests ----------------------------------------------------------------------
    def _stop(self, instance: str, why: str) -> None:
        reason = f"{instance}: {why}; stopping this instance with cursors intact"
        self.stops.reasons.setdefault(instance, reason)
        raise RateLimited(reason)

    def _note_window(self, resp: requests.Response | None) -> None:
        if resp is None:
            return
        headers = {k.lower(): v for k, v in resp.headers.items()}
        remaining = _int(headers.get("x-ratelimit-remaining"))
        if remaining is None and "x-ratelimit-reset" not in headers:
            return
        self.windows[self._instance] = Window(remaining, _reset_at(headers, self.clock()))

    def _before(self, instance: str) -> None:
        """Stop at once for an instance already stopped; wait for (or stop at) a spent window
        before sending rather than earn a 429."""
        if instance in self.stops.reasons:
            raise RateLimited(self.stops.reasons[instance])
        window = self.windows.get(instance)
        if window is None or window.remaining is None \
                or window.remaining > self.cfg.rate_limit_reserve:
            return
        now = self.clock()
        if window.reset_at is None or window.reset_at <= now:
            return
        wait = (window.reset_at - now).total_seconds() + 1
        if wait > self.cfg.max_rate_limit_wait_seconds:
            self._stop(instance, f"rate-limit window spent ({window.remaining} left) for "
                                 f"{wait:.0f}s more, beyond mastodon.max_rate_limit_wait_seconds="
                                 f"{self.cfg.max_rate_limit_wait_seconds:g}")
        log.info("mastodon %s: rate-limit window spent, waiting %.0fs", instance, wait)
        self.wait(wait)
        self.windows[instance] = Window()

    def _call(self, call: Callable[..., Any], kwargs: dict) -> requests.Response:
        """One request through mastodon-py; the response it got, whatever it made of it."""
        self._last = None
        try:
            call(**kwargs)
        except MastodonNetworkError as exc:
            inner = exc.__context__
            if isinstance(inner, requests.RequestException):
                raise inner from None          # the transport's own error (deadline, reset)
            raise requests.ConnectionError(str(exc)) from None
        except MastodonError as exc:
            # an HTTP error, a 429, or a body or header mastodon-py could not read: judge the
            # response it received like any other
            if self._last is None:
                raise requests.RequestException(
                    f"no response: {type(exc).__name__}: {exc}") from None
        if self._last is None:
            raise requests.RequestException("mastodon-py returned without a response")
        self._note_window(self._last)
        return self._last

    def get(self, instance: str, *, purpose: str, endpoint: str, call: str, args: dict,
            scope: str | None = None,
            cursor_fn: Callable[[Any, Answer], tuple[dict | None, Any]] | None = None,
            cursors_fn: Callable[[Any, Answer], dict[str, dict]] | None = None) -> Answer:
        """Fetch one answer from ``instance`` with ``client.<call>(**args)`` (the cursor
        functions as ArchivingFetcher.fetch's). The archived params are the call's arguments
        and the instance. Raises BudgetExhausted, RateLimited
        (this instance stops; cursors intact) or SourceError."""
        self._before(instance)
        self._instance = instance
        method = getattr(self.client(instance), call)
        answer = self.fetch(purpose=purpose, endpoint=endpoint,
                          params={"instance": instance, **{k: v for k, v in args.items()
                                                           if v is not None}},
                          scope=scope, send=lambda: self._call(method, args),
                          cursor_fn=cursor_fn, cursors_fn=cursors_fn)
        if self.watch is not None:
            self.watch(instance, answer)
        return answer


def statuses_in(parsed) -> int:
    """The statuses an answer holds (a boost's original and a quoted status count too)."""
    def one(s) -> int:
        if not isinstance(s, dict) or "content" not in s or "id" not in s:
            return 0
        n = 1
        if isinstance(s.get("reblog"), dict):
            n += one(s["reblog"])
        quote = s.get("quote")
        if isinstance(quote, dict) and isinstance(quote.get("quoted_status"), dict):
            n += one(quote["quoted_status"])
        return n

    if isinstance(parsed, list):
        return sum(one(s) for s in parsed)
    if isinstance(parsed, dict):
        if "descendants" in parsed or "ancestors" in parsed:
            return sum(one(s) for k in ("ancestors", "descendants")
                       for s in parsed.get(k) or [] if isinstance(parsed.get(k), list))
        return one(parsed)
    return 0


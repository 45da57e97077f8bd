"""The atproto SDK's client pointed at ``bluesky.api_base_url``, with budget, retries, rate
limits and archiving.

The SDK sends with httpx, and its ``Request`` passes its options to ``httpx.Client`` (atproto
>= 0.0.60). So its requests can be routed like tweepy's: an httpx transport hands each one to a
requests session with the guarded adapter (deadline, body cap; sources/http.py), the fetcher
archives the ``requests.Response`` verbatim before anything is judged, and the SDK parses and
validates the same answer into its models. An answer the SDK cannot read is archived, then
fails its scope as a shape the source cannot read.

Rate limits come from the ``ratelimit-*`` headers (``ratelimit-reset`` in epoch seconds): a 429
waits for the window within ``bluesky.max_rate_limit_wait_seconds`` or stops the run with its
cursors intact, and an answer that says the window is used up (``ratelimit-remaining: 0``)
makes the next request wait or stop the same way instead of drawing a 429.
"""

from __future__ import annotations

import email.utils
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import httpx
import requests

from tracker.core.errors import RateLimited, SourceError
from tracker.core.jsonload import loads
from tracker.core.timeutil import iso, parse_iso, utcnow
from tracker.sources.bluesky.config import BlueskyConfig
from tracker.sources.fetch import ArchivingFetcher, FetchLimits
from tracker.sources.http import GuardedAdapter
from tracker.store.raw import RawWriter

log = logging.getLogger("tracker.bluesky")

KEPT_HEADERS = ("content-type", "date", "retry-after", "ratelimit-limit", "ratelimit-remaining",
                "ratelimit-reset", "ratelimit-policy")
# what the transport leaves to requests: the connection's own headers, and the encodings
# requests itself decodes
_HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}
_DECODED_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}


class RequestsTransport(httpx.BaseTransport):
    """httpx requests sent by a requests session; ``seen`` gets each ``requests.Response``."""

    def __init__(self, session: requests.Session, seen: Callable[[requests.Response], None]):
        self.session = session
        self.seen = seen

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = self.session.request(
            request.method, str(request.url), data=request.content or None,
            headers={k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS})
        self.seen(resp)
        return httpx.Response(
            resp.status_code, content=resp.content, request=request,
            headers=[(k, v) for k, v in resp.headers.items()
                     if k.lower() not in _DECODED_HEADERS])


def make_client(cfg: BlueskyConfig, seen: Callable[[requests.Response], None]):
    """The atproto SDK's client, sending to cfg.api_base_url through the guarded transport."""
    # imported here: the SDK takes about half a second to import, and every `tracker`
    # command would pay it (only collection needs it)
    from atproto_client import Client
    from atproto_client.request import Request

    # httpx logs every request at INFO; the fetcher already logs and archives each one (a
    # level someone set on purpose is kept)
    quiet = logging.getLogger("httpx")
    if quiet.level == logging.NOTSET:
        quiet.setLevel(logging.WARNING)
    session = requests.Session()
    adapter = GuardedAdapter(timeout=cfg.timeout_seconds, deadline=cfg.request_deadline_seconds,
                             max_body_bytes=cfg.max_body_bytes)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return Client(base_url=cfg.api_base_url,
                  request=Request(transport=RequestsTransport(session, seen)))


@dataclass
class Page:
    """An accepted answer as the collectors see it."""

    status: int
    body: Any                    # the JSON body (an XRPC error's too)
    model: Any                   # the SDK's model of it (None for an error answer)
    seq: int
    seen_at: str                 # the earlier of our clock and the server's Date
    cursor: dict | None = None   # the cursor the page carries

    @property
    def error(self) -> str | None:
        return self.body.get("error") if self.status != 200 and isinstance(self.body, dict) \
            else None


def _posts_in(body: Any) -> int:
    """Posts a page holds (feed items, thread members, looked-up posts) for the stats."""
    if not isinstance(body, dict):
        return 0
    for key in ("feed", "posts"):
        if isinstance(body.get(key), list):
            return len(body[key])
    n, stack = 0, [body.get("thread")]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            n += isinstance(node.get("post"), dict)
            stack.append(node.get("parent"))
            stack.extend(node.get("replies") if isinstance(node.get("replies"), list) else [])
    return n


class Fetcher(ArchivingFetcher):
    """AppView calls through the atproto SDK, within the run's request budget, every answer
    archived."""

    kept_headers = KEPT_HEADERS
    source_label = "bluesky"

    def __init__(self, cfg: BlueskyConfig, raw: RawWriter, *, client=None,
                 sleep: Callable[[float], None] = time.sleep, clock=utcnow):
        super().__init__(raw, FetchLimits(
            max_requests=cfg.max_requests_per_run, max_retries=cfg.max_retries,
            backoff_base_seconds=cfg.backoff_base_seconds,
            backoff_max_seconds=cfg.backoff_max_seconds,
            max_rate_limit_wait_seconds=cfg.max_rate_limit_wait_seconds),
            sleep=sleep, clock=clock)
        self.cfg = cfg
        self._last: requests.Response | None = None
        self._model: Any = None
        self._unreadable: str | None = None     # why the SDK could not read the last answer
        self._soft: tuple[str, ...] = ()        # XRPC errors the current call takes as answers
        self._soft_ok = False
        self._window_reset: float | None = None  # the window is used up until then (epoch s)
        self.client = client or make_client(cfg, self._seen)

    def _seen(self, resp: requests.Response) -> None:
        self._last = resp

    # ---- how answers are judged ------------------------------------------------------
    def parse(self, status, text):
        self._soft_ok = False
        if status == 200:
            try:
                body = loads(text)
            except ValueError as exc:
                return None, f"invalid JSON body: {exc}"
            if not isinstance(body, dict):
                return None, "invalid JSON body: not a JSON object"
            return body, None
        if status == 400 and self._soft:
            try:
                body = loads(text)
            except ValueError:
                return None, None
            if isinstance(body, dict) and body.get("error") in self._soft:
                self._soft_ok = True
                return body, None
        return None, None

    def accepted(self, status) -> bool:
        # a 400 the call expects (a thread whose root is gone, a handle nobody has) answers it
        return status == 200 or (status == 400 and self._soft_ok)

    def count(self, parsed) -> None:
        self.stats.posts_read += _posts_in(parsed)

    def error_detail(self, text):
        try:
            body = loads(text or "")
        except ValueError:
            return super().error_detail(text)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            msg = body.get("message")
            return f"{body['error']}: {msg}"[:200] if isinstance(msg, str) else body["error"]
        return super().error_detail(text)

    # ---- rate limits --------------------------------------------------------------------
    def _reset_at(self, headers) -> float | None:
        try:
            reset = float(headers.get("ratelimit-reset"))
        except (TypeError, ValueError):
            return None
        # epoch seconds; anything else (NaN, a date past year 3000) counts as no header
        return reset if math.isfinite(reset) and 0 <= reset < 32_503_680_000 else None

    def _wait_until(self, reset: float, endpoint: str, why: str) -> float:
        wait = max(0.0, reset - self.clock().timestamp()) + 1
        if wait > self.cfg.max_rate_limit_wait_seconds:
            at = iso(datetime.fromtimestamp(reset, tz=timezone.utc))
            raise RateLimited(
                f"{endpoint}: {why} until {at} (in {wait:.0f}s, more than "
                f"bluesky.max_rate_limit_wait_seconds="
                f"{self.cfg.max_rate_limit_wait_seconds:g}); stopping with cursors intact",
                reset_at=at)
        log.warning("bluesky %s: %s, waiting %.0fs for the rate-limit window", endpoint, why,
                    wait)
        return wait

    def rate_limit_wait(self, resp, endpoint: str, attempt: int) -> float:
        if attempt > self.cfg.max_retries:
            # a 429 storm: the waits are bounded, and so is their number
            raise RateLimited(f"{endpoint}: still rate limited (HTTP 429) after {attempt} "
                              "attempts; stopping with cursors intact")
        reset = self._reset_at(resp.headers)
        if reset is None:
            return min(self.backoff(attempt, resp), self.cfg.max_rate_limit_wait_seconds)
        return self._wait_until(reset, endpoint, "rate limited (HTTP 429)")

    def _mind_window(self, endpoint: str) -> None:
        """Before a request: if the last answer used the window up, wait for it or stop."""
        reset, self._window_reset = self._window_reset, None
        if reset is not None and reset > self.clock().timestamp():
            self.wait(self._wait_until(reset, endpoint, "rate-limit window used up "
                                                        "(ratelimit-remaining: 0)"))

    def _note_window(self, headers: dict) -> None:
        remaining = headers.get("ratelimit-remaining")
        if remaining is not None and str(remaining).strip() in ("0", "-0"):
            self._window_reset = self._reset_at(headers)

    # ---- one call -----------------------------------------------------------------------
    def _call(self, call: Callable[[dict], Any], params: dict) -> requests.Response:
        """One request through the SDK: the response it received, whatever the SDK made of
        it (an HTTP error it raised, a body it could not read)."""
        self._last, self._model, self._unreadable = None, None, None
        try:
            self._model = call(params)
        except requests.RequestException:
            raise                              # the fetcher archives connection failures
        except Exception as exc:               # noqa: BLE001 - judged on the response below
            if self._last is None:
                raise SourceError(f"the atproto SDK sent nothing: {type(exc).__name__}: "
                                  f"{exc}"[:300]) from None
            if self._last.status_code == 200:
                self._unreadable = f"{type(exc).__name__}: {exc}"[:300]
        if self._last is None:
            raise SourceError("the atproto SDK answered without a request")
        return self._last

    def get(self, *, purpose: str, endpoint: str, call: Callable[[dict], Any], params: dict,
            scope: str | None = None, soft: tuple[str, ...] = (),
            cursor_fn: Callable[[Any, Any, str], dict | None] | None = None) -> Page:
        """Fetch one answer (see ArchivingFetcher.fetch). ``soft``: XRPC error names (HTTP
        400) that answer the call rather than fail it. ``cursor_fn(model, body, seen_at)``
        gives the cursor the page carries (on an error answer the model is None). Raises
        BudgetExhausted, RateLimited (cursor intact, resumes) or SourceError."""
        self._mind_window(endpoint)
        self._soft = soft

        def judge(body, answer) -> tuple[dict | None, dict | None]:
            if self._unreadable and answer.status == 200:
                raise ValueError(f"the atproto SDK could not read it: {self._unreadable}")
            cursor = cursor_fn(self._model if answer.status == 200 else None, body,
                               seen_at(answer)) if cursor_fn else None
            return cursor, cursor

        try:
            answer = self.fetch(purpose=purpose, endpoint=endpoint, params=params, scope=scope,
                                send=lambda: self._call(call, params), cursor_fn=judge)
        finally:
            self._soft = ()
        self._note_window(answer.headers)
        return Page(answer.status, answer.parsed,
                    self._model if answer.status == 200 else None, answer.seq,
                    seen_at(answer), answer.extra)


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

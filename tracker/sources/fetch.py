"""The one archiving fetcher: every request of every source goes through ``ArchivingFetcher``.

For each attempt, in this order: the run's request budget is checked, the request is sent
through the guarded transport (sources/http.py: deadline and body cap), the answer — whatever it
is: a page, an error page, a cut-off body, a connection failure — is written to the raw archive
with where and when it came from and the cursor it justifies, and only then judged:

- accepted (the source says which answers are: 2xx, a 304) → returned;
- cut off by the deadline or the size cap, or a shape the source cannot read → ``SourceError``
  for this request alone (the caller goes on with its other scopes), never retried;
- 429 → the source's rate-limit rule (wait within a bound, or stop with cursors intact);
- 5xx, connection errors, unreadable bodies → retried with bounded exponential backoff;
- anything else → ``SourceError``.

Secrets (the values of the source's secret environment variables) never reach the archive:
not in the text, not in the headers, and not JSON-escaped inside a body a server echoed them in.
Sources subclass it to say how to read their answers (``parse``), which headers to keep and how
to wait on a 429.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import requests

from tracker.core.errors import BudgetExhausted, SourceError
from tracker.core.jsonload import loads
from tracker.store.raw import RawWriter
from tracker.core.timeutil import iso, utcnow
from tracker.sources.http import DeadlineExceeded

log = logging.getLogger("tracker.fetch")


@dataclass
class FetchLimits:
    """The bounds one run works within (from the source's config section)."""

    max_requests: int
    max_retries: int = 3
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    max_rate_limit_wait_seconds: float = 900.0
    budget_setting: str = "max_requests_per_run"   # named in the budget message


@dataclass
class FetchStats:
    requests: int = 0
    pages: int = 0
    posts_read: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    by_purpose: dict[str, int] = field(default_factory=dict)


@dataclass
class Answer:
    """One accepted, archived answer."""

    status: int
    text: str
    headers: dict
    seq: int
    fetched_at: str
    parsed: Any = None           # what ``parse`` made of the body (X: the JSON object)
    extra: Any = None            # what the cursor function worked out besides the cursor
    url: str | None = None


def _walk_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_walk_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {fn(k) if isinstance(k, str) else k: _walk_strings(v, fn)
                for k, v in value.items()}
    return value


def _contains(value: Any, secret: str) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if secret in v:
                return True
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
    return False


class ArchivingFetcher:
    """Sends requests within a budget and archives every attempt before judging it."""

    kept_headers: tuple[str, ...] = ("content-type", "date", "retry-after")
    source_label = "source"

    def __init__(self, raw: RawWriter, limits: FetchLimits, *,
                 secret_env: tuple[str, ...] = (),
                 sleep: Callable[[float], None] = time.sleep, clock=utcnow):
        self.raw = raw
        self.limits = limits
        self.secret_env = tuple(secret_env)
        self.sleep = sleep
        self.clock = clock
        self.stats = FetchStats()
        self._paced: dict[str, float] = {}

    # ---- what a source may override --------------------------------------------------
    def parse(self, status: int | None, text: str | None) -> tuple[Any, str | None]:
        """(parsed body, problem): a problem makes the answer retryable (e.g. invalid JSON)."""
        return text, None

    def accepted(self, status: int | None) -> bool:
        return status is not None and 200 <= status < 300

    def decode(self, resp: requests.Response) -> str:
        return resp.text

    def headers_of(self, resp: requests.Response) -> dict:
        return {k: resp.headers[k] for k in self.kept_headers if k in resp.headers}

    def count(self, parsed: Any) -> None:
        """Count what a page holds (posts read) into the stats."""

    def rate_limit_wait(self, resp: requests.Response, endpoint: str,
                        attempt: int) -> float | None:
        """Seconds to wait before retrying a 429, or None to treat it like a 5xx (bounded
        backoff, then SourceError); raise RateLimited to stop the run instead."""
        return None

    def error_detail(self, text: str | None) -> str:
        if not text:
            return "(empty body)"
        text = re.sub(r"<[^>]+>", " ", text)
        text = re.sub(r"\s+", " ", text).strip()
        return text[:200] + ("…" if len(text) > 200 else "")

    # ---- the loop ------------------------------------------------------------------------
    def backoff(self, attempt: int, resp: requests.Response | None = None) -> float:
        delay = min(self.limits.backoff_base_seconds * 2 ** (attempt - 1),
                    self.limits.backoff_max_seconds)
        retry_after = resp.headers.get("retry-after") if resp is not None else None
        if retry_after and retry_after.strip().isdigit():
            delay = min(max(delay, float(retry_after)), self.limits.backoff_max_seconds)
        return delay

    def wait(self, seconds: float) -> None:
        self.stats.waited_seconds += seconds
        self.sleep(seconds)

    def pace(self, key: str, interval: float) -> None:
        """Keep ``interval`` seconds between requests of one kind (GDELT asks for 5 s)."""
        last = self._paced.get(key)
        if last is not None and interval > 0:
            wait = interval - (time.monotonic() - last)
            if wait > 0:
                self.wait(wait)
        self._paced[key] = time.monotonic()

    def secrets(self) -> list[str]:
        out = []
        for name in self.secret_env:
            value = os.environ.get(name, "").strip()
            if len(value) >= 4:
                out.append(value)
        return out

    def no_secret(self, text: str | None) -> str | None:
        if text:
            for secret in self.secrets():
                if secret in text:
                    text = text.replace(secret, "[REDACTED]")
        return text

    def _no_secret_parsed(self, text: str | None, parsed: Any) -> tuple[str | None, Any]:
        """A secret a server echoed JSON-escaped (``\\u0053…``) is only visible once parsed:
        such a body is archived re-serialized with the secret replaced."""
        secrets = self.secrets()
        if not secrets or not text:
            return text, parsed
        seen = parsed
        if seen is None or isinstance(seen, str):
            if "\\u" not in text:
                return text, parsed
            try:                        # an error page the source does not parse
                seen = loads(text)
            except ValueError:
                return text, parsed
        for secret in secrets:
            if _contains(seen, secret):
                seen = _walk_strings(seen, lambda s, sec=secret: s.replace(sec, "[REDACTED]"))
                text = json.dumps(seen, ensure_ascii=False)
                if parsed is not None and not isinstance(parsed, str):
                    parsed = seen
        return text, parsed

    def _send(self, send: Callable[[], requests.Response]):
        """(response or None, connection error text or None, deadline passed?)."""
        try:
            return send(), None, False
        except DeadlineExceeded as exc:
            return None, f"{type(exc).__name__}: {exc}", True
        except requests.RequestException as exc:
            if exc.response is not None:
                return exc.response, None, False
            return None, _short_error(exc), False

    def fetch(self, *, purpose: str, endpoint: str, send: Callable[[], requests.Response],
              params: dict | None = None, scope: str | None = None,
              cursor_fn: Callable[[Any, Answer], tuple[dict | None, Any]] | None = None,
              cursors_fn: Callable[[Any, Answer], dict[str, dict]] | None = None,
              pace: tuple[str, float] | None = None, url: str | None = None) -> Answer:
        """Send, archive, judge; see the module. ``cursor_fn(parsed, answer)`` runs on an
        accepted answer before it is archived, so the page carries the cursor it justifies;
        ``cursors_fn`` likewise for a page that covers several scopes (scope -> cursor).

        Raises BudgetExhausted, RateLimited (cursor intact, resumes) or SourceError.
        """
        attempt = 0
        while True:
            if self.stats.requests >= self.limits.max_requests:
                raise BudgetExhausted(
                    f"request budget of {self.limits.max_requests} per run reached "
                    f"({self.source_label}.{self.limits.budget_setting}); the next run "
                    "resumes from the saved cursors")
            if pace:
                self.pace(*pace)
            self.stats.requests += 1
            self.stats.by_purpose[purpose] = self.stats.by_purpose.get(purpose, 0) + 1
            resp, conn_error, deadline = self._send(send)
            fetched_at = self.clock()
            status = resp.status_code if resp is not None else None
            incomplete = getattr(resp, "incomplete", None) if resp is not None else None
            text = self.no_secret(self.decode(resp)) if resp is not None else None
            headers = ({k: self.no_secret(str(v)) for k, v in self.headers_of(resp).items()}
                       if resp is not None else {})
            conn_error = self.no_secret(conn_error)
            parsed, problem, shape = None, None, None
            if resp is not None and not incomplete:
                try:
                    parsed, problem = self.parse(status, text)
                except RecursionError:
                    parsed, problem = None, "body nested too deeply to read"
                text, parsed = self._no_secret_parsed(text, parsed)
            ok = self.accepted(status) and not incomplete and problem is None
            answer = Answer(status or 0, text or "", headers, 0, iso(fetched_at), parsed,
                            url=url)
            cursor, cursors = None, None
            if ok and (cursor_fn is not None or cursors_fn is not None):
                try:
                    if cursor_fn is not None:
                        cursor, answer.extra = cursor_fn(parsed, answer)
                    if cursors_fn is not None:
                        cursors = cursors_fn(parsed, answer)
                except (TypeError, ValueError, AttributeError, KeyError, IndexError,
                        OverflowError, RecursionError) as exc:
                    shape = f"unexpected response shape: {type(exc).__name__}: {exc}"[:500]
                    cursor = cursors = None
            answer.seq = self.raw.page(
                purpose=purpose, endpoint=endpoint, params=params or {}, scope=scope,
                fetched_at=fetched_at, status=status, headers=headers, body=text,
                cursor_after=cursor, cursors_after=cursors,
                error=conn_error or incomplete or problem or shape)
            self.stats.pages += 1
            if incomplete:
                raise SourceError(f"{endpoint}: {incomplete} (what came is archived)")
            if shape:
                raise SourceError(f"{endpoint}: {shape} (the page is archived; this scope "
                                  "stops here, the others go on)")
            if ok:
                self.count(parsed)
                return answer
            attempt += 1
            if status == 429:
                wait = self.rate_limit_wait(resp, endpoint, attempt)
                if wait is not None:
                    self.wait(wait)
                    continue
            what = conn_error or problem or f"HTTP {status}"
            if deadline:
                raise SourceError(f"{endpoint}: {conn_error}")
            retryable = conn_error or problem or (status is not None
                                                  and (status >= 500 or status == 429))
            if not retryable:
                raise SourceError(f"{endpoint}: HTTP {status}: {self.error_detail(text)}")
            if attempt > self.limits.max_retries:
                detail = f": {self.error_detail(text)}" if text and not conn_error else ""
                raise SourceError(f"{endpoint}: gave up after {attempt} attempts: {what}"
                                  + detail)
            delay = self.backoff(attempt, resp)
            log.warning("%s %s: %s; retry %d in %.1fs", self.source_label, endpoint, what,
                        attempt, delay)
            self.stats.retries += 1
            self.wait(delay)


def _short_error(exc: Exception) -> str:
    """``ConnectionError: [Errno 111] Connection refused`` rather than urllib3's nested repr."""
    text = str(exc)
    m = re.search(r"(\[Errno -?\d+\][^'\")]*|Read timed out[^'\")]*|Name or service not known)",
                  text)
    if m:
        text = m.group(1).strip().rstrip(".")
    return f"{type(exc).__name__}: {text[:300]}"


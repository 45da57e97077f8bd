"""The HTTP transport every source uses: a total deadline per request and a cap on body size.

``requests`` applies its timeout to each socket read, so a server that drips one byte a second
holds a request (and the run's lock) for as long as it likes, and a 300 MB answer is read into
memory whole. ``GuardedAdapter`` bounds both:

- a watchdog shuts the request's socket down once ``deadline`` seconds have passed since the
  request started (headers and body alike), and
- the body is read in chunks and reading stops at ``max_body_bytes`` (decoded size, so a gzip
  bomb is bounded too).

What came before the stop is kept: the response carries it as ``content`` with
``response.incomplete`` saying why, so the caller archives it and reports, rather than losing it.
A deadline hit before any answer raises ``DeadlineExceeded``. Optionally every request is sent
to ``base_url`` (path and query kept): tweepy hard-codes its host.
"""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

CHUNK = 64 * 1024
_current = threading.local()     # the watchdog of the request this thread is sending


class DeadlineExceeded(requests.exceptions.Timeout):
    """The request's total deadline passed before an answer arrived."""


class _Watchdog:
    """Shuts down the sockets a request uses once its deadline passes."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.started = time.monotonic()
        self.fired = False
        self._conns: list = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(deadline, self._fire)
        self._timer.daemon = True

    def track(self, conn) -> None:
        with self._lock:
            self._conns.append(conn)
            if self.fired:
                _shutdown(conn)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for conn in self._conns:
                _shutdown(conn)

    def __enter__(self) -> "_Watchdog":
        _current.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        _current.watchdog = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _shutdown(conn) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Tracked:
    """A connection pool that tells the sending thread's watchdog which connection it uses."""

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        dog = getattr(_current, "watchdog", None)
        if dog is not None:
            dog.track(conn)
        return conn


class _TrackedHTTPPool(_Tracked, HTTPConnectionPool):
    pass


class _TrackedHTTPSPool(_Tracked, HTTPSConnectionPool):
    pass


class GuardedAdapter(HTTPAdapter):
    """Timeout per read, deadline per request, body size cap; optionally a fixed base URL."""

    def __init__(self, *, timeout: float, deadline: float, max_body_bytes: int,
                 base_url: str | None = None):
        self.timeout = timeout
        self.deadline = deadline
        self.max_body_bytes = max_body_bytes
        self.base = urlsplit(base_url.rstrip("/")) if base_url else None
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _TrackedHTTPPool,
                                                   "https": _TrackedHTTPSPool}

    def send(self, request, stream=False, timeout=None, **kwargs):
        if self.base is not None:
            parts = urlsplit(request.url)
            request.url = urlunsplit((self.base.scheme, self.base.netloc,
                                      self.base.path + parts.path, parts.query, ""))
        if timeout is None:
            timeout = self.timeout
        with _Watchdog(self.deadline) as dog:
            try:
                resp = super().send(request, stream=True, timeout=timeout, **kwargs)
            except requests.RequestException:
                if dog.fired:
                    raise DeadlineExceeded(
                        f"no answer within the request deadline of {self.deadline:g}s "
                        f"from {urlsplit(request.url).netloc}", request=request) from None
                raise
            resp.incomplete = None
            if not stream:
                self._read_body(resp, dog)
        return resp

    def _read_body(self, resp: requests.Response, dog: _Watchdog) -> None:
        """Read the body within the deadline and the size cap; keep what came either way."""
        chunks: list[bytes] = []
        size = 0
        reason = None
        raw = resp.raw
        try:
            while True:
                chunk = raw.read1(CHUNK, decode_content=True) if hasattr(raw, "read1") \
                    else raw.read(CHUNK, decode_content=True)
                if not chunk:
                    break
                if size + len(chunk) > self.max_body_bytes:
                    chunks.append(chunk[:self.max_body_bytes - size])
                    size = self.max_body_bytes
                    reason = (f"body larger than the cap of {self.max_body_bytes:,} bytes; "
                              f"reading stopped there")
                    break
                chunks.append(chunk)
                size += len(chunk)
        except Exception as exc:       # urllib3 and socket errors alike: judged below
            if dog.fired:
                reason = (f"request deadline of {self.deadline:g}s passed while reading "
                          f"the body ({size:,} bytes received)")
            else:
                resp._content = b"".join(chunks)
                resp._content_consumed = True
                resp.close()
                raise requests.exceptions.ChunkedEncodingError(
                    f"connection broken after {size:,} bytes: {type(exc).__name__}: {exc}",
                    response=resp) from None
        if dog.fired and reason is None:
            # the watchdog's shutdown reads as an end of file where no length was announced
            reason = (f"request deadline of {self.deadline:g}s passed while reading the body "
                      f"({size:,} bytes received)")
        resp._content = b"".join(chunks)
        resp._content_consumed = True
        resp.incomplete = reason
        if reason:
            resp.close()               # the rest is not wanted: drop the connection
        else:
            raw.release_conn()

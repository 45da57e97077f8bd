"""Normalizing an import chunk (one raw page record of source ``import``) into rows.

The record's body is the chunk's bytes (resolved by the loader from ``body_ref``, or copied with
--copy-raw); ``params`` say what it holds::

    {"format": "twarc2" | "v1" | "x-archive", "kind": "lines" | "elements" | "documents"
     | "document", "file": path, "line_start": 1, "part": "tweets" | "deleted" | "account",
     "author": {v2 user} (archives), "first_seen": "retrieved_at" | "import_time" | "given"
     | "archive_generated"}

Every item becomes an API v2 page and goes through ``tracker.sources.x.normalize.normalize``:
twarc2 pages as they are (``fetched_at`` = the line's ``__twarc.retrieved_at`` when it has one,
else the record's ``fetched_at``), flattened twarc tweets via ``twarc.unflatten``, v1.1 tweets via
``v1.v1_page``. So a tweet gives the same row from every format, and from a collection.

A line that cannot be read is skipped and reported as ``file:line: reason``; the rest goes on.
The chunk's api_errors are numbered 0, 1, … across its lines (they share one page_id).

twarc2 chunks go through the batched normalizer every X v2 page goes through (``fast.py``;
collected raw files reach it through ``bulk.py``), which gives the same rows, in the same order;
the lines it declines (flattened tweets, odd shapes, invalid JSON) come back here, one by one.
``TRACKER_IMPORT_FAST=0`` sends every line through Python (the tests compare both ways).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any, Iterator

import duckdb
import pyarrow as pa

from tracker.core.errors import MalformedPage
from tracker.core.jsonload import loads
from tracker.core.timeutil import iso, parse_iso
from tracker.store.rows import Rows
from tracker.sources.x.normalize import normalize as x_normalize
from tracker.sources.x import fast
from tracker.sources.x.imports import twarc, v1

FORMATS = ("twarc2", "x-archive", "v1")


def fast_enabled() -> bool:
    """``TRACKER_IMPORT_FAST``: ``1`` (default) or ``always``: twarc2 chunks in batches;
    ``0``: line by line in Python."""
    return os.environ.get("TRACKER_IMPORT_FAST", "1") != "0"


def line_time(value: Any) -> str | None:
    """A retrieval time as stored (ISO, Z), or None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return iso(parse_iso(value))
    except (ValueError, OverflowError):
        return None


def _texts(body: Any) -> list[str]:
    bodies = body if isinstance(body, list) else [body]
    out = []
    for b in bodies:
        if isinstance(b, (bytes, bytearray)):
            b = bytes(b).decode("utf-8", errors="replace")
        out.append(b if isinstance(b, str) else "")
    return out


def iter_lines(text: str, first: int) -> Iterator[tuple[int, str]]:
    """(line number, line) of every non-blank line."""
    for i, line in enumerate(text.split("\n")):
        if line.strip():
            yield first + i, line


class _Chunk:
    """Collects the rows of a chunk's items in order, renumbering api_errors."""

    def __init__(self, record: dict):
        self.record = record
        self.rows = Rows()
        self.errors = 0
        params = record.get("params") or {}
        ref = record.get("body_ref")
        self.file = params.get("file") or (ref.get("path") if isinstance(ref, dict) else None) \
            or "?"
        self.bad: Counter = Counter()
        self.bad_order: list[tuple[int, str]] = []

    def skip(self, line: int, reason: str, file: str | None = None) -> None:
        key = (file or self.file, line, reason)
        if key not in self.bad:
            self.bad_order.append(key)
        self.bad[key] += 1

    def page(self, body: dict, at: str, line: int, file: str | None = None) -> None:
        sub = {**self.record, "body": body, "fetched_at": at, "status": 200}
        sub.pop("body_ref", None)
        try:
            rows = x_normalize(sub)
        except MalformedPage as exc:
            self.skip(line, str(exc), file)
            return
        except Exception as exc:       # a shape no rule foresaw: report it, keep the rest
            self.skip(line, f"unreadable item ({type(exc).__name__}: {exc})", file)
            return
        bad = unstorable(rows)
        if bad:
            self.skip(line, bad, file)
            return
        self.add(rows, line, file)

    def add_tables(self, lo: int, hi: int, parts: dict, items: int) -> None:
        """Arrow rows of lines lo..hi from the vectorized path (``fast.py``)."""
        for name, part in parts.items():
            if part.num_rows:
                self.rows.tables.setdefault(name, []).append(part)
        self.rows.items += items

    def python_line(self, ln: int, line: str, at: str) -> None:
        """A line the vectorized path leaves to Python."""
        python_line(self, ln, line, at)

    def add(self, rows: Rows, line: int, file: str | None = None) -> None:
        for table, trows in rows.tables.items():
            if table == "api_errors":
                for r in trows:
                    r["idx"] = self.errors
                    self.errors += 1
            self.rows.tables.setdefault(table, []).extend(trows)
        self.rows.post_status.extend(rows.post_status)
        self.rows.items += rows.items
        for s in rows.skipped:
            self.skip(line, s, file)

    def result(self) -> Rows:
        for file, line, reason in self.bad_order:
            n = self.bad[(file, line, reason)]
            self.rows.skipped.append(f"{file}:{line}: {reason}" + (f" (x{n})" if n > 1 else ""))
        return self.rows


INT64 = (-(1 << 63), (1 << 63) - 1)


def unstorable(rows: Rows) -> str | None:
    """Why the database would refuse these rows (and with them the whole file), if it would:
    a number beyond 64 bits, a text that is not valid Unicode (a lone surrogate escape)."""
    lo, hi = INT64
    for table, trows in rows.tables.items():
        for r in trows:
            for k, v in r.items():
                if type(v) is int and not lo <= v <= hi:
                    return f"{k} = {v} does not fit in 64 bits"
                if type(v) is str and not v.isascii():
                    try:
                        v.encode("utf-8")
                    except UnicodeEncodeError:
                        return f"{k}: not valid Unicode (a lone surrogate escape?)"
    return None


def parse_line(line: str) -> tuple[Any, str | None]:
    """The line's JSON value, or None and why it is not JSON."""
    try:
        return loads(line), None
    except ValueError as exc:
        return None, f"invalid JSON ({len(line)} bytes): {exc}"


def twarc_item(ch: _Chunk, obj: Any, line: int, default_at: str) -> None:
    """One twarc2 line: an API page, or a flattened tweet."""
    if not isinstance(obj, dict):
        ch.skip(line, f"a JSON {type(obj).__name__}, expected an API page or a tweet")
        return
    at = line_time(twarc.retrieved_at(obj)) or default_at
    if twarc.is_page(obj):
        ch.page(obj, at, line)
    else:
        ch.page(twarc.unflatten(obj), at, line)


def v1_tweets(ch: _Chunk, obj: Any, line: int, file: str | None = None
              ) -> tuple[list[dict], dict]:
    """The tweets of one v1 item (a tweet, a list of tweets, or a thread: ``source`` +
    ``replies``) and the conversation roots a thread tells."""
    thread = v1.thread_tweets(obj) if isinstance(obj, dict) else None
    roots = {}
    if thread is not None:
        tweets = thread
        roots = v1.conversation_roots(thread)
    elif isinstance(obj, list):
        tweets = obj
    else:
        tweets = [obj]
    good = []
    for t in tweets:
        if v1.is_v1_tweet(t):
            good.append(t)
        else:
            ch.skip(line, "not a v1.1 tweet object (no id_str/id and text)", file)
    return good, roots


def v1_item(ch: _Chunk, obj: Any, line: int, at: str) -> None:
    good, roots = v1_tweets(ch, obj, line)
    if good:
        ch.page(v1.v1_page(good, roots=roots), at, line)


def python_line(ch: _Chunk, ln: int, line: str, at: str) -> None:
    obj, err = parse_line(line)
    if err:
        ch.skip(ln, err)
    else:
        twarc_item(ch, obj, ln, at)


def _python_twarc(ch: _Chunk, text: str, first: int, at: str) -> None:
    for ln, line in iter_lines(text, first):
        ch.python_line(ln, line, at)


def twarc_lines(ch: _Chunk, data: bytes | str, first: int, at: str) -> None:
    """Normalize a chunk of twarc2 lines into ``ch``: API pages by the vectorized path, the
    rest in Python; if DuckDB refuses the chunk (a value it cannot read, e.g. a lone surrogate
    escape), the whole chunk goes through Python."""
    try:
        fast.vectorized(ch, data, first, at)
    except (duckdb.Error, pa.ArrowException):     # raised before anything was added to ch
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        _python_twarc(ch, text, first, at)


def _archive_elements(text: str, first: int) -> Iterator[tuple[int, Any, str | None]]:
    """(line, element, error) of a verbatim slice of an archive array."""
    dec = json.JSONDecoder()
    pos, line, n = 0, first, len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n,":
            if text[pos] == "\n":
                line += 1
            pos += 1
        if pos >= n or text[pos] == "]":
            return
        try:
            obj, end = dec.raw_decode(text, pos)
        except ValueError as exc:
            yield line, None, f"invalid JSON: {exc}"
            return
        yield line, obj, None
        line += text.count("\n", pos, end)
        pos = end


def _archive(ch: _Chunk, text: str, first: int, at: str, params: dict) -> None:
    part = params.get("part", "tweets")
    author = params.get("author")
    if part == "account":
        users = []
        for ln, el, err in _archive_elements(text, first):
            if err:
                ch.skip(ln, err)
                continue
            acc = el.get("account") if isinstance(el, dict) else None
            if isinstance(acc, dict) and acc.get("accountId"):
                users.append(archive_account(acc, params.get("profile")))
            else:
                ch.skip(ln, "not an account entry")
        if users:
            ch.page({"data": users}, at, first)
        return
    tweets, lines, deleted = [], [], []
    for ln, el, err in _archive_elements(text, first):
        if err:
            ch.skip(ln, err)
            continue
        t = archive_tweet(el)
        if not v1.is_v1_tweet(t):
            ch.skip(ln, "not a tweet entry")
            continue
        tweets.append(t)
        lines.append(ln)
        if part == "deleted":
            gone = v1.v1_time(t.get("deleted_at"))
            deleted.append((v1._id(t), gone or at))
    if tweets:
        ch.page(v1.v1_page(tweets, author=author, roots=params.get("roots")), at, lines[0])
        ch.rows.post_status.extend(("x", pid, "deleted", when) for pid, when in deleted)


def archive_tweet(el: Any) -> dict | None:
    """The tweet of an archive element: ``{"tweet": {...}}`` (since 2019), or the bare object
    of older archives."""
    if not isinstance(el, dict):
        return None
    t = el.get("tweet", el)
    if isinstance(t, dict) and isinstance(t.get("tweet"), dict):
        t = t["tweet"]
    return t if isinstance(t, dict) else None


def archive_account(acc: dict, profile: dict | None = None) -> dict:
    """An archive's account.js entry (+ profile.js) as a v2 user."""
    user = {"id": str(acc["accountId"]), "username": acc.get("username"),
            "name": acc.get("accountDisplayName"),
            "created_at": v1.v1_time(acc.get("createdAt"))}
    desc = (profile or {}).get("description") if isinstance(profile, dict) else None
    if isinstance(desc, dict):
        if desc.get("bio") is not None:
            user["description"] = desc["bio"]
        if desc.get("location"):
            user["location"] = desc["location"]
    return {k: v for k, v in user.items() if v is not None}


def normalize(record: dict) -> Rows:
    """Rows of one import chunk. Raises MalformedPage only when the record itself is unusable
    (no body, unknown format); bad items inside it are skipped and listed."""
    params = record.get("params") or {}
    fmt = params.get("format")
    if fmt not in FORMATS:
        raise MalformedPage(f"unknown import format {fmt!r}")
    body = record.get("body")
    if body is None:
        raise MalformedPage("import page has neither body nor body_ref")
    at = record.get("fetched_at")
    if not at:
        raise MalformedPage("page has no fetched_at")
    first = int(params.get("line_start") or 1)
    kind = params.get("kind", "lines")
    ch = _Chunk(record)
    if fmt == "twarc2" and fast_enabled() and isinstance(body, (str, bytes, bytearray)):
        twarc_lines(ch, body, first, at)
        return ch.result()
    texts = _texts(body)
    if fmt == "twarc2":
        _python_twarc(ch, texts[0], first, at)
    elif fmt == "x-archive":
        _archive(ch, texts[0], first, at, params)
    elif kind == "documents":
        refs = record.get("body_ref") or params.get("files") or []
        names = [r.get("path", "?") if isinstance(r, dict) else str(r) for r in refs] \
            or ["?"] * len(texts)
        docs = []
        for name, text in zip(names, texts):
            obj, err = parse_line(text)
            if err:
                ch.skip(1, err, name)
                continue
            docs.append((name, obj))
        # a folder of one-tweet files (whole thread folders to a chunk): one page, so a
        # thread's replies find their root among the files
        tweets, roots = [], {}
        for name, obj in docs:
            good, r = v1_tweets(ch, obj, 1, name)
            tweets += good
            roots.update(r)
        roots.update(v1.conversation_roots(tweets))
        if tweets:
            ch.page(v1.v1_page(tweets, roots=roots), at, 1, names[0] if names else None)
    elif kind == "document":
        obj, err = parse_line(texts[0])
        if err:
            ch.skip(first, err)
        else:
            v1_item(ch, obj, first, at)
    else:
        for ln, line in iter_lines(texts[0], first):
            obj, err = parse_line(line)
            if err:
                ch.skip(ln, err)
                continue
            v1_item(ch, obj, ln, at)
    return ch.result()

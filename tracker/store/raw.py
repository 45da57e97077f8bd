"""The raw archive: every response verbatim, gzip JSON lines, one file per run, append-only.

Each line is its own gzip member, flushed and fsynced, so a crash loses at most the line being
written and every earlier line stays readable.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tracker import __version__
from tracker.core.errors import StorageError
from tracker.core.jsonload import loads
from tracker.core.timeutil import iso, utcnow

RAW_SUFFIX = ".jsonl.gz"


class RawWriter:
    """Appends records to ``<raw_dir>/<source>/<YYYY-MM-DD>/<run_id>.jsonl.gz``."""

    def __init__(self, raw_dir: Path, source: str, run_id: str, started=None):
        started = started or utcnow()
        self.raw_dir = Path(raw_dir)
        self.path = self.raw_dir / source / started.strftime("%Y-%m-%d") / f"{run_id}{RAW_SUFFIX}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot write the raw archive: {self.path.parent}: "
                               f"{exc.strerror or exc}; nothing was collected") from None
        self.run_id = run_id
        self.source = source
        self.seq = 0

    @property
    def relpath(self) -> str:
        return self.path.relative_to(self.raw_dir).as_posix()

    def append(self, record: dict[str, Any]) -> int:
        """Write one record durably; return its sequence number within the run."""
        self.seq += 1
        record = {"seq": self.seq, "run_id": self.run_id, "source": self.source, **record}
        data = gzip.compress((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        size = None
        try:
            with open(self.path, "ab") as fh:
                size = fh.tell()
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            # disk full or read-only: cut a partly written line off, so every earlier line
            # stays readable and the file can be loaded once the disk has room again
            if size is not None:
                try:
                    os.truncate(self.path, size)
                except OSError:
                    pass
            self.seq -= 1
            raise StorageError(f"cannot write the raw archive: {self.path}: "
                               f"{exc.strerror or exc}") from None
        return self.seq

    def page(self, *, purpose: str, endpoint: str, params: dict, scope: str | None,
             fetched_at, status: int | None, headers: dict | None, body: str | None,
             cursor_after: dict | None = None, error: str | None = None,
             cursors_after: dict[str, dict] | None = None) -> int:
        """Archive one answer. ``cursor_after`` is the cursor of ``scope`` that this page
        justifies; a page that covers several scopes at once (a batched search) carries
        ``cursors_after``, one cursor per scope."""
        record = {
            "type": "page", "purpose": purpose, "endpoint": endpoint, "params": params,
            "scope": scope, "fetched_at": iso(fetched_at), "status": status,
            "headers": headers or {}, "body": body, "cursor_after": cursor_after,
            "error": error, "tool": f"tracker/{__version__}",
        }
        if cursors_after:
            record["cursors_after"] = cursors_after
        return self.append(record)


@dataclass
class RawLine:
    line: int
    record: dict | None
    error: str | None = None


GZIP_MAGIC = b"\x1f\x8b\x08"
_READ = 1 << 20
_FEED = 16 << 10     # input fed to zlib at a time: bounds the copy of its unused_data


class _Buffer:
    """A file read in blocks: ``data[i:]`` is what is not consumed yet, at file offset
    ``base + i``."""

    def __init__(self, fh):
        self.fh, self.data, self.i, self.base, self.eof = fh, b"", 0, 0, False

    def fill(self) -> bool:
        if self.eof:
            return False
        more = self.fh.read(_READ)
        if not more:
            self.eof = True
            return False
        self.base += self.i
        self.data = self.data[self.i:] + more
        self.i = 0
        return True

    def left(self) -> int:
        return len(self.data) - self.i

    def find_next_member(self) -> int:
        """Bytes from here to the next member header after this position (or to the end)."""
        at = self.data.find(GZIP_MAGIC, self.i + 1)
        while at < 0 and self.fill():
            at = self.data.find(GZIP_MAGIC, self.i + 1)
        return (at if at >= 0 else len(self.data)) - self.i


def _members(fh) -> Iterator[tuple[int, bytes | None, str | None]]:
    """(byte offset, decompressed data or None, why it is unreadable) per gzip member.

    The archive writes one member per line, each complete in itself, so a damaged member is
    skipped by looking for the next member's header: every member after it is read.
    """
    b = _Buffer(fh)
    while True:
        while b.left() < len(GZIP_MAGIC) and b.fill():
            pass
        if b.left() == 0:
            return
        start = b.base + b.i
        if not b.data.startswith(GZIP_MAGIC, b.i):
            cut = b.find_next_member()
            yield start, None, f"{cut} bytes that are not gzip data"
            b.i += cut
            continue
        d = zlib.decompressobj(wbits=31)
        out: list[bytes] = []
        j = 0                          # input consumed by this member, from its start
        error = None
        while True:
            if b.i + j >= len(b.data) and not b.fill():     # (fill keeps j valid)
                error = "torn write: the member ends early (run interrupted?)"
                break
            chunk = memoryview(b.data)[b.i + j:b.i + j + _FEED]
            try:
                out.append(d.decompress(chunk))
            except zlib.error as exc:
                error = f"damaged gzip data: {exc}"
                break
            if d.eof:
                j += len(chunk) - len(d.unused_data)
                break
            j += len(chunk)
        if error is None:
            yield start, b"".join(out), None
            b.i += j
            continue
        cut = b.find_next_member()
        yield start, None, error
        b.i += cut


def read_raw_file(path: Path) -> Iterator[RawLine]:
    """Yield every line of a raw file. A damaged member (a flipped bit, a torn write, junk) is
    reported as one bad line, with its byte offset, and reading goes on with the next member."""
    lineno = 0
    with open(path, "rb") as fh:
        pending = b""
        for offset, data, error in _members(fh):
            if data is None:
                lineno += 1
                yield RawLine(lineno, None, f"{error} at byte {offset}; read on from the "
                                            "next member")
                continue
            pending += data
            *lines, pending = pending.split(b"\n")
            for text in lines:
                lineno += 1
                yield _parse_line(lineno, text)
        if pending:
            lineno += 1
            yield RawLine(lineno, None, "truncated last line")


def _parse_line(lineno: int, text: bytes) -> RawLine:
    try:
        rec = loads(text)
        if not isinstance(rec, dict):
            raise ValueError("not a JSON object")
        return RawLine(lineno, rec)
    except ValueError as exc:
        return RawLine(lineno, None, f"invalid JSON line: {exc}")


def list_raw_files(raw_dir: Path) -> list[str]:
    """All raw files, relative to raw_dir, in run order (run ids sort by start time)."""
    root = Path(raw_dir)
    if not root.is_dir():
        return []
    files = [p for p in root.glob(f"*/*/*{RAW_SUFFIX}") if p.is_file()]
    files.sort(key=lambda p: (p.name, p.as_posix()))
    return [p.relative_to(root).as_posix() for p in files]

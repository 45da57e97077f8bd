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

from .. import __version__
from ..errors import StorageError
from ..jsonload import loads
from ..timeutil import iso, utcnow

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
             cursor_after: dict | None = None, error: str | None = None) -> int:
        return self.append({
            "type": "page", "purpose": purpose, "endpoint": endpoint, "params": params,
            "scope": scope, "fetched_at": iso(fetched_at), "status": status,
            "headers": headers or {}, "body": body, "cursor_after": cursor_after,
            "error": error, "tool": f"tracker/{__version__}",
        })


@dataclass
class RawLine:
    line: int
    record: dict | None
    error: str | None = None


def read_raw_file(path: Path) -> Iterator[RawLine]:
    """Yield every line of a raw file; a damaged line or a torn tail is reported, not fatal."""
    lineno = 0
    with gzip.open(path, "rb") as fh:
        while True:
            try:
                text = fh.readline()
            except (EOFError, OSError, zlib.error) as exc:
                lineno += 1
                yield RawLine(lineno, None, f"torn write or damaged gzip data (run interrupted?): {exc}")
                return
            if not text:
                return
            lineno += 1
            if not text.endswith(b"\n"):
                yield RawLine(lineno, None, "truncated last line")
                return
            try:
                rec = loads(text)
                if not isinstance(rec, dict):
                    raise ValueError("not a JSON object")
                yield RawLine(lineno, rec)
            except ValueError as exc:
                yield RawLine(lineno, None, f"invalid JSON line: {exc}")


def list_raw_files(raw_dir: Path) -> list[str]:
    """All raw files, relative to raw_dir, in run order (run ids sort by start time)."""
    root = Path(raw_dir)
    if not root.is_dir():
        return []
    files = [p for p in root.glob(f"*/*/*{RAW_SUFFIX}") if p.is_file()]
    files.sort(key=lambda p: (p.name, p.as_posix()))
    return [p.relative_to(root).as_posix() for p in files]

"""Raw pages whose body is referenced, not copied: an imported file's slice, read back on load.

An import does not copy a multi-GB twarc file into the raw archive. Its page records carry
``body_ref`` instead of ``body``: where the bytes are and how to check them::

    {"path": "/abs/path/tweets.jsonl.gz", "compression": "gzip" | null,
     "offset": 0, "length": 1234, "sha256": "…", "line_start": 1, "line_end": 90,
     "size": 5678, "mtime": "2024-…Z"}

``offset``/``length`` count bytes of the file's (decompressed) content; ``line_start`` and
``line_end`` are 1-based and inclusive. A list of such dicts means several slices (e.g. one
small file each). The loader resolves a reference before normalizing and verifies its sha256,
so `tracker rebuild` gives the same rows as long as the file is where it was, and a clear error
naming the file when it is gone or changed.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

from tracker.core.errors import TrackerError


class ReferencedFileError(TrackerError):
    """A raw page references an input file that is gone or no longer holds the same bytes."""


class RefReader:
    """Reads referenced slices, keeping the last file open (slices come in file order, so a
    gzip stream is decompressed once, not once per slice)."""

    def __init__(self) -> None:
        self._path: str | None = None
        self._fh: Any = None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = self._path = None

    def __enter__(self) -> "RefReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _open(self, path: str, compression: str | None):
        if self._path != path:
            self.close()
            p = Path(path)
            if not p.is_file():
                raise ReferencedFileError(
                    f"{path}: referenced by the raw archive but not found (moved or deleted?); "
                    "put it back (then `tracker load --retry-failed` or `tracker rebuild` "
                    "again), or import it with --copy-raw next time so that the raw archive "
                    "holds its own copy")
            self._fh = gzip.open(p, "rb") if compression == "gzip" else open(p, "rb")
            self._path = path
        return self._fh

    def read_one(self, ref: dict) -> bytes:
        path = str(ref["path"])
        fh = self._open(path, ref.get("compression"))
        offset, length = int(ref["offset"]), int(ref["length"])
        try:
            fh.seek(offset)
            data = fh.read(length)
        except (OSError, EOFError) as exc:
            raise ReferencedFileError(f"{path}: cannot read bytes {offset}+{length}: {exc}") from None
        want = ref.get("sha256")
        if len(data) != length or (want and hashlib.sha256(data).hexdigest() != want):
            lines = ""
            if ref.get("line_start") is not None:
                lines = f" (lines {ref['line_start']}-{ref.get('line_end')})"
            raise ReferencedFileError(
                f"{path}: changed since it was imported: bytes {offset}+{length}{lines} are not "
                "what was read then; restore the original file, or import the new one")
        return data

    def read(self, ref: dict | list) -> bytes | list[bytes]:
        if isinstance(ref, list):
            return [self.read_one(r) for r in ref]
        return self.read_one(ref)


def resolve_body(record: dict, reader: RefReader | None = None) -> dict:
    """The record with ``body`` filled from its ``body_ref`` (unchanged if it has a body)."""
    ref = record.get("body_ref")
    if ref is None or record.get("body") is not None:
        return record
    if reader is None:
        with RefReader() as r:
            return {**record, "body": r.read(ref)}
    return {**record, "body": reader.read(ref)}

"""Reading import inputs in bounded memory: each input file is cut into chunks of whole lines
(JSON Lines, plain or gzip), whole array elements (an account archive's ``.js`` files) or whole
files (a folder of one-tweet ``.json`` files). A chunk is what one raw page record references:
where its bytes are (offset, length, sha256, first line) and, for --copy-raw, the bytes.

Nothing here parses JSON lines (the loader does); the archive reader parses each element once
to find where it ends.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from tracker.core.timeutil import iso

DEFAULT_CHUNK_BYTES = 24 << 20
_JS_PREFIX = re.compile(rb"^\s*window\.[A-Za-z0-9_.$]+\s*=\s*")
_WS = " \t\r\n,"


class InputError(Exception):
    """A file that cannot be read at all (reported with its path; the other files go on)."""


@dataclass
class Chunk:
    file: str                       # the input file (absolute path)
    kind: str                       # lines | elements | documents | document
    ref: dict | list[dict]          # body_ref (see tracker/store/refs.py)
    line_start: int = 1
    items: int = 0                  # lines, elements or files in the chunk
    data: bytes | list[bytes] | None = None   # the bytes (kept only for --copy-raw)
    params: dict = field(default_factory=dict)
    elements: list = field(default_factory=list)  # what on_element collected

    @property
    def sha256(self) -> str:
        if isinstance(self.ref, list):
            h = hashlib.sha256()
            for r in self.ref:
                h.update(r["sha256"].encode())
            return h.hexdigest()
        return self.ref["sha256"]

    @property
    def length(self) -> int:
        refs = self.ref if isinstance(self.ref, list) else [self.ref]
        return sum(r["length"] for r in refs)


Progress = Callable[[int], None]     # called with bytes of input consumed (on disk)


def file_info(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size,
            "mtime": iso(datetime.fromtimestamp(st.st_mtime, tz=timezone.utc))}


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def jsonl_chunks(path: Path, target: int = DEFAULT_CHUNK_BYTES, keep: bool = False,
                 progress: Progress | None = None) -> Iterator[Chunk]:
    """Whole lines of a JSON Lines file (gzip or plain), about ``target`` bytes a chunk.

    A torn gzip tail is reported (InputError) after the chunks before it were yielded.
    """
    path = path.resolve()
    gz = is_gzip(path)
    info = file_info(path)
    offset, line, carry, seen = 0, 1, b"", 0
    with open(path, "rb") as raw:
        fh = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
        while True:
            try:
                block = fh.read(target)
            except (EOFError, OSError, zlib.error) as exc:
                block, torn = b"", exc
            else:
                torn = None
            if progress:
                pos = raw.tell()
                progress(pos - seen)
                seen = pos
            buf = carry + block if carry else block
            if block and len(block) == target:     # a short read is the end of the file
                cut = buf.rfind(b"\n")
                if cut < 0:
                    carry = buf
                    continue
                body, carry = buf[:cut + 1], buf[cut + 1:]
            else:
                body, carry = buf, b""
            if body:
                n = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
                ref = {"path": str(path), "compression": "gzip" if gz else None,
                       "offset": offset, "length": len(body),
                       "sha256": hashlib.sha256(body).hexdigest(),
                       "line_start": line, "line_end": line + n - 1, **info}
                yield Chunk(str(path), "lines", ref, line, n, body if keep else None)
                offset += len(body)
                line += n
            if torn is not None:
                raise InputError(f"{path}: compressed data ends early after line {line - 1} "
                                 f"(truncated download?): {torn}")
            if len(block) < target:
                return


def js_array_chunks(path: Path, target: int = DEFAULT_CHUNK_BYTES, keep: bool = False,
                    progress: Progress | None = None, params: dict | None = None,
                    on_element: Callable[[object], object] | None = None
                    ) -> Iterator[Chunk]:
    """The elements of an account archive file (``window.YTD.tweets.part0 = [ {...}, ... ]``),
    whole, about ``target`` bytes a chunk (a verbatim slice of the file). Each element is
    parsed once here to find where it ends; ``on_element(element)`` may return something to
    collect in the chunk's ``elements`` (e.g. its id)."""
    path = path.resolve()
    info = file_info(path)
    decoder = json.JSONDecoder()
    with open(path, "rb") as fh:
        head = fh.read(4096)
        m = _JS_PREFIX.match(head)
        start = m.end() if m else 0
        rest = head[start:].lstrip()
        if not rest.startswith(b"["):
            raise InputError(f"{path}: not an account archive data file "
                             "(expected `window.YTD.<name>.part<N> = [`)")
        byte_pos = start + (len(head[start:]) - len(rest)) + 1       # just after '['
        line = 1 + head[:byte_pos].count(b"\n")
        fh.seek(byte_pos)
        text_decoder = codecs.getincrementaldecoder("utf-8")()
        st = {"buf": "", "pos": 0, "eof": False, "seen": 0}
        parts: list[str] = []
        chunk_start: int | None = None
        chunk_line = count = 0
        collected: list = []

        def more() -> None:
            data = fh.read(8 << 20)
            if progress:
                progress(fh.tell() - st["seen"])
                st["seen"] = fh.tell()
            st["buf"] = st["buf"][st["pos"]:] + text_decoder.decode(data, final=not data)
            st["pos"] = 0
            st["eof"] = not data

        def consume(text: str, element: bool = False) -> None:
            nonlocal byte_pos, line
            byte_pos += len(text.encode("utf-8")) if element else len(text)
            line += text.count("\n")
            if chunk_start is not None:
                parts.append(text)

        def flush() -> Chunk:
            nonlocal parts, chunk_start, count
            body = "".join(parts).encode("utf-8")
            ref = {"path": str(path), "compression": None, "offset": chunk_start,
                   "length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                   "line_start": chunk_line, "line_end": chunk_line + body.count(b"\n"),
                   **info}
            c = Chunk(str(path), "elements", ref, chunk_line, count, body if keep else None,
                      dict(params or {}))
            c.elements = list(collected)
            collected.clear()
            parts, chunk_start, count = [], None, 0
            return c

        while True:
            while True:                      # separators (ASCII: bytes == characters)
                buf, pos = st["buf"], st["pos"]
                end = pos
                while end < len(buf) and buf[end] in _WS:
                    end += 1
                consume(buf[pos:end])
                st["pos"] = end
                if end < len(buf) or st["eof"]:
                    break
                more()
            buf, pos = st["buf"], st["pos"]
            if pos >= len(buf) or buf[pos] == "]":
                break
            while True:
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                    break
                except json.JSONDecodeError as exc:
                    if st["eof"] or len(buf) - pos > (256 << 20):
                        bad = line + buf.count("\n", pos, exc.pos)
                        if parts:
                            yield flush()
                        raise InputError(f"{path}:{bad}: {exc.msg}; the rest of this file "
                                         "cannot be read") from None
                    more()
                    buf, pos = st["buf"], st["pos"]
            if chunk_start is None:
                chunk_start, chunk_line = byte_pos, line
            consume(buf[pos:end], element=True)
            count += 1
            if on_element is not None:
                got = on_element(obj)
                if got is not None:
                    collected.append(got)
            st["pos"] = end
            if byte_pos - chunk_start >= target:
                yield flush()
        if parts:
            yield flush()
        if progress:
            progress(os.path.getsize(path) - st["seen"])


def document_chunks(files: list[Path], target: int = DEFAULT_CHUNK_BYTES, keep: bool = False,
                    progress: Progress | None = None,
                    group_of: Callable[[Path], str] | None = None) -> Iterator[Chunk]:
    """Whole files, several to a chunk; files of one group (a thread folder) stay together."""
    refs: list[dict] = []
    datas: list[bytes] = []
    size = 0
    group = None

    def flush() -> Chunk:
        c = Chunk(refs[0]["path"], "documents", list(refs), 1, len(refs),
                  list(datas) if keep else None)
        refs.clear()
        datas.clear()
        return c

    for f in files:
        f = f.resolve()
        g = group_of(f) if group_of else None
        if refs and size >= target and g != group:
            yield flush()
            size = 0
        group = g
        data = f.read_bytes()
        refs.append({"path": str(f), "compression": None, "offset": 0, "length": len(data),
                     "sha256": hashlib.sha256(data).hexdigest(), "line_start": 1,
                     **file_info(f)})
        if keep:
            datas.append(data)
        size += len(data)
        if progress:
            progress(f.stat().st_size)
    if refs:
        yield flush()

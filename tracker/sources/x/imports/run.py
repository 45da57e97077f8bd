"""The import run: find the inputs, cut them into chunks, archive one page record per chunk
(referencing the input, or copying it with --copy-raw), and let ``run_job`` load them.

Importing the same bytes twice changes nothing: a chunk whose sha256 was already imported (same
format) is not archived again, and everything else merges by the tables' write rules.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from tracker import __version__
from tracker.core.errors import TrackerError
from tracker.core.timeutil import iso, parse_iso
from tracker.sources.base import Job
from tracker.sources.x.imports import scan
from tracker.sources.x.imports.normalize import FORMATS, archive_account, archive_tweet
from tracker.sources.x.imports.twarc import is_page
from tracker.sources.x.imports.v1 import _id, conversation_roots
from tracker.store.ahead import page_listener
from tracker.store.db import first_readable
from tracker.store.raw import RawWriter

log = logging.getLogger("tracker.import")

SOURCE = "import"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
_LINE_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".json.gz", ".gz", ".txt",
                  ".json")
_DOCUMENT_MAX = 64 << 20


class NothingToImport(TrackerError):
    """Nothing importable at a given path (reported before anything is written)."""


@dataclass
class Input:
    """One thing to read: a JSON Lines file, an archive data file, a document or a folder."""

    kind: str                       # lines | elements | document | documents
    path: Path
    files: list[Path] = field(default_factory=list)     # documents
    params: dict = field(default_factory=dict)
    size: int = 0


@dataclass
class ImportStats:
    """What the loader read from this import's pages (fed by the page listener)."""

    run_id: str | None = None
    bytes_loaded: int = 0
    pages_loaded: int = 0
    items: int = 0                              # result items (tweets, or users of lookups)
    rows: dict[str, int] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)
    bad_count: int = 0
    quarantined: list[str] = field(default_factory=list)


class Progress:
    """Hooks for a progress display; every method is optional to override."""

    def start(self, total_bytes: int) -> None: ...
    def scanned(self, nbytes: int) -> None: ...
    def archived(self, chunks: int, skipped: int) -> None: ...
    def loading(self, total_bytes: int) -> None: ...
    def loaded(self, nbytes: int, items: int, rows: dict[str, int]) -> None: ...


# ---------------------------------------------------------------- finding the inputs

def _is_thread_part(p: Path) -> str:
    """Files of one thread folder (RumourEval: <thread>/source-tweet|replies/<id>.json)."""
    return str(p.parent.parent if p.parent.name in ("source-tweet", "source-tweets", "replies",
                                                    "reactions") else p.parent)


def _as_document(path: Path) -> bool:
    """A ``.json`` file that is one JSON document (a tweet, a list, a thread), not JSON Lines."""
    if not path.name.endswith(".json") or path.stat().st_size > _DOCUMENT_MAX:
        return False
    try:
        json.loads(path.read_bytes())
        return True
    except ValueError:
        return False


def _jsonl_files(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if p.is_file() and p.name.endswith(_LINE_SUFFIXES))


def _read_js(path: Path):
    """The JSON value of a small archive file (account.js, manifest.js, profile.js)."""
    text = path.read_text(encoding="utf-8-sig")
    eq = text.find("=")
    if eq < 0:
        raise NothingToImport(f"{path}: not an account archive data file (no `window.… =`)")
    try:
        return json.loads(text[eq + 1:].strip().rstrip(";"))
    except ValueError as exc:
        raise NothingToImport(f"{path}: unreadable: {exc}") from None


_TWEET_FILES = re.compile(r"^tweets?(-part\d+)?\.js$")
_DELETED_FILES = re.compile(r"^deleted-tweets?(-part\d+)?\.js$")


def archive_inputs(path: Path) -> tuple[list[Input], dict]:
    """The data files of an account archive folder (or of one of its .js files) and what they
    say about the account: author (a v2 user) and the archive's generation time."""
    if path.is_file():
        data_dir, chosen = path.parent, [path]
    else:
        data_dir = path / "data" if (path / "data").is_dir() else path
        chosen = sorted(p for p in data_dir.iterdir() if p.is_file()
                        and (_TWEET_FILES.match(p.name) or _DELETED_FILES.match(p.name)))
    meta: dict = {"author": None, "generated_at": None}
    profile = None
    prof_path = data_dir / "profile.js"
    if prof_path.is_file():
        prof = _read_js(prof_path)
        if isinstance(prof, list) and prof and isinstance(prof[0], dict):
            profile = prof[0].get("profile")
    acc_path = data_dir / "account.js"
    inputs: list[Input] = []
    if acc_path.is_file():
        acc = _read_js(acc_path)
        entries = [a.get("account") for a in acc if isinstance(a, dict)] \
            if isinstance(acc, list) else []
        entries = [a for a in entries if isinstance(a, dict) and a.get("accountId")]
        if entries:
            meta["author"] = archive_account(entries[0], profile)
            inputs.append(Input("elements", acc_path,
                                params={"part": "account", "profile": profile}))
    manifest = data_dir / "manifest.js"
    if manifest.is_file():
        try:
            man = _read_js(manifest)
            gen = (man.get("archiveInfo") or {}).get("generationDate") \
                if isinstance(man, dict) else None
            meta["generated_at"] = iso(parse_iso(gen)) if gen else None
        except (NothingToImport, ValueError, AttributeError):
            meta["generated_at"] = None
    for p in chosen:
        if p.name in ("account.js", "profile.js", "manifest.js"):
            continue
        part = "deleted" if _DELETED_FILES.match(p.name) else "tweets"
        inputs.append(Input("elements", p, params={"part": part, "author": meta["author"]}))
    if not any(i.params.get("part") != "account" for i in inputs):
        raise NothingToImport(f"{path}: no tweets.js or deleted-tweets.js found "
                           "(give the archive folder, its data/ folder or a tweets.js file)")
    return inputs, meta


def find_inputs(fmt: str, paths: list[Path]) -> tuple[list[Input], dict]:
    """Every input to read, in order; raises NothingToImport naming a path with nothing to read."""
    if fmt not in FORMATS:
        raise NothingToImport(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    inputs: list[Input] = []
    meta: dict = {}
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise NothingToImport(f"{path}: no such file or folder")
        if fmt == "x-archive":
            got, meta = archive_inputs(path)
            inputs += got
        elif path.is_file():
            kind = "document" if fmt == "v1" and _as_document(path) else "lines"
            inputs.append(Input(kind, path))
        elif fmt == "twarc2":
            files = _jsonl_files(path)
            if not files:
                raise NothingToImport(f"{path}: no .jsonl/.json(.gz) files in this folder")
            inputs += [Input("lines", f) for f in files]
        else:
            docs = sorted(p for p in path.rglob("*.json") if p.is_file())
            lines = [p for p in _jsonl_files(path) if not p.name.endswith(".json")]
            if not docs and not lines:
                raise NothingToImport(f"{path}: no .json or .jsonl files in this folder")
            if docs:
                inputs.append(Input("documents", path, files=docs))
            inputs += [Input("lines", f) for f in lines]
    for i in inputs:
        files = i.files or [i.path]
        i.size = sum(f.stat().st_size for f in files)
    return inputs, meta


def _archive_reply(el) -> tuple[str, str | None] | None:
    """(id, id it replies to) of an archive element."""

    t = archive_tweet(el)
    tid = _id(t) if t else None
    return (tid, _id(t, "in_reply_to_status_id")) if tid else None


def archive_roots(inputs: list[Input]) -> dict[str, str]:
    """Conversation roots of the archive's replies that reach one of its own posts replying
    to nothing (a reply to someone else's post has no known root). Archives list the newest
    first, so this reads the files once before they are cut into chunks."""

    pairs: list[tuple[str, str | None]] = []
    for inp in inputs:
        if inp.kind == "elements" and inp.params.get("part") in ("tweets", "deleted"):
            try:
                for c in scan.js_array_chunks(inp.path, 1 << 62, on_element=_archive_reply):
                    pairs += c.elements
            except scan.InputError:
                continue
    return conversation_roots({"id_str": i, "in_reply_to_status_id_str": p} for i, p in pairs)


def chunks_of(inp: Input, target: int, keep: bool,
              progress: Callable[[int], None] | None,
              roots: dict[str, str] | None = None) -> Iterator[scan.Chunk]:
    if inp.kind == "lines":
        yield from scan.jsonl_chunks(inp.path, target, keep, progress)
    elif inp.kind == "elements":
        for c in scan.js_array_chunks(inp.path, target, keep, progress, inp.params,
                                      on_element=_archive_reply if roots else None):
            if roots:
                mine = {i: roots[i] for i, p in c.elements if p and i in roots}
                if mine:
                    c.params["roots"] = mine
            yield c
    elif inp.kind == "documents":
        yield from scan.document_chunks(inp.files, target, keep, progress, _is_thread_part)
    else:       # one document: the whole file
        for c in scan.document_chunks([inp.path], target, keep, progress):
            c.kind, c.ref = "document", c.ref[0]
            if keep:
                c.data = c.data[0]
            yield c


# ---------------------------------------------------------------- the run

def already_imported(cfg) -> set[tuple[str, str]]:
    """(format, chunk sha256) of every chunk an earlier import loaded."""
    with first_readable(cfg.database, cfg.replica) as con:
        if con is None:
            return set()
        rows = con.execute(
            "SELECT DISTINCT params->>'format', params->>'chunk_sha256' FROM raw_pages "
            "WHERE purpose = 'import' AND params->>'chunk_sha256' IS NOT NULL "
            "AND (error IS NULL OR error NOT LIKE 'quarantined%')").fetchall()
        return {(f, s) for f, s in rows}


def _shape(path: Path) -> str | None:
    """What a twarc2 file holds, from its first line: API pages or flattened tweets."""
    try:
        opener = gzip.open if scan.is_gzip(path) else open
        with opener(path, "rb") as fh:
            for line in fh:
                if line.strip():
                    obj = json.loads(line)
                    if isinstance(obj, dict):
                        return "API pages" if is_page(obj) else "flattened tweets"
                    return None
    except (ValueError, OSError, EOFError):
        return None
    return None


def _source_name(options: dict) -> str:
    name = options.get("source_name")
    if name and not _NAME.match(name):
        raise NothingToImport(f"--source-name {name!r}: use lowercase letters, digits, '-' and "
                              "'_' (it names a folder of the raw archive)")
    return f"{SOURCE}-{name}" if name else SOURCE


def _given(options: dict) -> str | None:
    retrieved_at = options.get("retrieved_at")
    if retrieved_at is None:
        return None
    try:
        return iso(retrieved_at if isinstance(retrieved_at, datetime)
                   else parse_iso(str(retrieved_at)))
    except ValueError:
        raise NothingToImport(f"--retrieved-at {retrieved_at!r}: not an ISO time "
                              "(e.g. 2021-09-22T16:38:09Z)") from None


def precheck(cfg, options: dict) -> None:
    """The inputs exist and can be read (options: fmt, paths, source_name, retrieved_at)."""
    _source_name(options)
    _given(options)
    options["_found"] = find_inputs(options["fmt"], [Path(p) for p in options["paths"]])
    options.setdefault("_stats", ImportStats())
    options.setdefault("progress", Progress())


def body(raw: RawWriter, ctx, result) -> None:
    """Archive the inputs as chunks referenced by path (or copied with copy_raw): the shared
    loader then normalizes them like any page (see normalize.py)."""
    cfg, options = ctx.cfg, ctx.options
    fmt, copy_raw = options["fmt"], options.get("copy_raw", False)
    chunk_bytes = options.get("chunk_bytes") or scan.DEFAULT_CHUNK_BYTES
    progress, stats, given = options["progress"], options["_stats"], _given(options)
    stats.run_id = raw.run_id
    inputs, meta = options["_found"]
    done = already_imported(cfg)
    import_time = iso(ctx.now)
    roots = archive_roots(inputs) if fmt == "x-archive" else None
    details = result.details
    details.update(format=fmt, source=_source_name(options), import_time=import_time,
                   inputs=[], input_errors=[], chunks=0, already_imported=0, archived_bytes=0)
    progress.start(sum(i.size for i in inputs))
    for inp in inputs:
        if fmt == "x-archive" and meta.get("generated_at") and not given:
            at, first_seen = meta["generated_at"], "archive_generated"
        elif given:
            at, first_seen = given, "given"
        else:
            at, first_seen = import_time, "import_time"
        if fmt == "twarc2":
            first_seen = "retrieved_at"      # per line; lines without one use `at`
        info = {"file": str(inp.path), "kind": inp.kind, "chunks": 0, "skipped": 0,
                "bytes": inp.size, "first_seen": first_seen, "fallback_time": at,
                "shape": _shape(inp.path) if fmt == "twarc2" else inp.params.get("part")}
        details["inputs"].append(info)
        try:
            for chunk in chunks_of(inp, chunk_bytes, copy_raw, progress.scanned, roots):
                if (fmt, chunk.sha256) in done:
                    info["skipped"] += 1
                    details["already_imported"] += 1
                    progress.archived(details["chunks"], details["already_imported"])
                    continue
                params = {"format": fmt, "kind": chunk.kind, "file": chunk.file,
                          "line_start": chunk.line_start, "items": chunk.items,
                          "chunk_sha256": chunk.sha256, "first_seen": first_seen,
                          **{k: v for k, v in inp.params.items() if v is not None},
                          **chunk.params}
                if chunk.kind == "documents":
                    params["files"] = [r["path"] for r in chunk.ref]
                record = {"type": "page", "purpose": "import", "endpoint": f"import:{fmt}",
                          "params": params, "scope": None, "fetched_at": at,
                          "status": 200, "headers": {}, "body": None,
                          "cursor_after": None, "error": None, "commit_after": True,
                          "tool": f"tracker/{__version__}"}
                if copy_raw:
                    data = chunk.data
                    record["body"] = ([d.decode("utf-8", "replace") for d in data]
                                      if isinstance(data, list)
                                      else data.decode("utf-8", "replace"))
                else:
                    record["body_ref"] = chunk.ref
                raw.append(record)
                info["chunks"] += 1
                details["chunks"] += 1
                details["archived_bytes"] += chunk.length
                result.pages += 1
                progress.archived(details["chunks"], details["already_imported"])
        except (scan.InputError, OSError) as exc:
            details["input_errors"].append(str(exc))
            log.warning("%s", exc)
    progress.loading(details["archived_bytes"])
    details["stats"] = stats


@contextmanager
def session(cfg, options: dict) -> Iterator[None]:
    """Follow the run's chunks as the loader normalizes them (figures and progress)."""
    stats = options.setdefault("_stats", ImportStats())
    progress = options.setdefault("progress", Progress())

    def listener(rec: dict, rows) -> None:
        if rec.get("run_id") != stats.run_id:
            return
        ref = rec.get("body_ref")
        refs = ref if isinstance(ref, list) else [ref] if ref else []
        nbytes = sum(r.get("length", 0) for r in refs if isinstance(r, dict)) or \
            sum(len(b) for b in ([rec["body"]] if isinstance(rec.get("body"), (str, bytes))
                                 else rec.get("body") or []))
        stats.bytes_loaded += nbytes
        stats.pages_loaded += 1
        counts = {}
        if rows is None:
            stats.quarantined.append(f"{(rec.get('params') or {}).get('file')}: chunk from "
                                     f"line {(rec.get('params') or {}).get('line_start')} "
                                     "could not be read")
        else:
            stats.items += rows.items
            for t, trows in rows.tables.items():
                # a part is a row (dict) or a pyarrow Table of rows (the vectorized path)
                counts[t] = sum(getattr(x, "num_rows", 1) for x in trows)
                stats.rows[t] = stats.rows.get(t, 0) + counts[t]
            for s in rows.skipped:
                stats.bad_count += 1
                if len(stats.bad) < 1000:
                    stats.bad.append(s)
        progress.loaded(nbytes, rows.items if rows else 0, counts)

    with page_listener(listener):
        yield


JOB = Job("import", "import", body,
          "files analysts already have: twarc2 JSONL, X archives, v1.1 tweets",
          scheduled=False, precheck=precheck, session=session, raw_source=_source_name)

"""The loader's batch path for X pages (sources/x/bulk.py) stores exactly what the per-page
normalizer stores: every table row for row, over the real corpus pages and pages of every odd
shape, with non-2xx, truncated and empty answers among them; and collected pages store what a
twarc2 import of the same pages stores (one batched normalizer for both)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from tests.conftest import corpus_dir
from tests.helpers import content_sql, snapshot
from tests.sources.x.imports.helpers import DATA_TABLES, config, run_import
from tests.sources.x.imports.test_import_fast import odd_lines
from tracker.sources.x import bulk
from tracker.sources.x.imports.twarc import is_page
from tracker.store.db import open_db
from tracker.sources.registry import REGISTRY
from tracker.store.loader import load_pending
from tracker.core.timeutil import iso
from tracker.store.raw import RawWriter

PAGE_FILES = ["brexit.jsonl", "counts.jsonl", "edited.jsonl", "edited_after.jsonl",
              "edited_before.jsonl", "entities_test.jsonl", "noflat.jsonl", "quoted_edit.jsonl",
              "users.jsonl", "withheld.jsonl"]
AT = datetime(2022, 10, 3, 18, 0, tzinfo=timezone.utc)


def bodies(corpus) -> list[tuple[int, str]]:
    """(status, body) of every recorded page, then the odd shapes and failed answers."""
    out = []
    for name in PAGE_FILES:
        for line in (corpus / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                page = json.loads(line)
                page.pop("__twarc", None)          # what the API itself sent
                out.append((200, json.dumps(page, ensure_ascii=False)))
    for line in odd_lines(corpus):
        try:
            page = json.loads(line)
        except (ValueError, RecursionError):      # not JSON, or nested too deep to read
            out.append((200, line))
            continue
        if isinstance(page, dict) and "__twarc" in page:
            page.pop("__twarc")
            line = json.dumps(page, ensure_ascii=False)
        out.append((200, line))
    brexit = out[0][1]
    out += [
        (429, '{"title": "Too Many Requests"}'),
        (200, brexit[: len(brexit) // 2]),                        # truncated
        (200, ""),
        (503, "<html>busy</html>"),
        (200, json.dumps(json.loads(brexit), indent=2)),          # pretty-printed
        (200, brexit.replace('"text": "', '"text": "\\ud83d', 1)),   # a lone surrogate
        (200, "[]"),
        (200, '{"data": []}'),
    ]
    return out


def write_archive(raw_dir, pages):
    """Two runs, their pages a second apart (the later capture of a post wins)."""
    for run, part in (("r1", pages), ("r2", pages[::-1])):
        w = RawWriter(raw_dir, "x", run, started=AT)
        w.append({"type": "run_start", "job": "collect_posts", "started_at": "2022-10-03T18:00:00Z"})
        for i, (status, body) in enumerate(part):
            at = AT + timedelta(seconds=i + (0 if run == "r1" else 500), microseconds=250 * i)
            w.page(purpose="timeline", endpoint="GET /2/tweets/search/recent", params={},
                   scope=f"s{i % 3}", fetched_at=at, status=status, headers={}, body=body,
                   cursor_after={"newest_id": str(i)})
        w.append({"type": "run_end", "status": "ok", "ended_at": "2022-10-03T19:00:00Z"})


def load(tmp_path, monkeypatch, mode, pages):
    monkeypatch.setenv("TRACKER_LOAD_FAST", mode)
    raw = tmp_path / "raw"
    if not raw.exists():
        write_archive(raw, pages)
    db = tmp_path / f"{mode}.duckdb"
    con = open_db(db)
    try:
        result = load_pending(con, raw, REGISTRY)
    finally:
        con.close()
    return result, snapshot(db, exclude=("raw_files",))


def test_batches_store_what_page_by_page_stores(tmp_path, monkeypatch):
    pages = bodies(corpus_dir("x-api-v2"))
    taken_alone = []
    real = bulk._PagesChunk.python_line

    def spy(self, ln, line, at):
        taken_alone.append(ln)
        return real(self, ln, line, at)

    monkeypatch.setattr(bulk._PagesChunk, "python_line", spy)
    fast, fast_rows = load(tmp_path, monkeypatch, "1", pages)      # the default: batches
    alone = len(taken_alone)
    slow, slow_rows = load(tmp_path, monkeypatch, "0", pages)
    assert len(taken_alone) == alone                 # mode 0 never batches
    for table in slow_rows:
        assert fast_rows[table] == slow_rows[table], table
    assert [(f.pages, f.quarantined, f.new_rows, f.updated_rows, f.by_table)
            for f in fast.files] == [(f.pages, f.quarantined, f.new_rows, f.updated_rows,
                                      f.by_table) for f in slow.files]
    # the batches took the real pages; the odd ones went page by page
    # 87 pages a run: 85 with a 2xx status go in batches; of those, 79 are JSON objects the
    # vectorized path reads, 34 of which it declines (odd shapes, or entities whose text DuckDB
    # would write otherwise than as_sent, or nested too deep); the 40 declined go through
    # the per-page normalizer, and truncated, empty and non-object bodies are quarantined
    # both ways
    assert len(pages) == 87
    assert sum(bulk.bulk_size({"source": "x", "status": s, "body": b, "fetched_at": "t"})
               is not None for s, b in pages) == 85
    assert sum(bulk.bulk_line({"source": "x", "status": s, "body": b, "fetched_at": "t"})
               is not None for s, b in pages) == 79
    assert alone == 2 * (34 + 85 - 79)
    assert fast.quarantined == slow.quarantined == 2 * 7       # and the one nested too deep
    assert (len(slow_rows["posts"]), len(slow_rows["api_errors"])) == (1309, 56)


def _rows_by_name(path, names) -> dict[str, list[dict]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for t in names:
            cur = con.execute(content_sql(con, t))
            cols = [d[0] for d in cur.description]
            out[t] = [dict(zip(cols, r)) for r in cur.fetchall()]
        return out
    finally:
        con.close()


@pytest.mark.parametrize("mode", ["1", "0"])
def test_collected_pages_store_what_an_import_of_the_same_pages_stores(tmp_path, monkeypatch,
                                                                        mode):
    """Every recorded page of the corpus, collected (raw archive, loaded by default in batches,
    or page by page) and imported (twarc2, its retrieval time = the page's capture time): the
    same rows in every table. Only where each page's rows came from differs: page_id (the
    collected page; the import's chunk) and the numbering of api_errors within it."""
    pages = []
    for status, body in bodies(corpus_dir("x-api-v2")):     # real pages, then odd shapes
        try:
            page = json.loads(body)
        except (ValueError, RecursionError):
            continue
        # (a twarc2 line that is not an API page is a flattened tweet: not comparable)
        if status == 200 and isinstance(page, dict) and is_page(page):
            pages.append((status, body))
    assert len(pages) > 60
    raw = tmp_path / "raw"
    w = RawWriter(raw, "x", "r1", started=AT)
    w.append({"type": "run_start", "job": "collect_posts", "started_at": iso(AT)})
    lines = []
    for i, (status, body) in enumerate(pages):
        at = AT + timedelta(seconds=i, microseconds=250 * i)
        w.page(purpose="timeline", endpoint="GET /2/tweets/search/recent", params={},
               scope="s", fetched_at=at, status=status, headers={}, body=body,
               cursor_after={"newest_id": str(i)})
        page = json.loads(body)
        page["__twarc"] = {"retrieved_at": iso(at)}
        lines.append(json.dumps(page))          # escapes kept (a lone surrogate)
    w.append({"type": "run_end", "status": "ok"})
    monkeypatch.setenv("TRACKER_LOAD_FAST", mode)
    con = open_db(tmp_path / "collected.duckdb")
    try:
        assert not load_pending(con, raw, REGISTRY).failed
    finally:
        con.close()
    collected = _rows_by_name(tmp_path / "collected.duckdb", DATA_TABLES)

    src = tmp_path / "pages.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = config(tmp_path / "import")
    run_import(cfg, "twarc2", src)
    imported = _rows_by_name(cfg.replica, DATA_TABLES)

    def key(row: dict) -> str:
        return repr(sorted((k, v) for k, v in row.items() if k not in ("page_id", "idx")))

    for table in DATA_TABLES:
        assert collected[table], table
        assert sorted(map(key, collected[table])) == sorted(map(key, imported[table])), table
    assert len(collected["posts"]) > 1000


def test_bulk_line_splices_the_capture_time_or_declines():
    rec = {"type": "page", "source": "x", "status": 200, "fetched_at": "2022-10-03T18:00:00.000000Z",
           "body": '{\n "data": [{"id": "1"}]\n}'}
    assert bulk.bulk_line(rec) == (b'{"data": [{"id": "1"}],"__twarc":{"retrieved_at":'
                                   b'"2022-10-03T18:00:00.000000Z"}}')
    assert bulk.bulk_line(dict(rec, body="{}")) == (
        b'{"__twarc":{"retrieved_at":"2022-10-03T18:00:00.000000Z"}}')
    for other in (dict(rec, status=429), dict(rec, source="press"), dict(rec, body=None),
                  dict(rec, body="[1]"), dict(rec, body='{"__twarc": 1}'),
                  dict(rec, body='{"a": "\ud83d"}'), dict(rec, status=None)):
        assert bulk.bulk_line(other) is None, other


@pytest.mark.parametrize("mode", ["1", "0", "always"])
def test_mode_setting(monkeypatch, mode):
    monkeypatch.setenv("TRACKER_LOAD_FAST", mode)
    assert bulk.bulk_mode() == mode


def test_a_failure_inside_the_batch_path_costs_speed_not_rows(monkeypatch, caplog):
    from tracker.sources.x import fast
    from tracker.sources.x.normalize import normalize

    recs = [{"type": "page", "source": "x", "status": 200, "run_id": "r", "seq": i,
             "fetched_at": "2022-10-03T18:00:00.000000Z",
             "body": json.dumps({"data": [{"id": str(i), "text": "hi",
                                           "edit_history_tweet_ids": [str(i)]}],
                                 "errors": [{"title": "Not Found Error", "resource_type": "tweet",
                                             "resource_id": "9"}]})} for i in (1, 2)]

    def broken(ch, *a, **kw):
        ch.add_tables(1, 1, {}, 7)              # half done, then a bug
        raise RuntimeError("unforeseen")

    monkeypatch.setattr(fast, "vectorized", broken)
    out = bulk.normalize_pages(recs)
    for rec, (r, rows, exc) in zip(recs, out):
        expected = normalize(rec)
        assert r is rec and exc is None
        assert (rows.tables, rows.post_status, rows.items) == (
            expected.tables, expected.post_status, expected.items) and rows.items == 1
    assert "batch of 2 pages normalized page by page" in caplog.text


def test_a_waiting_page_is_held_as_utf8_and_reads_back_as_its_text():
    from tracker.sources.x.normalize import Utf8Body, parse_body

    text = '{"data": [{"id": "1", "text": "Ça dément — 否认 🚫"}]}'
    rec = {"type": "page", "source": "x", "status": 200, "body": text,
           "fetched_at": "2022-10-03T18:00:00.000000Z"}
    line = bulk.bulk_line(dict(rec))
    packed = bulk.pack(dict(rec))
    assert type(packed["body"]) is Utf8Body and packed["body"] == text.encode("utf-8")
    assert bulk.bulk_size(packed) == len(text.encode("utf-8"))
    assert bulk.bulk_line(packed) == line
    assert parse_body(packed) == json.loads(text)
    lone = dict(rec, body='{"a": "\ud83d"}')
    assert bulk.pack(lone)["body"] == '{"a": "\ud83d"}'         # left as text: cannot encode
    assert bulk.bulk_line(lone) is None

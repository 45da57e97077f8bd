"""The shared loader: idempotent upserts, write rules, quarantine, crashed runs, cursors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from tracker.store.db import open_db
from tracker.sources.registry import REGISTRY
from tracker.store.loader import load_file, load_pending
from tracker.store.raw import RawWriter

AT = datetime(2022, 10, 11, 14, 0, tzinfo=timezone.utc)


def tweet(i, text="hello", likes=0):
    return {"id": str(i), "author_id": "7", "text": text, "created_at": "2022-10-11T13:00:00.000Z",
            "conversation_id": str(i), "edit_history_tweet_ids": [str(i)],
            "public_metrics": {"like_count": likes}}


def page(w, body, at=AT, scope=None, cursor=None, status=200, purpose="timeline"):
    w.page(purpose=purpose, endpoint="GET /2/users/:id/tweets", params={}, scope=scope,
           fetched_at=at, status=status, headers={},
           body=body if isinstance(body, str) else json.dumps(body), cursor_after=cursor)


@pytest.fixture
def con(tmp_path):
    c = open_db(tmp_path / "t.duckdb")
    yield c
    c.close()


def test_same_file_loaded_twice_changes_nothing(tmp_path, con):
    w = RawWriter(tmp_path / "raw", "x", "r1", started=AT)
    w.append({"type": "run_start", "job": "collect_posts", "started_at": "2022-10-11T14:00:00Z"})
    page(w, {"data": [tweet(1), tweet(2)],
             "includes": {"users": [{"id": "7", "username": "al", "name": "Al"}]}},
         scope="timeline:7", cursor={"newest_id": "2", "gap": None})
    w.append({"type": "run_end", "status": "ok", "requests": 1, "posts_read": 2})
    first = load_file(con, tmp_path / "raw", w.relpath, REGISTRY)
    assert (first.pages, first.new_rows) == (1, 6)   # 2 posts, 2 versions, account, handle
    before = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
              for t in ("posts", "accounts", "sync_state", "runs", "raw_pages")}
    again = load_file(con, tmp_path / "raw", w.relpath, REGISTRY)
    assert (again.new_rows, again.updated_rows) == (0, 0)
    after = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in before}
    assert after == before
    assert con.execute("SELECT url FROM posts WHERE post_id = '1'").fetchone() == (
        "https://x.com/al/status/1",)


def test_latest_fetch_wins_first_seen_kept_deleted_never_cleared(tmp_path, con):
    w = RawWriter(tmp_path / "raw", "x", "r1", started=AT)
    page(w, {"data": [tweet(1, likes=1)]}, at=AT)
    page(w, {"data": [tweet(1, likes=5)]}, at=AT + timedelta(hours=1))
    page(w, {"errors": [{"resource_type": "tweet", "resource_id": "1",
                         "title": "Not Found Error", "detail": "gone"}]},
         at=AT + timedelta(hours=2), purpose="deletion_check")
    load_pending(con, tmp_path / "raw", REGISTRY)
    # one "Not Found" is a sighting; a later run's lookup confirms it (deleted_at = the first)
    assert con.execute("SELECT deleted_at, missing_since FROM posts").fetchone() == (
        None, AT + timedelta(hours=2))
    w1b = RawWriter(tmp_path / "raw", "x", "r1b", started=AT)
    page(w1b, {"errors": [{"resource_type": "tweet", "resource_id": "1",
                           "title": "Not Found Error", "detail": "gone"}]},
         at=AT + timedelta(hours=8), purpose="deletion_check")
    load_pending(con, tmp_path / "raw", REGISTRY)
    w2 = RawWriter(tmp_path / "raw", "x", "r2", started=AT)
    page(w2, {"data": [tweet(1, likes=3)]}, at=AT - timedelta(hours=1))   # an older capture
    load_pending(con, tmp_path / "raw", REGISTRY)
    got = con.execute("SELECT like_count, first_seen_at, last_seen_at, deleted_at FROM posts"
                      ).fetchone()
    assert got == (5, AT - timedelta(hours=1), AT + timedelta(hours=1), AT + timedelta(hours=2))


def test_a_deletion_needs_a_second_lookup_from_a_later_run(tmp_path, con):
    nf = {"errors": [{"resource_type": "tweet", "resource_id": "1",
                      "title": "Not Found Error", "detail": "gone"}]}
    w = RawWriter(tmp_path / "raw", "x", "r1", started=AT)
    page(w, {"data": [tweet(1)]}, at=AT)
    page(w, nf, at=AT + timedelta(hours=1), purpose="deletion_check")
    page(w, nf, at=AT + timedelta(hours=2), purpose="deletion_check")    # same run: not enough
    load_pending(con, tmp_path / "raw", REGISTRY)
    state = "SELECT deleted_at, missing_since, missing_run FROM posts"
    assert con.execute(state).fetchone() == (None, AT + timedelta(hours=1), "r1")
    # the post answers again: a lookup that failed once, not a deletion
    w2 = RawWriter(tmp_path / "raw", "x", "r2", started=AT)
    page(w2, {"data": [tweet(1)]}, at=AT + timedelta(hours=3), purpose="deletion_check")
    load_pending(con, tmp_path / "raw", REGISTRY)
    assert con.execute(state).fetchone() == (None, None, None)
    w3 = RawWriter(tmp_path / "raw", "x", "r3", started=AT)
    page(w3, nf, at=AT + timedelta(hours=4), purpose="deletion_check")
    w4 = RawWriter(tmp_path / "raw", "x", "r4", started=AT)
    page(w4, nf, at=AT + timedelta(hours=5), purpose="deletion_check")
    load_pending(con, tmp_path / "raw", REGISTRY)
    assert con.execute(state).fetchone() == (AT + timedelta(hours=4), AT + timedelta(hours=4),
                                             "r3")


def test_bad_page_is_quarantined_and_the_rest_of_the_file_loads(tmp_path, con):
    w = RawWriter(tmp_path / "raw", "x", "r1", started=AT)
    page(w, '{"data": [{"id": "1", "te')                         # truncated body
    page(w, {"data": [tweet(2), "junk", {"text": "no id"}]})     # partly bad items
    page(w, '{"title": "Service Unavailable"}', status=503)
    fl = load_file(con, tmp_path / "raw", w.relpath, REGISTRY)
    assert (fl.pages, fl.quarantined) == (3, 1)
    got = con.execute("SELECT seq, http_status, items, error FROM raw_pages ORDER BY seq"
                      ).fetchall()
    assert got[0][3].startswith("quarantined: invalid JSON body")
    assert got[1][:3] == (2, 200, 1) and "skipped" in got[1][3]
    assert got[2] == (3, 503, 0, None)
    assert con.execute("SELECT post_id FROM posts").fetchall() == [("2",)]


def test_run_without_run_end_is_recorded_as_crashed_and_cursor_kept(tmp_path, con):
    w = RawWriter(tmp_path / "raw", "x", "r1", started=AT)
    w.append({"type": "run_start", "job": "collect_posts", "started_at": "2022-10-11T14:00:00Z"})
    page(w, {"data": [tweet(5)], "meta": {"next_token": "n"}}, scope="timeline:7",
         cursor={"newest_id": None, "gap": {"since_id": None, "until_id": "5",
                                            "newest_id": "5", "read": 1}})
    load_pending(con, tmp_path / "raw", REGISTRY)
    assert con.execute("SELECT status, pages FROM runs").fetchall() == [("crashed", 1)]
    cursor = json.loads(con.execute("SELECT cursor FROM sync_state").fetchone()[0])
    assert cursor["gap"]["until_id"] == "5"


def test_busy_database_is_reported_as_such(tmp_path):
    from tracker.core.errors import DatabaseBusy
    import subprocess
    import sys

    path = tmp_path / "busy.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb,sys; c=duckdb.connect(sys.argv[1]); "
         "print('ok', flush=True); sys.stdin.readline()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(DatabaseBusy, match="raw archive"):
            open_db(path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def test_a_file_that_cannot_load_is_recorded_and_skipped_not_blocking(tmp_path, con,
                                                                        monkeypatch):
    from tracker.store import loader

    w1 = RawWriter(tmp_path / "raw", "x", "r1", started=AT)
    page(w1, {"data": [tweet(1)]})
    w2 = RawWriter(tmp_path / "raw", "x", "r2", started=AT)
    page(w2, {"data": [tweet(2)]})
    real = loader.upsert

    def post_ids(rows):           # rows: dicts, or Arrow tables from the batched normalizer
        for r in rows:
            if isinstance(r, dict):
                yield r.get("post_id")
            elif "post_id" in r.column_names:
                yield from r.column("post_id").to_pylist()

    def broken(con, spec, rows, stamp=None):
        if "1" in post_ids(rows):
            raise duckdb.ConversionException("a value no rule foresaw")
        return real(con, spec, rows, stamp)

    monkeypatch.setattr(loader, "upsert", broken)
    result = load_pending(con, tmp_path / "raw", REGISTRY)
    assert [(f.path.split("/")[-1], bool(f.error)) for f in result.files] == [
        ("r1.jsonl.gz", True), ("r2.jsonl.gz", False)]
    assert con.execute("SELECT post_id FROM posts").fetchall() == [("2",)]
    assert loader.failed_files(con)[0][1].startswith("ConversionException")
    assert load_pending(con, tmp_path / "raw", REGISTRY).files == []          # not retried by itself
    monkeypatch.setattr(loader, "upsert", real)
    retried = load_pending(con, tmp_path / "raw", REGISTRY, retry_failed=True)
    assert [f.error for f in retried.files] == [None]
    assert con.execute("SELECT count(*) FROM posts").fetchone() == (2,)
    assert loader.failed_files(con) == []


def _one_run(tmp_path, n=50):
    w = RawWriter(tmp_path / "raw", "x", "r1", started=AT)
    w.append({"type": "run_start", "job": "collect_posts", "started_at": "2022-10-11T14:00:00Z"})
    page(w, {"data": [tweet(i) for i in range(1, n + 1)]}, scope="timeline:7",
         cursor={"newest_id": str(n), "gap": None})
    w.append({"type": "run_end", "status": "ok"})


def test_memory_is_capped_while_loading_and_restored(tmp_path, con):
    _one_run(tmp_path)
    before = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    during = []
    res = load_pending(con, tmp_path / "raw", REGISTRY, memory_limit="300MB",
                       progress=lambda fl: during.append(
        con.execute("SELECT current_setting('memory_limit')").fetchone()[0]))
    assert not res.failed and res.new_rows == 100
    assert during == ["286.1 MiB"]                  # 300 MB
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == before


def test_a_cap_too_small_is_lifted_not_blamed_on_the_file(tmp_path, con, monkeypatch):
    from tracker.store import loader

    _one_run(tmp_path, n=3000)
    before = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    calls, real = [], loader.load_file

    def spy(*a, **kw):
        calls.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        return real(*a, **kw)

    monkeypatch.setattr(loader, "load_file", spy)
    res = load_pending(con, tmp_path / "raw", REGISTRY, memory_limit="6MB")
    assert calls == ["5.7 MiB", before]              # ran out under the cap, then without it
    assert not res.failed and res.new_rows == 6000
    assert con.execute("SELECT count(*), count(error) FROM raw_files").fetchone() == (1, 0)
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == before


def test_the_next_file_is_read_ahead_and_the_rows_are_the_same(tmp_path, monkeypatch):
    from tracker.store import ahead as ahead_module
    from tracker.store import loader

    for r in range(4):
        w = RawWriter(tmp_path / "raw", "x", f"r{r}", started=AT + timedelta(minutes=r))
        w.append({"type": "run_start", "job": "collect_posts",
                  "started_at": f"2022-10-11T14:0{r}:00Z"})
        page(w, {"data": [tweet(i, text=f"v{r}", likes=r) for i in range(r, r + 30)]},
             at=AT + timedelta(minutes=r), scope="timeline:7",
             cursor={"newest_id": str(r + 29), "gap": None})
        page(w, '{"data": [trunc', at=AT + timedelta(minutes=r))
        w.append({"type": "run_end", "status": "ok"})
    read, real = [], loader.read_ahead

    def spy(reader, raw_dir, rel):
        read.append(rel)
        return real(reader, raw_dir, rel)

    got = {}
    for ahead in (True, False):
        monkeypatch.setattr(loader, "read_ahead", spy)
        monkeypatch.setattr(ahead_module, "READ_AHEAD_MAX_BYTES", (64 << 20) if ahead else -1)
        c = open_db(tmp_path / f"{ahead}.duckdb")
        res = load_pending(c, tmp_path / "raw", REGISTRY)
        got[ahead] = ([(f.pages, f.quarantined, f.new_rows, f.updated_rows) for f in res.files],
                      {t: c.execute(f"SELECT * EXCLUDE (loaded_at) FROM {t} ORDER BY ALL"
                                    if t == "raw_files" else f"SELECT * FROM {t} ORDER BY ALL"
                                    ).fetchall()
                       for t in ("posts", "post_versions", "sync_state", "runs", "raw_pages",
                                 "raw_files")})
        c.close()
        if ahead:
            files = [f.path for f in res.files]
            assert read == files[1:]             # every file but the first was read ahead
    assert len(read) == 3                        # and none when the size limit says no
    assert got[True] == got[False]
    # 30 posts + versions, then each run 1 new post (+ version) and 29 changed (+ versions),
    # and the cursor
    assert got[True][0] == [(2, 1, 60, 1), (2, 1, 2, 59), (2, 1, 2, 59), (2, 1, 2, 59)]


def test_cursors_advance_by_what_they_cover_not_by_the_clock(tmp_path, con):
    """A run whose clock was two days ahead must not freeze the cursor (it used to, until the
    real clock caught up); a file loaded late must not move a cursor back."""
    scope = "timeline:7"
    ahead = RawWriter(tmp_path / "raw", "x", "r1", started=AT)
    page(ahead, {"data": [tweet(5)]}, at=AT + timedelta(days=2), scope=scope,
         cursor={"newest_id": "5", "gap": None})
    load_pending(con, tmp_path / "raw", REGISTRY)
    real = RawWriter(tmp_path / "raw", "x", "r2", started=AT)
    page(real, {"data": [tweet(9)]}, at=AT + timedelta(minutes=15), scope=scope,
         cursor={"newest_id": "9", "gap": None})
    load_pending(con, tmp_path / "raw", REGISTRY)
    assert json.loads(con.execute("SELECT cursor FROM sync_state").fetchone()[0]) == {
        "newest_id": "9", "gap": None}
    # an older file loaded after the newer one (e.g. `tracker load --retry-failed`)
    late = RawWriter(tmp_path / "raw", "x", "r3", started=AT)
    page(late, {"data": [tweet(3)]}, at=AT + timedelta(hours=1), scope=scope,
         cursor={"newest_id": "3", "gap": None})
    # and an unfinished pagination that reached further back than the stored one
    gap = RawWriter(tmp_path / "raw", "x", "r4", started=AT)
    page(gap, {"data": [tweet(12)]}, at=AT - timedelta(days=1), scope=scope,
         cursor={"newest_id": "9", "gap": {"since_id": "9", "until_id": "12",
                                            "newest_id": "14", "read": 1}})
    load_pending(con, tmp_path / "raw", REGISTRY)
    assert json.loads(con.execute("SELECT cursor FROM sync_state").fetchone()[0]) == {
        "newest_id": "9", "gap": {"since_id": "9", "until_id": "12", "newest_id": "14",
                                  "read": 1}}


def test_cursor_rank_orders_by_ids():
    from tracker.sources.x.plan import cursor_rank

    done9 = {"newest_id": "9", "gap": None}
    assert cursor_rank({"newest_id": "10", "gap": None}) > cursor_rank(done9)
    assert cursor_rank(done9) > cursor_rank({"newest_id": "5", "gap": {
        "since_id": "5", "until_id": "8", "newest_id": "9", "read": 1}})
    assert cursor_rank({"newest_id": "5", "gap": {"since_id": "5", "until_id": "7",
                                                  "newest_id": "9", "read": 2}}) > \
        cursor_rank({"newest_id": "5", "gap": {"since_id": "5", "until_id": "8",
                                               "newest_id": "9", "read": 1}})
    # a pagination that has read nothing yet covers less than one that has
    assert cursor_rank({"newest_id": None, "gap": {"since_id": None, "until_id": None,
                                                   "newest_id": "9", "read": 0}}) < \
        cursor_rank({"newest_id": None, "gap": {"since_id": None, "until_id": "8",
                                                "newest_id": "9", "read": 1}})

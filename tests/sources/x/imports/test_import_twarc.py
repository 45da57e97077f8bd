"""`tracker import twarc2` on the real twarc files in ../shared/corpus/x-api-v2: counts, the
truncated line, gzip, idempotence, chunking, and the raw archive's references."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from tests.conftest import corpus_dir
from tracker.store.raw import list_raw_files, read_raw_file
from tracker.runs.load import rebuild
from tracker.store.refs import ReferencedFileError

from .helpers import DATA_TABLES, config, query, run_import, tables

# the twarc2 files of the corpus (pages and the flattened form)
FILES = ["brexit.jsonl", "counts.jsonl", "edited.jsonl", "edited_after.jsonl",
         "edited_before.jsonl", "entities_test.jsonl", "flat.jsonl", "noflat.jsonl",
         "quoted_edit.jsonl", "streaming_output_with_error.jsonl", "users.jsonl",
         "withheld.jsonl"]


@pytest.fixture(scope="module")
def corpus():
    return corpus_dir("x-api-v2")


def as_list(v):
    return [] if v is None else v if isinstance(v, list) else [v]


def expected(corpus, names):
    """Distinct post ids, account ids, poll ids and error entries, from the raw JSON."""
    posts, users, polls, errors, bad = set(), set(), set(), 0, []
    for name in names:
        for i, line in enumerate((corpus / name).read_text().split("\n"), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                bad.append(f"{name}:{i}")
                continue
            if "id" in obj and "data" not in obj:              # a flattened tweet
                posts.add(obj["id"])
                posts |= {r["id"] for r in obj.get("referenced_tweets", []) if len(r) > 2}
                users |= {u["id"] for u in [obj.get("author"), obj.get("in_reply_to_user")]
                          if u}
                for r in obj.get("referenced_tweets", []):
                    if r.get("author"):
                        users.add(r["author"]["id"])
                for t in [obj] + obj.get("referenced_tweets", []):
                    users |= {m["id"] for m in (t.get("entities") or {}).get("mentions", [])
                              if "name" in m}
                continue
            inc = obj.get("includes", {})
            data = [d for d in as_list(obj.get("data")) if "id" in d]
            url = obj.get("__twarc", {}).get("url", "")
            is_users = "/2/users" in url and "/tweets" not in url
            (users if is_users else posts).update(d["id"] for d in data)
            posts |= {t["id"] for t in inc.get("tweets", [])}
            users |= {u["id"] for u in inc.get("users", [])}
            polls |= {p["id"] for p in inc.get("polls", [])}
            errors += len(as_list(obj.get("errors")))
    return posts, users, polls, errors, bad


def test_corpus_counts_exact(tmp_path, corpus):
    cfg = config(tmp_path)
    result = run_import(cfg, "twarc2", *[corpus / n for n in FILES])
    posts, users, polls, errors, bad = expected(corpus, FILES)
    assert bad == ["streaming_output_with_error.jsonl:8"]
    assert {r[0] for r in query(cfg, "SELECT post_id FROM posts")} == posts
    assert {r[0] for r in query(cfg, "SELECT account_id FROM accounts")} == users
    assert {r[0] for r in query(cfg, "SELECT poll_id FROM polls")} == polls == {
        "1440382209790132235"}
    assert query(cfg, "SELECT count(*) FROM api_errors")[0][0] == errors == 25
    assert query(cfg, "SELECT count(*) FROM poll_snapshots")[0][0] == 3
    assert len(posts) == 1319 and len(users) == 1658
    # the truncated line is reported with file and line, everything else is in
    stats = result.details["stats"]
    assert any(b.startswith(f"{(corpus / 'streaming_output_with_error.jsonl').resolve()}:8: invalid JSON")
               for b in stats.bad)
    # result items: tweets (or users of lookups) with an id, in data or flattened lines
    assert stats.items == 100 + 1 + 1 + 1 + 474 + 100 + 100 + 1 + 7 + 96 + 215
    assert result.tables["posts"][1] == len(posts)
    assert result.tables["accounts"][1] == len(users)
    # one raw page record per file, referencing it; the run is in `runs`
    (run,) = query(cfg, "SELECT job, source, status, pages, requests FROM runs")
    assert run == ("import", "import", "ok", len(FILES), 0)
    first_seen = dict(query(cfg, "SELECT post_id, first_seen_at FROM posts"))
    assert str(first_seen["1440716895355764743"]) == "2021-09-22 16:38:09+00:00"   # brexit


def test_deleted_protected_and_edits_are_kept(tmp_path, corpus):
    cfg = config(tmp_path)
    run_import(cfg, "twarc2", corpus / "entities_test.jsonl", corpus / "edited.jsonl")
    # errors about tweets are kept (the posts they name were never returned, so no post row
    # gets deleted_at / unavailable_reason from them)
    assert query(cfg, "SELECT title, count(*) FROM api_errors WHERE resource_type = 'tweet' "
                      "GROUP BY 1 ORDER BY 1") == [("Authorization Error", 3),
                                                   ("Not Found Error", 3)]
    assert query(cfg, "SELECT version_post_id, version_index FROM post_versions WHERE "
                      "edit_chain_id = '1576994746135764992' ORDER BY 2") == [
        ("1576994746135764992", 0), ("1576994789110992896", 1)]


def test_import_twice_changes_nothing(tmp_path, corpus):
    cfg = config(tmp_path)
    run_import(cfg, "twarc2", *[corpus / n for n in FILES])
    before = tables(cfg)
    again = run_import(cfg, "twarc2", *[corpus / n for n in FILES])
    assert (again.pages, again.new_rows, again.updated_rows) == (0, 0, 0)
    assert again.details["already_imported"] == len(FILES)
    after = tables(cfg)
    runs = after.pop("runs")
    assert len(runs) == len(before.pop("runs")) + 1          # the second run is recorded
    assert after == before


def test_gzip_and_chunking_give_the_same_rows(tmp_path, corpus):
    """A gzip copy, cut into small chunks (one transaction each), loads the same rows as the
    plain files in one chunk each."""
    plain = config(tmp_path / "plain")
    run_import(plain, "twarc2", *[corpus / n for n in FILES])
    gz_dir = tmp_path / "gz"
    gz_dir.mkdir()
    for n in FILES:
        (gz_dir / f"{n}.gz").write_bytes(gzip.compress((corpus / n).read_bytes()))
    small = config(tmp_path / "small")
    result = run_import(small, "twarc2", gz_dir, chunk_bytes=128 << 10)
    assert result.pages > len(FILES)
    strip = set(DATA_TABLES) - {"api_errors"}
    assert tables(small, strip, True) == tables(plain, strip, True)
    # api_errors: the same entries (numbered within each chunk)
    sql = ("SELECT title, resource_id, resource_type, detail FROM api_errors ORDER BY ALL")
    assert query(small, sql) == query(plain, sql)
    # the references into the gzip streams read back the same bytes
    before = tables(small)
    rebuild(small)
    assert tables(small) == before


def test_a_torn_gzip_is_reported_and_what_came_before_imported(tmp_path, corpus):
    data = gzip.compress((corpus / "withheld.jsonl").read_bytes())
    src = tmp_path / "torn.jsonl.gz"
    src.write_bytes(data[: len(data) * 3 // 4])
    cfg = config(tmp_path)
    result = run_import(cfg, "twarc2", src, chunk_bytes=64 << 10)
    (err,) = result.details["input_errors"]
    assert str(src.resolve()) in err and "ends early" in err
    assert 0 < query(cfg, "SELECT count(*) FROM posts")[0][0] < 285


def test_rebuild_reads_the_referenced_file_and_names_it_when_gone(tmp_path, corpus):
    src = tmp_path / "input"
    src.mkdir()
    for n in ("brexit.jsonl", "withheld.jsonl"):
        shutil.copy(corpus / n, src / n)
    cfg = config(tmp_path)
    result = run_import(cfg, "twarc2", src)
    # the raw archive references the input; it does not copy it
    (raw_file,) = list_raw_files(cfg.raw_dir)
    assert raw_file.startswith("import/")
    pages = [r.record for r in read_raw_file(cfg.raw_dir / raw_file)
             if r.record and r.record["type"] == "page"]
    assert len(pages) == 2 and all(p["body"] is None for p in pages)
    assert {p["body_ref"]["path"] for p in pages} == {str((src / "brexit.jsonl").resolve()),
                                                     str((src / "withheld.jsonl").resolve())}
    assert (cfg.raw_dir / raw_file).stat().st_size < 4096
    before = tables(cfg)
    rebuild(cfg)
    assert tables(cfg) == before
    assert result.pages == 2
    # gone: rebuild stops with the file's name and keeps the database as it was
    (src / "withheld.jsonl").rename(src / "moved.jsonl")
    with pytest.raises(ReferencedFileError, match="withheld.jsonl.*not found"):
        rebuild(cfg)
    assert tables(cfg) == before
    # changed: named too
    data = (src / "moved.jsonl").read_bytes()
    (src / "withheld.jsonl").write_bytes(data.replace(b'"text"', b'"Text"', 1))
    with pytest.raises(ReferencedFileError, match="withheld.jsonl: changed since"):
        rebuild(cfg)


def test_copy_raw_keeps_the_input_in_the_archive(tmp_path, corpus):
    src = tmp_path / "brexit.jsonl"
    shutil.copy(corpus / "brexit.jsonl", src)
    cfg = config(tmp_path)
    run_import(cfg, "twarc2", src, copy_raw=True)
    before = tables(cfg)
    src.unlink()
    rebuild(cfg)
    assert tables(cfg) == before
    assert query(cfg, "SELECT count(*) FROM posts")[0][0] == 155

"""The lake (storage.lake_dir): after each load, the rows it added or changed as Parquet.

Read by another DuckDB process (the views `tracker lake view` prints) and by pyarrow.dataset
alone, the lake gives exactly the database's rows after loads that change the same rows again
(metrics, an account's name, cursors, a deletion, a poll's counts, an article's new version),
after a compaction, after a failed write and after a rebuild.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from tracker.cli import build_cli
from tracker.config import parse_config
from tracker.runs import load as load_runs
from tracker.store import lake
from tracker.store.export import _select
from tracker.store.raw import RawWriter

AT = datetime(2022, 10, 11, 14, 0, tzinfo=timezone.utc)
ARTICLE = "https://news.example/2022/10/11/call"


def make_cfg(root: Path, lake_dir: str = "lake"):
    return parse_config({"storage": {"database": "db.duckdb", "raw_dir": "raw",
                                     "lake_dir": lake_dir}}, base_dir=root)


def tweet(i, likes=0, poll=None):
    t = {"id": str(i), "author_id": "7", "text": f"post {i}",
         "created_at": "2022-10-11T13:00:00.000Z", "conversation_id": str(i),
         "edit_history_tweet_ids": [str(i)], "public_metrics": {"like_count": likes}}
    if poll:
        t["attachments"] = {"poll_ids": [poll]}
    return t


class Archive:
    """Raw files as collection runs write them, one run per call."""

    def __init__(self, cfg):
        self.cfg, self.n = cfg, 0

    def run(self, pages: list[dict], source: str = "x", at: datetime | None = None) -> None:
        self.n += 1
        at = at or AT + timedelta(hours=self.n)
        w = RawWriter(self.cfg.raw_dir, source, f"run{self.n:03d}", started=at)
        w.append({"type": "run_start", "job": "collect", "started_at": at.isoformat()})
        for p in pages:
            w.page(purpose=p.get("purpose", "timeline"), endpoint=p.get("endpoint", "GET"),
                   params=p.get("params", {}), scope=p.get("scope"), fetched_at=at,
                   status=p.get("status", 200), headers={}, body=p["body"],
                   cursor_after=p.get("cursor"))
        w.append({"type": "run_end", "status": "ok", "requests": len(pages)})

    def x(self, posts: list[dict], name="Al", polls=(), errors=(), cursor=None,
          purpose="timeline") -> None:
        body = {"data": posts, "includes": {"users": [{"id": "7", "username": "al",
                                                        "name": name}],
                                             "polls": list(polls)}}
        if errors:
            body["errors"] = list(errors)
        if not posts:
            body.pop("data")
        self.run([{"body": json.dumps(body), "scope": "timeline:7", "purpose": purpose,
                   "cursor": cursor}])

    def article(self, title: str, text: str) -> None:
        html = (f"<html><head><title>{title}</title><meta property='og:title' "
                f"content='{title}'></head><body><article><h1>{title}</h1><p>"
                + (text + " ") * 30 + "</p></article></body></html>")
        self.run([{"body": html, "purpose": "article", "params": {"url": ARTICLE}}],
                 source="press")


def poll(votes: tuple[int, int], status="open") -> dict:
    return {"id": "p1", "voting_status": status, "duration_minutes": 60,
            "end_datetime": "2022-10-12T13:00:00.000Z",
            "options": [{"position": 1, "label": "Yes", "votes": votes[0]},
                        {"position": 2, "label": "No", "votes": votes[1]}]}


NOT_FOUND = {"resource_type": "tweet", "resource_id": "2", "title": "Not Found Error",
             "detail": "gone"}


def some_loads(cfg) -> Archive:
    """Loads that insert rows and then change them again and again."""
    a = Archive(cfg)
    a.x([tweet(1, 1, poll="p1"), tweet(2)], polls=[poll((1, 0))],
        cursor={"newest_id": "2", "gap": None})
    load_runs.load_now(cfg)
    a.x([tweet(1, 5), tweet(3)], name="Al B", polls=[poll((4, 2))],
        cursor={"newest_id": "3", "gap": None})
    a.article("The call", "The billionaire spoke with the president about the war.")
    load_runs.load_now(cfg)
    a.x([tweet(1, 9)], errors=[NOT_FOUND], purpose="deletion_check")   # a sighting
    a.article("The call, denied", "The billionaire denies he spoke with the president.")
    load_runs.load_now(cfg)
    a.x([], errors=[NOT_FOUND], purpose="deletion_check")     # confirmed: deleted_at
    a.x([tweet(1, 12), tweet(4)], polls=[poll((7, 3), "closed")],
        cursor={"newest_id": "4", "gap": None})
    load_runs.load_now(cfg)
    return a


# ---- what the database holds, and what readers of the lake get --------------------------


def _norm(rows) -> list[str]:
    return sorted(json.dumps(list(r), default=str) for r in rows)


def database_rows(cfg) -> dict[str, list[str]]:
    con = duckdb.connect(str(cfg.database), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return {t: _norm(con.execute(f"SELECT {_select(con, t)} FROM {t}").fetchall())
                for t in lake.TABLES}
    finally:
        con.close()


READER = r"""
import json, sys, duckdb
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(open(sys.argv[1], encoding="utf-8").read())
out = {}
for t in sys.argv[2].split(","):
    out[t] = sorted(json.dumps(list(r), default=str) for r in con.execute(f"SELECT * FROM {t}").fetchall())
print(json.dumps(out))
"""


def duckdb_process_rows(tmp_path: Path, view_sql: str) -> dict[str, list[str]]:
    """The lake as another DuckDB process reads it, through the views."""
    sql = tmp_path / "lake.sql"
    sql.write_text(view_sql, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", READER, str(sql), ",".join(lake.TABLES)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def pyarrow_rows(lake_dir: Path) -> dict[str, list[str]]:
    """The lake as pyarrow.dataset alone reads it."""
    out = {}
    for t in lake.TABLES:
        table = lake.read_table(lake_dir, t)
        out[t] = _norm([list(r.values()) for r in table.to_pylist()])
    return out


def cli_view(cfg) -> str:
    res = CliRunner().invoke(build_cli(), ["--config", str(cfg.source_path), "lake", "view"],
                             obj={})
    assert res.exit_code == 0, res.output
    return res.output


def assert_lake_is_the_database(cfg, tmp_path: Path) -> None:
    want = database_rows(cfg)
    assert sum(len(v) for v in want.values()) > 0
    assert duckdb_process_rows(tmp_path, cli_view(cfg)) == want
    assert pyarrow_rows(cfg.path(cfg.storage.lake_dir)) == want


@pytest.fixture
def cfg(tmp_path):
    (tmp_path / "config.yaml").write_text(
        "storage:\n  database: db.duckdb\n  raw_dir: raw\n  lake_dir: lake\n", encoding="utf-8")
    c = make_cfg(tmp_path)
    c.source_path = tmp_path / "config.yaml"
    return c


def files(lake_dir: Path) -> dict[str, tuple[int, int]]:
    """Every data file of the lake: relative path -> (inode, modification time)."""
    return {p.relative_to(lake_dir).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in lake_dir.rglob("*.parquet") if not p.relative_to(lake_dir).parts[0]
            .startswith(".")}


# ---- tests ---------------------------------------------------------------------------------


def test_readers_get_exactly_the_database_rows_after_loads_that_change_rows(cfg, tmp_path):
    some_loads(cfg)
    con = duckdb.connect(str(cfg.database), read_only=True)
    # the loads did change rows again: the lake holds several copies of them
    assert con.execute("SELECT like_count, deleted_at IS NULL FROM posts WHERE post_id IN "
                       "('1', '2') ORDER BY post_id").fetchall() == [(12, True), (0, False)]
    assert con.execute("SELECT count(*), count(DISTINCT load_seq) FROM article_versions"
                       ).fetchone() == (2, 2)
    assert con.execute("SELECT name FROM accounts").fetchone() == ("Al",)     # latest capture
    con.close()
    copies = duckdb.connect().execute(
        "SELECT count(*) FROM read_parquet(?) WHERE post_id = '1'",
        [f"{tmp_path}/lake/posts/**/*.parquet"]).fetchone()[0]
    assert copies == 4
    assert_lake_is_the_database(cfg, tmp_path)


def test_each_load_adds_new_files_named_by_load_and_never_rewrites_one(cfg, tmp_path):
    a = Archive(cfg)
    a.x([tweet(1, 1), tweet(2)], cursor={"newest_id": "2", "gap": None})
    first = load_runs.load_now(cfg)
    assert first.lake.mode == "full" and first.lake.error is None
    before = files(tmp_path / "lake")
    a.x([tweet(1, 2)])                                # one post's metrics, nothing else new
    res = load_runs.load_now(cfg)
    assert res.lake.mode == "incremental" and res.lake.tables["posts"] == 1
    after = files(tmp_path / "lake")
    assert {k: v for k, v in after.items() if k in before} == before     # untouched
    new = sorted(set(after) - set(before))
    seq = res.lake.load_seq
    assert all(Path(f).name == f"{seq:012d}-load.parquet" for f in new)
    # one file per table the load changed, in the export's layout
    assert "posts/platform=x/month=2022-10/" + f"{seq:012d}-load.parquet" in new
    assert len(new) == len({f.split("/")[0] for f in new})
    # nothing new: nothing written
    again = load_runs.load_now(cfg)
    assert again.lake.mode == "unchanged" and files(tmp_path / "lake") == after
    assert_lake_is_the_database(cfg, tmp_path)


def test_compaction_leaves_one_file_per_partition_and_the_same_rows(cfg, tmp_path):
    a = some_loads(cfg)
    lake_dir = tmp_path / "lake"
    listed = sorted((lake_dir / "posts").rglob("*.parquet"))
    assert len(listed) > 1
    res = lake.compact(lake_dir)                        # the replaced files stay a while
    assert res.tables["posts"][1] == 1 and res.superseded > 0 and res.deleted == 0
    # a reader that listed the files before the compaction still reads them all, and the
    # newest copies are the database's rows either way
    both = duckdb.connect().execute(
        "SELECT count(*) FROM (SELECT * FROM read_parquet(?) QUALIFY row_number() OVER "
        "(PARTITION BY platform, post_id ORDER BY load_seq DESC) = 1)",
        [[str(p) for p in listed]]).fetchone()[0]
    assert both == len(database_rows(cfg)["posts"])
    assert_lake_is_the_database(cfg, tmp_path)
    m = lake.read_manifest(lake_dir)
    assert len(m["superseded"]) == res.superseded

    # the next write after the grace deletes them; a second compaction does nothing
    for e in m["superseded"]:
        e["delete_after"] = "2000-01-01T00:00:00Z"
    (lake_dir / lake.MANIFEST).write_text(json.dumps(m), encoding="utf-8")
    a.x([tweet(1, 20)])
    assert load_runs.load_now(cfg).lake.tables["posts"] == 1
    assert lake.read_manifest(lake_dir)["superseded"] == []
    assert not any(p.exists() for p in listed)
    res = lake.compact(lake_dir, grace=0)
    assert res.deleted == res.superseded > 0
    for name in lake.TABLES:
        parts = {}
        for f in (lake_dir / name).rglob("*.parquet"):
            parts.setdefault(f.parent, []).append(f)
        assert all(len(v) == 1 for v in parts.values()), name
    assert lake.compact(lake_dir, grace=0).tables == {}
    assert_lake_is_the_database(cfg, tmp_path)


def test_compaction_rewrites_only_the_partitions_that_need_it(cfg, tmp_path):
    def dated(i, created, likes=0):
        t = tweet(i, likes)
        if created:
            t["created_at"] = created
        else:
            del t["created_at"]          # asked without created_at: its month is when seen
        return t

    a = Archive(cfg)
    a.x([dated(1, "2022-08-02T10:00:00.000Z"), dated(2, "2022-10-02T10:00:00.000Z"),
         dated(3, None)])
    load_runs.load_now(cfg)
    a.x([dated(2, "2022-10-02T10:00:00.000Z", likes=4)])      # October again
    a.x([dated(3, "2022-09-30T10:00:00.000Z")])                # post 3 moves to September
    load_runs.load_now(cfg)
    posts = tmp_path / "lake" / "posts" / "platform=x"
    august = next((posts / "month=2022-08").glob("*.parquet"))
    before = august.stat().st_ino
    assert sorted(p.name for p in posts.iterdir()) == [
        "month=2022-08", "month=2022-09", "month=2022-10"]

    september = next((posts / "month=2022-09").glob("*.parquet"))
    res = lake.compact(tmp_path / "lake", grace=0)
    # October's two files (one holds post 3's older copy) become one; the other months hold
    # one file of newest copies each: untouched
    assert res.tables["posts"][:2] == (2, 1)
    assert august.stat().st_ino == before and september.exists()
    for month, ids in (("2022-08", ["1"]), ("2022-09", ["3"]), ("2022-10", ["2"])):
        [f] = list((posts / f"month={month}").glob("*.parquet"))
        got = duckdb.connect().execute("SELECT post_id FROM read_parquet(?)", [str(f)])
        assert [r[0] for r in got.fetchall()] == ids, month
    assert_lake_is_the_database(cfg, tmp_path)


def test_a_failed_lake_write_keeps_the_load_and_the_next_load_catches_up(cfg, tmp_path,
                                                                        monkeypatch):
    a = Archive(cfg)
    a.x([tweet(1, 1), tweet(2)])
    load_runs.load_now(cfg)
    held = lake.read_manifest(tmp_path / "lake")["load_seq"]

    # the lake's disk fails after some files are in place
    placed = []
    real_place = lake._place

    def failing(staged, table_dir, name):
        if placed:
            raise OSError(28, "No space left on device")
        placed.append(real_place(staged, table_dir, name))
        return placed[-1]

    monkeypatch.setattr(lake, "_place", failing)
    a.x([tweet(1, 5), tweet(3)], name="Al B")
    res = load_runs.load_now(cfg)
    assert not res.failed and res.files[0].new_rows > 0             # the load is in
    assert "No space left" in res.lake.error
    con = duckdb.connect(str(cfg.database), read_only=True)
    assert con.execute("SELECT like_count FROM posts WHERE post_id = '1'").fetchone() == (5,)
    assert con.execute("SELECT load_seq, error IS NOT NULL, failures FROM lake_state"
                       ).fetchone() == (held, True, 1)
    con.close()
    assert lake.read_manifest(tmp_path / "lake")["load_seq"] == held   # not moved on
    monkeypatch.undo()

    # and a writer killed half way left its staging folder behind
    killed = tmp_path / "lake" / ".staging-999-abcdef" / "posts"
    killed.mkdir(parents=True)
    (killed / "part_0.parquet").write_bytes(b"PAR1 torn")
    a.x([tweet(4)])
    res = load_runs.load_now(cfg)
    assert res.lake.error is None and res.lake.since == held
    assert not killed.parent.exists()
    assert res.lake.tables["posts"] == 3                # the missed load's rows and the new
    con = duckdb.connect(str(cfg.database), read_only=True)
    assert con.execute("SELECT load_seq, error, failures FROM lake_state").fetchone() == (
        res.lake.load_seq, None, 0)
    con.close()
    assert_lake_is_the_database(cfg, tmp_path)


def test_a_lake_that_cannot_be_written_at_all_does_not_stop_loading(tmp_path):
    (tmp_path / "blocked").write_text("a file where the lake should be", encoding="utf-8")
    cfg = make_cfg(tmp_path, lake_dir="blocked")
    a = Archive(cfg)
    a.x([tweet(1)])
    res = load_runs.load_now(cfg)
    assert not res.failed and "not a folder" in res.lake.error
    (tmp_path / "blocked").unlink()
    a.x([tweet(2)])
    res = load_runs.load_now(cfg)
    assert res.lake.mode == "full" and res.lake.tables["posts"] == 2


def test_rebuild_writes_the_lake_anew_and_a_lake_is_never_mixed_with_another_database(
        cfg, tmp_path):
    some_loads(cfg)
    lake_dir = tmp_path / "lake"
    old = lake.read_manifest(lake_dir)
    res = load_runs.rebuild(cfg)
    assert res.lake.mode == "full" and res.lake.error is None
    new = lake.read_manifest(lake_dir)
    assert new["database_id"] != old["database_id"]
    assert all("-base-" in p.name for p in lake_dir.rglob("*.parquet"))
    assert_lake_is_the_database(cfg, tmp_path)


def test_a_torn_manifest_makes_the_next_write_a_full_one(cfg, tmp_path):
    a = some_loads(cfg)
    (tmp_path / "lake" / lake.MANIFEST).write_text('{"format": 1, "load_', encoding="utf-8")
    a.x([tweet(5)])
    res = load_runs.load_now(cfg)
    assert res.lake.mode == "full" and res.lake.error is None
    assert_lake_is_the_database(cfg, tmp_path)


def test_the_lake_is_refused_where_the_tracker_keeps_its_data(tmp_path):
    cfg = make_cfg(tmp_path, lake_dir=".")                   # would hold the database
    Archive(cfg).x([tweet(1)])
    res = load_runs.load_now(cfg)
    assert not res.failed and "holds or is inside the database" in res.lake.error
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine", encoding="utf-8")
    cfg = make_cfg(tmp_path, lake_dir="other")
    res = load_runs.load_now(cfg)
    assert "not a lake" in res.lake.error
    assert (tmp_path / "other" / "notes.txt").exists()


def test_tracker_load_says_when_the_lake_was_not_written(tmp_path):
    (tmp_path / "config.yaml").write_text(
        "storage:\n  database: db.duckdb\n  raw_dir: raw\n  lake_dir: blocked\n",
        encoding="utf-8")
    (tmp_path / "blocked").write_text("a file", encoding="utf-8")
    Archive(make_cfg(tmp_path, lake_dir="blocked")).x([tweet(1)])
    res = CliRunner().invoke(build_cli(), ["--config", str(tmp_path / "config.yaml"), "load"],
                             obj={})
    assert res.exit_code == 1
    assert "loaded 1 raw files" in res.output and "lake not written" in res.output
    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM posts").fetchone() == (1,)
    assert con.execute("SELECT failures FROM lake_state").fetchone() == (1,)
    con.close()


def test_lake_commands(cfg, tmp_path):
    some_loads(cfg)
    cli = build_cli()
    run = CliRunner()

    def invoke(*args):
        res = run.invoke(cli, ["--config", str(cfg.source_path), "lake", *args], obj={})
        assert res.exit_code == 0, res.output
        return res.output

    assert "holds loads up to" in invoke("status")
    assert "posts:" in invoke("compact", "--grace", "0")
    assert "full, up to load" in invoke("rebuild")
    assert "unchanged" in invoke("sync")
    sql = invoke("view", "--at", "s3://bucket/lake", "posts")
    assert "read_parquet('s3://bucket/lake/posts/**/*.parquet'" in sql
    assert sql.count("CREATE OR REPLACE VIEW") == 1
    assert_lake_is_the_database(cfg, tmp_path)

"""Benchmark: the lake's write after a small load on a large database, against a full export.

    python bench/lake.py [--posts 1000000] [--pages 10] [--dir DIR]

Builds the database of bench/query.py (``--posts`` synthetic posts over one year, 2% edited,
10,000 polls with 24 snapshots each, 50,000 runs; every row as a database made before loads
were numbered holds it), then, in the same run:

1. ``tracker export --parquet`` of the whole database (``export_parquet``, the live database):
   seconds and bytes on disk — what keeping a Parquet copy current cost before the lake;
2. the lake's first write (a full one: every row, ``-base-`` files);
3. a small load through the real loader (``load_now``: raw file → database → lake): ``--pages``
   recorded X API v2 pages from ../shared/corpus/x-api-v2 (search and timeline pages with
   includes, polls, edits, withheld posts), about a 15-minute collection;
4. the same pages fetched again an hour later with every post's metrics changed (upserts of the
   same rows: the lake gets their new copies);
5. ``tracker lake compact`` of the grown lake (only the partitions the loads touched).

For 3 and 4 it prints the lake write's seconds and bytes (what ``load_now`` reports in
``result.lake``, the load itself apart) and their ratios to the full export, and checks that
the lake's views give exactly the database's rows for the tables the loads touched. Nothing here
touches the network. At 1M posts: ~2 minutes and ~1 GB of disk.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from query import build  # noqa: E402  (bench/query.py: the large database)

from tracker.config import parse_config  # noqa: E402
from tracker.runs.load import load_now  # noqa: E402
from tracker.store import lake  # noqa: E402
from tracker.store.db import open_db  # noqa: E402
from tracker.store.export import _select, export_parquet  # noqa: E402
from tracker.store.raw import RawWriter  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "x-api-v2"
PAGE_FILES = ("brexit.jsonl", "withheld.jsonl", "entities_test.jsonl", "noflat.jsonl",
              "edited.jsonl", "edited_before.jsonl", "edited_after.jsonl", "quoted_edit.jsonl")


def corpus_pages(n: int) -> list[dict]:
    pages = []
    for name in PAGE_FILES:
        for line in (CORPUS / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                page = json.loads(line)
                page.pop("__twarc", None)
                if isinstance(page.get("data"), list):
                    pages.append(page)
    return pages[:n]


def bump_metrics(page: dict, by: int) -> dict:
    page = json.loads(json.dumps(page))
    for t in page["data"] + ((page.get("includes") or {}).get("tweets") or []):
        m = t.setdefault("public_metrics", {})
        for k in ("like_count", "retweet_count", "reply_count", "quote_count"):
            m[k] = int(m.get(k) or 0) + by
    return page


def write_run(raw_dir: Path, run_id: str, at: datetime, pages: list[dict]) -> None:
    w = RawWriter(raw_dir, "x", run_id, started=at)
    w.append({"type": "run_start", "job": "collect_posts", "started_at": at.isoformat()})
    for p in pages:
        w.page(purpose="timeline", endpoint="GET /2/users/:id/tweets",
               params={"max_results": 100}, scope=None, fetched_at=at, status=200,
               headers={"content-type": "application/json"}, body=json.dumps(p))
    w.append({"type": "run_end", "status": "ok", "requests": len(pages)})


def tree_bytes(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def lake_equals_database(cfg, tables: list[str]) -> bool:
    views = lake.view_sql(cfg.path(cfg.storage.lake_dir), tables=tables)
    db = duckdb.connect(str(cfg.database), read_only=True)
    reader = duckdb.connect()
    try:
        reader.execute(views)
        for t in tables:
            got = reader.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {t}").fetchall()
            want = db.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM "
                              f"(SELECT {_select(db, t)} FROM {t})").fetchall()
            if got != want:
                print(f"  MISMATCH {t}: lake {got} database {want}")
                return False
        return True
    finally:
        db.close()
        reader.close()


class Profile:
    """Where a lake write's time goes: the COPY of each table's new rows (the scan of its
    load_seq and the Parquet written) and the renames into place (fsync included)."""

    def __init__(self):
        self.copy: dict[str, float] = {}
        self.place = 0.0
        real_copy, real_place = lake._copy, lake._place

        def copy(con, sql, target, partition_by):
            t0 = time.perf_counter()
            try:
                return real_copy(con, sql, target, partition_by)
            finally:
                name = Path(target).name if partition_by else Path(target).parent.name
                self.copy[name] = self.copy.get(name, 0.0) + time.perf_counter() - t0

        def place(*a):
            t0 = time.perf_counter()
            try:
                return real_place(*a)
            finally:
                self.place += time.perf_counter() - t0

        lake._copy, lake._place = copy, place

    def reset(self):
        self.copy, self.place = {}, 0.0

    def text(self, total: float) -> str:
        top = sorted(self.copy.items(), key=lambda kv: -kv[1])[:4]
        rest = total - sum(self.copy.values()) - self.place
        return (f"  where the time goes: COPY {sum(self.copy.values()):.3f} s ("
                + ", ".join(f"{k} {v:.3f}" for k, v in top)
                + f", …), renames+fsync {self.place:.3f} s, the rest (lock, manifest, "
                f"catalogue) {rest:.3f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--pages", type=int, default=10, help="pages in the small load")
    ap.add_argument("--dir", help="work here (default: a temporary folder, removed)")
    args = ap.parse_args(argv)
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-lake-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        cfg = parse_config({"storage": {"database": "tracker.duckdb", "raw_dir": "raw",
                                        "lake_dir": "lake"}}, base_dir=base)
        for p in (cfg.database, cfg.path(Path("lake")), cfg.path(Path("export")), cfg.raw_dir):
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        print(f"{platform.platform()}, Python {platform.python_version()}, "
              f"DuckDB {duckdb.__version__}, {os.cpu_count()} CPUs")
        b = build(cfg.database, args.posts)
        print(f"database: {args.posts:,} posts, {b['mb']:,.0f} MB, built in "
              f"{b['total_seconds']:.0f} s")

        t0 = time.perf_counter()
        exp = export_parquet(cfg, cfg.path(Path("export")), live=True)
        t_export = time.perf_counter() - t0
        b_export, n_export = tree_bytes(cfg.path(Path("export")))
        print(f"full export --parquet: {t_export:.2f} s, {b_export / 1e6:,.1f} MB in "
              f"{n_export} files ({sum(exp.tables.values()):,} rows)")

        con = open_db(cfg.database)
        first = lake.write(con, cfg.path(Path("lake")))
        con.close()
        print(f"lake, first write (full): {first.seconds:.2f} s, {first.bytes / 1e6:,.1f} MB "
              f"in {first.files} files ({first.rows:,} rows)")

        prof = Profile()
        pages = corpus_pages(args.pages)
        n_posts = sum(len(p["data"]) for p in pages)
        at = datetime(2023, 1, 2, 12, 0, tzinfo=timezone.utc)
        rows = []
        for label, run_pages, when in (
                (f"small load: {len(pages)} pages, {n_posts} posts (new)", pages, at),
                ("the same pages an hour later, metrics changed (upserts)",
                 [bump_metrics(p, 3) for p in pages], at + timedelta(hours=1))):
            write_run(cfg.raw_dir, when.strftime("%Y%m%dT%H%M%S000000Z") + "-bench", when,
                      run_pages)
            prof.reset()
            t0 = time.perf_counter()
            res = load_now(cfg)
            t_load = time.perf_counter() - t0
            assert not res.failed, [f.error for f in res.failed]
            lk = res.lake
            assert lk.error is None, lk.error
            ok = lake_equals_database(cfg, sorted(lk.tables))
            rows.append((label, lk, t_load))
            print(f"{label}:\n  load_now {t_load:.2f} s (replica refresh included); lake write "
                  f"{lk.seconds:.3f} s, {lk.bytes / 1e3:,.1f} kB in {lk.files} files, "
                  f"{lk.rows:,} rows of {len(lk.tables)} tables; lake = database: {ok}\n"
                  f"  ratio to the full export: time {lk.seconds / t_export:.4f} "
                  f"({t_export / lk.seconds:,.0f}x faster), bytes {lk.bytes / b_export:.6f}")
            print(prof.text(lk.seconds))

        t0 = time.perf_counter()
        comp = lake.compact(cfg.path(Path("lake")), grace=0)
        t_comp = time.perf_counter() - t0
        b_lake, n_lake = tree_bytes(cfg.path(Path("lake")))
        rewritten = sum(t[2] for t in comp.tables.values())
        print(f"compaction: {t_comp:.2f} s ({t_comp / t_export:.2f}x the export), "
              f"{len(comp.tables)} tables, {comp.superseded} files -> "
              f"{sum(t[1] for t in comp.tables.values())}, {rewritten:,} rows rewritten; "
              f"lake now {b_lake / 1e6:,.1f} MB in "
              f"{n_lake} files; lake = database: "
              f"{lake_equals_database(cfg, list(lake.TABLES))}")
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the README's example queries over 10M posts, a story's timeline, and the Parquet
scale path.

    python bench/query.py [--posts 10000000] [--quick]

Builds a tracker database (the real schema, through ``open_db``) holding ``--posts`` synthetic
posts over one year from 1,002 accounts (the README's two handles among them, 1% of the posts
each), 30% of them replies, 1% edited, 10,000 polls with 24 snapshots each, 50,000 runs; then
analyses the README's story (its one-month window holds ~1/12 of the posts) and times, on a
read-only connection to the file, median of 3 after one warm-up run:

- every query of docs/analysis.md's "Example queries" and "Story example queries" sections (the
  result fetched as an Arrow table, as a notebook's ``.df()`` would),
- ``tracker.analysis.api.timeline`` for the story (what `tracker timeline` runs),
- ``tracker export --parquet`` of the whole database (seconds, size on disk), and the same
  queries again over that Hive-partitioned Parquet (views over ``read_parquet``), the form a
  team reads from object storage, MotherDuck or Spark when it outgrows one machine (the story
  queries read the exported views there, which are materialised, so they are not comparable).

Nothing here touches the network. Takes a few minutes and ~3 GB of disk at 10M posts.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tracker.config import parse_config  # noqa: E402

STORY = {"id": "musk-putin-call",
         "title": "Did the billionaire discuss Ukraine with the Russian president?",
         "query": '(Putin OR Kremlin) AND (Musk OR "Elon")',
         "window": {"start": "2022-10-01", "end": "2022-10-31"},
         "actors": [{"handle": "ianbremmer", "role": "claimant"},
                    {"handle": "elonmusk", "role": "subject"}]}

WORDS = ["peace", "plan", "Ukraine", "Putin", "Kremlin", "Musk", "Elon", "space", "call",
         "denies", "never", "spoke", "poll", "vote", "Crimea", "referendum", "satellite",
         "Starlink", "war", "talks", "claim", "source", "news", "today", "why", "how"]


def build(path: Path, n: int) -> dict:
    from tracker.store.db import open_db

    con = open_db(path)
    words = "[" + ", ".join(f"'{w}'" for w in WORDS) + "]"
    t0 = time.perf_counter()
    con.execute("SET preserve_insertion_order = false")
    con.execute("""
        INSERT INTO accounts (platform, account_id, handle, name, first_seen_at, last_seen_at)
        SELECT 'x', (1000 + i)::VARCHAR,
               CASE i WHEN 0 THEN 'elonmusk' WHEN 1 THEN 'ianbremmer'
                      ELSE 'acct' || lpad(i::VARCHAR, 4, '0') END,
               'Account ' || i, TIMESTAMPTZ '2022-01-01', TIMESTAMPTZ '2023-01-01'
        FROM range(1002) t(i)""")
    con.execute("INSERT INTO account_handles (platform, account_id, handle, first_seen_at, "
                "last_seen_at) SELECT platform, account_id, handle, first_seen_at, "
                "last_seen_at FROM accounts")
    con.execute(f"""
        INSERT INTO posts (platform, post_id, author_id, created_at, text, lang,
                           conversation_id, reply_to_post_id, reply_to_user_id, url,
                           like_count, repost_count, reply_count, quote_count, edit_chain_id,
                           edit_history, seen_in, first_seen_at, last_seen_at)
        SELECT 'x', pid, author, ts, txt, 'en', coalesce(parent, pid), parent,
               CASE WHEN parent IS NOT NULL THEN '1000' END,
               'https://x.com/i/web/status/' || pid, h % 5000, h % 700, h % 300, h % 90, pid,
               '["' || pid || '"]', 'data', ts + INTERVAL 5 MINUTE, ts + INTERVAL 5 MINUTE
        FROM (
            SELECT (1500000000000000000 + i * 4096)::VARCHAR AS pid,
                   hash(i) AS h,
                   (1000 + CASE WHEN hash(i) % 100 = 0 THEN 0 WHEN hash(i) % 100 = 1 THEN 1
                                ELSE 2 + hash(i * 7) % 1000 END)::VARCHAR AS author,
                   TIMESTAMPTZ '2022-01-01'
                       + to_microseconds((i * (31536000000000 // {n}))::BIGINT) AS ts,
                   list_element({words}, (hash(i * 3) % {len(WORDS)} + 1)::INTEGER) || ' ' ||
                   list_element({words}, (hash(i * 5) % {len(WORDS)} + 1)::INTEGER) || ' ' ||
                   list_element({words}, (hash(i * 11) % {len(WORDS)} + 1)::INTEGER) ||
                   ' post ' || i AS txt,
                   CASE WHEN hash(i * 13) % 10 < 3 AND i > 1000
                        THEN (1500000000000000000 + (i - 1 - hash(i * 17) % 1000) * 4096)::VARCHAR
                   END AS parent
            FROM range({n}) t(i)
        )""")
    t_posts = time.perf_counter() - t0
    con.execute("""
        INSERT INTO post_versions (platform, edit_chain_id, version_post_id, version_index,
                                   text, created_at, first_seen_at)
        SELECT 'x', post_id, post_id, 0, text, created_at, first_seen_at FROM posts
        WHERE hash(post_id) % 100 = 0
        UNION ALL
        SELECT 'x', post_id, post_id || 'e', 1, text || ' (edited)', created_at + INTERVAL 1 HOUR,
               first_seen_at + INTERVAL 1 HOUR FROM posts WHERE hash(post_id) % 100 = 0""")
    con.execute("""
        INSERT INTO polls (platform, poll_id, post_id, options, duration_minutes, end_at,
                           voting_status, first_seen_at, last_seen_at, final_snapshot_at)
        SELECT 'x', (9000000 + i)::VARCHAR, (1500000000000000000 + i * 997 * 4096)::VARCHAR,
               '["Yes", "No", "Maybe"]', 1440, TIMESTAMPTZ '2022-01-02' + to_hours(i),
               'closed', TIMESTAMPTZ '2022-01-01' + to_hours(i),
               TIMESTAMPTZ '2022-01-02' + to_hours(i), TIMESTAMPTZ '2022-01-02' + to_hours(i)
        FROM range(10000) t(i)""")
    con.execute("""
        INSERT INTO poll_snapshots (platform, poll_id, captured_at, position, label, votes,
                                    voting_status, page_id)
        SELECT 'x', (9000000 + p)::VARCHAR, TIMESTAMPTZ '2022-01-01' + to_hours(p) +
               to_minutes(c * 60), o, ['Yes', 'No', 'Maybe'][o], (hash(p, c, o) % 1000) * (c + 1),
               CASE WHEN c = 23 THEN 'closed' ELSE 'open' END, 'bench:' || p || ':' || c
        FROM range(10000) a(p), range(24) b(c), range(1, 4) d(o)""")
    con.execute("""
        INSERT INTO runs (run_id, job, source, started_at, finished_at, status, stop_reason,
                          error, requests, pages, posts_read, load_deferred_at, new_rows,
                          updated_rows, deferred)
        SELECT 'run' || i, ['collect_posts', 'snapshot_polls', 'collect_replies',
                            'check_deletions'][i % 4 + 1], 'x',
               TIMESTAMPTZ '2022-01-01' + to_minutes(i * 10),
               TIMESTAMPTZ '2022-01-01' + to_minutes(i * 10) + INTERVAL 20 SECOND,
               CASE WHEN i % 50 = 0 THEN 'stopped' ELSE 'ok' END, NULL, NULL, 1 + i % 7,
               1 + i % 7, i % 300, NULL, i % 300, 0, NULL
        FROM range(50000) t(i)""")
    con.close()
    return {"posts_seconds": t_posts, "total_seconds": time.perf_counter() - t0,
            "mb": path.stat().st_size / 1e6}


def readme_queries() -> list[tuple[str, str]]:
    text = (REPO / "docs" / "analysis.md").read_text(encoding="utf-8")
    out = []
    for section in ("## Example queries", "### Story example queries"):
        body = text.split(section, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
        for sql in re.findall(r"```sql\n(.*?)```", body, re.S):
            title = sql.strip().splitlines()[0].lstrip("- ").strip()
            out.append((title, sql.strip().rstrip(";")))
    return out


def timed(fn, repeats: int = 3) -> tuple[float, float, object]:
    t0 = time.perf_counter()
    result = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times), result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=10_000_000)
    ap.add_argument("--quick", action="store_true", help="500,000 posts")
    ap.add_argument("--dir", help="work here (default: a temporary folder, removed)")
    args = ap.parse_args(argv)
    if args.quick:
        args.posts = 500_000
    print(f"machine: {os.cpu_count()} cpus, {platform.platform()}, python "
          f"{platform.python_version()}, duckdb {duckdb.__version__}")
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-query-"))
    base.mkdir(parents=True, exist_ok=True)
    db = base / "tracker.duckdb"
    try:
        if db.exists():
            db.unlink()
        b = build(db, args.posts)
        print(f"built {args.posts:,} posts in {b['posts_seconds']:.0f}s (all tables "
              f"{b['total_seconds']:.0f}s); database {b['mb']:,.0f} MB")
        from tracker.analysis.engine import analyze
        from tracker.store.db import open_db

        cfg = parse_config({"storage": {"database": str(db), "replica": str(db)},
                            "stories": [STORY]}, base_dir=base)
        con = open_db(db)
        t0 = time.perf_counter()
        res = analyze(con, cfg.stories)
        t_an = time.perf_counter() - t0
        con.close()
        in_window = None
        print(f"analyze (the story, one month window): {t_an:.1f}s, {res[0].items:,} items "
              f"{res[0].by_event}")

        from tracker.analysis import api

        rows = []
        con = duckdb.connect(str(db), read_only=True)
        con.execute("SET TimeZone = 'UTC'")
        in_window = con.execute("SELECT count(*) FROM posts WHERE created_at >= "
                                "'2022-10-01' AND created_at < '2022-11-01'").fetchall()[0][0]
        for title, sql in readme_queries():
            first, med, out = timed(lambda sql=sql: con.sql(sql).to_arrow_table())
            rows.append(("duckdb file", title, first, med, out.num_rows))
        first, med, df = timed(lambda: api.timeline(con, STORY["id"]))
        rows.append(("duckdb file", "api.timeline (tracker timeline)", first, med, len(df)))
        con.close()

        from tracker.store.export import export_parquet

        out_dir = base / "parquet"
        t0 = time.perf_counter()
        exp = export_parquet(cfg, out_dir, overwrite=True)
        t_exp = time.perf_counter() - t0
        pq_mb = sum(p.stat().st_size for p in out_dir.rglob("*.parquet")) / 1e6
        print(f"export --parquet: {t_exp:.0f}s, {pq_mb:,.0f} MB of Parquet "
              f"({len(exp.tables)} tables, posts in "
              f"{len(list((out_dir / 'posts').rglob('*.parquet')))} files)")
        pcon = duckdb.connect()
        pcon.execute("SET TimeZone = 'UTC'")
        for name in exp.tables:
            part = out_dir / name
            src = (f"read_parquet('{part}/**/*.parquet', hive_partitioning = true)"
                   if part.is_dir() else f"read_parquet('{out_dir / (name + '.parquet')}')")
            pcon.execute(f"CREATE VIEW {name} AS SELECT * FROM {src}")
        for name in exp.views:
            pcon.execute(f"CREATE VIEW {name} AS SELECT * FROM "
                         f"read_parquet('{out_dir / 'views' / (name + '.parquet')}')")
        for title, sql in readme_queries():
            try:
                first, med, out = timed(lambda sql=sql: pcon.sql(sql).to_arrow_table())
                where = "parquet" if title[0].isdigit() else "parquet (view exported)"
                rows.append((where, title, first, med, out.num_rows))
            except duckdb.Error as exc:
                rows.append(("parquet", title, float("nan"), float("nan"),
                             str(exc).splitlines()[0][:60]))
        pcon.close()

        print(f"\n{args.posts:,} posts ({in_window:,} in the story's month), database "
              f"{db.stat().st_size / 1e6:,.0f} MB, Parquet {pq_mb:,.0f} MB\n")
        print("| data | query | first run | median of 3 | rows |")
        print("|---|---|---|---|---|")
        for where, title, first, med, n in rows:
            print(f"| {where} | {title} | {first * 1000:,.0f} ms | {med * 1000:,.0f} ms | "
                  f"{n if isinstance(n, str) else f'{n:,}'} |")
        print(f"\nanalyze: {t_an:.1f}s; export --parquet: {t_exp:.1f}s")
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

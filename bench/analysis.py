"""Benchmark: story analysis over synthetic data, against one DuckDB scan of the same text.

    python bench/analysis.py             # 1M posts, 100k articles, 20 stories, then 10x smaller
    python bench/analysis.py --scale 0.1 # a quick run

At each size it prints, beside the time DuckDB takes to scan the same text once (one word-aware
regex over every post and article):

- a full analysis with a cold stance cache (the first `tracker analyze`), and again with a warm
  one (`tracker analyze --full` later: only the matching and labelling are redone);
- the hourly case: a 15-minute collection's worth of new posts (new conversations and replies
  to stored ones) and articles arrives through the load sequence, then `analyze` brings every
  story up to date incrementally; its time as a share of the full analysis;
- `analyze` with nothing new.

The cost should grow linearly, so the ratios at the two sizes should be close. Timings are noisy
on shared machines: read the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracker.analysis.engine import analyze  # noqa: E402
from tracker.config import parse_config  # noqa: E402
from tracker.store.db import open_db  # noqa: E402

WORDS = ("putin kremlin musk elon ukraine peace plan poll crimea donbas nato space starlink "
         "satellite war talks envoy denial claim source report minister sanctions energy gas "
         "grain ship port election vote referendum annex border army drone tank missile").split()
FILLER = ("the a of to and in on for with about says said after before today new more "
          "people world news live update week day").split()


def build(con: duckdb.DuckDBPyConnection, n_posts: int, n_articles: int, n_accounts: int = 2000
          ) -> None:
    """Synthetic posts (with reply and quote threads) and articles over October 2022."""
    vocab = WORDS + FILLER * 40          # story words are rare, as in real timelines
    con.execute("CREATE OR REPLACE TEMP TABLE vocab AS SELECT unnest(?::VARCHAR[]) AS w",
                [vocab])
    text = ("concat_ws(' ', " + ", ".join(
        f"list_element(?::VARCHAR[], 1 + floor(random() * {len(vocab)})::INT)"
        for _ in range(12)) + ")")
    params = [vocab] * 12
    con.execute("SELECT setseed(0.42)")
    con.execute(
        "INSERT INTO accounts (platform, account_id, handle, first_seen_at, last_seen_at) "
        "SELECT 'x', i::VARCHAR, 'user' || i, now(), now() FROM range(?) t(i)", [n_accounts])
    con.execute(
        "INSERT INTO account_handles (platform, account_id, handle, first_seen_at, "
        "last_seen_at) SELECT 'x', i::VARCHAR, 'user' || i, now(), now() "
        "FROM range(?) t(i)", [n_accounts])
    con.execute(f"""
        INSERT INTO posts (platform, post_id, author_id, created_at, text, reply_to_post_id,
                           quoted_post_id, poll_id, url, seen_in, first_seen_at, last_seen_at)
        SELECT 'x', (1000000000 + i)::VARCHAR, (i % {n_accounts})::VARCHAR,
               TIMESTAMPTZ '2022-10-01 00:00:00+00' + to_seconds((i * 2678400 // ?::BIGINT)::BIGINT),
               {text},
               -- conversations of 50 posts: every third post replies to its conversation's root
               CASE WHEN i % 50 <> 0 AND i % 3 = 0 THEN (1000000000 + i - i % 50)::VARCHAR END,
               CASE WHEN i % 50 > 7 AND i % 11 = 0 THEN (1000000000 + i - 7)::VARCHAR END,
               CASE WHEN i % 5000 = 0 THEN 'poll' || i END,
               'https://x.com/i/web/status/' || i, 'data', now(), now()
        FROM range(?) t(i)""", [n_posts, *params, n_posts])
    con.execute(f"""
        INSERT INTO articles (url, domain, title, summary, published_at, first_seen_at)
        SELECT 'https://news' || (i % 300) || '.example/a/' || i, 'news' || (i % 300) || '.example',
               {text}, {text},
               TIMESTAMPTZ '2022-10-01 00:00:00+00' + to_seconds((i * 2678400 // ?::BIGINT)::BIGINT),
               TIMESTAMPTZ '2022-11-01 00:00:00+00'
        FROM range(?) t(i)""", [*params, *params, n_articles, n_articles])


def stories(n: int = 20) -> list:
    pairs = [(WORDS[i % len(WORDS)], WORDS[(i * 7 + 3) % len(WORDS)]) for i in range(n)]
    return parse_config({"stories": [{
        "id": f"s{i}", "title": f"story {i}",
        "query": f'({a} OR {b}) AND NOT "{FILLER[i % len(FILLER)]} {FILLER[(i + 1) % len(FILLER)]}"',
        "window": {"start": "2022-10-01", "end": "2022-10-31"},
        "actors": [{"handle": f"user{i}", "role": "claimant"},
                   {"handle": f"user{i + 1}", "role": "subject"}],
    } for i, (a, b) in enumerate(pairs)]}).stories


def add_recent(con: duckdb.DuckDBPyConnection, n_posts: int, n_articles: int,
               minutes: int = 15) -> tuple[int, int]:
    """What a `minutes` collection brings at the same rate as the month of data: new posts at
    the window's end (a third of them replies to stored conversations) and articles, stamped
    with a new load sequence number as the loader stamps what it writes."""
    vocab = WORDS + FILLER * 40
    text = ("concat_ws(' ', " + ", ".join(
        f"list_element(?::VARCHAR[], 1 + floor(random() * {len(vocab)})::INT)"
        for _ in range(12)) + ")")
    params = [vocab] * 12
    month = 31 * 24 * 60
    new_posts = max(1, n_posts * minutes // month)
    new_articles = max(1, n_articles * minutes // month)
    seq = con.execute("SELECT nextval('load_seq')").fetchone()[0]
    con.execute(f"""
        INSERT INTO posts (platform, post_id, author_id, created_at, text, reply_to_post_id,
                           url, seen_in, first_seen_at, last_seen_at, load_seq)
        SELECT 'x', (2000000000 + i)::VARCHAR, (i % 2000)::VARCHAR,
               TIMESTAMPTZ '2022-10-31 23:44:00+00' + to_seconds(i * 60 * {minutes} // ?),
               {text},
               CASE WHEN i % 3 = 0 THEN (1000000000 + (i * 7919) % ? - ((i * 7919) % ?) % 50)
                    ::VARCHAR END,
               'https://x.com/i/web/status/' || i, 'data', now(), now(), {seq}
        FROM range(?) t(i)""", [new_posts, *params, n_posts, n_posts, new_posts])
    con.execute(f"""
        INSERT INTO articles (url, domain, title, summary, published_at, first_seen_at, load_seq)
        SELECT 'https://news' || (i % 300) || '.example/new/' || i,
               'news' || (i % 300) || '.example', {text}, {text},
               TIMESTAMPTZ '2022-10-31 23:44:00+00' + to_seconds(i * 60 * {minutes} // ?),
               TIMESTAMPTZ '2022-11-01 00:00:00+00', {seq}
        FROM range(?) t(i)""", [*params, *params, new_articles, new_articles])
    return new_posts, new_articles


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def measure(n_posts: int, n_articles: int, n_stories: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        con = open_db(Path(d) / "bench.duckdb")
        build(con, n_posts, n_articles)
        con.execute("CHECKPOINT")
        pattern = r"(?i)(?:^|[^\p{L}\p{N}_])putin(?:$|[^\p{L}\p{N}_])"
        scan, _ = timed(lambda: (
            con.execute("SELECT count(*) FILTER (WHERE regexp_matches(text, ?)) FROM posts",
                        [pattern]).fetchone(),
            con.execute("SELECT count(*) FILTER (WHERE regexp_matches(concat_ws(' ', title, "
                        "summary, text), ?)) FROM articles", [pattern]).fetchone()))
        cfg = stories(n_stories)
        cold, results = timed(lambda: analyze(con, cfg, full=True))
        items = sum(r.items for r in results)
        warm, _ = timed(lambda: analyze(con, cfg, full=True))
        new_posts, new_articles = add_recent(con, n_posts, n_articles)
        incr, inc_results = timed(lambda: analyze(con, cfg))
        modes = sorted({r.mode for r in inc_results})
        relabelled = sum(r.relabelled for r in inc_results)
        noop, _ = timed(lambda: analyze(con, cfg))
        con.close()
    return {"scan": scan, "cold": cold, "warm": warm, "incr": incr, "noop": noop,
            "items": items, "new_posts": new_posts, "new_articles": new_articles,
            "modes": modes, "relabelled": relabelled}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M posts, 100k articles")
    ap.add_argument("--stories", type=int, default=20)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cpus, {platform.platform()}, python "
          f"{platform.python_version()}, duckdb {duckdb.__version__}")
    rows = []
    for scale in (args.scale, args.scale / 10):
        n_posts, n_articles = int(1_000_000 * scale), int(100_000 * scale)
        m = measure(n_posts, n_articles, args.stories)
        rows.append(m)
        scan = m["scan"]
        print(f"{n_posts:>9,} posts {n_articles:>8,} articles {args.stories} stories "
              f"({m['items']:,} story items); one DuckDB text scan {scan:.2f}s")
        print(f"  full analysis, cold stance cache {m['cold']:7.2f}s = {m['cold'] / scan:5.1f}x "
              "the scan")
        print(f"  full analysis, warm stance cache {m['warm']:7.2f}s = {m['warm'] / scan:5.1f}x "
              "the scan")
        print(f"  after 15 min of new data ({m['new_posts']:,} posts, {m['new_articles']:,} "
              f"articles): analyze {m['incr']:.3f}s = {100 * m['incr'] / m['cold']:.2f}% of the "
              f"full (cold), {100 * m['incr'] / m['warm']:.2f}% of the full (warm); "
              f"modes {'/'.join(m['modes'])}, {m['relabelled']:,} items relabelled")
        print(f"  nothing new: analyze {m['noop']:.3f}s")
    big, small = rows
    print(f"growth: 10x the data took {big['cold'] / small['cold']:.1f}x the time for a full "
          f"analysis (linear = 10x); ratio to the scan full size / tenth = "
          f"{(big['cold'] / big['scan']) / (small['cold'] / small['scan']):.2f}; incremental "
          f"{big['incr'] / small['incr']:.1f}x")

if __name__ == "__main__":
    main()

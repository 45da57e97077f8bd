"""Benchmark: loading 1M posts of real shape from the raw archive into DuckDB, beside the peers.

    python bench/load.py [--posts 1000000] [--pages-per-file 100] [--quick] [--repeats 1]
                         [--no-rebuild] [--twarc-python PYTHON]

The corpus pages (../shared/corpus/x-api-v2: real recorded API v2 responses, search and
timeline pages with includes, polls, edits, withheld posts, errors) are repeated with every post
id rewritten (shifted by one minute of snowflake time per copy, the same shift for every id that
refers to the post: data, includes, referenced_tweets, conversation_id, edit history, poll ids)
until the pages hold ``--posts`` result posts. They are written twice, as the same pages:

- the tracker's raw archive (gzip JSON lines, one page record per line, ``--pages-per-file``
  pages per raw file, as collection runs write them), and
- twarc2 JSONL (one API response per line), what researchers feed twarc-csv today.

The loaders then run, each in its own process (wall time and peak resident memory of that
process, from wait4):

1. the tracker: ``open_db`` + ``load_pending`` into a fresh database (every table, merge rules,
   raw_pages index, runs, cursors, one transaction per raw file);
2. ``tracker import twarc2`` of the twarc2 JSONL: the same posts through the import (its raw
   archive, every table, the replica); target: (1) >= 0.70 x (2) in posts per second;
3. ``tracker rebuild`` of a database from the same raw archive (the load of (1), plus the
   stories' analysis, the swap and the replica), unless ``--no-rebuild``;
4. DuckDB's own ``read_json`` over the same raw files: page bodies -> ``from_json`` ->
   ``unnest(data)`` -> a 4-column posts table (the practical limit);
5. twarc-csv (DocNow) converting the twarc2 JSONL to CSV, in its own virtualenv (pandas<3), the
   one ``bench/import.py`` makes (``$TWARC_CSV_VENV``, by default ``tracker-bench-twarc-csv`` in
   the temporary folder), or ``--twarc-python`` (skipped, saying so, when that interpreter is
   missing), once.

With ``--repeats N`` (1) to (4) run N times, alternating, and the medians are reported with
every run's seconds. Rates are result posts (the pages' ``data``) per second, the same
numerator for all; the tracker also stores the referenced posts of ``includes`` (printed).
Ratios are printed in the same run. Nothing here touches the network.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "x-api-v2"
PAGE_FILES = ("brexit.jsonl", "withheld.jsonl", "entities_test.jsonl", "noflat.jsonl",
              "edited.jsonl", "edited_before.jsonl", "edited_after.jsonl", "quoted_edit.jsonl")
SHIFT = 60_000 << 22          # one minute of snowflake time per copy


# ---- the corpus, grown ---------------------------------------------------------------------


def corpus_pages() -> list[dict]:
    pages = []
    for name in PAGE_FILES:
        for line in (CORPUS / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                page = json.loads(line)
                page.pop("__twarc", None)
                if isinstance(page.get("data"), list):
                    pages.append(page)
    return pages


def _ids(page: dict) -> set[str]:
    """The post and poll ids of a page (every place a post id appears as a JSON string)."""
    ids: set[str] = set()
    inc = page.get("includes") or {}
    for t in (page.get("data") or []) + (inc.get("tweets") or []):
        ids.add(str(t["id"]))
        ids.update(str(r["id"]) for r in t.get("referenced_tweets") or [])
        ids.update(str(i) for i in t.get("edit_history_tweet_ids") or [])
        ids.update(str(i) for i in (t.get("attachments") or {}).get("poll_ids") or [])
        if t.get("conversation_id"):
            ids.add(str(t["conversation_id"]))
    ids.update(str(p["id"]) for p in inc.get("polls") or [])
    return {i for i in ids if i.isdigit()}


class Template:
    """A corpus page as text, ready to be copied with its ids shifted."""

    def __init__(self, page: dict):
        self.text = json.dumps(page, ensure_ascii=False)
        self.posts = len(page["data"])
        inc = page.get("includes") or {}
        self.distinct = {str(t["id"]) for t in page["data"] + (inc.get("tweets") or [])}
        ids = sorted(_ids(page), key=len, reverse=True)
        self.pattern = re.compile('"(' + "|".join(ids) + ')"') if ids else None

    def copy(self, k: int) -> str:
        """The page with every post and poll id shifted by k minutes of snowflake time."""
        if k == 0 or self.pattern is None:
            return self.text
        return self.pattern.sub(lambda m: f'"{int(m.group(1)) + k * SHIFT}"', self.text)


def build(out: Path, posts: int, pages_per_file: int) -> dict:
    """Raw archive under out/raw, twarc2 JSONL at out/twarc.jsonl; returns the counts."""
    base = [Template(p) for p in corpus_pages()]
    per_copy = sum(t.posts for t in base)
    distinct_per_copy = len(set().union(*(t.distinct for t in base)))
    copies = -(-posts // per_copy)
    raw = out / "raw" / "x" / "2022-10-12"
    raw.mkdir(parents=True)
    twarc = open(out / "twarc.jsonl", "w", encoding="utf-8")
    n_pages = n_posts = n_files = 0
    fh = None

    def line(rec: dict) -> bytes:
        return gzip.compress((json.dumps(rec, ensure_ascii=False) + "\n").encode(),
                             compresslevel=6)

    for k in range(copies):
        for tpl in base:
            body = tpl.copy(k)
            if n_pages % pages_per_file == 0:
                if fh:
                    fh.write(line({"type": "run_end", "status": "ok"}))
                    fh.close()
                run = f"20221012T{n_files:06d}000000Z-bench"
                fh = open(raw / f"{run}.jsonl.gz", "wb")
                n_files += 1
                seq = 0
                fh.write(line({"type": "run_start", "seq": 0, "run_id": run, "source": "x",
                               "job": "collect_posts", "started_at": "2022-10-12T12:00:00Z"}))
            seq += 1
            fh.write(line({"type": "page", "seq": seq, "run_id": run, "source": "x",
                           "purpose": "timeline", "endpoint": "GET /2/users/:id/tweets",
                           "params": {"max_results": 100}, "scope": None,
                           "fetched_at": "2022-10-12T12:00:00.000000Z", "status": 200,
                           "headers": {"content-type": "application/json"}, "body": body,
                           "cursor_after": None, "error": None, "tool": "bench"}))
            twarc.write(body + "\n")
            n_pages += 1
            n_posts += tpl.posts
    fh.write(line({"type": "run_end", "status": "ok"}))
    fh.close()
    twarc.close()
    return {"copies": copies, "pages": n_pages, "files": n_files, "result_posts": n_posts,
            "distinct_posts": distinct_per_copy * copies,
            "raw_mb": sum(f.stat().st_size for f in raw.iterdir()) / 1e6,
            "twarc_mb": (out / "twarc.jsonl").stat().st_size / 1e6}


# ---- the loaders, each in its own process --------------------------------------------------

TRACKER = """
import sys, time
from pathlib import Path
from tracker.store.db import open_db
from tracker.sources.registry import REGISTRY
from tracker.store.loader import load_pending
t0 = time.perf_counter()
con = open_db(Path(sys.argv[1]) / "tracker.duckdb")
res = load_pending(con, Path(sys.argv[2]), REGISTRY)
n = con.execute("SELECT count(*) FROM posts").fetchone()[0]
con.close()
assert not res.failed, [f.error for f in res.failed]
print(time.perf_counter() - t0, n)
"""

# `tracker COMMAND …` in a fresh folder with a config of no accounts (@RAW@: its raw_dir)
CLI = """
import sys, time
from pathlib import Path
import duckdb
from tracker.cli import main
work = Path(sys.argv[1])
(work / "config.yaml").write_text("storage: {database: db/tracker.duckdb, raw_dir: %s}\\n"
                                  "accounts: []\\n" % @RAW@)
t0 = time.perf_counter()
sys.argv = ["tracker", "--config", str(work / "config.yaml"), @ARGS@]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
secs = time.perf_counter() - t0
con = duckdb.connect(str(work / "db" / "tracker.duckdb"), read_only=True)
n = con.execute("SELECT count(*) FROM posts").fetchone()[0]
print(secs, n)
"""
IMPORT = CLI.replace("@RAW@", '"raw"').replace("@ARGS@", '"import", "twarc2", sys.argv[2]')
REBUILD = CLI.replace("@RAW@", "sys.argv[2]").replace("@ARGS@", '"rebuild"')

DUCKDB = """
import sys, time, duckdb
t0 = time.perf_counter()
con = duckdb.connect(sys.argv[1] + "/duckdb.duckdb")
con.execute('''
CREATE TABLE posts AS
SELECT p.id AS post_id, p.author_id, p.created_at::TIMESTAMPTZ AS created_at, p.text
FROM (
    SELECT unnest(from_json(body, '{"data": [{"id": "VARCHAR", "author_id": "VARCHAR",
                                              "created_at": "VARCHAR", "text": "VARCHAR"}]}'
                            ).data) AS p
    FROM read_json(?, format = 'newline_delimited', compression = 'gzip',
                   columns = {type: 'VARCHAR', purpose: 'VARCHAR', status: 'VARCHAR',
                              body: 'VARCHAR'}, maximum_object_size = 67108864)
    WHERE type = 'page' AND status = '200'
)''', [sys.argv[2] + "/*/*/*.jsonl.gz"])
n = con.execute("SELECT count(*) FROM posts").fetchone()[0]
con.close()
print(time.perf_counter() - t0, n)
"""

TWARC = """
import sys, time, csv as _csv
from twarc_csv import csv
t0 = time.perf_counter()
try:
    csv([sys.argv[2], sys.argv[1] + "/twarc.csv", "--hide-progress", "--hide-stats"],
        standalone_mode=False)
finally:
    pass
n = sum(1 for _ in _csv.reader(open(sys.argv[1] + "/twarc.csv", encoding="utf-8"))) - 1
print(time.perf_counter() - t0, n)
"""


def run_worker(python: str, code: str, work: Path, source: Path, env=None) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([python, "-c", code, str(work), str(source)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=work)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out, err = proc.stdout.read(), proc.stderr.read()
    if status != 0:
        raise SystemExit(f"worker failed ({status}):\n{err[-3000:]}")
    secs, rows = out.split()[-2:]
    return {"secs": float(secs), "wall": wall, "rows": int(rows),
            "peak_mb": usage.ru_maxrss / 1024}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=1_000_000, help="result posts to load")
    ap.add_argument("--pages-per-file", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="50,000 posts")
    venv = os.environ.get("TWARC_CSV_VENV",
                          str(Path(tempfile.gettempdir()) / "tracker-bench-twarc-csv"))
    ap.add_argument("--twarc-python", default=str(Path(venv) / "bin" / "python"))
    ap.add_argument("--repeats", type=int, default=1,
                    help="run the tracker's loaders and read_json this many times, "
                         "alternating; report the medians")
    ap.add_argument("--no-rebuild", action="store_true", help="skip tracker rebuild")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.posts = 50_000
    if not CORPUS.is_dir():
        print(f"{CORPUS} not found: the shared corpus sits beside the repo")
        return 1
    import duckdb

    print(f"machine: {os.cpu_count()} cpus, {platform.platform()}, python "
          f"{platform.python_version()}, duckdb {duckdb.__version__}")
    base = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        t0 = time.perf_counter()
        c = build(base, args.posts, args.pages_per_file)
        print(f"corpus: {len(corpus_pages())} real pages x {c['copies']} copies = {c['pages']:,} "
              f"pages, {c['result_posts']:,} result posts (~{c['distinct_posts']:,} distinct "
              f"posts with includes); raw {c['raw_mb']:.0f} MB gzip in {c['files']} files, "
              f"twarc2 JSONL {c['twarc_mb']:.0f} MB; built in {time.perf_counter() - t0:.0f}s")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        if args.repeats < 1:
            ap.error("--repeats must be >= 1")
        workers = {"tracker load_pending": (TRACKER, base / "raw"),
                   "tracker import twarc2": (IMPORT, base / "twarc.jsonl"),
                   "tracker rebuild": (REBUILD, base / "raw"),
                   "duckdb read_json": (DUCKDB, base / "raw")}
        if args.no_rebuild:
            del workers["tracker rebuild"]
        runs: dict[str, list[dict]] = {name: [] for name in workers}
        for i in range(args.repeats):
            for name, (code, source) in workers.items():
                r = run_worker(sys.executable, code, base / f"w{i}", source, env)
                runs[name].append(r)
                print(f"  run {i + 1}: {name} {r['secs']:.1f} s, peak {r['peak_mb']:,.0f} MB",
                      flush=True)
            shutil.rmtree(base / f"w{i}", ignore_errors=True)
        results = {}
        for name, rs in runs.items():
            med = dict(sorted(rs, key=lambda r: r["secs"])[len(rs) // 2])
            med["peak_mb"] = max(r["peak_mb"] for r in rs)
            med["runs"] = [round(r["secs"], 1) for r in rs]
            results[name] = med
        if Path(args.twarc_python).exists():
            results["twarc-csv"] = run_worker(args.twarc_python, TWARC, base / "w",
                                              base / "twarc.jsonl")
        else:
            print(f"twarc-csv skipped: {args.twarc_python} not found (see the module doc)")
        n = c["result_posts"]
        print("\n| loader | seconds | result posts/s | peak memory | rows out | vs tracker |")
        print("|---|---|---|---|---|---|")
        t_rate = n / results["tracker load_pending"]["secs"]
        for name, r in results.items():
            rate = n / r["secs"]
            runs_note = (" (runs: " + ", ".join(map(str, r["runs"])) + ")"
                         if len(r.get("runs", [])) > 1 else "")
            print(f"| {name} | {r['secs']:.1f}{runs_note} | {rate:,.0f} | "
                  f"{r['peak_mb']:,.0f} MB | {r['rows']:,} | {rate / t_rate:.2f}x |")
        i_rate = n / results["tracker import twarc2"]["secs"]
        print(f"\nload / import of the same posts: {t_rate / i_rate:.2f} (target >= 0.70)")
        d = results["duckdb read_json"]
        print(f"tracker / read_json: {t_rate / (n / d['secs']):.2f} (import: "
              f"{i_rate / (n / d['secs']):.2f})")
        if "tracker rebuild" in results:
            print(f"tracker rebuild: {results['tracker rebuild']['secs']:.1f} s")
        if "twarc-csv" in results:
            w = results["twarc-csv"]
            print(f"tracker / twarc-csv: {t_rate / (n / w['secs']):.2f} (target > 1)")
        print(f"tracker peak memory: load {results['tracker load_pending']['peak_mb']:,.0f} MB, "
              f"import {results['tracker import twarc2']['peak_mb']:,.0f} MB "
              "(target < 1,024 MB)")
        print(json.dumps({"corpus": c, "results": results}))
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

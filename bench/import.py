"""Benchmark: `tracker import twarc2` on a big twarc file, beside DuckDB and twarc-csv.

    python bench/import.py [--tweets 100000] [--page brexit.jsonl]
                                          [--no-twarc-csv] [--docs] [--keep]

Builds a twarc2 file of at least --tweets result tweets by repeating one real API page of
../shared/corpus/x-api-v2 (default brexit.jsonl: 100 tweets, 59 referenced tweets, 177 users and
a poll per page) with every id shifted per copy (tweet, user and poll ids of 15-20 digits; so
every copy is new data), then times, in one run and each in its own process:

  (a) tracker import twarc2 FILE   the whole import: raw archive, vectorized normalization, every
                                   table (posts, post_versions, accounts, account_handles,
                                   polls, poll_snapshots), raw_pages, runs, the replica
  (b) DuckDB read_json + unnest    CREATE TABLE t AS SELECT unnest(data) FROM read_json(FILE):
                                   DuckDB's own reader into one table, the practical limit
  (c) twarc2 csv FILE out.csv      twarc-csv 0.7.2, in its own venv with pandas 2 (it fails on
                                   pandas 3: DataFrame.applymap is gone); skipped if it cannot
                                   be installed

and prints result tweets per second and peak memory (the process's max RSS) for each, and the
ratios. Targets: (a) >= 0.7 x (b), and (a) under 1 GB. Timings are printed, never asserted; the
row counts are checked (exit 1 if the import stored other than what the file holds).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "x-api-v2"
DOCS = ROOT / "docs" / "benchmarks.md"
TWARC_CSV_VENV = Path(os.environ.get("TWARC_CSV_VENV",
                                     Path(tempfile.gettempdir()) / "tracker-bench-twarc-csv"))
ID = re.compile(r'"(\d{15,20})"')
STEP = 400_000_000_000_000      # > the spread of a page's ids: copies never collide


def build_input(page: Path, tweets: int, out: Path) -> tuple[int, int]:
    """Write ceil(tweets / per page) shifted copies of the page; return (pages, tweets)."""
    import json

    line = page.read_text(encoding="utf-8").splitlines()[0]
    per_page = len(json.loads(line)["data"])
    copies = math.ceil(tweets / per_page)
    with out.open("w", encoding="utf-8") as fh:
        for k in range(copies):
            fh.write(ID.sub(lambda m: f'"{int(m.group(1)) + k * STEP}"', line) + "\n")
    return copies, copies * per_page


def measure(cmd: list[str], env: dict | None = None, cwd: Path | None = None
            ) -> tuple[float, float, str, int, float]:
    """Run a command; return (seconds, peak RSS in MB, output, exit code, CPU seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})}, cwd=cwd)
    out = proc.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return secs, usage.ru_maxrss / 1024, out, proc.returncode, usage.ru_utime + usage.ru_stime


TRACKER = """
import sys
from tracker.cli import main
sys.argv = ["tracker", "--config", sys.argv[1], "import", "twarc2", sys.argv[2]]
main()
"""

DUCKDB = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE t AS SELECT unnest(data) AS tweet FROM read_json(?)", [sys.argv[2]])
print("rows", con.execute("SELECT count(*) FROM t").fetchone()[0])
con.close()
"""


def twarc_csv() -> tuple[Path | None, str]:
    """The twarc2 command of a venv with twarc-csv 0.7.2 and pandas 2 (made once)."""
    exe = TWARC_CSV_VENV / "bin" / "twarc2"
    if exe.exists():
        return exe, "cached venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(TWARC_CSV_VENV)], check=True,
                       capture_output=True)
        subprocess.run([str(TWARC_CSV_VENV / "bin" / "pip"), "install", "-q",
                        "twarc-csv==0.7.2", "pandas<3"], check=True, capture_output=True,
                       timeout=600)
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(TWARC_CSV_VENV, ignore_errors=True)
        return None, f"not installable here ({type(exc).__name__})"
    return exe, "new venv"


def write_docs(section: str) -> None:
    """Replace (or append) the '## Import' section of docs/benchmarks.md, nothing else."""
    DOCS.parent.mkdir(exist_ok=True)
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Import\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda m: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tweets", type=int, default=100_000, help="at least this many tweets")
    ap.add_argument("--page", default="brexit.jsonl", help="the corpus page to repeat")
    ap.add_argument("--no-twarc-csv", action="store_true", help="skip (c)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="run (a) and (b) this many times, alternating; report the medians")
    ap.add_argument("--docs", action="store_true",
                    help="write the figures into docs/benchmarks.md (section '## Import')")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)
    page = CORPUS / args.page
    if not page.exists():
        print(f"{page} not found: the shared corpus sits beside the repo", file=sys.stderr)
        return 2

    import duckdb

    base = Path(tempfile.mkdtemp(prefix="bench-import-"))
    failures = []
    try:
        src = base / "twarc2.jsonl"
        pages, tweets = build_input(page, args.tweets, src)
        size = src.stat().st_size
        machine = (f"{os.cpu_count()} cpus, {platform.platform()}, python "
                   f"{platform.python_version()}, duckdb {duckdb.__version__}")
        print(f"machine: {machine}")
        print(f"input: {args.page} x {pages} (ids shifted per copy) = {tweets:,} tweets, "
              f"{size / 1e6:,.0f} MB, one API page a line\n")
        if args.repeats < 1:
            ap.error("--repeats must be >= 1")
        results = {}

        runs: dict[str, list] = {"a": [], "b": []}
        for i in range(args.repeats):
            work = base / f"tracker-{i}"
            cfg = work / "config.yaml"
            work.mkdir()
            cfg.write_text("accounts: []\n")
            secs, rss, out, code, cpu = measure([sys.executable, "-c", TRACKER, str(cfg),
                                                 str(src)])
            con = duckdb.connect(str(work / "data" / "tracker.read.duckdb"), read_only=True)
            stored = con.execute("SELECT count(*) FILTER (WHERE seen_in = 'data'), count(*), "
                                 "(SELECT count(*) FROM polls) FROM posts").fetchone()
            con.close()
            shutil.rmtree(work)
            if code != 0 or stored[0] != tweets or stored[2] != pages:
                failures.append(f"(a) exit {code}, stored {stored} for {tweets} tweets:\n{out}")
            runs["a"].append((secs, rss, cpu, f"{stored[1]:,} posts stored"))

            db = base / f"duckdb-{i}.duckdb"
            secs, rss, out, code, cpu = measure([sys.executable, "-c", DUCKDB, str(db),
                                                 str(src)])
            db.unlink(missing_ok=True)
            m = re.search(r"rows (\d+)", out)
            if code != 0 or not m or int(m.group(1)) != tweets:
                failures.append(f"(b) exit {code}: {out[-500:]}")
            runs["b"].append((secs, rss, cpu, "one struct column"))
        for key, name in (("a", "tracker import twarc2"), ("b", "duckdb read_json + unnest")):
            secs, rss, cpu, note = sorted(runs[key])[len(runs[key]) // 2]
            if args.repeats > 1:
                note += f"; median of {args.repeats}: " + ", ".join(
                    f"{r[0]:.1f}" for r in runs[key])
            results[key] = (name, secs, max(r[1] for r in runs[key]), cpu, note)

        if not args.no_twarc_csv:
            exe, how = twarc_csv()
            if exe is None:
                print(f"(c) twarc-csv: {how}; skipped")
            else:
                secs, rss, out, code, cpu = measure(
                    [str(exe), "csv", str(src), str(base / "out.csv")],
                    env={"BEARER_TOKEN": "not-a-token"})
                if code != 0:
                    print(f"(c) twarc2 csv failed (exit {code}): {out[-300:]}")
                else:
                    results["c"] = ("twarc2 csv (twarc-csv 0.7.2)", secs, rss, cpu, how)

        print(f"{'':4}{'':30}{'seconds':>9}{'tweets/s':>11}{'peak MB':>9}{'CPU s':>8}")
        rates = {}
        for key, (name, secs, rss, cpu, note) in results.items():
            rates[key] = tweets / secs
            print(f"({key}) {name:<30}{secs:>9.2f}{rates[key]:>11,.0f}{rss:>9,.0f}{cpu:>8.1f}"
                  f"   {note}")
        print()
        lines = []
        if "b" in rates:
            lines.append(f"(a) / (b) = {rates['a'] / rates['b']:.2f}   (target >= 0.70)")
        if "c" in rates:
            lines.append(f"(a) / (c) = {rates['a'] / rates['c']:.2f}")
        lines.append(f"(a) peak memory {results['a'][2]:,.0f} MB   (target < 1,024 MB)")
        print("\n".join(lines))
        for f in failures:
            print(f"\nFAILED {f}")
        if args.docs and not failures:
            table = "\n".join(
                f"| ({k}) {name} | {secs:.2f} | {tweets / secs:,.0f} | {rss:,.0f} | {cpu:.1f} |"
                for k, (name, secs, rss, cpu, _) in results.items())
            write_docs(
                "## Import\n\n"
                f"`python bench/import.py` ({tweets:,} tweets: {args.page} repeated {pages} "
                f"times with shifted ids, {size / 1e6:,.0f} MB; {machine}):\n\n"
                "| | seconds | tweets/s | peak MB | CPU s |\n|---|---|---|---|---|\n"
                f"{table}\n\n" + "\n".join(f"- {line.strip()}" for line in lines) + "\n\n")
            print(f"\nwrote {DOCS.relative_to(ROOT)} (## Import)")
    finally:
        if args.keep:
            print(f"\nkept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

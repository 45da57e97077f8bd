"""`tracker --help` starts fast: it loads none of the heavy libraries behind the commands
(they load on first use, tracker/core/lazy.py). Checked by what is imported, not by a clock."""

from __future__ import annotations

import json
import subprocess
import sys

# each costs from tens to hundreds of milliseconds at startup
HEAVY = ("pandas", "pyarrow", "numpy", "duckdb", "atproto_client", "mastodon", "tweepy",
         "apscheduler", "trafilatura", "requests", "httpx", "jinja2")

PROBE = """
import json, sys
from tracker.cli import cli
for args in ARGS:
    try:
        cli(args, prog_name="tracker", obj={})
    except SystemExit:
        pass
# a module lazy_module() registered but nothing used yet is not loaded
loaded = sorted(n for n, m in list(sys.modules.items())
                if n.split(".")[0] in HEAVY and type(m).__name__ != "_LazyModule")
print(json.dumps(loaded))
"""


def loaded_after(*args: list[str]) -> list[str]:
    code = f"ARGS = {list(args)!r}\nHEAVY = {HEAVY!r}\n{PROBE}"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_help_loads_no_heavy_library():
    assert loaded_after(["--help"]) == []


def test_a_commands_help_loads_none_either():
    # (`tracker run --help` lists the jobs, so it loads them)
    assert loaded_after(["collect", "--help"], ["press", "list", "--help"], ["sql", "--help"],
                        ["status", "--help"], ["report", "--help"]) == []


def test_the_registry_still_sees_every_job():
    from tracker.sources.bluesky import jobs as bluesky_jobs
    from tracker.sources.mastodon import jobs as mastodon_jobs
    from tracker.sources.press import job as press_jobs
    from tracker.sources.registry import REGISTRY
    from tracker.sources.x import jobs as x_jobs

    for name, declared in (("x", x_jobs.JOBS), ("bluesky", bluesky_jobs.JOBS),
                           ("mastodon", mastodon_jobs.JOBS), ("press", press_jobs.JOBS)):
        assert tuple(REGISTRY.named(name).jobs) == declared

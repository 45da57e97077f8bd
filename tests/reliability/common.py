"""Helpers for the reliability suite: seeded worlds, faults armed mid-pagination, invariants."""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import yaml

from tests.conftest import make_post
from tracker.testing.xapi import Fault, XWorld
from tracker.store.tables import SPECS

NO_SLEEP = {"sleep": lambda s: None}
REPO = Path(__file__).resolve().parents[2]


def seed(world: XWorld, clock, n: int, author: str = "100", handle: str = "alice") -> list[dict]:
    """One account with ``n`` posts a minute apart, ending three days before the clock."""
    world.add_user({"id": author, "username": handle, "name": handle.title()})
    start = clock.at - timedelta(days=3)
    return [make_post(world, author, start + timedelta(minutes=i), f"{handle} post {i}")
            for i in range(n)]


def arm_after(world: XWorld, path_re: str, ok: int, fault: Fault) -> Fault:
    """Queue ``fault`` (inactive) and arm it once ``ok`` requests to ``path_re`` were answered.

    ``world.answer`` runs after the server checked its fault list, so the fault hits the
    request after the ``ok``-th: a fault in the middle of a pagination.
    """
    import re

    times, fault.times = fault.times, 0
    world.faults.append(fault)
    real = world.answer
    seen = [0]

    def answer(path, params):
        out = real(path, params)
        if re.search(path_re, path):
            seen[0] += 1
            if seen[0] == ok:
                fault.times = times
        return out

    world.answer = answer
    return fault


def served_posts(world: XWorld, author: str | None = None) -> set[str]:
    """Ids of the posts a complete collection must have: visible latest versions."""
    return {t["id"] for t in world.tweets.values()
            if (author is None or str(t.get("author_id")) == author)
            and world._visible(t["id"]) and world._latest(t)}


def q(path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def duplicate_keys(path) -> dict[str, int]:
    """Per table: how many keys appear more than once (every write rule says: zero)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
                  .fetchall()}
        keys = {name: spec.key for name, spec in SPECS.items()}
        keys.update({"raw_pages": ("page_id",), "runs": ("run_id",), "raw_files": ("path",),
                     "sync_state": ("source", "scope")})
        for table, key in keys.items():
            if table not in tables:
                continue
            k = ", ".join(key)
            out[table] = con.execute(f"SELECT count(*) FROM (SELECT {k} FROM {table} "
                                     f"GROUP BY {k} HAVING count(*) > 1)").fetchone()[0]
        return out
    finally:
        con.close()


def write_config(tmp_path: Path, api: str, handles=("alice",), **x) -> Path:
    data = {
        "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
        "x": {"api_base_url": api, "backoff_base_seconds": 0, **x},
        "accounts": [{"platform": "x", "handle": h} for h in handles],
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def subprocess_env(**extra) -> dict:
    """The environment for a `python -m tracker.cli` child: the repo importable, no proxies."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


PY = sys.executable


def cursor_of(path, scope: str) -> dict | None:
    got = q(path, "SELECT cursor FROM sync_state WHERE scope = ?", [scope])
    return json.loads(got[0][0]) if got else None


def covers(cursor: dict | None, post_id: str) -> bool:
    """A finished cursor at or past ``post_id`` (a finished read moves the cursor to the time
    it began, less x.coverage_margin_seconds, even past the newest post)."""
    return bool(cursor) and cursor.get("gap") is None and int(cursor["newest_id"]) >= int(post_id)

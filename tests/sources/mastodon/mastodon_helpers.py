"""Fixtures of the Mastodon tests: a local world of instances served on 127.0.0.1, a config
pointing at it, and a clock both the runs and the server read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from tests.conftest import Clock
from tracker.config import parse_config
from tracker.runs import runner
from tracker.testing.mastodon import MastodonWorld, serve

SOCIAL = "social.example"
OTHER = "other.example"
TOKEN = "mastodon-test-token-7c1d0e2f-not-real"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def world(clock) -> MastodonWorld:
    w = MastodonWorld(clock=lambda: clock.at)
    w.instance(SOCIAL)
    w.instance(OTHER)
    return w


@pytest.fixture
def api(world):
    with serve(world) as url:
        yield url


@pytest.fixture
def make_cfg(tmp_path, api):
    def make(handles=(f"alice@{SOCIAL}",), stories=(), **mastodon):
        section = {"base_urls": {SOCIAL: f"{api}/{SOCIAL}", OTHER: f"{api}/{OTHER}"},
                   "backoff_base_seconds": 0, **mastodon}
        return parse_config({
            "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
            "mastodon": section,
            "accounts": [{"platform": "mastodon", "handle": h} for h in handles],
            "stories": list(stories),
        }, base_dir=tmp_path)
    return make


def run(cfg, job: str, clock, sleep=None, **options):
    """A Mastodon job through the generic runner; sleeping moves the clock (the server's too)."""
    def advance(seconds: float) -> None:
        clock.advance(seconds=seconds)

    return runner.run(cfg, job, source="mastodon", clock=clock,
                      sleep=sleep or advance, **options)


def q(sql: str, cfg, params=None) -> list[tuple]:
    """Query the database itself (read-only)."""
    con = duckdb.connect(str(cfg.database), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def ago(clock, **kw) -> datetime:
    return clock.at - timedelta(**kw)


def mid(instance: str, status: dict) -> str:
    """The tracker's id of a world status or account."""
    return f"{instance}:{status['id']}"

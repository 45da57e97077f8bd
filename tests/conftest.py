"""Shared fixtures: a local X API server on 127.0.0.1, a config pointing at it, the corpus."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tracker.config import parse_config
from tracker.testing.xapi import XWorld, serve
from tracker.core.timeutil import snowflake_at

TOKEN = "test-token-5f2b9c1e-not-real"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def corpus_dir(name: str) -> Path:
    """A corpus folder in ../shared/corpus, or skip saying why."""
    d = CORPUS / name
    if not d.is_dir():
        pytest.skip(f"{d} not found: the shared corpus sits beside the repo in CI "
                    "(clone with ../shared to run these tests)")
    return d


class Clock:
    """A controllable UTC clock for runs (fetched_at, windows)."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at

    def advance(self, **kw) -> None:
        self.at += timedelta(**kw)


def make_post(world: XWorld, author: str, at: datetime, text: str, seq: int = 0, **extra) -> dict:
    tid = str(snowflake_at(at, seq))
    tweet = {"id": tid, "author_id": author, "text": text, "lang": "en",
             "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
             "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0,
                                "quote_count": 0}, **extra}
    world.add_tweet(tweet)
    return world.tweets[tid]


@pytest.fixture
def world(monkeypatch) -> XWorld:
    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)
    return XWorld(token=TOKEN)


@pytest.fixture
def api(world):
    with serve(world) as url:
        yield url


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2022, 10, 12, 12, 0, tzinfo=timezone.utc))


@pytest.fixture
def make_cfg(tmp_path, api):
    def make(handles=("alice",), stories=(), **x):
        return parse_config({
            "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
            "x": {"api_base_url": api, "backoff_base_seconds": 0, **x},
            "accounts": [{"platform": "x", "handle": h} for h in handles],
            "stories": list(stories),
        }, base_dir=tmp_path)
    return make

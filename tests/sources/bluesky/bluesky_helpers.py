"""Shared pieces of the Bluesky tests: the local AppView, a config pointing at it, a clock
the AppView shares, and a guard that no test reaches beyond 127.0.0.1."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from tests.conftest import Clock
from tests.helpers import rows
from tracker.config import parse_config
from tracker.runs import runner
from tracker.testing.bluesky import BskyWorld, serve

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
FEED = "app.bsky.feed.getAuthorFeed"
THREAD = "app.bsky.feed.getPostThread"
POSTS = "app.bsky.feed.getPosts"
PROFILE = "app.bsky.actor.getProfile"
ALICE, BOB, CAROL = "alice.bsky.social", "bob.bsky.social", "carol.bsky.social"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Every connection a test opens goes to 127.0.0.1: none reaches the internet."""
    real = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"a test tried to reach {address!r}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def bclock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def bsky(bclock) -> BskyWorld:
    """The AppView's world; its rate-limit window runs on the tests' clock."""
    return BskyWorld(clock=lambda: bclock.at.timestamp())


@pytest.fixture
def appview(bsky):
    with serve(bsky) as url:
        yield url


def config_data(url: str, handles=(ALICE,), **bluesky) -> dict:
    return {"storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
            "bluesky": {"api_base_url": url, "backoff_base_seconds": 0, **bluesky},
            "accounts": [{"platform": "bluesky", "handle": h} for h in handles]}


@pytest.fixture
def make_cfg(tmp_path, appview):
    def make(handles=(ALICE,), **bluesky):
        return parse_config(config_data(appview, handles, **bluesky), base_dir=tmp_path)
    return make


@pytest.fixture
def config_file(tmp_path, appview):
    """config.yaml for the command line."""
    def write(handles=(ALICE,), **bluesky) -> str:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config_data(appview, handles, **bluesky)))
        return str(path)
    return write


def run(cfg, job: str, clock, sleeps: list | None = None, **options):
    """One Bluesky job through the generic runner; waits are recorded, never slept."""
    return runner.run(cfg, job, source="bluesky", clock=clock,
                      sleep=(sleeps.append if sleeps is not None else lambda s: None),
                      **options)


def cursor(cfg, scope: str) -> dict | None:
    got = rows(cfg, "SELECT cursor FROM sync_state WHERE source = 'bluesky' AND scope = ?",
               [scope])
    return json.loads(got[0][0]) if got else None


def web(uri: str) -> str:
    did, _, rkey = uri[len("at://"):].split("/")
    return f"https://bsky.app/profile/{did}/post/{rkey}"


def ago(**kw) -> datetime:
    return NOW - timedelta(**kw)

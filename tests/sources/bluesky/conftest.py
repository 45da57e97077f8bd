"""Fixtures of the Bluesky tests: the local AppView, a config pointing at it, a clock the
AppView shares, and a guard that no test reaches beyond 127.0.0.1."""

from __future__ import annotations

import socket

import pytest
import yaml

from tests.conftest import Clock
from tests.sources.bluesky.bluesky_helpers import ALICE, NOW
from tracker.config import parse_config
from tracker.testing.bluesky import BskyWorld, serve


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



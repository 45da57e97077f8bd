"""Press fixtures: a local press server (feeds, GDELT, pages) on 127.0.0.1 and configs for it."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import Clock
from tracker.config import parse_config
from tracker.testing.press import GDELT_PATH, PressWorld, serve

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "press"
NO_SLEEP = {"sleep": lambda s: None}


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def pworld() -> PressWorld:
    return PressWorld()


@pytest.fixture
def papi(pworld):
    with serve(pworld) as url:
        yield url


@pytest.fixture
def pclock() -> Clock:
    return Clock(datetime(2022, 10, 12, 12, 0, tzinfo=timezone.utc))


@pytest.fixture
def press_cfg(tmp_path, papi):
    """A config whose feeds are ``{name: path}`` on the local server."""
    def make(feeds: dict[str, str] | None = None, queries: list[dict] | None = None,
             **press):
        gdelt = {"api_base_url": papi + GDELT_PATH, "min_interval_seconds": 0,
                 **press.pop("gdelt", {})}
        return parse_config({
            "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
            "press": {"feeds": [{"name": n, "url": papi + p} for n, p in (feeds or {}).items()],
                      "queries": queries or [], "gdelt": gdelt, "backoff_base_seconds": 0,
                      **press},
        }, base_dir=tmp_path)
    return make

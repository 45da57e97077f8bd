"""Helpers of the Bluesky tests (their fixtures are in conftest.py beside)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from tests.helpers import rows
from tracker.runs import runner

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
FEED = "app.bsky.feed.getAuthorFeed"
THREAD = "app.bsky.feed.getPostThread"
POSTS = "app.bsky.feed.getPosts"
PROFILE = "app.bsky.actor.getProfile"
ALICE, BOB, CAROL = "alice.bsky.social", "bob.bsky.social", "carol.bsky.social"


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

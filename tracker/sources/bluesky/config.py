"""The Bluesky source's configuration: the `bluesky:` section of config.yaml, and what a
Bluesky handle is."""

from __future__ import annotations

import re

from pydantic import ByteSize, Field, field_validator

from tracker.core.config import Strict, http_url
from tracker.sources.schedule import DeletionsConfig, RepliesConfig

# a handle is a domain name (atproto's handle syntax): labels of letters, digits and hyphens
HANDLE_RE = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
# top-level domains atproto refuses for handles (`handle.invalid` marks a broken one)
RESERVED_TLDS = ("alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion")


def bluesky_handle(v: str) -> str:
    """A Bluesky handle (a domain name such as name.bsky.social), without its @, lower-case."""
    v = (v or "").strip().lstrip("@").lower()
    if v.startswith("did:"):
        raise ValueError(f"{v!r} is a DID: give the account's handle (name.bsky.social); the "
                         "tracker resolves it to the DID once and follows the DID")
    if len(v) > 253 or not HANDLE_RE.match(v) or v.rsplit(".", 1)[-1] in RESERVED_TLDS:
        raise ValueError(f"{v!r} is not a valid Bluesky handle (a domain name such as "
                         "name.bsky.social)")
    return v


class BlueskyConfig(Strict):
    # the public AppView: reads need no account and no token
    api_base_url: str = "https://public.api.bsky.app"
    max_requests_per_run: int = Field(1000, ge=1, le=10_000_000)
    replies_window_days: int = Field(7, ge=0, le=3650)
    deletion_check_days: int = Field(7, ge=0, le=3650)
    # the first read of an account goes back this many feed items (posts and reposts)
    backfill_max_posts: int = Field(1000, ge=0, le=100_000_000)
    page_size: int = Field(100, ge=1, le=100)          # getAuthorFeed's limit (at most 100)
    # the first page of an incremental read (new items since the last run are usually few;
    # more continue in pages of page_size)
    first_page_size: int = Field(10, ge=1, le=100)
    thread_depth: int = Field(10, ge=1, le=1000)       # reply levels a thread read brings
    max_rate_limit_wait_seconds: float = Field(300, ge=0, le=86400)
    max_retries: int = Field(4, ge=0, le=100)
    backoff_base_seconds: float = Field(1.0, ge=0, le=3600)
    backoff_max_seconds: float = Field(60, ge=0, le=86400)
    timeout_seconds: float = Field(30, gt=0, le=3600)             # per socket read
    request_deadline_seconds: float = Field(120, gt=0, le=3600)   # per request, in all
    max_body_bytes: ByteSize = Field(ByteSize(32 << 20), gt=0)    # a bigger answer is cut here
    replies: RepliesConfig = RepliesConfig()
    deletions: DeletionsConfig = DeletionsConfig()

    @field_validator("api_base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return http_url(v, "https://public.api.bsky.app").rstrip("/")

"""The X source's configuration: the `x:` section of config.yaml, and what an X handle is."""

from __future__ import annotations

import os
import re

from pydantic import ByteSize, Field, field_validator

from tracker.core.config import Strict
from tracker.core.errors import ConfigError
from tracker.sources.schedule import DeletionsConfig, RepliesConfig

HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")


def x_handle(v: str) -> str:
    """An X handle (letters, digits and _, at most 15), without its @."""
    v = (v or "").strip().lstrip("@")
    if not HANDLE_RE.match(v):
        raise ValueError(f"{v!r} is not a valid X handle (letters, digits, _; at most 15)")
    return v


class XPricing(Strict):
    """What X charges, in one place: `tracker cost` projects a month of the config with it.

    The defaults are PLACEHOLDERS, not X's price list (which changes and cannot be checked
    offline): set them from https://developer.x.com (your plan or pay-per-use rates).
    """

    usd_per_post_read: float = Field(0.005, ge=0)     # placeholder
    usd_per_user_read: float = Field(0.01, ge=0)      # placeholder
    usd_per_request: float = Field(0.0, ge=0)         # placeholder
    monthly_base_usd: float = Field(0.0, ge=0)        # a plan's fixed monthly fee, if any
    monthly_post_read_cap: int | None = Field(None, ge=0)   # a plan's cap; warn above it
    # X bills a post read twice in one UTC day once (poll refreshes, deletion checks)
    dedupe_reads_per_utc_day: bool = True


class TimelinesConfig(Strict):
    """How tracked accounts' new posts are read (x.timelines)."""

    # incremental reads of many accounts in one recent search (`from:ID OR from:ID …`); the
    # user timeline stays for backfill and for cursors older than the search window
    batch_search: bool = True
    # an account with no post for this many days is read at most every quiet_every_hours
    quiet_after_days: float = Field(7, gt=0, le=3650)
    quiet_every_hours: float = Field(6, ge=0, le=8_760)


class XConfig(Strict):
    api_base_url: str = "https://api.x.com"
    bearer_token_env: str = "X_BEARER_TOKEN"
    max_requests_per_run: int = Field(100, ge=1, le=10_000_000)
    replies_window_days: int = Field(7, ge=0, le=3650)
    deletion_check_days: int = Field(7, ge=0, le=3650)
    backfill_max_posts: int = Field(3200, ge=0, le=100_000_000)
    page_size: int = Field(100, ge=5, le=100)
    max_rate_limit_wait_seconds: float = Field(900, ge=0, le=86400)
    max_retries: int = Field(4, ge=0, le=100)
    backoff_base_seconds: float = Field(1.0, ge=0, le=3600)
    backoff_max_seconds: float = Field(60, ge=0, le=86400)
    timeout_seconds: float = Field(30, gt=0, le=3600)      # per socket read
    request_deadline_seconds: float = Field(120, gt=0, le=3600)   # per request, in all
    max_body_bytes: ByteSize = Field(ByteSize(32 << 20), gt=0)   # a bigger answer is cut here
    # the longest recent-search query the account's access level allows (512 at the lowest;
    # 1024 and 4096 are common higher limits): batches of conversations and accounts fill it
    search_query_max_chars: int = Field(512, ge=64, le=100_000)
    # a finished read covers what was posted up to its start less this margin (search indexes
    # lag behind a few seconds): the cursor moves there even when nothing new was posted
    coverage_margin_seconds: float = Field(120, ge=0, le=86_400)
    timelines: TimelinesConfig = TimelinesConfig()
    replies: RepliesConfig = RepliesConfig()
    deletions: DeletionsConfig = DeletionsConfig()
    pricing: XPricing = XPricing()

    @field_validator("api_base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v or ""):
            raise ValueError("must be an http(s) URL such as https://api.x.com")
        return v.rstrip("/")

    @field_validator("bearer_token_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v or ""):
            raise ValueError("must be the NAME of an environment variable, not the token itself")
        return v

    def bearer_token(self) -> str:
        """The token, read from the environment at the moment it is needed."""
        token = os.environ.get(self.bearer_token_env, "")
        if not token.strip():
            raise ConfigError(
                f"x.bearer_token_env: environment variable {self.bearer_token_env} is not set"
            )
        return token.strip()



"""The Mastodon source's configuration: the `mastodon:` section, and what a handle is."""

from __future__ import annotations

import logging
import os
import re

from pydantic import ByteSize, Field, field_validator

from tracker.core.config import Strict, http_url
from tracker.sources.schedule import DeletionsConfig, RepliesConfig

log = logging.getLogger("tracker.mastodon")

_USER = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::\d{1,5})?"
HANDLE_RE = re.compile(rf"^({_USER})@({_HOST})$")
INSTANCE_RE = re.compile(rf"^{_HOST}$")


def mastodon_handle(v: str) -> str:
    """A Mastodon handle ``user@instance`` (a leading @ is dropped; the instance lower-cased)."""
    v = (v or "").strip().lstrip("@")
    m = HANDLE_RE.match(v)
    if not m:
        raise ValueError(f"{v!r} is not a Mastodon handle: user@instance, e.g. "
                         "Gargron@mastodon.social")
    return f"{m.group(1)}@{m.group(2).lower()}"


def split_handle(handle: str) -> tuple[str, str]:
    """(user, instance) of a valid handle."""
    user, _, instance = mastodon_handle(handle).partition("@")
    return user, instance


def _instance(v: str) -> str:
    v = (v or "").strip().lower()
    if not INSTANCE_RE.match(v):
        raise ValueError(f"{v!r} is not an instance name such as mastodon.social")
    return v


class MastodonConfig(Strict):
    # instance -> base URL of its API (https://<instance> when not listed): a proxy, a server
    # whose web domain differs from its handles' domain, or a local test server
    base_urls: dict[str, str] = {}
    # the environment variable holding an access token (optional: public reads need none)
    access_token_env: str = "MASTODON_TOKEN"
    # the instance that issued the token: it is sent there only. None: to the one instance the
    # tracked accounts are on, and to none if they are on several (a token is one server's)
    token_instance: str | None = None
    max_requests_per_run: int = Field(250, ge=1, le=10_000_000)
    page_size: int = Field(40, ge=1, le=40)                # statuses a page (Mastodon: 40 at most)
    backfill_max_posts: int = Field(200, ge=0, le=100_000_000)   # a new account's first read
    replies_window_days: int = Field(7, ge=0, le=3650)
    deletion_check_days: int = Field(7, ge=0, le=3650)
    # an open poll is read until its final snapshot, and given up this long after expires_at
    poll_final_grace_hours: float = Field(24, ge=0, le=8_760)
    # the X-RateLimit-* window (300 requests / 5 min on most servers): wait for its reset up to
    # this long, else stop that instance cleanly (cursors intact; the next run resumes)
    max_rate_limit_wait_seconds: float = Field(330, ge=0, le=86400)
    # requests of each window left unused (other clients of the same token or address)
    rate_limit_reserve: int = Field(0, ge=0, le=100_000)
    max_retries: int = Field(4, ge=0, le=100)
    backoff_base_seconds: float = Field(1.0, ge=0, le=3600)
    backoff_max_seconds: float = Field(60, ge=0, le=86400)
    timeout_seconds: float = Field(30, gt=0, le=3600)              # per socket read
    request_deadline_seconds: float = Field(120, gt=0, le=3600)    # per request, in all
    max_body_bytes: ByteSize = Field(ByteSize(16 << 20), gt=0)     # a bigger answer is cut here
    replies: RepliesConfig = RepliesConfig()
    deletions: DeletionsConfig = DeletionsConfig()

    @field_validator("base_urls")
    @classmethod
    def _urls(cls, v: dict[str, str]) -> dict[str, str]:
        return {_instance(k): http_url(u, "https://mastodon.social").rstrip("/")
                for k, u in v.items()}

    @field_validator("token_instance")
    @classmethod
    def _token_instance(cls, v: str | None) -> str | None:
        return None if v is None else _instance(v)

    @field_validator("access_token_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v or ""):
            raise ValueError("must be the NAME of an environment variable, not the token itself")
        return v

    def base_url(self, instance: str) -> str:
        return self.base_urls.get(instance, f"https://{instance}")

    def token_for(self, instance: str, tracked: set[str]) -> str | None:
        """The access token to send to ``instance`` (read from the environment now), if any."""
        token = os.environ.get(self.access_token_env, "").strip()
        if not token:
            return None
        owner = self.token_instance
        if owner is None:
            if len(tracked) > 1:
                log.warning("mastodon: %s is set but the accounts are on %d instances: it is "
                            "sent to none (set mastodon.token_instance to the one that issued "
                            "it)", self.access_token_env, len(tracked))
                return None
            owner = next(iter(tracked), None)
        return token if instance == owner else None

"""UTC time helpers. Every timestamp the tracker stores is timezone-aware UTC."""

from __future__ import annotations

from datetime import datetime, timezone

TWITTER_EPOCH_MS = 1288834974657


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    """ISO 8601 with microseconds and a Z suffix."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str | None) -> datetime | None:
    """Parse an ISO timestamp such as the API's '2022-10-03T17:57:01.000Z' into aware UTC."""
    if not value:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def snowflake_time(post_id: int | str) -> datetime:
    """The creation time encoded in an X snowflake id."""
    ms = (int(post_id) >> 22) + TWITTER_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def snowflake_at(dt: datetime, sequence: int = 0) -> int:
    """A snowflake id whose timestamp is dt (used to build samples whose ids match their dates)."""
    ms = int(dt.timestamp() * 1000) - TWITTER_EPOCH_MS
    return (ms << 22) | (sequence & 0x3FFFFF)

"""UTC time helpers. Every timestamp the tracker stores is timezone-aware UTC."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from tracker.core.errors import InvalidArgument

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


def _as_timedelta(value) -> timedelta | None:
    """A timedelta from a timedelta, a pandas Timedelta or a numpy timedelta64; None for
    None, NaT and NaN."""
    if value is None or value != value:          # NaT and NaN are not equal to themselves
        return None
    if isinstance(value, timedelta):
        return value
    if hasattr(value, "to_pytimedelta"):
        return value.to_pytimedelta()
    if hasattr(value, "astype"):                 # numpy.timedelta64
        return value.astype("timedelta64[us]").item()
    raise TypeError(f"not an interval: {value!r}")


def lag_text(value) -> str:
    """An interval as '45 min', '1 h 30 min', '2 d 3 h' (negative ones with a minus sign);
    '—' when there is none. The one lag format of the terminal and the report."""
    td = _as_timedelta(value)
    if td is None:
        return "—"
    sign = "−" if td < timedelta(0) else ""
    total = abs(int(td.total_seconds()))
    d, rem = divmod(total, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        parts = [f"{d} d"] + ([f"{h} h"] if h else [])
    elif h:
        parts = [f"{h} h"] + ([f"{m} min"] if m else [])
    elif m:
        parts = [f"{m} min"]
    else:
        parts = [f"{sec} s"]
    return sign + " ".join(parts)


def short_utc(value) -> str:
    """A time as '2022-10-11 14:05Z' (UTC, to the minute; seconds only when not zero); ''
    for None and NaT."""
    if value is None or value != value:
        return ""
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        return str(value)
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M" + (":%S" if value.second else "") + "Z")


_DURATION_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(value: str | None, now: datetime, option: str = "--since") -> datetime | None:
    """A command line's start time, as UTC: a date (2022-10-11, midnight UTC), an ISO time
    (2022-10-11T14:00Z; a time without a zone is UTC) or a duration back from ``now`` (90m,
    36h, 7d, 2w). None for None; InvalidArgument (exit 2) for anything else."""
    if value is None:
        return None
    text = value.strip()
    m = re.fullmatch(r"(\d+)\s*(m|min|h|d|w)", text.lower())
    if m:
        return now.astimezone(timezone.utc) - timedelta(
            seconds=int(m.group(1)) * _DURATION_UNITS[m.group(2)])
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"{option} {value!r}: give a date (2022-10-11), an ISO time "
                              "(2022-10-11T14:00Z) or a duration back from now (36h, 7d, "
                              "2w)") from None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)

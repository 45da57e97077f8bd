"""How the report writes times: UTC by default, or a named zone; every time names its zone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from tracker.core.errors import InvalidArgument
from tracker.core.timeutil import lag_text


def _dt(value) -> datetime | None:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.to_pydatetime()


class TimeFormat:
    """Times in one zone. `label` is for people (with the zone's abbreviation), `axis` is the
    zone's wall-clock time for the chart, `iso` the exact UTC instant for machines."""

    def __init__(self, zone: str = "UTC"):
        try:
            self.zone = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidArgument(f"unknown time zone {zone!r}: use an IANA name such as UTC or "
                               "Europe/Paris") from None
        self.name = zone

    @property
    def is_utc(self) -> bool:
        return self.name in ("UTC", "Etc/UTC", "Z")

    def local(self, value) -> datetime | None:
        dt = _dt(value)
        return None if dt is None else dt.astimezone(self.zone)

    def label(self, value, seconds: bool = False) -> str:
        dt = self.local(value)
        if dt is None:
            return "—"
        return dt.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "") + " %Z")

    def axis(self, value) -> str | None:
        dt = self.local(value)
        return None if dt is None else dt.strftime("%Y-%m-%d %H:%M:%S")

    def iso(self, value) -> str:
        dt = _dt(value)
        return "" if dt is None else dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def description(self) -> str:
        if self.is_utc:
            return "UTC"
        return f"{self.name} (local time; the chart's axis and every table use it)"


def window_label(start, end_exclusive) -> str:
    """The story window as UTC dates, both included (the config's own way of writing it)."""
    s, e = _dt(start), _dt(end_exclusive)
    if s is None or e is None:
        return "—"
    s, e = s.astimezone(timezone.utc), e.astimezone(timezone.utc)
    if e.time() == datetime.min.time():
        e = e - timedelta(days=1)
        return f"{s:%Y-%m-%d} to {e:%Y-%m-%d} (UTC dates, both included)"
    return f"{s:%Y-%m-%d %H:%M} to {e:%Y-%m-%d %H:%M} UTC"


lag_label = lag_text        # one lag format everywhere (tracker/core/timeutil.py)

"""How the report writes times: UTC by default, or a named zone; every time names its zone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from tracker.core.errors import TrackerError


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
            raise TrackerError(f"unknown time zone {zone!r}: use an IANA name such as UTC or "
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


def lag_label(value) -> str:
    """An interval as '45 min', '1 h 30 min', '2 d 3 h'; negative ones get a minus sign."""
    if value is None:
        return "—"
    try:
        if pd.isna(value):
            return "—"
    except (TypeError, ValueError):
        pass
    td = pd.Timedelta(value).to_pytimedelta()
    sign = "−" if td < timedelta(0) else ""
    total = abs(int(td.total_seconds()))
    d, rem = divmod(total, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if d:
        parts = [f"{d} d"] + ([f"{h} h"] if h else [])
    elif h:
        parts = [f"{h} h"] + ([f"{m} min"] if m else [])
    elif m:
        parts = [f"{m} min"]
    else:
        parts = [f"{s} s"]
    return sign + " ".join(parts)

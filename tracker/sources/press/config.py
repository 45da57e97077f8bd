"""The press source's configuration: the `press:` section of config.yaml."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from pydantic import ByteSize, Field, field_validator, model_validator

from tracker.core.config import Strict, http_url, in_range


class FeedConfig(Strict):
    """One RSS or Atom feed: `{name: Business Insider, url: https://…/rss}`."""

    name: str
    url: str
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = (v or "").strip()
        if not v:
            raise ValueError("must not be empty")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return http_url(v, "https://feeds.example.com/rss")


class PressQueryConfig(Strict):
    """A GDELT query over a time window (until stories carry their own queries)."""

    name: str
    query: str
    start: date | datetime
    end: date | datetime | None = None    # None: up to the time of the run

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", v or ""):
            raise ValueError("use letters, digits, '-', '_' and '.' (at most 64)")
        return v

    @field_validator("query")
    @classmethod
    def _query(cls, v: str) -> str:
        v = (v or "").strip()
        if not v:
            raise ValueError("must not be empty")
        return v

    _range = field_validator("start", "end")(
        lambda v: v if v is None else in_range(v))

    @staticmethod
    def _utc(v: date | datetime, end: bool = False) -> datetime:
        if isinstance(v, datetime):
            return v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v.astimezone(
                timezone.utc)
        day = v + timedelta(days=1) if end else v   # an end date is included in full
        return datetime.combine(day, time.min, tzinfo=timezone.utc)

    @property
    def start_at(self) -> datetime:
        return self._utc(self.start)

    @property
    def end_at(self) -> datetime | None:
        """Exclusive end, or None for "up to now"."""
        return None if self.end is None else self._utc(self.end, end=True)

    @model_validator(mode="after")
    def _order(self) -> "PressQueryConfig":
        if self.end_at is not None and self.end_at <= self.start_at:
            raise ValueError("end is before start")
        return self


class GdeltConfig(Strict):
    api_base_url: str = "https://api.gdeltproject.org/api/v2/doc/doc"
    enabled: bool = True
    volume: bool = True                   # also fetch timelinevolraw per query
    max_records: int = Field(250, ge=1, le=250)
    min_window_minutes: int = Field(15, ge=1, le=525_600)   # never split a window below this
    overlap_minutes: int = Field(60, ge=0, le=525_600)  # re-read this much before the window end
    min_interval_seconds: float = Field(5.0, ge=0, le=3600)  # GDELT asks for one every 5 s

    @field_validator("api_base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return http_url(v, "https://api.gdeltproject.org/api/v2/doc/doc").rstrip("/")


class PressConfig(Strict):
    """Press coverage: RSS/Atom feeds, GDELT DOC 2.0 queries, saved pages."""

    feeds: list[FeedConfig] = []
    gdelt: GdeltConfig = GdeltConfig()
    queries: list[PressQueryConfig] = []
    max_requests_per_run: int = Field(200, ge=1, le=10_000_000)
    timeout_seconds: float = Field(30, gt=0, le=3600)      # per socket read
    request_deadline_seconds: float = Field(120, gt=0, le=3600)   # per request, in all
    max_body_bytes: ByteSize = Field(ByteSize(10 << 20), gt=0)   # a bigger feed/page is cut
    max_retries: int = Field(3, ge=0, le=100)
    backoff_base_seconds: float = Field(1.0, ge=0, le=3600)
    backoff_max_seconds: float = Field(60, ge=0, le=86400)
    user_agent: str = "poll-denial-tracker (press coverage collector)"

    @field_validator("feeds")
    @classmethod
    def _unique_feeds(cls, v: list[FeedConfig]) -> list[FeedConfig]:
        names: set[str] = set()
        urls: set[str] = set()
        for i, f in enumerate(v):
            if f.name.lower() in names:
                raise ValueError(f"feeds[{i}].name: {f.name!r} is used twice")
            if f.url in urls:
                raise ValueError(f"feeds[{i}].url: {f.url!r} is listed twice")
            names.add(f.name.lower())
            urls.add(f.url)
        return v

    @field_validator("queries")
    @classmethod
    def _unique_queries(cls, v: list[PressQueryConfig]) -> list[PressQueryConfig]:
        seen: set[str] = set()
        for i, q in enumerate(v):
            if q.name in seen:
                raise ValueError(f"queries[{i}].name: {q.name!r} is used twice")
            seen.add(q.name)
        return v



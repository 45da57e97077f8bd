"""The press source's configuration: the `press:` section of config.yaml."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from pydantic import ByteSize, Field, field_validator, model_validator

from tracker.core.config import Strict, http_url, in_range
from tracker.sources.schedule import ScheduleTier, _tiers


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


def _domain(v: str) -> str:
    v = (v or "").strip().lower().rstrip(".")
    if v.startswith("www."):
        v = v[4:]
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", v):
        raise ValueError(f"{v!r} is not a domain such as bbc.co.uk")
    return v


class OutletConfig(Strict):
    """One publication: its display name, the domains it publishes on and other names it goes by
    (in feeds' <source> elements or pages' site names), all merged into ``name``."""

    name: str
    domains: list[str] = []
    aliases: list[str] = []

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = re.sub(r"\s+", " ", v or "").strip()
        if not v:
            raise ValueError("must not be empty")
        return v

    @field_validator("domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        return [_domain(d) for d in v]

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: list[str]) -> list[str]:
        return [a for a in (re.sub(r"\s+", " ", x or "").strip() for x in v) if a]


# Re-reads of a story's articles: often while fresh, then daily, then never (hours of age,
# counted from the article's publication time, else from when it was first seen).
DEFAULT_REFETCH_TIERS = [ScheduleTier(up_to_hours=6, every_hours=1),
                         ScheduleTier(up_to_hours=48, every_hours=6),
                         ScheduleTier(up_to_hours=168, every_hours=24)]


class RefetchConfig(Strict):
    """When the articles of an active story are fetched again to keep their versions."""

    enabled: bool = True
    schedule: list[ScheduleTier] = DEFAULT_REFETCH_TIERS
    max_per_run: int = Field(50, ge=0, le=100_000)     # article fetches per run, at most
    domains: list[str] = []          # only these registrable domains (empty: every domain)

    _ordered = field_validator("schedule")(_tiers)

    @field_validator("domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        return [_domain(d) for d in v]


class WaybackConfig(Strict):
    """Earlier versions of an article first seen late, from the Wayback Machine's CDX API."""

    enabled: bool = False
    base_url: str = "https://web.archive.org"
    late_after_hours: float = Field(2.0, ge=0, le=87_600)   # first seen this long after publication
    lookback_days: float = Field(7.0, gt=0, le=3650)   # captures from this long before publication
    max_articles_per_run: int = Field(10, ge=0, le=10_000)
    max_captures: int = Field(500, ge=1, le=100_000)       # CDX rows asked for (one request)
    max_versions: int = Field(5, ge=1, le=1000)            # mementos fetched per article
    min_interval_seconds: float = Field(1.5, ge=0, le=3600)   # between Wayback requests

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return http_url(v, "https://web.archive.org").rstrip("/")


class PressConfig(Strict):
    """Press coverage: RSS/Atom feeds, GDELT DOC 2.0 queries, saved pages."""

    feeds: list[FeedConfig] = []
    gdelt: GdeltConfig = GdeltConfig()
    queries: list[PressQueryConfig] = []
    outlets: list[OutletConfig] = []
    refetch: RefetchConfig = RefetchConfig()
    wayback: WaybackConfig = WaybackConfig()
    # where to send requests for a host instead (``{www.example.com: http://127.0.0.1:8080}``):
    # a mirror, a proxy or the local test server; the article keeps its own URL
    connect_to: dict[str, str] = {}
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

    @field_validator("connect_to")
    @classmethod
    def _connect_to(cls, v: dict[str, str]) -> dict[str, str]:
        return {h.strip().lower().rstrip("."): http_url(u, "http://127.0.0.1:8080").rstrip("/")
                for h, u in v.items()}

    @field_validator("outlets")
    @classmethod
    def _unique_outlets(cls, v: list[OutletConfig]) -> list[OutletConfig]:
        owner: dict[str, str] = {}
        for i, o in enumerate(v):
            for key in [*o.domains, *(a.lower() for a in o.aliases), o.name.lower()]:
                if owner.get(key, o.name) != o.name:
                    raise ValueError(f"outlets[{i}]: {key!r} already belongs to {owner[key]!r}")
                owner[key] = o.name
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



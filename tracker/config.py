"""config.yaml, validated by pydantic. Errors name the config path (``accounts[3].handle``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from datetime import date, datetime, time, timedelta, timezone

from pydantic import (BaseModel, ByteSize, ConfigDict, Field, ValidationError,
                      field_validator, model_validator)

from tracker.core.errors import ConfigError

HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")


class _Strict(BaseModel):
    # NaN and infinity are never a setting: `timeout_seconds: .inf` is refused, not run
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class StorageConfig(_Strict):
    database: Path = Path("data/tracker.duckdb")
    raw_dir: Path = Path("data/raw")
    # Read-only copy refreshed after every load; `tracker sql` and analysts read it.
    replica: Path | None = None
    lock_file: Path | None = None
    # DuckDB's memory while loading (its indexes and buffers; normalizing takes ~0.3 GB more);
    # null = DuckDB's default, 80% of RAM
    load_memory_limit: str | None = "384MB"

    @field_validator("load_memory_limit")
    @classmethod
    def _memory(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", v):
            raise ValueError(f"{v!r} is not a size such as 512MB or 2GB")
        return v


class XPricing(_Strict):
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


class ScheduleTier(_Strict):
    """Items younger than ``up_to_hours`` are re-read at most every ``every_hours`` (0: every
    run)."""

    up_to_hours: float = Field(gt=0, le=87_600)
    every_hours: float = Field(ge=0, le=8_760)


def _tiers(v: list[ScheduleTier]) -> list[ScheduleTier]:
    ages = [t.up_to_hours for t in v]
    if ages != sorted(ages) or len(set(ages)) != len(ages):
        raise ValueError("tiers must be in increasing order of up_to_hours")
    return v


# Re-reads that thin with age, in the spirit of NewsDiffs' re-check schedule: most replies and
# deletions come in the first hours.
DEFAULT_REPLY_TIERS = [ScheduleTier(up_to_hours=6, every_hours=0),
                       ScheduleTier(up_to_hours=24, every_hours=1),
                       ScheduleTier(up_to_hours=72, every_hours=3),
                       ScheduleTier(up_to_hours=168, every_hours=12)]
DEFAULT_DELETION_TIERS = [ScheduleTier(up_to_hours=6, every_hours=0),
                          ScheduleTier(up_to_hours=24, every_hours=2),
                          ScheduleTier(up_to_hours=72, every_hours=6),
                          ScheduleTier(up_to_hours=168, every_hours=24)]


class RepliesConfig(_Strict):
    """When a tracked post's conversation is searched for replies (x.replies)."""

    schedule: list[ScheduleTier] = DEFAULT_REPLY_TIERS
    # each search that found nothing new multiplies the spacing by this, up to max_quiet_factor
    quiet_factor: float = Field(2.0, ge=1, le=100)
    max_quiet_factor: float = Field(8.0, ge=1, le=1000)

    _ordered = field_validator("schedule")(_tiers)


class DeletionsConfig(_Strict):
    """When a tracked post is looked up again to see whether it still exists (x.deletions)."""

    schedule: list[ScheduleTier] = DEFAULT_DELETION_TIERS

    _ordered = field_validator("schedule")(_tiers)


class TimelinesConfig(_Strict):
    """How tracked accounts' new posts are read (x.timelines)."""

    # incremental reads of many accounts in one recent search (`from:ID OR from:ID …`); the
    # user timeline stays for backfill and for cursors older than the search window
    batch_search: bool = True
    # an account with no post for this many days is read at most every quiet_every_hours
    quiet_after_days: float = Field(7, gt=0, le=3650)
    quiet_every_hours: float = Field(6, ge=0, le=8_760)


class XConfig(_Strict):
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


class AccountConfig(_Strict):
    platform: Literal["x"] = "x"
    handle: str

    @field_validator("handle")
    @classmethod
    def _handle(cls, v: str) -> str:
        v = (v or "").strip().lstrip("@")
        if not v:
            raise ValueError("must not be empty")
        if not HANDLE_RE.match(v):
            raise ValueError(f"{v!r} is not a valid X handle (letters, digits, _; at most 15)")
        return v


ROLES = ("claimant", "subject", "other")


class ActorConfig(_Strict):
    platform: Literal["x"] = "x"
    handle: str
    role: Literal["claimant", "subject", "other"] = "other"

    _handle = field_validator("handle")(AccountConfig._handle.__func__)


# Times a story window, a press query or a stored timestamp may take: wide enough for any
# archive, narrow enough that every date computation (end + 1 day, a window's length) works.
EARLIEST = date(1990, 1, 1)
LATEST = date(2199, 12, 31)


def _in_range(v: date) -> date:
    d = v.date() if isinstance(v, datetime) else v
    if not EARLIEST <= d <= LATEST:
        raise ValueError(f"{v} is outside {EARLIEST} .. {LATEST}")
    return v


class WindowConfig(_Strict):
    start: date
    end: date

    _range = field_validator("start", "end")(_in_range)

    @model_validator(mode="after")
    def _order(self) -> "WindowConfig":
        if self.end < self.start:
            raise ValueError("end is before start")
        return self

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=timezone.utc)

    @property
    def end_at(self) -> datetime:
        """Exclusive: the end date is included in full."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=timezone.utc)


class StoryConfig(_Strict):
    """A story: the question, the words that find it, its time window and its actors."""

    id: str
    title: str
    query: str
    window: WindowConfig
    actors: list[ActorConfig] = []

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not re.match(r"^[a-z0-9][a-z0-9_-]{0,63}$", v or ""):
            raise ValueError("use lower-case letters, digits, '-' and '_' (at most 64)")
        return v

    @model_validator(mode="after")
    def _query(self) -> "StoryConfig":
        from tracker.core.storyquery import QuerySyntaxError, parse_query

        try:
            parse_query(self.query)
        except QuerySyntaxError as exc:
            raise ValueError(f"query of story {self.id!r} does not parse: {exc}") from None
        return self

    def role_of(self, handle: str) -> str | None:
        for a in self.actors:
            if a.handle.lower() == handle.lower():
                return a.role
        return None


class ScheduledJobConfig(_Strict):
    """One scheduled job: a standard 5-field cron expression, with cron's meaning."""

    cron: str

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        from tracker.core.cron import CronError, parse_cron

        try:
            parse_cron(v)
        except CronError as exc:
            raise ValueError(str(exc)) from None
        return v.strip()


class ScheduleConfig(_Strict):
    """When each job runs, for `tracker cron` and `tracker schedule` alike."""

    timezone: str = "UTC"
    misfire_grace_seconds: int = Field(300, ge=1, le=86400)
    jobs: dict[str, ScheduledJobConfig] = {}

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as UTC or "
                             "Europe/Paris)") from None
        return v

    @field_validator("jobs", mode="before")
    @classmethod
    def _known_jobs(cls, v: Any) -> Any:
        from jobs import JOBS

        if isinstance(v, dict):
            unknown = [k for k in v if k not in JOBS]
            if unknown:
                raise ValueError(f"unknown job {unknown[0]!r} (jobs: {', '.join(JOBS)})")
        return v

    @property
    def tzinfo(self):
        import zoneinfo

        return zoneinfo.ZoneInfo(self.timezone)


def _http_url(v: str, example: str) -> str:
    v = (v or "").strip()
    if not re.match(r"^https?://[^/\s]+\S*$", v):
        raise ValueError(f"must be an http(s) URL such as {example}")
    return v


class FeedConfig(_Strict):
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
        return _http_url(v, "https://feeds.example.com/rss")


class PressQueryConfig(_Strict):
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
        lambda v: v if v is None else _in_range(v))

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


class GdeltConfig(_Strict):
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
        return _http_url(v, "https://api.gdeltproject.org/api/v2/doc/doc").rstrip("/")


class PressConfig(_Strict):
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


class Config(_Strict):
    storage: StorageConfig = StorageConfig()
    x: XConfig = XConfig()
    accounts: list[AccountConfig] = []
    press: PressConfig = PressConfig()
    stories: list[StoryConfig] = []
    schedule: ScheduleConfig = ScheduleConfig()

    base_dir: Path = Path(".")
    source_path: Path | None = None

    @field_validator("stories")
    @classmethod
    def _unique_stories(cls, v: list[StoryConfig]) -> list[StoryConfig]:
        seen: set[str] = set()
        for i, story in enumerate(v):
            if story.id in seen:
                raise ValueError(f"stories[{i}].id: {story.id!r} is used twice")
            seen.add(story.id)
        return v

    def story(self, story_id: str) -> StoryConfig:
        for s in self.stories:
            if s.id == story_id:
                return s
        known = ", ".join(s.id for s in self.stories) or "none configured"
        raise ConfigError(f"stories: no story {story_id!r} (known: {known})")

    @field_validator("accounts")
    @classmethod
    def _unique(cls, v: list[AccountConfig]) -> list[AccountConfig]:
        seen: set[str] = set()
        for i, acc in enumerate(v):
            key = acc.handle.lower()
            if key in seen:
                raise ValueError(f"accounts[{i}]: handle {acc.handle!r} is listed twice")
            seen.add(key)
        return v

    def path(self, p: Path) -> Path:
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def database(self) -> Path:
        return self.path(self.storage.database)

    @property
    def raw_dir(self) -> Path:
        return self.path(self.storage.raw_dir)

    @property
    def replica(self) -> Path:
        if self.storage.replica:
            return self.path(self.storage.replica)
        db = self.database
        return db.with_name(db.stem + ".read" + db.suffix)

    @property
    def lock_file(self) -> Path:
        if self.storage.lock_file:
            return self.path(self.storage.lock_file)
        return self.database.with_name(".tracker.lock")


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", str(part)):
            out += ("." if out else "") + str(part)
        else:                      # a key with spaces, dots or colons: quoted, not ambiguous
            out += f"[{str(part)!r}]"
    return out or "(top level)"


def _message(err: dict) -> str:
    msg = err.get("msg", "invalid")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err.get("type") == "extra_forbidden":
        msg = "unknown key (check the spelling against the README's config reference)"
    return msg


def parse_config(data: Any, *, base_dir: Path = Path("."), source: str = "config") -> Config:
    """Validate a parsed YAML document; raise ConfigError naming the first bad path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        lines = [f"{_loc(e['loc'])}: {_message(e)}" for e in exc.errors()]
        raise ConfigError(f"{source}: " + "; ".join(lines)) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a configuration") from None
    cfg.base_dir = base_dir
    for where, path, want_dir in (("storage.raw_dir", cfg.raw_dir, True),
                                  ("storage.database", cfg.database, False),
                                  ("storage.replica", cfg.replica, False)):
        if path.exists() and path.is_dir() != want_dir:
            raise ConfigError(f"{source}: {where}: {path} is a "
                              f"{'file' if want_dir else 'folder'}; it must name a "
                              f"{'folder' if want_dir else 'file'}")
    return cfg


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML keeps the last one
    silently: `x:` written twice would drop the first section's settings)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                continue              # the base constructor reports unhashable keys
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (first on line {seen[key]})",
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


MAX_CONFIG_BYTES = 16 << 20


def load_config(path: str | Path) -> Config:
    """Read and validate config.yaml. Relative storage paths are relative to the file's folder."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found (pass --config PATH)")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the config file: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{p}: {len(raw):,} bytes is not a config file (more than 16 MB)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{p}: line {line}: not UTF-8 text (is it a binary file?)") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{p}:{where}: invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{p}: invalid YAML: nested too deeply to read") from None
    cfg = parse_config(data, base_dir=p.resolve().parent, source=str(p))
    cfg.source_path = p.resolve()
    return cfg

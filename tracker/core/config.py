"""The configuration's common parts: its base sections, their validation, reading config.yaml.

Each source adds its own section (tracker/config.py composes them from the registry). Errors name
the config path (``accounts[3].handle``), the file and, for YAML errors, the line.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tracker.core.cron import CronError, parse_cron
from tracker.core.errors import ConfigError
from tracker.core.storyquery import QuerySyntaxError, parse_query


class Strict(BaseModel):
    # NaN and infinity are never a setting: `timeout_seconds: .inf` is refused, not run
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# The DuckDB storage versions the tracker writes, with the readers that open each (each checked
# with those readers: docs/duckdb-versions.md). v1.3.0 is not offered: DuckDB 1.3.2 reads NULL
# for values a newer DuckDB wrote in that format.
STORAGE_VERSIONS = {
    "v1.0.0": "DuckDB 1.1.0 and newer (every 1.x from 1.1, 2.x), CLI and Python alike",
    "v1.2.0": "DuckDB 1.2.0 and newer",
    "v1.4.0": "DuckDB 1.4.0 and newer",
    "v1.5.0": "DuckDB 1.5.0 and newer",
    "latest": "only the installed DuckDB's version and newer (2.x: no 1.x reader)",
}
DEFAULT_STORAGE_VERSION = "v1.0.0"


class StorageConfig(Strict):
    database: Path = Path("data/tracker.duckdb")
    raw_dir: Path = Path("data/raw")
    # Read-only copy refreshed after every load; `tracker sql` and analysts read it.
    replica: Path | None = None
    lock_file: Path | None = None
    # DuckDB's memory while loading (its indexes and buffers; normalizing takes ~0.3 GB more);
    # null = DuckDB's default, 80% of RAM
    load_memory_limit: str | None = "384MB"
    # The DuckDB storage version of the files the tracker writes whole (a new database, a
    # rebuild, the replica): one of STORAGE_VERSIONS; the default opens in DuckDB 1.1 and newer
    duckdb_storage_version: str = DEFAULT_STORAGE_VERSION
    # A folder of Parquet files (the export's Hive layout) that each load extends with the rows
    # it added or changed (tracker/store/lake.py, docs/lake.md); null = no lake
    lake_dir: Path | None = None

    @field_validator("duckdb_storage_version")
    @classmethod
    def _storage_version(cls, v: str) -> str:
        if v in STORAGE_VERSIONS:
            return v
        if str(v).startswith("v1.3"):
            raise ValueError(f"{v!r} is not offered: DuckDB 1.3 misreads files a newer DuckDB "
                             "writes in that format; use v1.2.0 (or v1.0.0) for 1.3 readers")
        raise ValueError(f"{v!r} is not one of {', '.join(STORAGE_VERSIONS)} "
                         "(v1.0.0 opens in every DuckDB from 1.1 on)")

    @field_validator("load_memory_limit")
    @classmethod
    def _memory(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", v):
            raise ValueError(f"{v!r} is not a size such as 512MB or 2GB")
        return v


def http_url(v: str, example: str) -> str:
    v = (v or "").strip()
    if not re.match(r"^https?://[^/\s]+\S*$", v):
        raise ValueError(f"must be an http(s) URL such as {example}")
    return v


class AccountConfig(Strict):
    """A tracked account: its platform (a registered source's; omitted: the first registered
    platform's) and its handle there, checked by that source once the whole configuration is
    read."""

    platform: str | None = None
    handle: str

    @field_validator("handle")
    @classmethod
    def _handle(cls, v: str) -> str:
        v = (v or "").strip().lstrip("@")
        if not v:
            raise ValueError("must not be empty")
        return v


ROLES = ("claimant", "subject", "other")


class IdentityConfig(Strict):
    """One account of a story's actor: its platform (omitted: the first registered platform's)
    and its handle there, checked by that platform's source once the configuration is read."""

    platform: str | None = None
    handle: str

    _handle = field_validator("handle")(AccountConfig._handle.__func__)


class ActorConfig(Strict):
    """A person (or institution) in a story, with a role and one or more identities:

    - ``{name: "Elon Musk", role: subject, identities: [{platform: x, handle: elonmusk},
      {platform: bluesky, handle: elon.bsky.social}]}`` — one person on several platforms;
    - ``{platform: x, handle: elonmusk, role: subject}`` — the single-identity form (``name``
      optional), the same as one identity.

    ``person`` is what the analysis groups by: the name, else the first identity's handle."""

    name: str | None = None
    role: Literal["claimant", "subject", "other"] = "other"
    identities: list[IdentityConfig] = []
    platform: str | None = None
    handle: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = " ".join(str(v).split())
        if not v:
            raise ValueError("must not be empty (leave name out to use the handle)")
        if len(v) > 200:
            raise ValueError("is longer than 200 characters")
        return v

    @field_validator("handle")
    @classmethod
    def _handle(cls, v: str | None) -> str | None:
        return None if v is None else AccountConfig._handle.__func__(cls, v)

    @model_validator(mode="after")
    def _one_form(self) -> "ActorConfig":
        if self.identities:
            if self.handle is not None or self.platform is not None:
                raise ValueError("give either identities or platform and handle, not both")
        elif self.handle is None:
            raise ValueError("give a handle (with its platform), or identities: "
                             "[{platform, handle}, ...]")
        return self

    @property
    def accounts(self) -> list[IdentityConfig]:
        """The actor's identities (the single-identity form as one)."""
        if self.identities:
            return self.identities
        return [IdentityConfig.model_construct(platform=self.platform, handle=self.handle)]

    @property
    def person(self) -> str:
        return self.name or self.accounts[0].handle


# Times a story window, a press query or a stored timestamp may take: wide enough for any
# archive, narrow enough that every date computation (end + 1 day, a window's length) works.
EARLIEST = date(1990, 1, 1)
LATEST = date(2199, 12, 31)


def in_range(v: date) -> date:
    d = v.date() if isinstance(v, datetime) else v
    if not EARLIEST <= d <= LATEST:
        raise ValueError(f"{v} is outside {EARLIEST} .. {LATEST}")
    return v


class WindowConfig(Strict):
    start: date
    end: date

    _range = field_validator("start", "end")(in_range)

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


class StoryConfig(Strict):
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
        try:
            parse_query(self.query)
        except QuerySyntaxError as exc:
            raise ValueError(f"query of story {self.id!r} does not parse: {exc}") from None
        return self

    def role_of(self, handle: str, platform: str | None = None) -> str | None:
        for a in self.actors:
            for ident in a.accounts:
                if ident.handle.lower() == handle.lower() and platform in (None,
                                                                          ident.platform):
                    return a.role
        return None


class ScheduledJobConfig(Strict):
    """One scheduled job: a standard 5-field cron expression, with cron's meaning."""

    cron: str

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        try:
            parse_cron(v)
        except CronError as exc:
            raise ValueError(str(exc)) from None
        return v.strip()


class ScheduleConfig(Strict):
    """When each job runs, for `tracker cron` and `tracker schedule` alike."""

    timezone: str = "UTC"
    misfire_grace_seconds: int = Field(300, ge=1, le=86400)
    # a scheduled job that finds another run holding the lock waits this long before giving
    # up (exit 3); manual commands never wait
    lock_wait_seconds: int = Field(120, ge=0, le=3600)
    jobs: dict[str, ScheduledJobConfig] = {}

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as UTC or "
                             "Europe/Paris)") from None
        return v

    @property
    def tzinfo(self):
        return zoneinfo.ZoneInfo(self.timezone)


class BaseConfig(Strict):
    """The sections every installation has; tracker/config.py adds each source's section."""

    storage: StorageConfig = StorageConfig()
    accounts: list[AccountConfig] = []
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

    def accounts_on(self, platform: str) -> list[AccountConfig]:
        return [a for a in self.accounts if a.platform == platform]

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


def loc_text(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", str(part)):
            out += ("." if out else "") + str(part)
        else:                      # a key with spaces, dots or colons: quoted, not ambiguous
            out += f"[{str(part)!r}]"
    return out or "(top level)"


def message_text(err: dict) -> str:
    msg = err.get("msg", "invalid")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err.get("type") == "extra_forbidden":
        msg = "unknown key (check the spelling against docs/configuration.md)"
    return msg


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


def read_yaml(path: str | Path) -> Any:
    """config.yaml's parsed document; ConfigError naming the file (and line) if unreadable."""
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
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{p}:{where}: invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{p}: invalid YAML: nested too deeply to read") from None


# Jobs the tracker runs itself, beside the sources' (name -> its line in the shipped schedule).
OWN_JOBS = {"analyze": "57 * * * *"}

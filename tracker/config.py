"""config.yaml, validated by pydantic. Errors name the config path (``accounts[3].handle``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from datetime import date, datetime, time, timedelta, timezone

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

from .errors import ConfigError

HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageConfig(_Strict):
    database: Path = Path("data/tracker.duckdb")
    raw_dir: Path = Path("data/raw")
    # Read-only copy refreshed after every load; `tracker sql` and analysts read it.
    replica: Path | None = None
    lock_file: Path | None = None


class XConfig(_Strict):
    api_base_url: str = "https://api.x.com"
    bearer_token_env: str = "X_BEARER_TOKEN"
    max_requests_per_run: int = Field(100, ge=1)
    replies_window_days: int = Field(7, ge=0)
    deletion_check_days: int = Field(7, ge=0)
    backfill_max_posts: int = Field(3200, ge=0)
    page_size: int = Field(100, ge=5, le=100)
    max_rate_limit_wait_seconds: float = Field(900, ge=0)
    max_retries: int = Field(4, ge=0)
    backoff_base_seconds: float = Field(1.0, ge=0)
    backoff_max_seconds: float = Field(60, ge=0)
    timeout_seconds: float = Field(30, gt=0)

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


class WindowConfig(_Strict):
    start: date
    end: date

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
        from .analysis.query import QuerySyntaxError, parse_query

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


class Config(_Strict):
    storage: StorageConfig = StorageConfig()
    x: XConfig = XConfig()
    accounts: list[AccountConfig] = []
    # Sections owned by later work (press, stories, schedule); accepted and kept as given.
    press: dict[str, Any] | None = None
    stories: list[StoryConfig] = []
    schedule: dict[str, Any] | None = None

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
        else:
            out += ("." if out else "") + str(part)
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
    cfg.base_dir = base_dir
    return cfg


def load_config(path: str | Path) -> Config:
    """Read and validate config.yaml. Relative storage paths are relative to the file's folder."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found (pass --config PATH)")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{p}:{where}: invalid YAML: {problem}") from None
    cfg = parse_config(data, base_dir=p.resolve().parent, source=str(p))
    cfg.source_path = p.resolve()
    return cfg

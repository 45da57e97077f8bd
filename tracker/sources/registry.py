"""The one list of sources. Adding a platform is its folder and one line in ``SOURCES``.

Everything that needs to know what exists reads it: the loader (how to read each raw page,
``REGISTRY`` is its PageReader), the runner and `tracker run` (the jobs), the CLI (each source's
commands), the scheduler and `tracker cron` (the scheduled jobs), `tracker cost` (each source's
cost model), secret redaction (each source's secret variables) and config validation (each
source's section, platform and handle rule).
"""

from __future__ import annotations

from typing import Callable

from tracker.core.errors import ConfigError
from tracker.core.logs import add_default_secret_env
from tracker.sources.analyst.source import SOURCE as ANALYST
from tracker.sources.base import Job, Source
from tracker.sources.bluesky.source import SOURCE as BLUESKY
from tracker.sources.mastodon.source import SOURCE as MASTODON
from tracker.sources.press.source import SOURCE as PRESS
from tracker.sources.x.imports.source import SOURCE as X_IMPORTS
from tracker.sources.x.source import SOURCE as X
from tracker.store.rows import Rows

SOURCES: list[Source] = [X, X_IMPORTS, BLUESKY, MASTODON, PRESS, ANALYST]

_NO_BATCH = (1 << 62, 1 << 62)


class Registry:
    """Lookups over ``SOURCES`` (read afresh each time: a test may add a source)."""

    def __init__(self, sources: list[Source]):
        self.sources = sources

    def problems(self) -> list[str]:
        """What the registered sources lack of the protocol, and names used twice."""
        out = [p for s in self.sources for p in s.problems()]
        names = [n for s in self.sources for n in (s.name, *s.raw_names)]
        out += [f"raw source name {n!r} is used twice" for n in sorted(set(names))
                if names.count(n) > 1]
        sections = [s.section for s in self.sources if s.section]
        out += [f"config section {n!r} is claimed twice" for n in sorted(set(sections))
                if sections.count(n) > 1]
        return out

    def register(self, source: Source) -> None:
        """Add a source (a plugin, a test's toy source); refuses an incomplete one."""
        trial = Registry([*self.sources, source])
        if trial.problems():
            raise ConfigError("; ".join(trial.problems()))
        self.sources.append(source)
        add_default_secret_env(*Registry([source]).default_secret_env())

    # ---- what exists --------------------------------------------------------------------
    def named(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def writing(self, raw_source: str) -> Source | None:
        """The source whose raw records carry this ``source`` name."""
        return next((s for s in self.sources if s.writes(raw_source)), None)

    def platforms(self) -> dict[str, Source]:
        """platform -> the source that collects its accounts."""
        out: dict[str, Source] = {}
        for s in self.sources:
            if s.platform and s.handle and s.platform not in out:
                out[s.platform] = s
        return out

    def sections(self) -> dict[str, Source]:
        return {s.section: s for s in self.sources if s.section}

    def jobs(self) -> list[tuple[Source, Job]]:
        return [(s, j) for s in self.sources for j in s.jobs]

    def scheduled_jobs(self) -> list[tuple[Source, Job]]:
        return [(s, j) for s, j in self.jobs() if j.scheduled]

    def job(self, name: str, source: str | None = None) -> tuple[Source, Job]:
        """The job ``name`` of ``source`` (of the first source that has it if None)."""
        for s, j in self.jobs():
            if j.name == name and (source is None or s.name == source):
                return s, j
        known = ", ".join(sorted({j.name for _, j in self.jobs()}))
        whose = f" of source {source!r}" if source else ""
        raise ConfigError(f"unknown job {name!r}{whose} (jobs: {known})")

    def default_secret_env(self) -> tuple[str, ...]:
        """The secret variables' names each source uses when its section says nothing."""
        names: list[str] = []
        for s in self.sources:
            try:
                names += [n for n in s.secrets(s.config() if s.config else None)
                          if n not in names]
            except Exception:              # noqa: BLE001 - a protocol problem, reported there
                continue
        return tuple(names)

    def secret_env(self, cfg) -> tuple[str, ...]:
        """The names of the environment variables holding any source's secrets."""
        names: list[str] = []
        for s in self.sources:
            section = getattr(cfg, s.section, None) if s.section else None
            if s.section and section is None:
                continue
            names += [n for n in s.secrets(section) if n not in names]
        return tuple(names)

    # ---- the loader's PageReader -------------------------------------------------------
    def normalize(self, record: dict) -> Rows:
        source = self.writing(record.get("source") or "")
        if source is None:
            raise KeyError(f"no source writes {record.get('source')!r} pages")
        return source.normalize(record)

    def cursor_rank(self, source: str) -> Callable[[dict], tuple] | None:
        s = self.writing(source)
        return s.cursor_rank if s else None

    def batch_size(self, record: dict) -> int | None:
        s = self.writing(record.get("source") or "")
        return s.batch.size(record) if s is not None and s.batch is not None else None

    def batch_bytes(self, source: str | None) -> tuple[int, int]:
        s = self.writing(source or "")
        return s.batch.bytes() if s is not None and s.batch is not None else _NO_BATCH

    def batch_pack(self, record: dict) -> dict:
        s = self.writing(record.get("source") or "")
        pack = getattr(s.batch, "pack", None) if s is not None and s.batch else None
        return pack(record) if pack is not None else record

    def normalize_batch(self, records: list[dict]) -> list[tuple]:
        s = self.writing(records[0].get("source") or "")
        assert s is not None and s.batch is not None
        return s.batch.normalize(records)

    def read_ahead(self, rel: str) -> bool:
        s = self.writing(rel.split("/", 1)[0])
        return bool(s and s.read_ahead)


REGISTRY = Registry(SOURCES)
add_default_secret_env(*REGISTRY.default_secret_env())

"""What a source is: the one interface every platform (and every other origin of rows) fills in.

A source is one folder under ``tracker/sources/`` with a ``SOURCE`` declaration; the registry
lists them. The rest of the tracker (the runner, the loader, the CLI, the scheduler, `tracker
cost`, secret redaction, config validation) knows sources only through these fields:

- ``name``: the ``source`` written in raw records and ``runs`` (and ``raw_names`` when a source
  writes several, e.g. ``import-<name>``);
- ``platform``: the ``platform`` of the posts and accounts it collects (None: none);
- ``section``/``config``: its section of config.yaml and the pydantic model that validates it;
- ``secrets``: the names of the environment variables that hold its secrets (every command
  redacts their values);
- ``normalize``: a pure ``normalize(page record) -> Rows``; optionally ``batch`` (many pages at
  once, the same rows) and ``cursor_rank`` (how its cursors are ordered by what they cover);
- ``jobs``: what it runs, each a body the generic runner calls with the raw writer, the run's
  context (config, clock, the plan) and the run result;
- ``plan``: what is due, read from the stored state before a run (None: nothing to plan);
- ``cli``: registers its commands on the `tracker` command group;
- ``cost``: its share of `tracker cost` (per job: requests, reads, dollars) or None (free);
- ``handle``: validates an account handle of its platform (None: it has no accounts);
- ``active``: whether a configuration gives it anything to do (its accounts, its feeds).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from tracker.core.errors import ConfigError, RunStopped, SourceError, TrackerError
from tracker.store.rows import Rows

log = logging.getLogger("tracker.sources")


@dataclass(frozen=True)
class Job:
    """One thing a source runs: a scheduled job (`tracker run NAME`) or a command's run.

    The runner calls ``precheck(cfg, options)`` before anything is written (a token is set,
    the inputs exist), then ``body(raw, ctx, result)``; ``ctx.options`` holds the run's options
    (the command line's, e.g. which accounts). ``session(cfg, options)`` is entered around the
    whole run, load included (an import follows its pages being loaded); ``raw_source(options)``
    names the run's raw folder when it is not the source's name.
    """

    name: str                              # as in schedule.jobs and runs.job
    kind: str                              # "posts", "replies", "polls", "deletions", "press"…
    body: Callable[[Any, Any, Any], None]  # (raw writer, context, result)
    doc: str                               # one line for `tracker run --help` and the docs
    scheduled: bool = True                 # False: run by a command only (an import)
    default_cron: str | None = None        # its line in the shipped schedule
    precheck: Callable[[Any, dict], None] | None = None
    session: Callable[[Any, dict], Any] | None = None
    raw_source: Callable[[dict], str] | None = None


class BatchNormalizer(Protocol):
    """Many pages of one source normalized at once, with the same rows as one by one."""

    def size(self, record: dict) -> int | None: ...

    def bytes(self) -> tuple[int, int]: ...

    def pack(self, record: dict) -> dict:
        """The page as it waits for its batch (smaller, in place; optional)."""
        ...

    def normalize(self, records: list[dict]) -> list[tuple[dict, Rows | None,
                                                           Exception | None]]: ...


@dataclass(frozen=True)
class Source:
    name: str
    platform: str | None
    section: str | None
    config: type | None
    secrets: Callable[[Any], tuple[str, ...]]       # (its config section) -> env var names
    normalize: Callable[[dict], Rows]
    jobs: tuple[Job, ...]
    cli: Callable[[Any], None] | None
    cost: Callable[..., list] | None
    plan: Callable[..., Any] | None = None          # (con, cfg, now, options) -> plan
    plan_pending: Callable[..., None] | None = None  # (plan, raw_dir, waiting files)
    cursor_rank: Callable[[dict], tuple] | None = None
    batch: BatchNormalizer | None = None
    read_ahead: bool = False               # its collected raw files may be read ahead
    raw_names: tuple[str, ...] = ()        # more `source` names in raw (prefixes end in "-")
    handle: Callable[[str], str] | None = None       # validates an account handle
    docs: str = ""                         # what it collects, for the platform table
    # whether this configuration gives it anything to do (accounts on its platform, feeds);
    # None: always. `tracker run JOB` runs the job of every source that is active.
    active: Callable[[Any], bool] | None = None

    def writes(self, raw_source: str) -> bool:
        """Whether a raw record's ``source`` is this source's."""
        if raw_source == self.name:
            return True
        return any(raw_source == n or (n.endswith("-") and raw_source.startswith(n))
                   for n in self.raw_names)

    def job(self, name: str) -> Job | None:
        return next((j for j in self.jobs if j.name == name), None)

    def problems(self) -> list[str]:
        """What this source lacks of the protocol (empty: it is complete)."""
        out: list[str] = []

        def need(ok: bool, what: str) -> None:
            if not ok:
                out.append(f"source {self.name or '?'}: {what}")

        need(bool(self.name) and self.name == self.name.strip(), "needs a name")
        need(callable(self.normalize), "normalize must be callable")
        need(callable(self.secrets), "secrets must be callable (section -> env var names)")
        need(self.cli is None or callable(self.cli), "cli must register commands or be None")
        need(self.cost is None or callable(self.cost), "cost must be callable or None (free)")
        need((self.section is None) == (self.config is None),
             "a config section needs its model, and a model its section")
        section = None
        if self.config is not None:
            try:
                section = self.config()
            except Exception as exc:           # noqa: BLE001 - reported, not raised
                need(False, f"its config model needs defaults for every setting ({exc})")
        try:
            names = self.secrets(section)
            need(isinstance(names, tuple) and all(isinstance(n, str) and n for n in names),
                 "secrets must return a tuple of environment variable names")
        except Exception as exc:               # noqa: BLE001
            need(False, f"secrets fails on the default section ({exc})")
        need(all(isinstance(j, Job) for j in self.jobs), "every job must be a Job")
        names = [j.name for j in self.jobs]
        need(len(set(names)) == len(names), "job names must be unique")
        for j in self.jobs:
            need(callable(j.body), f"job {j.name}: body must be callable")
            need(bool(j.doc), f"job {j.name}: needs a one-line doc")
            need(not j.scheduled or bool(j.default_cron),
                 f"job {j.name}: a scheduled job needs its default_cron")
        if self.platform is not None and any(j.scheduled for j in self.jobs):
            need(callable(self.handle), "a platform collected on a schedule must validate "
                 "its accounts' handles (handle)")
            need(callable(self.plan), "a platform collected on a schedule needs a plan")
            need(self.section is not None, "a platform collected on a schedule needs a "
                 "config section")
            need(self.cli is not None, "a platform collected on a schedule needs commands")
        need(all(isinstance(n, str) and n for n in self.raw_names), "raw_names must be names")
        need(bool(self.docs), "needs a one-line description (docs)")
        return out


class ScopeFailures:
    """One failing scope (an account, a conversation, a feed) never costs the others.

    ``with failures.scope("timeline @alice"): ...`` records a TrackerError (an odd answer, a
    server that gave up) and goes on; a stop (budget, rate limit) and a config error still end
    the run. ``finish()`` then fails the run naming every scope that failed.
    """

    def __init__(self) -> None:
        self.items: list[str] = []

    @contextmanager
    def scope(self, what: str) -> Iterator[None]:
        try:
            yield
        except (RunStopped, ConfigError):
            raise
        except TrackerError as exc:
            self.items.append(f"{what}: {exc}")
            log.error("%s failed (the other scopes go on): %s", what, exc)

    def finish(self) -> None:
        if self.items:
            raise SourceError(f"{len(self.items)} failed (the rest was collected): "
                              + "; ".join(self.items))

"""The generic runner: lock, plan, collect into raw, load, refresh the replica, record.

Every job, whether run by hand, by cron or by the scheduler, goes through ``run`` (a source's
job, by name) or ``execute`` (any body), so the same rules hold everywhere: one writer at a
time, raw first, the database held only for the short load, a database that cannot be written
never blocks collection, and every run ends in ``runs``. It knows no platform: a source says
what its jobs plan and read (tracker/sources/base.py).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

import duckdb

from tracker.core.errors import (ConfigError, DatabaseDamaged, DatabaseUnavailable, RunStopped,
                                 StorageError, TrackerError)
from tracker.core.lock import RunLock
from tracker.core.logs import redact
from tracker.core.timeutil import iso, utcnow
from tracker.runs.load import load_now
from tracker.sources.base import Source
from tracker.sources.registry import REGISTRY
from tracker.store.db import damaged, first_readable, open_db, refresh_replica
from tracker.store.loader import load_pending, loaded_files
from tracker.store.pending import pending_cursors
from tracker.store.raw import RawWriter, list_raw_files

log = logging.getLogger("tracker.run")


@dataclass
class RunResult:
    run_id: str
    job: str
    status: str = "ok"                 # ok | stopped | failed
    stop_reason: str | None = None
    error: str | None = None
    requests: int = 0
    pages: int = 0
    posts_read: int = 0
    load_state: str = "loaded"         # loaded | pending_load | load_failed
    load_note: str | None = None       # why the load waits (busy, damaged), or a replica failure
    new_rows: int = 0
    updated_rows: int = 0
    quarantined: int = 0
    raw_file: str | None = None
    by_purpose: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)      # job-specific figures (e.g. per story)
    tables: dict = field(default_factory=dict)       # table -> [rows read, new, updated]

    database_damaged: bool = False     # the pages wait in raw until `tracker rebuild`

    @property
    def exit_code(self) -> int:
        code = {"ok": 0, "stopped": RunStopped.exit_code}.get(self.status, 1)
        if code == 0 and self.database_damaged:
            return DatabaseDamaged.exit_code
        return code


@dataclass
class Context:
    """What a job's body gets: config, the run's clock and options, and the plan its source read
    from what is already stored."""

    cfg: Any
    now: datetime
    plan: Any
    busy_at_start: bool
    cursors: dict[tuple[str, str], dict] = field(default_factory=dict)  # (source, scope)
    options: dict = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = utcnow

    def cursor(self, source: str, scope: str) -> dict | None:
        return self.cursors.get((source, scope))

    def absorb(self, stats, result: "RunResult") -> None:
        """Copy a fetcher's request counts into the run result."""
        result.requests += stats.requests
        result.pages += stats.pages
        result.posts_read += stats.posts_read
        for k, v in stats.by_purpose.items():
            result.by_purpose[k] = result.by_purpose.get(k, 0) + v

    def stored(self, platform: str, post_ids: list[str]) -> set[str]:
        """Which of these posts the database (or, while it is busy, its replica) holds."""
        if not post_ids:
            return set()
        with first_readable(self.cfg.database, self.cfg.replica) as con:
            if con is None:
                return set()
            return {r[0] for r in con.execute(
                "SELECT post_id FROM posts WHERE platform = ? AND post_id IN "
                "(SELECT unnest(?::VARCHAR[]))", [platform, post_ids]).fetchall()}


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(2)


def _prepare(cfg, now: datetime, planner: Source | None, options: dict) -> Context:
    """Load what is pending, then read the plan; from the replica (and the pages waiting in
    raw) if the database cannot be written (busy, or damaged: collection goes on either way)."""
    def from_con(con, busy: bool) -> Context:
        plan = (planner.plan(con, cfg, now, options)
                if planner is not None and planner.plan is not None else None)
        cursors = {}
        if con is not None:
            cursors = {(src, scope): json.loads(c) for src, scope, c in con.execute(
                "SELECT source, scope, cursor FROM sync_state").fetchall()}
        return Context(cfg, now, plan, busy, cursors, options)

    def without_database(exc: DatabaseUnavailable) -> Context:
        log.warning("database %s at start (%s); planning from the read-only replica",
                    exc.reason, exc)
        con = None
        if cfg.replica.exists():
            try:
                con = open_db(cfg.replica, read_only=True)
            except TrackerError:
                con = None
        try:
            ctx = from_con(con, True)
            done = loaded_files(con) if con else set()
        finally:
            if con:
                con.close()
        waiting = [f for f in list_raw_files(cfg.raw_dir) if f not in done]
        ctx.cursors.update(pending_cursors(cfg.raw_dir, waiting))
        if planner is not None and planner.plan_pending is not None and ctx.plan is not None:
            mine = {scope: c for (src, scope), c in ctx.cursors.items()
                    if planner.writes(src)}
            planner.plan_pending(ctx.plan, mine, cfg.raw_dir, waiting)
        return ctx

    try:
        con = open_db(cfg.database, storage_version=cfg.storage.duckdb_storage_version)
    except DatabaseUnavailable as exc:
        return without_database(exc)
    try:
        loaded = load_pending(con, cfg.raw_dir, REGISTRY,
                              memory_limit=cfg.storage.load_memory_limit)
        ctx = from_con(con, False)
    except (duckdb.Error, OSError) as exc:
        broken = damaged(cfg.database, exc)
        if broken is None:
            raise StorageError(f"cannot write the database {cfg.database}: "
                               f"{str(exc).splitlines()[0]}; nothing was collected") from None
        con.close()
        con = None
        return without_database(broken)
    finally:
        if con is not None:
            con.close()
    if loaded.files:
        try:
            refresh_replica(cfg.database, cfg.replica, cfg.storage.duckdb_storage_version)
        except StorageError as exc:
            log.error("%s", exc)      # analysts read an older copy meanwhile; collection goes on
    return ctx


def sanitize(text: str, cfg) -> str:
    """Text without the values of any source's secret environment variables."""
    for name in REGISTRY.secret_env(cfg):
        token = os.environ.get(name)
        if token and token.strip() and token.strip() in text:
            text = text.replace(token.strip(), "[REDACTED]")
    return text


def error_summary(exc: BaseException, cfg, frames: int = 4) -> str:
    """``Type: message (at file:line in func < …)``: the last frames, innermost first, no secrets.

    What ``runs.error`` keeps of an unexpected exception: enough to find the bug at 3 a.m.
    without a debugger, on one line.
    """
    where = []
    for fr in reversed(traceback.extract_tb(exc.__traceback__)[-frames:]):
        parts = fr.filename.replace("\\", "/").split("/")
        for root in ("tracker", "tracker_jobs", "jobs", "tests"):
            if root in parts:
                parts = parts[len(parts) - 1 - parts[::-1].index(root):]
                break
        else:
            parts = parts[-2:]
        where.append(f"{'/'.join(parts)}:{fr.lineno} in {fr.name}")
    text = f"{type(exc).__name__}: {exc}"
    if where:
        text += f" (at {' < '.join(where)})"
    return redact(sanitize(text, cfg))[:2000]


Body = Callable[[RawWriter, Context, RunResult], None]


def execute(cfg, job: str, source: str, body: Body, *,
            precheck: Callable[[], None] | None = None, planner: Source | None = None,
            options: dict | None = None, lock_wait: float = 0,
            sleep: Callable[[float], None] = time.sleep, clock=utcnow) -> RunResult:
    """Run one job under the lock: plan, collect into raw, load, refresh the replica, record.

    ``source`` is what its raw file and its ``runs`` row say; ``planner`` the source whose plan
    the body reads; ``precheck`` runs before anything is written (e.g. the token is set).
    Raises LockHeld or ConfigError having written nothing; every other failure is recorded in
    ``runs``.
    """
    with RunLock(cfg.lock_file, wait_seconds=lock_wait, sleep=sleep):
        if precheck:
            precheck()
        now = clock()
        ctx = _prepare(cfg, now, planner, options or {})
        ctx.sleep, ctx.clock = sleep, clock
        run_id = new_run_id(now)
        raw = RawWriter(cfg.raw_dir, source, run_id, started=now)
        result = RunResult(run_id, job, raw_file=raw.relpath)
        raw.append({"type": "run_start", "job": job, "started_at": iso(now)})
        try:
            body(raw, ctx, result)
        except RunStopped as exc:
            result.status, result.stop_reason = "stopped", sanitize(str(exc), cfg)
        except ConfigError:
            raise
        except TrackerError as exc:
            result.status, result.error = "failed", sanitize(str(exc), cfg)
        except Exception as exc:  # recorded in runs; the CLI reports it as a failure
            result.status = "failed"
            result.error = error_summary(exc, cfg)
            log.debug("unexpected error:\n%s", sanitize(traceback.format_exc(), cfg))
        try:
            raw.append({"type": "run_end", "finished_at": iso(clock()), "status": result.status,
                        "stop_reason": result.stop_reason, "error": result.error,
                        "requests": result.requests, "posts_read": result.posts_read,
                        "by_purpose": result.by_purpose,
                        "deferred": result.details.get("deferred")})
        except StorageError as exc:   # the pages written so far load as a `crashed` run
            result.status, result.error = "failed", result.error or str(exc)
        try:
            loaded = load_now(cfg)
            if loaded.replica_error:
                # the load committed: only analysts' copy is older (it is refreshed next time)
                result.load_note = loaded.replica_error
            mine = [f for f in loaded.files if f.path == raw.relpath]
            if mine:
                result.new_rows, result.updated_rows = mine[0].new_rows, mine[0].updated_rows
                result.quarantined = mine[0].quarantined
                result.tables = mine[0].by_table
            for f in loaded.failed:
                log.error("raw file %s could not be loaded (kept in raw; `tracker load "
                          "--retry-failed` after a fix): %s", f.path, f.error)
                if f.path == raw.relpath:
                    result.load_state, result.status = "load_failed", "failed"
                    result.error = sanitize(f"load failed (pages are safe in raw): {f.error}",
                                             cfg)
        except DatabaseUnavailable as exc:
            try:
                raw.append({"type": "load_deferred", "at": iso(clock()), "reason": exc.reason,
                            "detail": sanitize(str(exc), cfg)})
            except StorageError:
                pass
            result.load_state = "pending_load"
            result.load_note = sanitize(str(exc), cfg)
            result.database_damaged = isinstance(exc, DatabaseDamaged)
        except Exception as exc:
            result.load_state = "load_failed"
            result.status = "failed"
            first = f"{result.error}; then " if result.error else ""   # keep the first cause
            result.error = sanitize(f"{first}load failed (pages are safe in raw): {exc}", cfg)
        log.info("run %s job=%s status=%s requests=%d pages=%d posts_read=%d new=%d "
                 "updated=%d load=%s", run_id, job, result.status, result.requests,
                 result.pages, result.posts_read, result.new_rows, result.updated_rows,
                 result.load_state)
        return result


def run(cfg, job: str, *, source: str | None = None, lock_wait: float = 0,
        sleep: Callable[[float], None] = time.sleep, clock=utcnow, **options) -> RunResult:
    """Run a source's job by name: its precheck, its plan, its body. ``source`` says whose,
    when several sources have a job of that name; ``options`` reach the plan and the body
    (e.g. ``handles``, ``every_conversation``)."""
    owner, spec = REGISTRY.job(job, source)
    raw_source = spec.raw_source(options) if spec.raw_source else owner.name
    with (spec.session(cfg, options) if spec.session else nullcontext()):
        result = execute(cfg, spec.name, raw_source, spec.body,
                         precheck=(lambda: spec.precheck(cfg, options)) if spec.precheck
                         else None, planner=owner, options=options, lock_wait=lock_wait,
                         sleep=sleep, clock=clock)
    return result


def run_all(cfg, job: str, **kw) -> list[RunResult]:
    """Run ``job`` for every source that has it and something to do in this configuration
    (one run each, in the registry's order); if none has, for every source that has it, so
    that the run says what is missing."""
    having = [source for source, spec in REGISTRY.jobs() if spec.name == job]
    if not having:
        REGISTRY.job(job)                     # raises: no source has this job
    active = [s for s in having if s.active is None or s.active(cfg)]
    return [run(cfg, job, source=s.name, **kw) for s in (active or having)]

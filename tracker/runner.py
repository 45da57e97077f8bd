"""Running a collection job: lock, plan, collect into raw, load, refresh the replica, record.

Every job, whether run by hand, by cron or by the scheduler, goes through ``run_x_job`` so the
same rules hold everywhere: one writer at a time, raw first, the database held only for the
short load, a busy database never blocks collection, and every run ends in ``runs``.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterator

import duckdb

from tracker.config import Config
from tracker.core.errors import (BudgetExhausted, ConfigError, DatabaseDamaged, DatabaseUnavailable,
                     RunStopped, SourceError, StorageError, TrackerError)
from tracker.core.lock import RunLock
from tracker.sources.x import plan as xplan
from tracker.sources.x.client import Fetcher, make_client
from tracker.sources.x.collect import (FULL, LOOKUP_BATCH, REPLY_FIELDS, SEARCH_WINDOW, Member,
                                collect_batch, collect_timeline, lookup_posts, pack_alike,
                                resolve_handles)
from tracker.sources.x.schedule import TOLERANCE
from tracker.store.db import damaged, open_db, refresh_replica
from tracker.store.loader import LoadResult, load_pending, loaded_files, pending_files
from tracker.store.pending import pending_cursors, pending_polls
from tracker.store.raw import RawWriter, list_raw_files
from tracker.core.timeutil import iso, snowflake_time, utcnow

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
    """What a job's body gets: config, the run's clock, and what is already stored."""

    cfg: Config
    now: datetime
    plan: xplan.XPlan
    busy_at_start: bool
    cursors: dict[tuple[str, str], dict] = field(default_factory=dict)  # (source, scope)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = utcnow

    def cursor(self, source: str, scope: str) -> dict | None:
        return self.cursors.get((source, scope))

    def stored(self, platform: str, post_ids: list[str]) -> set[str]:
        """Which of these posts the database (or, while it is busy, its replica) holds."""
        if not post_ids:
            return set()
        for path in (self.cfg.database, self.cfg.replica):
            if not path.exists():
                continue
            try:
                con = open_db(path, read_only=True)
            except TrackerError:
                continue
            try:
                return {r[0] for r in con.execute(
                    "SELECT post_id FROM posts WHERE platform = ? AND post_id IN "
                    "(SELECT unnest(?::VARCHAR[]))", [platform, post_ids]).fetchall()}
            finally:
                con.close()
        return set()

    def absorb(self, stats, result: "RunResult") -> None:
        """Copy a fetcher's request counts into the run result."""
        result.requests += stats.requests
        result.pages += stats.pages
        result.posts_read += stats.posts_read
        for k, v in stats.by_purpose.items():
            result.by_purpose[k] = result.by_purpose.get(k, 0) + v


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


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(2)


def _prepare(cfg: Config, now: datetime, plan_options: dict | None = None) -> Context:
    """Load what is pending, then read the plan; from the replica if the database cannot be
    written (busy, or damaged: collection goes on into raw either way)."""
    def from_con(con, busy: bool) -> Context:
        plan = xplan.read_plan(con, cfg, now, **(plan_options or {}))
        cursors = {}
        if con is not None:
            cursors = {(src, scope): json.loads(c) for src, scope, c in con.execute(
                "SELECT source, scope, cursor FROM sync_state").fetchall()}
        return Context(cfg, now, plan, busy, cursors)

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
        ctx.plan.cursors.update({scope: c for (src, scope), c in ctx.cursors.items()
                                 if src == "x"})
        # polls seen in the waiting pages: new ones are refreshed, closed ones not read again
        open_posts = set(ctx.plan.open_poll_posts)
        for post_id, closed in pending_polls(cfg.raw_dir, waiting).values():
            if post_id:
                (open_posts.discard if closed else open_posts.add)(post_id)
        ctx.plan.open_poll_posts = sorted(open_posts, key=lambda p: (len(p), p))
        return ctx

    try:
        con = open_db(cfg.database)
    except DatabaseUnavailable as exc:
        return without_database(exc)
    try:
        loaded = load_pending(con, cfg.raw_dir, memory_limit=cfg.storage.load_memory_limit)
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
            refresh_replica(cfg.database, cfg.replica)
        except StorageError as exc:
            log.error("%s", exc)      # analysts read an older copy meanwhile; collection goes on
    return ctx


def load_now(cfg: Config, progress=None, retry_failed: bool = False) -> LoadResult:
    """Load every pending raw file, then refresh the replica.

    Raises DatabaseUnavailable (busy or damaged: nothing loaded). A replica that cannot be
    refreshed does not undo the load: ``result.replica_error`` says why."""
    con = open_db(cfg.database)
    try:
        result = load_pending(con, cfg.raw_dir, progress=progress, retry_failed=retry_failed,
                              memory_limit=cfg.storage.load_memory_limit)
    except (duckdb.Error, OSError) as exc:
        broken = damaged(cfg.database, exc)
        if broken is None:
            raise
        raise broken from None
    finally:
        con.close()
    try:
        refresh_replica(cfg.database, cfg.replica)
    except TrackerError as exc:
        result.replica_error = str(exc)
        log.error("%s", exc)
    return result


def _sanitize(text: str, cfg: Config) -> str:
    import os

    token = os.environ.get(cfg.x.bearer_token_env)
    if token and token in text:
        text = text.replace(token, "[REDACTED]")
    return text


def error_summary(exc: BaseException, cfg: Config, frames: int = 4) -> str:
    """``Type: message (at file:line in func < …)``: the last frames, innermost first, no secrets.

    What ``runs.error`` keeps of an unexpected exception: enough to find the bug at 3 a.m.
    without a debugger, on one line.
    """
    from tracker.core.logs import redact

    where = []
    for fr in reversed(traceback.extract_tb(exc.__traceback__)[-frames:]):
        parts = fr.filename.replace("\\", "/").split("/")
        for root in ("tracker", "jobs", "tests"):
            if root in parts:
                parts = parts[len(parts) - 1 - parts[::-1].index(root):]
                break
        else:
            parts = parts[-2:]
        where.append(f"{'/'.join(parts)}:{fr.lineno} in {fr.name}")
    text = f"{type(exc).__name__}: {exc}"
    if where:
        text += f" (at {' < '.join(where)})"
    return redact(_sanitize(text, cfg))[:2000]


Body = Callable[[RawWriter, Context, "RunResult"], None]


def run_job(cfg: Config, job: str, source: str, body: Body, *,
            precheck: Callable[[], None] | None = None, plan_options: dict | None = None,
            sleep: Callable[[float], None] = time.sleep, clock=utcnow) -> RunResult:
    """Run one job under the lock: plan, collect into raw, load, refresh the replica, record.

    ``precheck`` runs before anything is written (e.g. the token is set). Raises LockHeld or
    ConfigError having written nothing; every other failure is recorded in ``runs``.
    """
    with RunLock(cfg.lock_file):
        if precheck:
            precheck()
        now = clock()
        ctx = _prepare(cfg, now, plan_options)
        ctx.sleep, ctx.clock = sleep, clock
        run_id = new_run_id(now)
        raw = RawWriter(cfg.raw_dir, source, run_id, started=now)
        result = RunResult(run_id, job, raw_file=raw.relpath)
        raw.append({"type": "run_start", "job": job, "started_at": iso(now)})
        try:
            body(raw, ctx, result)
        except RunStopped as exc:
            result.status, result.stop_reason = "stopped", _sanitize(str(exc), cfg)
        except ConfigError:
            raise
        except TrackerError as exc:
            result.status, result.error = "failed", _sanitize(str(exc), cfg)
        except Exception as exc:  # recorded in runs; the CLI reports it as a failure
            result.status = "failed"
            result.error = error_summary(exc, cfg)
            log.debug("unexpected error:\n%s", _sanitize(traceback.format_exc(), cfg))
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
                    result.error = _sanitize(f"load failed (pages are safe in raw): {f.error}",
                                             cfg)
        except DatabaseUnavailable as exc:
            try:
                raw.append({"type": "load_deferred", "at": iso(clock()), "reason": exc.reason,
                            "detail": _sanitize(str(exc), cfg)})
            except StorageError:
                pass
            result.load_state = "pending_load"
            result.load_note = _sanitize(str(exc), cfg)
            result.database_damaged = isinstance(exc, DatabaseDamaged)
        except Exception as exc:
            result.load_state = "load_failed"
            result.status = "failed"
            first = f"{result.error}; then " if result.error else ""   # keep the first cause
            result.error = _sanitize(f"{first}load failed (pages are safe in raw): {exc}", cfg)
        log.info("run %s job=%s status=%s requests=%d pages=%d posts_read=%d new=%d "
                 "updated=%d load=%s", run_id, job, result.status, result.requests,
                 result.pages, result.posts_read, result.new_rows, result.updated_rows,
                 result.load_state)
        return result


XBody = Callable[[Fetcher, Context, RunResult], None]


def run_x_job(cfg: Config, job: str, body: XBody, **kw) -> RunResult:
    """An X job: the token must be set before anything is written; requests go via a Fetcher."""
    def x_body(raw: RawWriter, ctx: Context, result: RunResult) -> None:
        fetcher = Fetcher(cfg.x, raw, client=make_client(cfg.x), sleep=ctx.sleep,
                          clock=ctx.clock)
        try:
            body(fetcher, ctx, result)
        finally:
            ctx.absorb(fetcher.stats, result)

    return run_job(cfg, job, "x", x_body, precheck=cfg.x.bearer_token, **kw)


# ---- the X jobs -------------------------------------------------------------------------


def _timelines(handles: list[str] | None) -> Body:
    def body(f: Fetcher, ctx: Context, result: RunResult) -> None:
        cfg = ctx.cfg
        wanted = [a.handle for a in cfg.accounts]
        if handles:
            lower = {h.lower().lstrip("@") for h in handles}
            unknown = lower - {w.lower() for w in wanted}
            if unknown:
                raise ConfigError(f"accounts: {', '.join(sorted(unknown))} not in config.yaml")
            wanted = [w for w in wanted if w.lower() in lower]
        ids = resolve_handles(f, wanted, ctx.plan.known_handles)
        failures = ScopeFailures()
        margin = timedelta(seconds=cfg.x.coverage_margin_seconds)
        search, direct, quiet = timeline_routes(ctx, wanted, ids)
        # incremental reads first: many accounts a request
        for batch in pack_alike(search, cfg.x.search_query_max_chars):
            handles_of = ", ".join(f"@{m.done['handle']}" for m in batch)
            with failures.scope(f"timelines {handles_of}"):
                ctx.plan.cursors.update(collect_batch(
                    f, batch, purpose="timeline", now=ctx.now, page_size=cfg.x.page_size,
                    fields=FULL, margin=margin))
        for handle, account_id in direct:
            scope = f"timeline:{account_id}"
            with failures.scope(f"timeline @{handle}"):
                ctx.plan.cursors[scope] = collect_timeline(
                    f, account_id, ctx.plan.cursors.get(scope),
                    backfill_max=cfg.x.backfill_max_posts, page_size=cfg.x.page_size,
                    margin=margin)
        result.details["timelines"] = {"search": len(search), "timeline": len(direct),
                                       "quiet_not_due": quiet}
        failures.finish()
    return body


def timeline_routes(ctx: Context, wanted: list[str], ids: dict[str, str]
                    ) -> tuple[list[Member], list[tuple[str, str]], int]:
    """(accounts read by batched recent search, (handle, id) read by their user timeline,
    quiet accounts not due). The user timeline backfills a new account, finishes a stopped
    pagination, and reads an account whose cursor is older than the search window."""
    cfg, now = ctx.cfg, ctx.now
    tl = cfg.x.timelines
    oldest = now - SEARCH_WINDOW + timedelta(hours=1)
    search: list[Member] = []
    direct: list[tuple[str, str]] = []
    quiet = 0
    for handle in wanted:
        if handle not in ids:
            log.warning("x: handle @%s not found (see api_errors)", handle)
            continue
        aid = ids[handle]
        cursor = ctx.plan.cursors.get(f"timeline:{aid}")
        newest = (cursor or {}).get("newest_id")
        if (not tl.batch_search or not cursor or cursor.get("gap") or not newest
                or not str(newest).isdigit() or snowflake_time(newest) < oldest):
            direct.append((handle, aid))
            continue
        last_post = ctx.plan.last_post_at.get(aid)
        read = xplan._time(cursor.get("searched_at"))
        if (last_post is not None and read is not None
                and now - last_post > timedelta(days=tl.quiet_after_days)
                and now < read + timedelta(hours=tl.quiet_every_hours) - TOLERANCE):
            quiet += 1
            continue
        search.append(Member(f"timeline:{aid}", f"from:{aid}", aid, cursor,
                             done={"handle": handle}, last=ctx.plan.last_post_id.get(aid)))
    return search, direct, quiet


def _replies(f: Fetcher, ctx: Context, result: RunResult) -> None:
    """Due conversations in batched searches, most urgent first, within the budget; then the
    referenced posts (parents, quoted posts) that are not stored yet, by id."""
    cfg = ctx.cfg
    failures = ScopeFailures()
    due = ctx.plan.conversations
    members = [Member(f"replies:{c.conversation_id}", f"conversation_id:{c.conversation_id}",
                      c.conversation_id, ctx.plan.cursors.get(f"replies:{c.conversation_id}"),
                      floor=c.conversation_id, done={"root_replies": c.root_replies},
                      last=c.last_id)
               for c in due]
    # (in the plan's order: new and active first, then by tier and by how long unsearched;
    # neighbours in that order are of like age, so their cursors are alike)
    seen: set[str] = set()
    wanted: set[str] = set()

    def refs(body: dict) -> None:
        data = body.get("data")
        for t in data if isinstance(data, list) else []:
            if not isinstance(t, dict):
                continue
            seen.add(str(t.get("id")))
            for r in t.get("referenced_tweets") or []:
                if isinstance(r, dict) and str(r.get("id", "")).isdigit():
                    wanted.add(str(r["id"]))

    batches = pack_alike(members, cfg.x.search_query_max_chars)
    done = 0
    deferred: list[Member] = []
    for i, batch in enumerate(batches):
        if f.stats.requests >= cfg.x.max_requests_per_run:
            deferred = [m for b in batches[i:] for m in b]
            break
        try:
            with failures.scope(f"conversations {batch[0].key}…"):
                ctx.plan.cursors.update(collect_batch(
                    f, batch, purpose="replies", now=ctx.now, page_size=cfg.x.page_size,
                    fields=REPLY_FIELDS, on_page=refs,
                    margin=timedelta(seconds=cfg.x.coverage_margin_seconds)))
        except BudgetExhausted:
            deferred = [m for b in batches[i:] for m in b]      # (this one's gap is kept)
            break
        done += len(batch)
    missing = sorted(wanted - seen, key=int)
    stored = ctx.stored("x", missing)
    missing = [p for p in missing if p not in stored]
    parents_deferred = 0
    try:
        if missing and not deferred:
            lookup_posts(f, missing, purpose="reply_parents")
    except BudgetExhausted:
        parents_deferred = len(missing)      # found again by the next run's searches
    result.details["replies"] = {"conversations_due": len(due), "searched": done,
                                 "requests_saved_by_batching": max(done - len(batches), 0),
                                 "parents_looked_up": len(missing)}
    if deferred or parents_deferred:
        result.details["deferred"] = {"conversations": len(deferred),
                                      "reply_parents": parents_deferred}
    failures.finish()


def collect_posts(cfg: Config, handles: list[str] | None = None, **kw) -> RunResult:
    """New posts of the tracked accounts since their cursors (first run backfills): batched
    recent searches, the user timeline for backfill and old cursors."""
    return run_x_job(cfg, "collect_posts", _timelines(handles), **kw)


def collect_replies(cfg: Config, *, every_conversation: bool = False, **kw) -> RunResult:
    """Replies in the conversations that are due (x.replies.schedule), batched, most urgent
    first; what the budget does not reach is deferred to the next run (status ok).
    ``every_conversation``: search every conversation of the window now (a catch-up)."""
    return run_x_job(cfg, "collect_replies", _replies,
                     plan_options={"every_conversation": every_conversation}, **kw)


def snapshot_polls(cfg: Config, **kw) -> RunResult:
    """Re-read open polls (100 posts a request); a closed poll gets its final snapshot."""
    def body(f: Fetcher, ctx: Context, result: RunResult) -> None:
        lookup_posts(f, ctx.plan.open_poll_posts, purpose="poll_refresh")
    return run_x_job(cfg, "snapshot_polls", body, **kw)


def check_deletions(cfg: Config, **kw) -> RunResult:
    """Look up the tracked posts that are due (x.deletions.schedule; a post not found last
    time first); Not Found twice sets deleted_at, nothing is removed. What the budget does not
    reach is deferred to the next run (status ok)."""
    def body(f: Fetcher, ctx: Context, result: RunResult) -> None:
        ids = ctx.plan.deletion_ids
        budget = max(cfg.x.max_requests_per_run - f.stats.requests, 0)
        now_ids, later = ids[:budget * LOOKUP_BATCH], ids[budget * LOOKUP_BATCH:]
        try:
            lookup_posts(f, now_ids, purpose="deletion_check")
        except BudgetExhausted:
            later = ids        # (cannot happen: the batches fit the budget)
        result.details["deletions"] = {"due": len(ids), "checked": len(ids) - len(later)}
        if later:
            result.details["deferred"] = {"deletion_checks": len(later)}
    return run_x_job(cfg, "check_deletions", body, **kw)


def pending_summary(cfg: Config) -> list[str]:
    """Raw files waiting to be loaded (reads the replica when the database is busy)."""
    for path in (cfg.database, cfg.replica):
        if not path.exists():
            continue
        try:
            con = open_db(path, read_only=True)
        except TrackerError:
            continue
        try:
            return pending_files(con, cfg.raw_dir)
        finally:
            con.close()
    return list_raw_files(cfg.raw_dir)

"""Scheduled runs from one definition: the crontab (`tracker cron`) and the built-in scheduler
(`tracker schedule`, an APScheduler 3.x BlockingScheduler).

Both call the same job functions (``jobs/``) with the same lock, so cron runs, the scheduler and
manual commands never write at once. The scheduler runs one job at a time (a single worker
thread: jobs due together queue instead of colliding on the lock), never two instances of a job
(``max_instances=1``), folds a backlog of fire times into one run (``coalesce``), and records
what did not run in ``runs``:

- ``missed``: a fire time passed more than ``schedule.misfire_grace_seconds`` before the job
  could start, or another process (cron, a manual command) held the lock;
- ``failed``: the job raised outside its own run record (its module is missing, the token is not
  set, …), with a one-line traceback summary.

Like every run, these records go to the raw archive first (source ``scheduler``, a run_start
and a run_end line, no pages) and reach ``runs`` through the loader, so ``tracker rebuild``
keeps them. SIGTERM or SIGINT stops the scheduler cleanly: no job starts after the signal, a
job waiting on a rate limit or a backoff stops waiting (it ends as ``stopped`` and resumes next
time), and a job in the middle of its work finishes its raw file and its load before the
process exits.
"""

from __future__ import annotations

import inspect
import logging
import os
import shlex
import shutil
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import tracker_jobs as jobs_pkg
from apscheduler.events import (EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES,
                                EVENT_JOB_MISSED, EVENT_SCHEDULER_STARTED)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from tracker.core.config import BaseConfig as Config
from tracker.core.cron import parse_cron
from tracker.core.errors import ConfigError, DatabaseUnavailable, LockHeld, RunStopped
from tracker.core.lock import RunLock
from tracker.store.raw import RawWriter
from tracker.core.timeutil import iso, utcnow
from tracker.runs.load import load_now
from tracker.runs.runner import error_summary, new_run_id

log = logging.getLogger("tracker.schedule")


class Interrupted(RunStopped):
    """The scheduler is stopping (SIGTERM/SIGINT): a job stops waiting and ends; it resumes."""


def _hm(dt: datetime | None) -> str:
    if dt is None:
        return "never"
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- runs that did not happen -----------------------------------------------------------


def record_run(cfg: Config, job: str, status: str, *, started: datetime,
               finished: datetime | None = None, error: str | None = None,
               stop_reason: str | None = None, scheduled_for: datetime | None = None) -> str:
    """Record a run the scheduler could not make (``missed``) or that raised (``failed``).

    Writes a small raw file (source ``scheduler``: run_start and run_end, no pages) atomically,
    then loads it if the lock and the database are free; otherwise the next run loads it.
    Returns the run id.
    """
    started = started.astimezone(timezone.utc)
    run_id = new_run_id(started)
    writer = RawWriter(cfg.raw_dir, "scheduler", run_id, started=started)
    final = writer.path
    # Written under a temporary name and renamed: a loader running in another process (which
    # holds the lock) never sees half of it.
    writer.path = final.with_name(final.name + ".part")
    start = {"type": "run_start", "job": job, "started_at": iso(started)}
    if scheduled_for is not None:
        start["scheduled_for"] = iso(scheduled_for.astimezone(timezone.utc))
    writer.append(start)
    writer.append({"type": "run_end", "finished_at": iso(finished or utcnow()),
                   "status": status, "stop_reason": stop_reason, "error": error,
                   "requests": 0, "posts_read": 0, "by_purpose": {}})
    os.replace(writer.path, final)
    try:
        with RunLock(cfg.lock_file):
            load_now(cfg)
    except (LockHeld, DatabaseUnavailable) as exc:
        log.info("run %s of %s recorded in raw; it reaches `runs` with the next load (%s)",
                 run_id, job, type(exc).__name__)
    except Exception as exc:       # the record is safe in raw; `tracker load` tells more
        log.error("run %s of %s recorded in raw but not loaded: %s: %s", run_id, job,
                  type(exc).__name__, exc)
    return run_id


# ---- cron -------------------------------------------------------------------------------


def tracker_command() -> list[str]:
    """An absolute command (argv) that runs this installation's `tracker`."""
    exe = Path(sys.executable).absolute()   # not resolved: a venv's python is a symlink
    script = exe.parent / "tracker"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("tracker")
    if found:
        return [str(Path(found).absolute())]
    return [str(exe), "-m", "tracker"]


def _cron_quote(text: str) -> str:
    """Quote for sh, and escape % (cron turns an unescaped % into a newline)."""
    return shlex.quote(text).replace("%", r"\%")


def crontab(cfg: Config, *, command: list[str] | None = None, log_dir: Path | None = None,
            env_file: Path | None = None, log_level: str = "INFO") -> str:
    """The crontab lines that run every scheduled job of ``cfg`` (to paste into `crontab -e`)."""
    if cfg.source_path is None:
        raise ConfigError("schedule: `tracker cron` needs a config file (--config PATH)")
    sched = cfg.schedule
    if not sched.jobs:
        raise ConfigError("schedule.jobs: no jobs scheduled; add e.g. "
                          "`collect_posts: {cron: \"*/15 * * * *\"}` under schedule.jobs")
    cmd = " ".join(_cron_quote(a) for a in (command or tracker_command()))
    log_dir = Path(log_dir or cfg.database.parent / "logs").absolute()
    lines = [
        f"# poll & denial tracker: scheduled jobs of {cfg.source_path}",
        "# Generated by `tracker cron`. Install: `crontab -e` and paste these lines "
        "(`tracker cron | crontab -` would replace your whole crontab).",
        "# Exit codes: 0 ok, 1 failed, 2 config error, 3 another run holds the lock, "
        "4 stopped by rate limit/budget (resumes).",
    ]
    token_env = cfg.x.bearer_token_env
    if env_file:
        env_file = Path(env_file).absolute()
        lines.append(f"# The API token ({token_env}) is read from {env_file} "
                     "(KEY=value lines, chmod 600).")
        env = f"set -a && . {_cron_quote(str(env_file))} && set +a && "
    else:
        lines.append(f"# The API token must be in cron's environment as {token_env} (cron does "
                     "not read your shell profile); never write it into the crontab:")
        lines.append("# `tracker cron --env-file FILE` makes each line read it from a file only "
                     "you can read.")
        env = ""
    lines.append(f"# Logs: {log_dir}/<job>.log (one line per run: job, run id, figures).")
    if sched.timezone != "UTC":
        lines.append(f"# schedule.timezone is {sched.timezone}: CRON_TZ is honoured by cronie "
                     "(Fedora, RHEL, Arch); Debian's cron ignores it and uses the system zone.")
        lines.append(f"CRON_TZ={sched.timezone}")
    base = Path(cfg.base_dir).absolute()
    for name in jobs_pkg.JOBS:
        if name not in sched.jobs:
            continue
        parts = [f"cd {_cron_quote(str(base))} && {env}{cmd}",
                 f"--config {_cron_quote(str(cfg.source_path))}"]
        if log_level:
            parts.append(f"--log-level {log_level}")
        parts.append(f"run {name} >> {_cron_quote(str(log_dir / (name + '.log')))} 2>&1")
        lines.append(f"{sched.jobs[name].cron} {' '.join(parts)}")
    return "\n".join(lines) + "\n"


# ---- the built-in scheduler -------------------------------------------------------------


def job_triggers(cfg: Config, fast: float | None = None) -> dict[str, Any]:
    """name -> APScheduler trigger, in the registry's order. ``fast``: every N seconds (tests)."""
    tz = cfg.schedule.tzinfo
    out = {}
    for name in jobs_pkg.JOBS:
        spec = cfg.schedule.jobs.get(name)
        if spec is None:
            continue
        out[name] = (IntervalTrigger(seconds=fast, timezone=tz) if fast
                     else parse_cron(spec.cron).trigger(tz))
    return out


def next_fire_times(trigger, n: int, now: datetime | None = None) -> list[datetime]:
    now = now or datetime.now(timezone.utc)
    out: list[datetime] = []
    prev = None
    for _ in range(n):
        nxt = trigger.get_next_fire_time(prev, now if prev is None else prev)
        if nxt is None:
            break
        if prev is not None and nxt <= prev:   # cron triggers return 'prev' itself
            nxt = trigger.get_next_fire_time(prev, prev + timedelta(seconds=1))
        out.append(nxt)
        prev = nxt
    return out


def _accepts(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)


@dataclass
class Event:
    """What the scheduler did, for tests and callers: executed, failed, missed, coalesced."""

    kind: str
    job: str
    run_id: str | None = None
    result: Any = None
    detail: str | None = None


class SchedulerService:
    """`tracker schedule`: a BlockingScheduler running the configured jobs until SIGTERM/SIGINT."""

    def __init__(self, cfg: Config, *, fast: float | None = None,
                 job_kw: dict | None = None):

        if not cfg.schedule.jobs:
            raise ConfigError("schedule.jobs: no jobs scheduled; add e.g. "
                              "`collect_posts: {cron: \"*/15 * * * *\"}` under schedule.jobs")
        self.cfg = cfg
        self.fast = fast
        self.job_kw = dict(job_kw or {})
        self.triggers = job_triggers(cfg, fast)
        self.events: list[Event] = []
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._done = threading.Event()
        self._stop_lock = threading.Lock()
        self._stopper: threading.Thread | None = None
        self._running: str | None = None
        self._started_at: dict[str, datetime] = {}
        self.scheduler = BlockingScheduler(
            timezone=cfg.schedule.tzinfo,
            # one worker: jobs due at the same moment queue up instead of meeting at the lock
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"max_instances": 1, "coalesce": True,
                          "misfire_grace_time": cfg.schedule.misfire_grace_seconds})
        for name, trigger in self.triggers.items():
            self.scheduler.add_job(self._fire, trigger, args=[name], id=name, name=name)
        self.scheduler.add_listener(
            self._on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
            | EVENT_JOB_MAX_INSTANCES | EVENT_SCHEDULER_STARTED)

    # -- the job wrapper (runs in the worker thread) --

    def _sleep(self, seconds: float) -> None:
        """The jobs' sleep (rate-limit waits, backoff): ends early, and the run with it, on stop."""
        if self._stopping.wait(max(0.0, seconds)):
            raise Interrupted("the scheduler is stopping (SIGTERM/SIGINT); the run ended early "
                              "and the next one resumes from the saved cursors")

    def _fire(self, name: str):
        if self._stopping.is_set():
            log.info("job %s not started: the scheduler is stopping", name)
            return None
        self._started_at[name] = utcnow()
        module = jobs_pkg.load(name)
        kw = dict(self.job_kw)
        if _accepts(module.run, "sleep"):
            kw.setdefault("sleep", self._sleep)
        if _accepts(module.run, "lock_wait"):
            kw.setdefault("lock_wait", self.cfg.schedule.lock_wait_seconds)
        self._running = name
        log.info("job %s started", name)
        try:
            return module.run(self.cfg, **kw)
        finally:
            self._running = None

    # -- the listener --

    def _next(self, name: str) -> str:
        if self._stopping.is_set():
            return "none (stopping)"
        # computed from the trigger, not scheduler.get_job(): that takes the scheduler's lock,
        # which shutdown(wait=True) holds while it waits for this very thread
        times = next_fire_times(self.triggers[name], 1)
        return _hm(times[0] if times else None)

    def _on_event(self, ev) -> None:

        if ev.code == EVENT_SCHEDULER_STARTED:
            self._on_started()
            return
        name = ev.job_id
        if ev.code == EVENT_JOB_EXECUTED:
            if ev.retval is None:
                self.events.append(Event("skipped", name))
                return
            took = (utcnow() - self._started_at.get(name, utcnow())).total_seconds()
            for r in ev.retval:
                log.info("job %s finished in %.1fs: run %s %s, %d requests, %d new rows, "
                         "%d updated%s; next %s", name, took, r.run_id, r.status, r.requests,
                         r.new_rows, r.updated_rows,
                         f" ({r.stop_reason or r.error})" if (r.stop_reason or r.error)
                         else "", self._next(name))
                self.events.append(Event("executed", name, r.run_id, r))
        elif ev.code == EVENT_JOB_ERROR:
            exc = ev.exception
            if isinstance(exc, LockHeld):
                reason = f"not run: {exc}"
                run_id = record_run(self.cfg, name, "missed", stop_reason=reason,
                                    started=self._started_at.get(name, utcnow()),
                                    scheduled_for=ev.scheduled_run_time)
                log.warning("job %s missed its %s run: %s; recorded as run %s", name,
                            _hm(ev.scheduled_run_time), exc, run_id)
                self.events.append(Event("missed", name, run_id, detail=reason))
                return
            summary = error_summary(exc, self.cfg)
            run_id = record_run(self.cfg, name, "failed", error=summary,
                                started=self._started_at.get(name, utcnow()),
                                scheduled_for=ev.scheduled_run_time)
            log.error("job %s failed: %s; recorded as run %s; next %s", name, summary, run_id,
                      self._next(name))
            self.events.append(Event("failed", name, run_id, detail=summary))
        elif ev.code == EVENT_JOB_MISSED:
            late = (datetime.now(timezone.utc) - ev.scheduled_run_time).total_seconds()
            reason = (f"missed: started {late:.0f}s after its fire time "
                      f"{_hm(ev.scheduled_run_time)}, more than schedule.misfire_grace_seconds"
                      f"={self.cfg.schedule.misfire_grace_seconds} (busy with another job, or "
                      "the machine was suspended)")
            run_id = record_run(self.cfg, name, "missed", stop_reason=reason,
                                started=ev.scheduled_run_time,
                                scheduled_for=ev.scheduled_run_time)
            log.warning("job %s %s; recorded as run %s", name, reason, run_id)
            self.events.append(Event("missed", name, run_id, detail=reason))
        elif ev.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("job %s: fire time %s skipped, its previous run is still going "
                        "(it covers the same data)", name,
                        ", ".join(_hm(t) for t in ev.scheduled_run_times))
            self.events.append(Event("coalesced", name))

    def _on_started(self) -> None:
        self._started.set()
        log.info("scheduler started (pid %d): %d jobs, timezone %s, misfire grace %ds%s",
                 os.getpid(), len(self.triggers), self.cfg.schedule.timezone,
                 self.cfg.schedule.misfire_grace_seconds,
                 f", TEST MODE: every job every {self.fast:g}s" if self.fast else "")
        for job in self.scheduler.get_jobs():
            spec = self.cfg.schedule.jobs[job.id].cron
            log.info("job %s: next %s (cron %r)", job.id, _hm(job.next_run_time), spec)

    # -- running and stopping --

    def stop(self, reason: str = "stop requested") -> None:
        """Start no new job; let the running one finish (raw file and load); then stop.

        Safe from a signal handler and from any thread; returns at once.
        """
        with self._stop_lock:
            if self._stopper is not None:
                log.info("%s: already stopping (waiting for %s)", reason,
                         self._running or "no job")
                return
            self._stopping.set()
            self._stopper = threading.Thread(target=self._shutdown, args=(reason,),
                                             name="tracker-schedule-stop")
            self._stopper.start()

    def _shutdown(self, reason: str) -> None:

        while not self._started.wait(0.1):
            if self._done.is_set():
                return
        running = self._running
        log.info("%s: starting no new jobs; %s", reason,
                 f"waiting for {running} to finish its run" if running else "no job running")
        try:
            self.scheduler.pause()          # the main loop stops submitting jobs
            self.scheduler.shutdown(wait=True)
        except SchedulerNotRunningError:
            pass
        log.info("scheduler stopped")

    @property
    def service_lock(self) -> Path:
        """Held while `tracker schedule` runs: a second scheduler on the same data is refused."""
        return self.cfg.lock_file.with_name(".tracker-schedule.lock")

    def run(self, install_signals: bool = True) -> int:
        """Run until stop() or SIGTERM/SIGINT; returns the exit code (0).

        Raises LockHeld (exit code 3) if another `tracker schedule` runs on the same data.
        """
        with RunLock(self.service_lock):
            return self._run(install_signals)

    def _run(self, install_signals: bool) -> int:
        previous = {}
        if install_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(
                    sig, lambda signum, frame: self.stop(signal.Signals(signum).name))
        try:
            if not self._stopping.is_set():
                self.scheduler.start()
        finally:
            self._done.set()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self._stopper is not None:
            self._stopper.join()
        return 0


def quiet_apscheduler(level: str) -> None:
    """APScheduler logs each event again, with multi-line tracebacks; the tracker's own lines
    say it once. Keep them for DEBUG."""
    debug = level.upper() == "DEBUG"
    logging.getLogger("apscheduler.scheduler").setLevel(logging.NOTSET if debug else logging.ERROR)
    logging.getLogger("apscheduler.executors").setLevel(
        logging.NOTSET if debug else logging.CRITICAL)

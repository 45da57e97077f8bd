"""Operating the tracker: `init`, `load`, `rebuild`, `status`, `run`, `cron`, `schedule`."""

from __future__ import annotations

import json
import sys
from datetime import timezone
from pathlib import Path

import click
from click.core import ParameterSource
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from tracker.config import write_starter_config
from tracker.core.lazy import lazy_module
from tracker.core.lock import RunLock
from tracker.core.logs import setup_logging
from tracker.core.terminal import config_of, err, out, report_run, table
from tracker.sources.registry import REGISTRY

# the library behind each command loads when it runs (DuckDB, pandas, APScheduler, the jobs)
db = lazy_module("tracker.store.db")
load_runs = lazy_module("tracker.runs.load")
raw_store = lazy_module("tracker.store.raw")
scheduler = lazy_module("tracker.service.scheduler")
status_runs = lazy_module("tracker.runs.status")
jobs_pkg = lazy_module("tracker_jobs")


class JobChoice(click.Choice):
    """The scheduled jobs' names (tracker_jobs.JOBS), read when `tracker run` needs them."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self):
        return tuple(jobs_pkg.JOBS)

    @choices.setter
    def choices(self, value) -> None:
        pass


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the database (applying migrations), the raw folder and the read-only replica;
    in a folder without a config, first write a commented starter config.yaml to edit."""
    path = Path(ctx.find_root().obj["config_path"])
    wrote = None
    if not path.exists():
        wrote = write_starter_config(path)
    cfg = config_of(ctx)
    with RunLock(cfg.lock_file):
        con = db.open_db(cfg.database, storage_version=cfg.storage.duckdb_storage_version)
        con.close()
        cfg.raw_dir.mkdir(parents=True, exist_ok=True)
        db.refresh_replica(cfg.database, cfg.replica, cfg.storage.duckdb_storage_version)
    out.print(f"database {cfg.database}\nreplica  {cfg.replica} (what `tracker sql` reads)\n"
              f"raw      {cfg.raw_dir}", highlight=False)
    if wrote:
        out.print(f"\nwrote {wrote}, a starter configuration. Next:\n"
                  f"  1. edit {wrote.name}: the accounts to follow (and press feeds, stories)\n"
                  "  2. export X_BEARER_TOKEN=…   (your X API app's bearer token)\n"
                  "  3. tracker cost               (what a month of this collection costs)\n"
                  "  4. tracker collect            (the first run: every configured source)\n"
                  "  5. tracker cron               (the crontab lines to run it unattended)",
                  highlight=False)


def _load_progress(total: int):
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        MofNCompleteColumn(), console=err, transient=True)
    task = progress.add_task("loading raw files", total=total)
    return progress, lambda fl: progress.advance(task)


@click.command()
@click.option("--retry-failed", is_flag=True,
              help="Also retry raw files whose load failed before (see `tracker status`).")
@click.pass_context
def load(ctx: click.Context, retry_failed: bool) -> None:
    """Load raw pages that are not in the database yet (e.g. after it was busy)."""
    cfg = config_of(ctx)
    with RunLock(cfg.lock_file):
        pending = load_runs.pending_summary(cfg)
        progress, tick = _load_progress(len(pending))
        with progress:
            result = load_runs.load_now(cfg, progress=tick, retry_failed=retry_failed)
    out.print(f"loaded {len(result.files)} raw files, {result.pages} pages: "
              f"{result.new_rows} new rows, {result.updated_rows} updated, "
              f"{result.quarantined} pages quarantined", highlight=False)
    sys.exit(_load_problems(result))


def _load_problems(result) -> int:
    """Print damaged lines, files not loaded and a stale replica; the exit code they give."""
    for b in (b for f in result.files for b in f.bad_lines):
        err.print(f"  [red]damaged line[/] (the rest of its file was loaded): {b}",
                  highlight=False)
    for f in result.failed:
        err.print(f"  [red]not loaded[/]: {f.path}: {f.error}", highlight=False)
    if result.replica_error:
        err.print(f"  [yellow]replica not refreshed[/]: {result.replica_error}",
                  highlight=False)
    lake_error = getattr(result.lake, "error", None)
    if lake_error:
        err.print("  [yellow]lake not written[/] (the load is in the database; the next load "
                  f"writes what the lake lacks): {escape(lake_error)}", highlight=False)
    return 1 if (result.failed or result.damaged or result.replica_error or lake_error) else 0


@click.command()
@click.pass_context
def rebuild(ctx: click.Context) -> None:
    """Recreate the database from the raw archive alone (the old file is kept beside it),
    and analyse the configured stories again.

    A database that cannot be opened is moved aside as .corrupt-TIME; a readable one is kept
    as .bak-TIME. Exits 1 if a raw line could not be read (each is named).
    """
    cfg = config_of(ctx)
    with RunLock(cfg.lock_file):
        progress, tick = _load_progress(len(raw_store.list_raw_files(cfg.raw_dir)))
        with progress:
            result = load_runs.rebuild(cfg, progress=tick)
    out.print(f"rebuilt {cfg.database} from {len(result.files)} raw files "
              f"({result.pages} pages, {result.new_rows} rows)", highlight=False)
    if result.derived:
        out.print(f"stories analysed again: {len(result.derived)} "
                  f"({sum(sum(v.values()) for v in result.derived.values())} items)",
                  highlight=False)
    if result.moved_aside:
        err.print(f"  [yellow]the database could not be opened[/] ({result.moved_aside[1]}); "
                  f"it is kept as {result.moved_aside[0]}", highlight=False)
    if result.backup:
        out.print(f"the previous database is kept as {result.backup}", highlight=False)
    sys.exit(_load_problems(result))


@click.command()
@click.option("--runs", "n_runs", default=10, show_default=True, help="How many recent runs.")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json"]), help="json: everything, for scripts.")
@click.pass_context
def status(ctx: click.Context, n_runs: int, fmt: str) -> None:
    """Last runs, cursors, pages waiting to load, open polls and table sizes."""
    cfg = config_of(ctx)
    st = status_runs.collect_status(cfg, n_runs)
    if fmt == "json":
        click.echo(json.dumps(st.as_dict(), indent=2, ensure_ascii=False))
        return
    if st.database != "ok":
        style = "yellow" if st.database.startswith(("busy", "missing")) else "red"
        out.print(f"[{style}]database {st.database}[/]", highlight=False)
    out.print(f"reading {st.read_from}", highlight=False)
    if st.counts:
        out.print("  ".join(f"{k}={v}" for k, v in st.counts.items()), highlight=False)
    for title, df in (("last runs", st.runs), ("cursors", st.cursors),
                      ("open polls", st.open_polls)):
        if df is not None:
            out.print(table(df, title) if len(df) else f"{title}: none")
    for source, b in st.backlog.items():
        out.print(f"backlog ({source}): {b['conversations_due']} of "
                  f"{b['conversations_followed']} conversations due a search, "
                  f"{b['deletions_due']} of {b['deletions_followed']} posts due a deletion "
                  "check" + (f"; the oldest due item has waited {b['oldest_due_hours']:.1f} h"
                             if b["oldest_due_hours"] > 0 else ""), highlight=False)
    for path, error in st.failed:
        out.print(f"[red]raw file not loaded[/]: {path}: {error}", highlight=False)
    for path, damage in st.damaged:
        out.print(f"[red]raw file damaged[/]: {path}: {damage}", highlight=False)
    out.print(f"pending raw files: {len(st.pending)}"
              + (f" (oldest {st.pending[0]}; `tracker load` loads them)" if st.pending else ""),
              highlight=False)


@click.command("run")
@click.argument("job", type=JobChoice())
@click.pass_context
def run_cmd(ctx: click.Context, job: str) -> None:
    """Run one scheduled JOB once, under the lock (what each `tracker cron` line calls), for
    every source that has it.

    Exit codes: 0 done, 1 failed (recorded in runs), 2 configuration error, 3 another run holds
    the lock (nothing done), 4 stopped by a rate limit or the request budget (resumes next run).
    """
    cfg = config_of(ctx)
    codes = [0]
    for result in jobs_pkg.JOBS[job].run(cfg, lock_wait=cfg.schedule.lock_wait_seconds):
        report_run(result)
        codes.append(result.exit_code)
    sys.exit(max(codes))


@click.command("cron")
@click.option("--log-dir", type=click.Path(file_okay=False),
              help="Where each job's log goes (default: logs/ beside the database).")
@click.option("--env-file", type=click.Path(dir_okay=False),
              help="A file of KEY=value lines holding the token (the systemd EnvironmentFile "
                   "format); each line reads it. Default: the token must be in cron's "
                   "environment.")
@click.pass_context
def cron_cmd(ctx: click.Context, log_dir: str | None, env_file: str | None) -> None:
    """Print the crontab lines that run every job of schedule.jobs (absolute paths).

    Paste them into `crontab -e`. Each line is `cd DIR && tracker --config CONFIG run JOB >>
    LOG 2>&1`; the log folder is created now. The token is never printed.
    """
    cfg = config_of(ctx)
    text = scheduler.crontab(cfg, log_dir=Path(log_dir) if log_dir else None,
                             env_file=Path(env_file) if env_file else None)
    target = Path(log_dir).absolute() if log_dir else cfg.database.parent / "logs"
    target.mkdir(parents=True, exist_ok=True)
    click.echo(text, nl=False)
    if env_file and not Path(env_file).is_file():
        names = " and ".join(f"{n}=..." for n in REGISTRY.secret_env(cfg)) or "your tokens"
        err.print(f"note: {env_file} does not exist yet; create it with {names} and "
                  "chmod 600", highlight=False)


@click.command("schedule")
@click.option("--dry-run", is_flag=True,
              help="Print each job's next three fire times and exit without running anything.")
@click.option("--fast", type=float, hidden=True, metavar="SECONDS",
              help="TESTING/DEMO ONLY: every scheduled job fires every SECONDS instead of its "
                   "cron expression.")
@click.pass_context
def schedule_cmd(ctx: click.Context, dry_run: bool, fast: float | None) -> None:
    """Run the scheduled jobs in the foreground until SIGTERM or SIGINT (a systemd service).

    The same jobs and lock as cron: one job at a time, never two runs of a job, a backlog of
    fire times folded into one run, late runs beyond schedule.misfire_grace_seconds recorded
    as `missed` in runs. On SIGTERM/SIGINT no new job starts; a running job finishes its raw
    file and its load, then the process exits 0. Logs at INFO unless --log-level is given.
    """
    root = ctx.find_root()
    if root.get_parameter_source("log_level") in (ParameterSource.DEFAULT, None):
        root.obj["log_level"] = "INFO"
        setup_logging("INFO", root.obj["log_file"])
    cfg = config_of(ctx)
    service = scheduler.SchedulerService(cfg, fast=fast)
    if dry_run:
        click.echo(f"schedule of {cfg.source_path}: timezone {cfg.schedule.timezone}, "
                   f"misfire grace {cfg.schedule.misfire_grace_seconds}s; next fire times (UTC)")
        for name, trigger in service.triggers.items():
            times = "  ".join(t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
                              for t in scheduler.next_fire_times(trigger, 3))
            click.echo(f"  {name:<16} {cfg.schedule.jobs[name].cron:<14} {times}")
        return
    scheduler.quiet_apscheduler(root.obj["log_level"])
    sys.exit(service.run())


def register(cli: click.Group) -> None:
    for cmd in (init, load, rebuild, status, run_cmd, cron_cmd, schedule_cmd):
        cli.add_command(cmd)

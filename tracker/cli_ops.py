"""Operations commands: `tracker run JOB`, `tracker cron`, `tracker schedule`.

Registered into the `tracker` group by tracker/cli.py. Thin, like every command: the work is in
jobs/ and tracker/scheduler.py.
"""

from __future__ import annotations

import sys
from datetime import timezone
from pathlib import Path

import click
from click.core import ParameterSource

from jobs import JOBS


@click.command("run")
@click.argument("job", type=click.Choice(list(JOBS)))
@click.pass_context
def run_cmd(ctx: click.Context, job: str) -> None:
    """Run one scheduled JOB once, under the lock (what each `tracker cron` line calls).

    Exit codes: 0 done, 1 failed (recorded in runs), 2 configuration error, 3 another run holds
    the lock (nothing done), 4 stopped by a rate limit or the request budget (resumes next run).
    """
    import jobs as jobs_pkg

    from tracker.cli import _cfg, _run

    cfg = _cfg(ctx)
    module = jobs_pkg.load(job)

    def call(cfg):
        return module.run(cfg)

    call.__name__ = job
    sys.exit(_run(call, cfg).exit_code)


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
    from tracker.cli import _cfg, err
    from tracker.scheduler import crontab

    cfg = _cfg(ctx)
    text = crontab(cfg, log_dir=Path(log_dir) if log_dir else None,
                   env_file=Path(env_file) if env_file else None)
    target = Path(log_dir).absolute() if log_dir else cfg.database.parent / "logs"
    target.mkdir(parents=True, exist_ok=True)
    click.echo(text, nl=False)
    if env_file and not Path(env_file).is_file():
        err.print(f"note: {env_file} does not exist yet; create it with "
                  f"{cfg.x.bearer_token_env}=... and chmod 600", highlight=False)


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
    from tracker.cli import _cfg
    from tracker.scheduler import SchedulerService, next_fire_times, quiet_apscheduler

    root = ctx.find_root()
    if root.get_parameter_source("log_level") in (ParameterSource.DEFAULT, None):
        root.obj["log_level"] = "INFO"
    cfg = _cfg(ctx)
    service = SchedulerService(cfg, fast=fast)
    if dry_run:
        click.echo(f"schedule of {cfg.source_path}: timezone {cfg.schedule.timezone}, "
                   f"misfire grace {cfg.schedule.misfire_grace_seconds}s; next fire times (UTC)")
        for name, trigger in service.triggers.items():
            times = "  ".join(t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
                              for t in next_fire_times(trigger, 3))
            click.echo(f"  {name:<16} {cfg.schedule.jobs[name].cron:<14} {times}")
        return
    quiet_apscheduler(root.obj["log_level"])
    sys.exit(service.run())


def register(cli: click.Group) -> None:
    for cmd in (run_cmd, cron_cmd, schedule_cmd):
        cli.add_command(cmd)

"""What commands print, and how a command reaches the configuration and the runner.

Every command module (tracker/cli/ and each source's cli.py) uses these, so the tables, the
run lines and the errors look the same everywhere. The `tracker` group (tracker/cli) puts two
callables in the click context's root object: ``config()`` loads config.yaml once, and
``run(cfg, job, **options)`` runs a job through the generic runner; a source's commands reach
them through ``config_of`` and ``run_job`` and so depend on nothing above them.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

# Wider than 80 columns when piped (the demo's tables), the terminal's width otherwise.
out = Console(width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, soft_wrap=True)   # one message, one line: greppable in logs


def table(df, title: str | None = None, max_rows: int = 200) -> Table:
    t = Table(title=title, title_justify="left", show_lines=False)
    for c in df.columns:
        t.add_column(str(c), overflow="fold")
    for row in df.head(max_rows).itertuples(index=False):
        t.add_row(*["" if v is None or (isinstance(v, float) and v != v) else str(v)
                    for v in row])
    if len(df) > max_rows:
        t.caption = f"{max_rows} of {len(df)} rows shown; use --format csv for all"
    return t


def report_run(result) -> None:
    """One line per run: its job, status and figures; the reason on stderr."""
    style = {"ok": "green", "stopped": "yellow"}.get(result.status, "red")
    line = (f"[{style}]{result.job}[/] run {result.run_id}: {result.status}; "
            f"{result.requests} requests, {result.pages} pages, {result.posts_read} posts read, "
            f"{result.new_rows} new rows, {result.updated_rows} updated")
    if result.load_state == "pending_load":
        line += " [yellow](pending_load: pages wait in raw for the next run)[/]"
    elif result.load_state != "loaded":
        line += f" [red]({result.load_state}: pages are safe in raw)[/]"
    out.print(line, highlight=False)
    reason = result.stop_reason or result.error
    if reason:
        err.print(f"  {result.status}: {reason}", highlight=False, markup=False)
    if result.load_note:
        err.print(f"  {'load waits' if result.load_state == 'pending_load' else 'note'}: "
                  f"{result.load_note}", highlight=False, markup=False)


def config_of(ctx: click.Context):
    """The configuration (--config), loaded once per command line."""
    return ctx.find_root().obj["config"]()


def run_job(ctx: click.Context, job: str, report: bool = True, **options: Any):
    """Run ``job`` with a spinner meanwhile, print its line, return its RunResult."""
    cfg = config_of(ctx)
    runner = ctx.find_root().obj["run"]
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err,
                  transient=True) as progress:
        progress.add_task(f"{job.replace('_', ' ')}…", total=None)
        result = runner(cfg, job, **options)
    if report:
        report_run(result)
    return result

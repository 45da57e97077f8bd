"""What commands print, and how a command reaches the configuration and the runner.

Every command module (tracker/cli/ and each source's cli.py) uses these, so the tables, the
run lines and the errors look the same everywhere. The `tracker` group (tracker/cli) puts two
callables in the click context's root object: ``config()`` loads config.yaml once, and
``run(cfg, job, **options)`` runs a job through the generic runner; a source's commands reach
them through ``config_of`` and ``run_job`` and so depend on nothing above them.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from tracker.core.timeutil import lag_text, short_utc

# Wider than 80 columns when piped (the demo's tables), the terminal's width otherwise.
out = Console(width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, soft_wrap=True)   # one message, one line: greppable in logs


MAX_CELL = 60          # characters a cell shows before "…"
SHRUNK = 10            # the narrowest a long text column is shown


def cell(value) -> str:
    """One value as the terminal shows it: times short and in UTC, intervals as lags, missing
    values blank, long text cut."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if hasattr(value, "to_pydatetime") or isinstance(value, datetime):
        return short_utc(value)
    if hasattr(value, "to_pytimedelta") or isinstance(value, timedelta) or (
            getattr(value, "dtype", None) is not None and str(value.dtype).startswith("timedelta")):
        return lag_text(value)
    text = " ".join(str(value).split())          # one line: newlines and runs of spaces folded
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def table(df, title: str | None = None, max_rows: int = 200, width: int | None = None) -> Table:
    """A DataFrame as a table that fits the terminal: cells on one line (cut with "…"), and
    the columns that do not fit left out and named in the caption."""
    width = width or out.width
    rows = [[cell(v) for v in row] for row in df.head(max_rows).itertuples(index=False)]
    cols = [str(c) for c in df.columns]
    natural = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    # short columns (ids, times, counts) keep their width; long text may shrink to SHRUNK
    least = [n if n <= SHRUNK * 2 else max(SHRUNK, len(c)) for n, c in zip(natural, cols)]
    shown, used = [], 1
    for i in range(len(cols)):
        if used + least[i] + 3 > width and shown:
            break                                # the leftmost columns that fit
        shown.append(i)
        used += least[i] + 3                                     # borders and padding
    alloc = {i: least[i] for i in shown}
    for i in shown:                                              # what is left, left to right
        extra = min(natural[i] - alloc[i], max(0, width - used))
        alloc[i] += extra
        used += extra
    t = Table(title=title, title_justify="left", caption_justify="left", show_lines=False)
    for i in shown:
        t.add_column(cols[i], overflow="ellipsis", no_wrap=True, min_width=alloc[i],
                     max_width=alloc[i])
    for r in rows:
        t.add_row(*[r[i] for i in shown])
    notes = []
    if len(df) > max_rows:
        notes.append(f"{max_rows} of {len(df)} rows shown")
    hidden = [cols[i] for i in range(len(cols)) if i not in shown]
    if hidden:
        notes.append(f"{len(hidden)} column{'s' if len(hidden) > 1 else ''} not shown: "
                     f"{', '.join(hidden)}")
    if notes:
        t.caption = "; ".join(notes) + " (--format csv or json gives everything)"
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

"""The `tracker` command. Thin: parse options, call the library, print, exit with a clear code."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from tracker import __version__, runner
from tracker.config import Config, load_config
from tracker.core.errors import TrackerError
from tracker.core.lock import RunLock
from tracker.core.logs import setup_logging
from tracker.core.outputs import check_output_file

# Wider than 80 columns when piped (the demo's tables), the terminal's width otherwise.
out = Console(width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, soft_wrap=True)   # one message, one line: greppable in logs


def _cfg(ctx: click.Context) -> Config:
    obj = ctx.find_root().obj
    if "cfg" not in obj:
        obj["cfg"] = load_config(obj["config_path"])
        setup_logging(obj["log_level"], obj["log_file"],
                      secret_env=("X_BEARER_TOKEN", obj["cfg"].x.bearer_token_env))
    return obj["cfg"]


class TrackerGroup(click.Group):
    """Turns the library's typed errors into one line on stderr and a distinct exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TrackerError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(exc.exit_code)


def _table(df, title: str | None = None, max_rows: int = 200) -> Table:
    t = Table(title=title, title_justify="left", show_lines=False)
    for c in df.columns:
        t.add_column(str(c), overflow="fold")
    for row in df.head(max_rows).itertuples(index=False):
        t.add_row(*["" if v is None or (isinstance(v, float) and v != v) else str(v)
                    for v in row])
    if len(df) > max_rows:
        t.caption = f"{max_rows} of {len(df)} rows shown; use --format csv for all"
    return t


def _report(result: runner.RunResult) -> None:
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


def _run(fn, cfg: Config, **kw) -> runner.RunResult:
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err,
                  transient=True) as progress:
        progress.add_task(f"{fn.__name__.replace('_', ' ')}…", total=None)
        result = fn(cfg, **kw)
    _report(result)
    return result


@click.group(cls=TrackerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", default="config.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="Configuration file.")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--log-file", type=click.Path(dir_okay=False), help="Log to this file, not stderr.")
@click.version_option(__version__, prog_name="tracker")
@click.pass_context
def cli(ctx: click.Context, config_path: str, log_level: str, log_file: str | None) -> None:
    """Collect posts, polls, replies and coverage; align claims, denials and rebuttals.

    Every command reads --config (default ./config.yaml). Times are UTC.
    """
    ctx.ensure_object(dict)
    ctx.obj.update(config_path=config_path, log_level=log_level, log_file=log_file)
    setup_logging(log_level, log_file)


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the database (applying migrations), the raw folder and the read-only replica."""
    from tracker.store.db import open_db, refresh_replica

    cfg = _cfg(ctx)
    with RunLock(cfg.lock_file):
        con = open_db(cfg.database)
        con.close()
        cfg.raw_dir.mkdir(parents=True, exist_ok=True)
        refresh_replica(cfg.database, cfg.replica)
    out.print(f"database {cfg.database}\nreplica  {cfg.replica} (what `tracker sql` reads)\n"
              f"raw      {cfg.raw_dir}", highlight=False)


@cli.group()
def collect() -> None:
    """Collect from a source."""


@collect.command("x")
@click.option("--account", "accounts", multiple=True, metavar="HANDLE",
              help="Only this tracked account (repeatable).")
@click.option("--replies/--no-replies", default=True, show_default=True,
              help="Then collect replies to tracked posts within x.replies_window_days.")
@click.pass_context
def collect_x(ctx: click.Context, accounts: tuple[str, ...], replies: bool) -> None:
    """Timelines of tracked X accounts since their cursors, then replies."""
    cfg = _cfg(ctx)
    r = _run(runner.collect_posts, cfg, handles=list(accounts) or None)
    codes = [r.exit_code]
    if replies and r.status != "stopped":    # one failed account does not cost the replies
        codes.append(_run(runner.collect_replies, cfg).exit_code)
    sys.exit(max(codes))


@collect.command("replies")
@click.option("--all", "every", is_flag=True,
              help="Search every conversation of the window now, due or not (a catch-up, e.g. "
                   "before writing a report).")
@click.pass_context
def collect_replies(ctx: click.Context, every: bool) -> None:
    """Replies in the tracked posts' conversations that are due (x.replies.schedule), in
    batched recent searches, most urgent first; the rest waits for the next run."""
    sys.exit(_run(runner.collect_replies, _cfg(ctx), every_conversation=every).exit_code)


@cli.command("snapshot-polls")
@click.pass_context
def snapshot_polls(ctx: click.Context) -> None:
    """Re-read open polls (100 posts a request) and append one snapshot row per option."""
    sys.exit(_run(runner.snapshot_polls, _cfg(ctx)).exit_code)


@cli.command("check-deletions")
@click.pass_context
def check_deletions(ctx: click.Context) -> None:
    """Look recent tracked posts up by id and mark the ones the API no longer finds."""
    sys.exit(_run(runner.check_deletions, _cfg(ctx)).exit_code)


def _load_progress(total: int):
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        MofNCompleteColumn(), console=err, transient=True)
    task = progress.add_task("loading raw files", total=total)
    return progress, lambda fl: progress.advance(task)


@cli.command()
@click.option("--retry-failed", is_flag=True,
              help="Also retry raw files whose load failed before (see `tracker status`).")
@click.pass_context
def load(ctx: click.Context, retry_failed: bool) -> None:
    """Load raw pages that are not in the database yet (e.g. after it was busy)."""
    cfg = _cfg(ctx)
    with RunLock(cfg.lock_file):
        pending = runner.pending_summary(cfg)
        progress, tick = _load_progress(len(pending))
        with progress:
            result = runner.load_now(cfg, progress=tick, retry_failed=retry_failed)
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
    return 1 if (result.failed or result.damaged or result.replica_error) else 0


@cli.command()
@click.pass_context
def rebuild(ctx: click.Context) -> None:
    """Recreate the database from the raw archive alone (the old file is kept beside it).

    A database that cannot be opened is moved aside as .corrupt-TIME; a readable one is kept
    as .bak-TIME. Exits 1 if a raw line could not be read (each is named).
    """
    from tracker.store.raw import list_raw_files
    from tracker.store.rebuild import rebuild as do_rebuild

    cfg = _cfg(ctx)
    with RunLock(cfg.lock_file):
        progress, tick = _load_progress(len(list_raw_files(cfg.raw_dir)))
        with progress:
            result = do_rebuild(cfg.database, cfg.raw_dir, cfg.replica, progress=tick,
                                memory_limit=cfg.storage.load_memory_limit)
    out.print(f"rebuilt {cfg.database} from {len(result.files)} raw files "
              f"({result.pages} pages, {result.new_rows} rows)", highlight=False)
    if result.moved_aside:
        err.print(f"  [yellow]the database could not be opened[/] ({result.moved_aside[1]}); "
                  f"it is kept as {result.moved_aside[0]}", highlight=False)
    if result.backup:
        out.print(f"the previous database is kept as {result.backup}", highlight=False)
    sys.exit(_load_problems(result))


@cli.command()
@click.option("--runs", "n_runs", default=10, show_default=True, help="How many recent runs.")
@click.pass_context
def status(ctx: click.Context, n_runs: int) -> None:
    """Last runs, cursors, pages waiting to load, open polls and table sizes."""
    from tracker.status import collect_status

    cfg = _cfg(ctx)
    st = collect_status(cfg, n_runs)
    if st.database != "ok":
        style = "yellow" if st.database.startswith(("busy", "missing")) else "red"
        out.print(f"[{style}]database {st.database}[/]", highlight=False)
    out.print(f"reading {st.read_from}", highlight=False)
    if st.counts:
        out.print("  ".join(f"{k}={v}" for k, v in st.counts.items()), highlight=False)
    for title, df in (("last runs", st.runs), ("cursors", st.cursors),
                      ("open polls", st.open_polls)):
        if df is not None:
            out.print(_table(df, title) if len(df) else f"{title}: none")
    b = st.backlog
    if b:
        out.print(f"backlog: {b['conversations_due']} of {b['conversations_followed']} "
                  f"conversations due a search, {b['deletions_due']} of "
                  f"{b['deletions_followed']} posts due a deletion check"
                  + (f"; the oldest due item has waited {b['oldest_due_hours']:.1f} h"
                     if b["oldest_due_hours"] > 0 else ""), highlight=False)
    for path, error in st.failed:
        out.print(f"[red]raw file not loaded[/]: {path}: {error}", highlight=False)
    for path, damage in st.damaged:
        out.print(f"[red]raw file damaged[/]: {path}: {damage}", highlight=False)
    out.print(f"pending raw files: {len(st.pending)}"
              + (f" (oldest {st.pending[0]}; `tracker load` loads them)" if st.pending else ""),
              highlight=False)


@cli.command()
@click.argument("query")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "csv", "json", "parquet"]))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@click.option("--live", is_flag=True,
              help="Read the live database instead of the read-only replica (fails while a "
                   "run is loading).")
@click.pass_context
def sql(ctx: click.Context, query: str, fmt: str, output: str | None, live: bool) -> None:
    """Run a read-only SQL QUERY against the replica and print or export the result."""
    from tracker.query import export, run_query

    cfg = _cfg(ctx)
    if output and fmt == "table":
        raise click.UsageError("-o needs --format csv, json or parquet")
    target = check_output_file(cfg, output) if output else None
    df = run_query(cfg, query, live=live)
    if fmt == "table":
        out.print(_table(df))
        return
    text = export(df, fmt, target)
    if text is not None:
        click.echo(text, nl=False)
    else:
        err.print(f"wrote {len(df)} rows to {output}", highlight=False)


@cli.command()
@click.option("--dir", "workdir", default="data/demo", show_default=True,
              type=click.Path(file_okay=False), help="Where the demo keeps its database.")
def demo(workdir: str) -> None:
    """Run the collection over the bundled sample through a local API server, then show it."""
    from tracker.demo import SUMMARY_QUERIES, run_demo
    from tracker.query import run_query

    out.print("[bold]Demo[/]: replaying data/sample (a reconstruction of the October 2022 "
              "episode) through a local X API server on 127.0.0.1.\n")

    def on_run(label: str, r: runner.RunResult) -> None:
        if r.requests or r.job == "analyze":
            read = f", {r.posts_read} posts read" if r.posts_read else ""
            out.print(f"[dim]{label}[/]  {r.job}: {r.requests} requests{read}, "
                      f"{r.new_rows} new / {r.updated_rows} updated rows", highlight=False)

    result = run_demo(Path(workdir), on_run=on_run)
    for title, q in SUMMARY_QUERIES.items():
        out.print()
        out.print(_table(run_query(result.config, q), title))

    from tracker.analysis import api
    from tracker.analysis.run import read_connection
    from tracker.cli_analysis import print_firsts, print_timeline
    from tracker.demo import DEMO_STORY
    from tracker.report import write_report

    story = DEMO_STORY["id"]
    con = read_connection(result.config)
    try:
        out.print()
        print_timeline(api.timeline(con, story), story, skip_replies=True)
        out.print()
        print_firsts(api.story_firsts(con, story))
    finally:
        con.close()
    report = write_report(result.config, story, Path(workdir) / "report.html")
    cfg_path = result.config.source_path
    out.print(f"\nStory report: {report.path}", highlight=False, soft_wrap=True)
    out.print(f"\nStored in {result.config.database}. Explore it:\n"
              f"  tracker --config {cfg_path} timeline {story}\n"
              f"  tracker --config {cfg_path} status\n"
              f"  tracker --config {cfg_path} sql \"SELECT * FROM timeline LIMIT 5\"",
              highlight=False, soft_wrap=True)


# Command groups that live in their own modules register themselves here.
_COMMAND_MODULES = ("cli_press", "cli_ops", "cli_import", "cli_analysis", "cli_report",
                    "cli_tools")


def _register_command_modules() -> None:
    import importlib

    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"tracker.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tracker.{name}":
                continue          # that part of the tracker is not installed in this checkout
            raise
        module.register(cli)


_register_command_modules()


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()

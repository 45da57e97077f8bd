"""Reading and handing off: `tracker sql`, `tracker export --parquet DIR`, `tracker cost`,
`tracker lake …` (tracker/cli/lake.py).

Thin: the work is in tracker/store/query.py, tracker/store/export.py and tracker/runs/cost.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from tracker.cli import lake
from tracker.core.lazy import lazy_module
from tracker.core.outputs import check_output_file
from tracker.core.terminal import config_of, err, out, table

cost_runs = lazy_module("tracker.runs.cost")
parquet_export = lazy_module("tracker.store.export")
store_query = lazy_module("tracker.store.query")


@click.command()
@click.argument("query", required=False)
@click.option("-f", "--file", "sql_file", type=click.File("r", encoding="utf-8"),
              help="Read the SQL from this file (- for stdin).")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "csv", "json", "parquet"]))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@click.option("--live", is_flag=True,
              help="Read the live database instead of the read-only replica (fails while a "
                   "run is loading).")
@click.pass_context
def sql(ctx: click.Context, query: str | None, sql_file, fmt: str, output: str | None,
        live: bool) -> None:
    """Run read-only SQL against the replica and print or export the result.

    QUERY is the SQL, or - to read it from stdin (or give --file). Several statements
    (`SELECT 1; SELECT 2`) print one table each; csv, json and parquet take one statement.
    """
    if sql_file is not None and query is not None:
        raise click.UsageError("give the SQL as QUERY or with --file, not both")
    if sql_file is not None:
        query = sql_file.read()
    elif query == "-":
        query = sys.stdin.read()
    if not query or not query.strip():
        raise click.UsageError("no SQL given: tracker sql \"SELECT …\" (or -, or --file)")
    cfg = config_of(ctx)
    if output and fmt == "table":
        raise click.UsageError("-o needs --format csv, json or parquet")
    statements = store_query.split_statements(query)
    if fmt != "table" and len(statements) > 1:
        raise click.UsageError(f"--format {fmt} takes one statement; this SQL has "
                               f"{len(statements)}")
    target = check_output_file(cfg, output) if output else None
    results = store_query.run_queries(cfg, query, live=live)
    if fmt == "table":
        for statement, df in results:
            if len(results) > 1:
                out.print(" ".join(statement.split())[:200], style="bold", highlight=False,
                          markup=False)
            out.print(table(df))
        return
    df = results[0][1]
    text = store_query.export(df, fmt, target)
    if text is not None:
        click.echo(text, nl=False)
    else:
        err.print(f"wrote {len(df)} rows to {output}", highlight=False)


@click.command("cost")
@click.option("--posts-per-day", type=click.FloatRange(min=0), metavar="N",
              help="Posts per tracked account per day (default: measured in the database).")
@click.option("--replies-per-post", type=click.FloatRange(min=0), metavar="N",
              help="Replies per own post (default: measured).")
@click.option("--polls-per-day", type=click.FloatRange(min=0), metavar="N",
              help="Polls per tracked account per day (default: measured).")
@click.option("--no-measure", is_flag=True, help="Ignore the database; use defaults and options.")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json"]))
@click.pass_context
def cost_cmd(ctx: click.Context, posts_per_day, replies_per_post, polls_per_day, no_measure,
             fmt) -> None:
    """Project a month (30 days) of the configured collection: requests, reads and USD per job.

    Runs per job come from schedule.jobs (or the shipped schedule), accounts from the config,
    posting rates from the database when it holds data, prices from each source's section
    (x.pricing: placeholders until you set them from your X plan).
    """
    cfg = config_of(ctx)
    proj = cost_runs.project(cfg, {"posts_per_day": posts_per_day,
                                   "replies_per_post": replies_per_post,
                                   "polls_per_day": polls_per_day}, measure=not no_measure)
    if fmt == "json":
        click.echo(json.dumps(proj.as_dict(), indent=2, default=str))
        return
    t = Table(title=f"{proj.accounts} accounts, {proj.days} days; runs from "
                    f"{proj.schedule_source}", title_justify="left")
    several = len({j.source for j in proj.jobs}) > 1
    cols = (["source"] if several else []) + [
        "job", "cron", "runs", "requests", "post reads", "billed post reads", "user reads", "USD",
        "note"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("source", "job", "cron", "note") else "right",
                     no_wrap=c in ("source", "job", "cron", "USD"))
    for j in proj.jobs:
        t.add_row(*([j.source] if several else []), j.job, j.cron or "", f"{j.runs:,}",
                  f"{j.requests:,.0f}", f"{j.post_reads:,.0f}", f"{j.billed_post_reads:,.0f}",
                  f"{j.user_reads:,.0f}", f"{j.usd:,.2f}", j.note)
    t.add_row(*([""] if several else []), "total", "", "", f"{proj.requests:,.0f}", "",
              f"{proj.billed_post_reads:,.0f}",
              "", f"{proj.total_usd:,.2f}",
              f"incl. {proj.base_usd:,.2f} monthly base" if proj.base_usd else "")
    out.print(t)
    for note in proj.notes:
        out.print(note, highlight=False)
    for k, v in proj.rates.items():
        out.print(f"  {proj.rate_help.get(k, k)}: {v:,.3g}  ({proj.rate_sources[k]})",
                  highlight=False)
    for w in proj.warnings:
        out.print(f"[yellow]warning:[/] {w}", highlight=False)
    if not proj.accounts:
        out.print("no accounts to collect: list them under `accounts:` in the config, then run "
                  "tracker cost again", highlight=False)


@click.command("export")
@click.option("--parquet", "parquet_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Write every table here as Parquet, the large ones partitioned by platform "
                   "and month (Hive layout).")
@click.option("--live", is_flag=True,
              help="Read the live database instead of the read-only replica.")
@click.option("--overwrite", is_flag=True, help="Replace DIR if it is not empty.")
@click.pass_context
def export_cmd(ctx: click.Context, parquet_dir: str, live: bool, overwrite: bool) -> None:
    """Export the database as Parquet for DuckDB, Spark or any Parquet reader.

    DIR/posts/platform=x/month=2022-10/*.parquet and likewise for post_versions,
    poll_snapshots, raw_pages, api_errors, articles, article_sources and runs; the other
    tables as DIR/<table>.parquet, the views under DIR/views/. Read it back with
    read_parquet('DIR/posts/**/*.parquet', hive_partitioning = true).
    """
    res = parquet_export.export_parquet(config_of(ctx), Path(parquet_dir), live=live,
                                        overwrite=overwrite)
    rows = sum(res.tables.values())
    out.print(f"exported {len(res.tables)} tables ({rows:,} rows) and {len(res.views)} views "
              f"to {res.path}", highlight=False)
    for name, cols in res.partitions.items():
        out.print(f"  {name}: {res.tables[name]:,} rows, partitioned by {', '.join(cols)}",
                  highlight=False)
    for name, why in res.skipped_views.items():
        err.print(f"  view {name} not exported: {why}", highlight=False, markup=False)


def register(cli: click.Group) -> None:
    for cmd in (sql, cost_cmd, export_cmd):
        cli.add_command(cmd)
    lake.register(cli)               # the export that grows with each load

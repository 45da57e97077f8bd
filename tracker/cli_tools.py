"""Planning and hand-off commands: `tracker cost`, `tracker export --parquet DIR`.

Registered into the `tracker` group by tracker/cli.py. Thin: the work is in tracker/cost.py
and tracker/export.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


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

    Runs per job come from schedule.jobs (or the README's crontab), accounts from the config,
    posting rates from the database when it holds data, prices from x.pricing (placeholders
    until you set them from your X plan).
    """
    from rich.table import Table

    from tracker.cli import _cfg, out
    from tracker.cost import RATE_HELP, project

    cfg = _cfg(ctx)
    proj = project(cfg, {"posts_per_day": posts_per_day, "replies_per_post": replies_per_post,
                         "polls_per_day": polls_per_day}, measure=not no_measure)
    if fmt == "json":
        click.echo(json.dumps(proj.as_dict(), indent=2, default=str))
        return
    t = Table(title=f"{proj.accounts} accounts, {proj.days} days; runs from "
                    f"{proj.schedule_source}", title_justify="left")
    for c in ("job", "cron", "runs", "requests", "post reads", "billed post reads",
              "user reads", "USD", "note"):
        t.add_column(c, justify="right" if c not in ("job", "cron", "note") else "left",
                     no_wrap=c in ("job", "cron", "USD"))
    for j in proj.jobs:
        t.add_row(j.job, j.cron or "", f"{j.runs:,}", f"{j.requests:,.0f}",
                  f"{j.post_reads:,.0f}", f"{j.billed_post_reads:,.0f}",
                  f"{j.user_reads:,.0f}", f"{j.usd:,.2f}", j.note)
    t.add_row("total", "", "", f"{proj.requests:,.0f}", "", f"{proj.billed_post_reads:,.0f}",
              "", f"{proj.total_usd:,.2f}",
              f"incl. {proj.base_usd:,.2f} monthly base" if proj.base_usd else "")
    out.print(t)
    p = proj.pricing
    out.print(f"prices (x.pricing): {p['usd_per_post_read']} USD a post read, "
              f"{p['usd_per_user_read']} a user read, {p['usd_per_request']} a request"
              + ("; a post read twice in a UTC day is billed once"
                 if p["dedupe_reads_per_utc_day"] else ""), highlight=False)
    for k, v in proj.rates.items():
        out.print(f"  {RATE_HELP[k]}: {v:,.3g}  ({proj.rate_sources[k]})", highlight=False)
    for w in proj.warnings:
        out.print(f"[yellow]warning:[/] {w}", highlight=False)


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
    from tracker.cli import _cfg, err, out
    from tracker.export import export_parquet

    res = export_parquet(_cfg(ctx), Path(parquet_dir), live=live, overwrite=overwrite)
    rows = sum(res.tables.values())
    out.print(f"exported {len(res.tables)} tables ({rows:,} rows) and {len(res.views)} views "
              f"to {res.path}", highlight=False)
    for name, cols in res.partitions.items():
        out.print(f"  {name}: {res.tables[name]:,} rows, partitioned by {', '.join(cols)}",
                  highlight=False)
    for name, why in res.skipped_views.items():
        err.print(f"  view {name} not exported: {why}", highlight=False, markup=False)


def register(cli: click.Group) -> None:
    for cmd in (cost_cmd, export_cmd):
        cli.add_command(cmd)

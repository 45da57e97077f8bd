"""Press commands: `tracker collect press`, `tracker press add`, `tracker press list`."""

from __future__ import annotations

import sys

import click

from tracker.core.errors import QueryError
from tracker.core.outputs import check_output_file
from tracker.core.terminal import config_of, err, out, run_job, table
from tracker.sources.press.listing import list_articles, parse_when
from tracker.store.query import export


def _press_report(result) -> None:
    style = {"ok": "green", "stopped": "yellow"}.get(result.status, "red")
    line = (f"[{style}]{result.job}[/] run {result.run_id}: {result.status}; "
            f"{result.requests} requests, {result.pages} pages, {result.new_rows} new rows, "
            f"{result.updated_rows} updated")
    if result.load_state != "loaded":
        line += f" [yellow]({result.load_state}: pages wait in raw for the next run)[/]"
    out.print(line, highlight=False)


def _line(text: str) -> None:
    err.print(text, highlight=False, markup=False, soft_wrap=True)


def _problems(result) -> None:
    details = result.details or {}
    for failure in details.get("failures", []):
        _line(f"  failed: {failure}")
    for warning in details.get("warnings", []):
        _line(f"  warning: {warning}")
    if result.stop_reason:
        _line(f"  stopped: {result.stop_reason}")
    elif result.error and not details.get("failures") and not details.get("warnings"):
        _line(f"  {result.status}: {result.error}")


@click.command("press")
@click.option("--feed", "feeds", multiple=True, metavar="NAME",
              help="Only this configured feed (repeatable).")
@click.option("--gdelt/--no-gdelt", default=True, show_default=True,
              help="Also run the press queries on GDELT.")
@click.pass_context
def collect_press_cmd(ctx: click.Context, feeds: tuple[str, ...], gdelt: bool) -> None:
    """Press coverage: every feed (conditional GET), then the press queries on GDELT."""
    result = run_job(ctx, "collect_press", report=False, feeds=list(feeds) or None,
                     gdelt=gdelt and not feeds)
    _press_report(result)
    details = result.details or {}
    for f in details.get("feeds", []):
        what = ("not modified (304)" if f["status"] == "not_modified"
                else f"{f['entries']} entries")
        out.print(f"  feed {f['name']}: {what}", highlight=False)
    for q in details.get("queries", []):
        what = ("window already complete" if q["skipped"] else
                f"{q['articles']} articles in {q['windows']} windows"
                + (f" ({q['splits']} splits under the 250 cap)" if q["splits"] else ""))
        out.print(f"  GDELT {q['name']}: {what}, {q['volume_points']} volume points",
                  highlight=False)
    _problems(result)
    sys.exit(result.exit_code)


@click.group()
def press() -> None:
    """Press coverage: add single articles, list what is stored."""


@press.command("add")
@click.argument("targets", nargs=-1, required=True, metavar="URL|FILE.html...")
@click.option("--url", "url", metavar="URL",
              help="The article's address, for a saved page without a canonical link.")
@click.pass_context
def press_add(ctx: click.Context, targets: tuple[str, ...], url: str | None) -> None:
    """Add articles from URLs or saved HTML files (title, date, authors, text by trafilatura)."""
    result = run_job(ctx, "press_add", report=False, targets=list(targets), url=url)
    _press_report(result)
    for p in (result.details or {}).get("pages", []):
        when = (f"published {p['published_at']}"
                + (f" ({p['date_note']})" if p["date_note"] else "")
                if p["published_at"] else p["date_note"])
        out.print(f"  {p['title'] or '(no title)'}\n    {p['outlet'] or p['domain']}; {when}"
                  f"\n    {p['url']}"
                  + (f"\n    by {', '.join(p['authors'])}" if p["authors"] else ""),
                  highlight=False)
    _problems(result)
    sys.exit(result.exit_code)


@press.command("list")
@click.option("--since", metavar="DATE", help="First reported at or after (2022-10-11 or an "
                                               "ISO time; UTC unless it has a zone).")
@click.option("--until", metavar="DATE", help="First reported before this.")
@click.option("--outlet", metavar="TEXT", help="Outlet name or domain contains TEXT.")
@click.option("--source", type=click.Choice(["feed", "gdelt", "manual"]),
              help="Only articles seen by this kind of source.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "csv", "json"]))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write csv/json to this file.")
@click.option("--live", is_flag=True, help="Read the live database, not the replica.")
@click.pass_context
def press_list(ctx: click.Context, since: str | None, until: str | None, outlet: str | None,
               source: str | None, limit: int, fmt: str, output: str | None,
               live: bool) -> None:
    """Stored articles, in the order they were first reported, with every source."""
    try:
        since_at, until_at = parse_when(since, "--since"), parse_when(until, "--until")
    except QueryError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[1]) from None
    cfg = config_of(ctx)
    if output and fmt == "table":
        raise click.UsageError("-o needs --format csv or json")
    target = check_output_file(cfg, output) if output else None
    df = list_articles(cfg, since=since_at, until=until_at, outlet=outlet,
                       source=source, limit=limit, live=live)
    if fmt == "table":
        if df.empty:
            out.print("no articles match", highlight=False)
            return
        out.print(table(df))
        return
    text = export(df, fmt, target)
    if text is not None:
        click.echo(text, nl=False)
    else:
        err.print(f"wrote {len(df)} rows to {output}", highlight=False)


def register(cli: click.Group) -> None:
    cli.commands["collect"].add_command(collect_press_cmd)
    cli.add_command(press)

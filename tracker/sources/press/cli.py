"""Press commands: `tracker collect press`, `tracker press add`, `tracker press list`,
`tracker press history`."""

from __future__ import annotations

import sys

import click

from tracker.core.errors import QueryError
from tracker.core.lazy import lazy_module
from tracker.core.outputs import check_output_file
from tracker.core.terminal import config_of, err, out, run_job, table

# pandas and DuckDB load when a command needs them, not for `tracker --help`
pd = lazy_module("pandas")
press_history_lib = lazy_module("tracker.sources.press.history")
listing = lazy_module("tracker.sources.press.listing")
store_query = lazy_module("tracker.store.query")


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
@click.option("--refetch/--no-refetch", default=None,
              help="Also re-fetch the stories' articles that are due (and look them up on "
                   "the Wayback Machine if press.wayback.enabled); default: unless --feed.")
@click.pass_context
def collect_press_cmd(ctx: click.Context, feeds: tuple[str, ...], gdelt: bool,
                      refetch: bool | None) -> None:
    """Press coverage: every feed (conditional GET), then the press queries on GDELT, then
    the due re-fetches of the stories' articles."""
    result = run_job(ctx, "collect_press", report=False, feeds=list(feeds) or None,
                     gdelt=gdelt and not feeds,
                     refetch=not feeds if refetch is None else refetch)
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
    if details.get("articles"):
        what = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(details["articles"].items()))
        out.print(f"  articles re-fetched: {what}", highlight=False)
    for w in details.get("wayback", []):
        out.print(f"  Wayback {w['url']}: {w['captures']} captures, {w['digests']} distinct, "
                  f"{w['versions_read']} read" + (" (more exist)" if w["more"] else ""),
                  highlight=False)
    for k, n in (details.get("deferred") or {}).items():
        out.print(f"  deferred to the next run: {n} {k.replace('_', ' ')}", highlight=False)
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
        since_at = listing.parse_when(since, "--since")
        until_at = listing.parse_when(until, "--until")
    except QueryError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[1]) from None
    cfg = config_of(ctx)
    if output and fmt == "table":
        raise click.UsageError("-o needs --format csv or json")
    target = check_output_file(cfg, output) if output else None
    df = listing.list_articles(cfg, since=since_at, until=until_at, outlet=outlet,
                               source=source, limit=limit, live=live)
    if fmt == "table":
        if df.empty:
            out.print("no articles match", highlight=False)
            return
        out.print(table(df))
        return
    text = store_query.export(df, fmt, target)
    if text is not None:
        click.echo(text, nl=False)
    else:
        err.print(f"wrote {len(df)} rows to {output}", highlight=False)


def _when(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M:%SZ}"


@press.command("history")
@click.argument("url")
@click.option("--live", is_flag=True, help="Read the live database, not the replica.")
@click.pass_context
def press_history(ctx: click.Context, url: str, live: bool) -> None:
    """An article's versions (our re-fetches and Wayback captures), with what changed."""
    cfg = config_of(ctx)
    canon, versions = press_history_lib.history(cfg, url, live=live)
    if not versions:
        out.print(f"no versions of {canon} are stored (an article gets them once a story "
                  "holds it and it is re-fetched, or from `tracker press add URL`)",
                  highlight=False, soft_wrap=True)
        return
    out.print(f"{canon}\n{versions[0].row['outlet']}: {len(versions)} version(s)",
              highlight=False, soft_wrap=True)
    for v in versions:
        r = v.row
        seen = ("Wayback capture" if r["origin"] == "wayback" else "fetched")
        line = (f"\nversion {v.number} ({seen}): first seen {_when(r['first_seen_at'])}, last "
                f"seen {_when(r['last_seen_at'])}")
        if v.number > 1:
            line += f"; changed after {_when(r['previous_seen_until'])}"
        out.print(line, highlight=False, soft_wrap=True)
        if r["outlet_modified_claim"]:
            out.print(f"  the outlet says: {r['outlet_modified_claim']}", highlight=False,
                      soft_wrap=True, markup=False)
        out.print(f"  {r['title'] or '(no title)'}", highlight=False, soft_wrap=True,
                  markup=False)
        for change in v.changes:
            out.print(f"    {change}", highlight=False, soft_wrap=True, markup=False)


def register(cli: click.Group) -> None:
    cli.commands["collect"].add_command(collect_press_cmd)
    cli.add_command(press)

"""`tracker report STORY`: the story's self-contained HTML report (and a PNG of it);
`tracker report --all -o DIR`: every configured story's report and an index of them."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from tracker.core.lazy import lazy_module
from tracker.core.terminal import config_of, out

reports = lazy_module("tracker.report")


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {name!r}: use an IANA name such as UTC or "
                                 "Europe/Paris") from None
    return name


@click.command()
@click.argument("story", required=False)
@click.option("--all", "all_stories", is_flag=True,
              help="Write the report of every story in config.yaml into the folder given by "
                   "-o (STORY.html each) and an index.html listing them with their firsts "
                   "and the tracked accounts' latest denials.")
@click.option("-o", "--output", type=click.Path(),
              help="The HTML file to write [default: STORY.html]; with --all, the folder "
                   "[default: reports].")
@click.option("--png", "png", type=click.Path(dir_okay=False),
              help="Also write a PNG of the header and chart, without toolbar or buttons "
                   "(for slides); needs Chromium.")
@click.option("--tz", "tz", default="UTC", show_default=True, metavar="ZONE",
              callback=lambda ctx, param, value: _zone(value),
              help="Show times in this IANA zone (e.g. Europe/Paris) instead of UTC.")
@click.pass_context
def report(ctx: click.Context, story: str | None, all_stories: bool, output: str | None,
           png: str | None, tz: str) -> None:
    """Write STORY's report: one HTML file with the timeline chart and tables, viewable offline.

    The chart opens on the story's active span (first claim to last denial or rebuttal) and
    puts the claim, denials, rebuttals, the press, replies by stance and the poll on one time
    axis; the tables give the firsts and lags, the press follow-up and every item with its
    evidence and link. Scripts, styles and data are inside the file: no network is needed to
    view it, on a desktop or a phone. Reads the database (or its replica while a run holds
    it); run `tracker analyze` first.

    With --all (and no STORY), writes every configured story's report into a folder, with an
    index.html listing each story's title, window and firsts, linked to its report, and the
    tracked accounts' latest denials, found with or without a story (see `tracker denials`):
    each linked to the story holding it, or given the `tracker story new --from-denial`
    command that makes one.
    """
    if all_stories:
        if story:
            raise click.UsageError("give either a STORY or --all, not both")
        if png:
            raise click.UsageError("--png pictures one story: run `tracker report STORY --png "
                                   "FILE` for the one you want")
        cfg = config_of(ctx)
        result = reports.write_all(cfg, Path(output or "reports"), tz=tz)
        for r in result.reports:
            out.print(f"wrote {r.path} ({r.items} items)", highlight=False, soft_wrap=True)
        for s in result.missing:
            out.print(f"[yellow]no report for {s.story_id}[/]: {s.note}", highlight=False,
                      soft_wrap=True)
        n, k = len(result.stories), len(result.reports)
        out.print(f"wrote {result.path} ({n} stor{'y' if n == 1 else 'ies'}, {k} "
                  f"report{'' if k == 1 else 's'})", highlight=False, soft_wrap=True)
        return
    if not story:
        raise click.UsageError("which story? give its id (see config.yaml), or --all")
    cfg = config_of(ctx)
    path = Path(output) if output else Path(f"{story}.html")
    if path.is_dir():
        raise click.UsageError(f"-o {output}: a folder; give the HTML file to write")
    result = reports.write_report(cfg, story, path, tz=tz, png=Path(png) if png else None)
    out.print(f"wrote {result.path} ({result.items} items)", highlight=False, soft_wrap=True)
    if result.png:
        out.print(f"wrote {result.png}", highlight=False, soft_wrap=True)


def register(cli: click.Group) -> None:
    cli.add_command(report)

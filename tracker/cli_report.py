"""`tracker report STORY`: the story's self-contained HTML report (and a PNG of it)."""

from __future__ import annotations

from pathlib import Path

import click

from .cli import _cfg, out


@click.command()
@click.argument("story")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="The HTML file to write [default: STORY.html].")
@click.option("--png", "png", type=click.Path(dir_okay=False),
              help="Also write a PNG of the header and chart (for slides); needs Chromium.")
@click.option("--tz", "tz", default="UTC", show_default=True, metavar="ZONE",
              help="Show times in this IANA zone (e.g. Europe/Paris) instead of UTC.")
@click.pass_context
def report(ctx: click.Context, story: str, output: str | None, png: str | None,
           tz: str) -> None:
    """Write STORY's report: one HTML file with the timeline chart and tables, viewable offline.

    The chart puts the claim, denials, rebuttals, the press, replies by stance and the poll on
    one time axis; the tables give the firsts and lags, the press follow-up and every item with
    its evidence and link. Scripts, styles and data are inside the file: no network is needed
    to view it. Reads the database (or its replica while a run holds it); run `tracker
    analyze` first.
    """
    from .report import write_report

    cfg = _cfg(ctx)
    path = Path(output) if output else Path(f"{story}.html")
    result = write_report(cfg, story, path, tz=tz, png=Path(png) if png else None)
    out.print(f"wrote {result.path} ({result.items} items)", highlight=False, soft_wrap=True)
    if result.png:
        out.print(f"wrote {result.png}", highlight=False, soft_wrap=True)


def register(cli: click.Group) -> None:
    cli.add_command(report)

"""`tracker demo`: the collection over the bundled sample, through local API servers."""

from __future__ import annotations

from pathlib import Path

import click

from tracker.cli.analysis import print_firsts, print_timeline
from tracker.core.lazy import lazy_module
from tracker.core.terminal import out, table

api = lazy_module("tracker.analysis.api")
reports = lazy_module("tracker.report")
demo_runs = lazy_module("tracker.runs.demo")
db = lazy_module("tracker.store.db")
query = lazy_module("tracker.store.query")


@click.command()
@click.option("--dir", "workdir", default="data/demo", show_default=True,
              type=click.Path(file_okay=False), help="Where the demo keeps its database.")
def demo(workdir: str) -> None:
    """Run the collection over the bundled sample through a local API server, then show it."""
    out.print("[bold]Demo[/]: replaying data/sample (a reconstruction of the October 2022 "
              "episode, its denial cross-posted to Mastodon and Bluesky) through local "
              "stand-ins of each API and of the press on 127.0.0.1.\n")

    def on_run(label: str, r) -> None:
        if r.requests or r.job == "analyze":
            read = f", {r.posts_read} posts read" if r.posts_read else ""
            out.print(f"[dim]{label}[/]  {r.job}: {r.requests} requests{read}, "
                      f"{r.new_rows} new / {r.updated_rows} updated rows", highlight=False)

    result = demo_runs.run_demo(Path(workdir), on_run=on_run)
    for title, q in demo_runs.SUMMARY_QUERIES.items():
        out.print()
        out.print(table(query.run_query(result.config, q), title))

    story = demo_runs.demo_story()["id"]
    con = db.read_connection(result.config)
    try:
        out.print()
        print_timeline(api.timeline(con, story), story, skip_replies=True)
        out.print()
        print_firsts(api.story_firsts(con, story), api.person_firsts(con, story))
    finally:
        con.close()
    written = reports.write_report(result.config, story, Path(workdir) / "report.html")
    cfg_path = result.config.source_path
    out.print(f"\nStory report: {written.path}", highlight=False, soft_wrap=True)
    out.print(f"\nStored in {result.config.database}. Explore it:\n"
              f"  tracker --config {cfg_path} timeline {story}\n"
              f"  tracker --config {cfg_path} status\n"
              f"  tracker --config {cfg_path} sql \"SELECT * FROM timeline ORDER BY event_at LIMIT 5\"",
              highlight=False, soft_wrap=True)


def register(cli: click.Group) -> None:
    cli.add_command(demo)

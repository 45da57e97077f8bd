"""The Bluesky source's command: `tracker collect bluesky`."""

from __future__ import annotations

import sys

import click

from tracker.core.terminal import run_job
from tracker.sources.bluesky.normalize import SOURCE


@click.command("bluesky")
@click.option("--account", "accounts", multiple=True, metavar="HANDLE",
              help="Only this tracked account, e.g. name.bsky.social (repeatable).")
@click.option("--replies/--no-replies", default=True, show_default=True,
              help="Then read the threads of the conversations that are due.")
@click.option("--all-conversations", "every", is_flag=True,
              help="Read every conversation of the replies window now, due or not (a "
                   "catch-up, e.g. before writing a report).")
@click.pass_context
def collect_bluesky(ctx: click.Context, accounts: tuple[str, ...], replies: bool,
                    every: bool) -> None:
    """New posts, replies, quotes and reposts of the tracked Bluesky accounts since their
    cursors (the first run backfills up to bluesky.backfill_max_posts), then the threads of
    the conversations that are due (bluesky.replies.schedule). Public AppView reads: no
    account or token needed. Bluesky has no polls and no edits."""
    r = run_job(ctx, "collect_posts", source=SOURCE, handles=list(accounts) or None)
    codes = [r.exit_code]
    if replies and r.status != "stopped":    # one failed account does not cost the replies
        codes.append(run_job(ctx, "collect_replies", source=SOURCE,
                             every_conversation=every).exit_code)
    sys.exit(max(codes))


def register(cli: click.Group) -> None:
    cli.commands["collect"].add_command(collect_bluesky)

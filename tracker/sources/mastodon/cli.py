"""The Mastodon source's command: `tracker collect mastodon`."""

from __future__ import annotations

import sys

import click

from tracker.core.terminal import run_job

PLATFORM = "mastodon"


@click.command(PLATFORM)
@click.option("--account", "accounts", multiple=True, metavar="USER@INSTANCE",
              help="Only this tracked account (repeatable).")
@click.option("--replies/--no-replies", default=True, show_default=True,
              help="Then read the threads of the tracked posts that are due for replies.")
@click.option("--all-threads", "every", is_flag=True,
              help="Read every thread of the replies window now, due or not (a catch-up).")
@click.pass_context
def collect_mastodon(ctx: click.Context, accounts: tuple[str, ...], replies: bool,
                     every: bool) -> None:
    """New statuses of the tracked Mastodon accounts since their cursors (boosts and replies
    marked, polls snapshotted, edited ones' histories), then the replies that are due
    (mastodon.replies.schedule). Polls and deletion checks run with `tracker snapshot-polls`
    and `tracker check-deletions`."""
    r = run_job(ctx, "collect_posts", source=PLATFORM, handles=list(accounts) or None)
    codes = [r.exit_code]
    if replies and r.status != "stopped":
        codes.append(run_job(ctx, "collect_replies", source=PLATFORM,
                             every_thread=every).exit_code)
    sys.exit(max(codes))


def register(cli: click.Group) -> None:
    cli.commands["collect"].add_command(collect_mastodon)

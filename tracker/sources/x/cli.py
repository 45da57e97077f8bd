"""The X source's commands: `tracker collect x` and `tracker collect replies`."""

from __future__ import annotations

import sys

import click

from tracker.core.terminal import run_job


@click.command("x")
@click.option("--account", "accounts", multiple=True, metavar="HANDLE",
              help="Only this tracked account (repeatable).")
@click.option("--replies/--no-replies", default=True, show_default=True,
              help="Then search the conversations that are due for replies.")
@click.pass_context
def collect_x(ctx: click.Context, accounts: tuple[str, ...], replies: bool) -> None:
    """New posts of the tracked X accounts since their cursors, then replies."""
    r = run_job(ctx, "collect_posts", handles=list(accounts) or None)
    codes = [r.exit_code]
    if replies and r.status != "stopped":    # one failed account does not cost the replies
        codes.append(run_job(ctx, "collect_replies").exit_code)
    sys.exit(max(codes))


@click.command("replies")
@click.option("--all", "every", is_flag=True,
              help="Search every conversation of the window now, due or not (a catch-up, e.g. "
                   "before writing a report).")
@click.pass_context
def collect_replies(ctx: click.Context, every: bool) -> None:
    """Replies in the tracked posts' conversations that are due (x.replies.schedule), in
    batched recent searches, most urgent first; the rest waits for the next run."""
    sys.exit(run_job(ctx, "collect_replies", every_conversation=every).exit_code)


def register(cli: click.Group) -> None:
    collect = cli.commands["collect"]
    collect.add_command(collect_x)
    collect.add_command(collect_replies)

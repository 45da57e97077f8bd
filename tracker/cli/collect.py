"""Collecting: `tracker collect` (every source, or one by its subcommand), `snapshot-polls`,
`check-deletions` (every platform that has them)."""

from __future__ import annotations

import sys

import click

from tracker.core.terminal import config_of, out, report_run
from tracker.sources.registry import REGISTRY


def _run_kind(ctx: click.Context, job: str) -> int:
    """Run ``job`` for every source that has it; the worst exit code."""
    cfg = config_of(ctx)
    run = ctx.find_root().obj["run"]
    codes = [0]
    for source, spec in REGISTRY.jobs():
        if spec.name != job:
            continue
        result = run(cfg, job, source=source.name)
        report_run(result)
        codes.append(result.exit_code)
    return max(codes)


@click.group(invoke_without_command=True)
@click.pass_context
def collect(ctx: click.Context) -> None:
    """Collect from every configured source (new posts, then the replies that are due, then
    the press), or from one: `tracker collect SOURCE`."""
    if ctx.invoked_subcommand is not None:
        return
    cfg = config_of(ctx)
    codes = [0]
    for job in ("collect_posts", "collect_replies", "collect_press"):
        for source, spec in REGISTRY.jobs():
            if spec.name != job or not _configured(cfg, source):
                continue
            result = ctx.find_root().obj["run"](cfg, job, source=source.name)
            report_run(result)
            codes.append(result.exit_code)
    if len(codes) == 1:
        out.print("nothing to collect: no accounts, feeds or queries in the config",
                  highlight=False)
    sys.exit(max(codes))


def _configured(cfg, source) -> bool:
    """Whether the config gives the source anything to collect."""
    if source.platform:
        return bool(cfg.accounts_on(source.platform))
    section = getattr(cfg, source.section, None) if source.section else None
    return bool(section and (getattr(section, "feeds", None) or getattr(section, "queries", None)
                             or cfg.stories))


@click.command("snapshot-polls")
@click.pass_context
def snapshot_polls(ctx: click.Context) -> None:
    """Re-read open polls (every platform that has them) and append one snapshot row per
    option."""
    sys.exit(_run_kind(ctx, "snapshot_polls"))


@click.command("check-deletions")
@click.pass_context
def check_deletions(ctx: click.Context) -> None:
    """Look the tracked posts that are due a re-check up and mark the ones that are gone."""
    sys.exit(_run_kind(ctx, "check_deletions"))


def register(cli: click.Group) -> None:
    cli.add_command(collect)
    cli.add_command(snapshot_polls)
    cli.add_command(check_deletions)

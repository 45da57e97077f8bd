"""Collecting: `tracker collect` (every source, or one by its subcommand), `snapshot-polls`,
`check-deletions` (every platform that has them)."""

from __future__ import annotations

import sys

import click

from tracker.core.terminal import config_of, out, report_run
from tracker.sources.registry import REGISTRY


def _run_kind(ctx: click.Context, job: str) -> int:
    """Run ``job`` for every configured source that has it (if none is configured, for every
    source that has it, so that the run says what is missing); the worst exit code."""
    cfg = config_of(ctx)
    run = ctx.find_root().obj["run"]
    having = [source for source, spec in REGISTRY.jobs() if spec.name == job]
    active = [source for source in having if _configured(cfg, source)]
    codes = [0]
    for source in active or having:
        result = run(cfg, job, source=source.name)
        report_run(result)
        codes.append(result.exit_code)
    return max(codes)


# `tracker collect` runs the posts of every source first, then the replies that are due, then
# every other collecting job (the press)
COLLECT_ORDER = ("collect_posts", "collect_replies")


def collect_plan(cfg) -> list[tuple[str, str]]:
    """(job, source) pairs `tracker collect` runs: every collecting job (scheduled, named
    collect_*) of every source the configuration gives something to do, posts first."""
    pairs = [(spec.name, source.name) for source, spec in REGISTRY.jobs()
             if spec.scheduled and spec.name.startswith("collect_") and _configured(cfg, source)]
    rank = {name: i for i, name in enumerate(COLLECT_ORDER)}
    return sorted(pairs, key=lambda p: rank.get(p[0], len(rank)))     # stable: registry order


@click.group(invoke_without_command=True)
@click.pass_context
def collect(ctx: click.Context) -> None:
    """Collect from every configured source (new posts of every platform, then the replies
    that are due, then the press), or from one: `tracker collect SOURCE`."""
    if ctx.invoked_subcommand is not None:
        return
    cfg = config_of(ctx)
    codes = [0]
    for job, source in collect_plan(cfg):
        result = ctx.find_root().obj["run"](cfg, job, source=source)
        report_run(result)
        codes.append(result.exit_code)
    if len(codes) == 1:
        out.print("nothing to collect: no accounts, feeds or queries in the config",
                  highlight=False)
    sys.exit(max(codes))


def _configured(cfg, source) -> bool:
    """Whether the config gives the source anything to do (its own ``active`` rule: its
    platform's accounts, its feeds or queries)."""
    if source.active is not None:
        return bool(source.active(cfg))
    if source.platform:
        return bool(cfg.accounts_on(source.platform))
    section = getattr(cfg, source.section, None) if source.section else None
    return bool(section and (getattr(section, "feeds", None) or getattr(section, "queries", None)))


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

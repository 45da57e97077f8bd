"""Analysis commands: analyze, stories, timeline, label, unlabel."""

from __future__ import annotations

import sys

import click

from tracker.core.lazy import lazy_module
from tracker.core.outputs import check_output_file
from tracker.core.terminal import config_of, out, report_run, table
from tracker.core.timeutil import lag_text, short_utc

api = lazy_module("tracker.analysis.api")
analysis_runs = lazy_module("tracker.runs.analyze")
db = lazy_module("tracker.store.db")
query = lazy_module("tracker.store.query")


@click.command()
@click.argument("story", required=False)
@click.option("--full", is_flag=True,
              help="Analyse from scratch (default: only what changed since the last analysis; "
                   "a story whose configuration changed is always analysed in full).")
@click.pass_context
def analyze(ctx: click.Context, story: str | None, full: bool) -> None:
    """Match items to the configured stories and label them (idempotent).

    Incremental by default: a story is relabelled only where new or changed posts, articles,
    deletions or analyst labels reached it since the last analysis, and only new replies get a
    stance (cached by reply text, parent text and model version). The result equals --full."""

    result = analysis_runs.run_analysis(config_of(ctx), story, full=full)
    report_run(result)
    for story_id, d in result.details.items():
        parts = ", ".join(f"{k} {v}" for k, v in d["events"].items()) or "no items"
        how = {"unchanged": "unchanged",
               "incremental": f"incremental, {d['relabelled']} relabelled",
               "full": "full" + (f": {d['why']}" if d["why"] else "")}[d["mode"]]
        out.print(f"  {story_id}: {parts} ({how})", highlight=False)
    sys.exit(result.exit_code)


@click.command()
@click.pass_context
def stories(ctx: click.Context) -> None:
    """Each story with its first claim, press report, denial, rebuttal and the lags."""

    con = db.read_connection(config_of(ctx))
    try:
        df = api.story_firsts(con)
        people = api.person_firsts(con)
    finally:
        con.close()
    print_firsts(df, people)


def print_firsts(df, people=None) -> None:
    """Each story's firsts and lags, as lines of text; with ``people`` (the person_firsts
    view), each person's statements across platforms: which came first, and the lags."""
    if df.empty:
        out.print("no stories analysed yet (configure `stories:` and run `tracker analyze`)")
        return
    for row in df.itertuples(index=False):
        out.print(f"[bold]{row.story_id}[/]: {row.title}", highlight=False)
        for label, at, item, where in (
                ("first claim", row.first_claim_at, row.first_claim_item,
                 getattr(row, "first_claim_platform", None)),
                ("first press report of the claim", row.first_claim_press_at,
                 row.first_claim_press_item, None),
                ("first denial", row.first_denial_at, row.first_denial_item,
                 getattr(row, "first_denial_platform", None)),
                ("first press report of the denial", row.first_denial_press_at,
                 row.first_denial_press_item, None),
                ("first rebuttal", row.first_rebuttal_at, row.first_rebuttal_item,
                 getattr(row, "first_rebuttal_platform", None))):
            when = "—" if at is None or at != at else f"{short_utc(at)}  {item}"
            if isinstance(where, str) and where:
                when += f" ({where})"
            out.print(f"  {label:<34} {when}", highlight=False)
        for label, lag in (("claim → press", row.claim_to_press),
                           ("claim → denial", row.claim_to_denial),
                           ("denial → press", row.denial_to_press),
                           ("denial → rebuttal", row.denial_to_rebuttal)):
            out.print(f"  lag {label:<30} {lag_text(lag)}", highlight=False)
        if people is not None:
            lines = person_lines(people[people["story_id"] == row.story_id])
            if lines:
                out.print("  each person's statements across platforms (first post on each):",
                          highlight=False)
                for line in lines:
                    out.print(f"    {line}", highlight=False)


def person_lines(df) -> list[str]:
    """One line per person and statement from person_firsts rows (in their order):
    'Elon Musk (subject) · denial: x 2022-10-11 13:40Z first, then mastodon +4 min, bluesky
    +6 min'."""
    lines = []
    for (person, event), rows in df.groupby(["person", "event_type"], sort=False):
        rows = rows.sort_values("platform_order")
        first = rows.iloc[0]
        text = f"{first.platform} {short_utc(first.first_at)}"
        if len(rows) > 1:
            text += " first, then " + ", ".join(
                f"{r.platform} +{lag_text(r.after_first)}"
                for r in rows.iloc[1:].itertuples(index=False))
        lines.append(f"{person} ({first.role}) · {event}: {text}")
    return lines


@click.command()
@click.argument("story")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "csv", "json", "parquet"]))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@click.pass_context
def timeline(ctx: click.Context, story: str, fmt: str, output: str | None) -> None:
    """A story's timeline: time (UTC), event, who, what, evidence."""

    cfg = config_of(ctx)
    cfg.story(story)
    if output and fmt == "table":
        raise click.UsageError("-o needs --format csv, json or parquet")
    target = check_output_file(cfg, output) if output else None
    con = db.read_connection(cfg)
    try:
        df = api.timeline(con, story)
    finally:
        con.close()
    if fmt != "table":
        text = query.export(df, fmt, target)
        if text is not None:
            click.echo(text, nl=False)
        return
    print_timeline(df, story)


def print_timeline(df, story: str, skip_replies: bool = False) -> None:
    """The readable terminal table of a story's timeline."""
    if skip_replies:
        df = df[df["event_type"] != "reply"]
    if df.empty:
        out.print(f"{story}: no items (run `tracker analyze`)")
        return
    view = df.assign(
        time=df["event_at"].dt.strftime("%Y-%m-%d %H:%M") + df["clock"].map(
            {"created_at": "", "published_at": "", "gdelt_seen_at": " (GDELT)",
             "first_seen_at": " (seen)"}),
        event=df["event_type"] + df["stance"].map(
            lambda s: f" ({s})" if isinstance(s, str) and s else ""),
        who=df["actor"].fillna(df["platform_or_outlet"]).fillna("")
        + df["role"].map(lambda r: f" [{r}]" if r and r != "press" else "").fillna(""),
        what=df["text"].fillna("").str.replace("\n", " ").str.slice(0, 70),
        evidence=df["evidence"] + df["labeled_by"].map(
            lambda b: " ✎" if b == "analyst" else ""))
    out.print(table(view[["time", "event", "who", "what", "evidence"]],
                     f"{story} — times in UTC", max_rows=500))


@click.command()
@click.argument("story")
@click.argument("item")
@click.argument("event")
@click.option("--note", help="Why (kept with the label).")
@click.pass_context
def label(ctx: click.Context, story: str, item: str, event: str, note: str | None) -> None:
    """Set an analyst's EVENT label on ITEM in STORY: a post id (PLATFORM:ID when the id is on
    several platforms) or an article URL.

    The analyst's label wins over the automatic one and survives every re-analysis.
    """

    result = analysis_runs.set_label(config_of(ctx), story, item, event, note)
    report_run(result)
    sys.exit(result.exit_code)


@click.command()
@click.argument("story")
@click.argument("item")
@click.pass_context
def unlabel(ctx: click.Context, story: str, item: str) -> None:
    """Withdraw the analyst's label on ITEM in STORY (the automatic label applies again)."""
    result = analysis_runs.unset_label(config_of(ctx), story, item)
    report_run(result)
    sys.exit(result.exit_code)


def register(cli: click.Group) -> None:
    for cmd in (analyze, stories, timeline, label, unlabel):
        cli.add_command(cmd)

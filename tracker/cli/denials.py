"""Denials without a story: `tracker denials`, `tracker story new --from-denial POST_ID`.

Thin: the work is in tracker/analysis/denials.py and tracker/runs/stories.py.
"""

from __future__ import annotations

import re

import click

from tracker.core.lazy import lazy_module
from tracker.core.terminal import config_of, out, table
from tracker.core.timeutil import parse_since, short_utc, utcnow

db = lazy_module("tracker.store.db")
denials_lib = lazy_module("tracker.analysis.denials")
query = lazy_module("tracker.store.query")
story_runs = lazy_module("tracker.runs.stories")


@click.command("denials")
@click.option("--since", metavar="DATE|DURATION",
              help="Denials posted at or after this: a date (2022-10-11), an ISO time "
                   "(2022-10-11T14:00Z) or a duration back from now (36h, 7d, 2w). "
                   "Default: the 7 days up to the newest stored post.")
@click.option("--account", metavar="HANDLE",
              help="Only this tracked account's denials (HANDLE or PLATFORM:HANDLE).")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "csv", "json"]))
@click.pass_context
def denials(ctx: click.Context, since: str | None, account: str | None, fmt: str) -> None:
    """Every tracked account's post that denies someone, found without a story.

    A post of an account under `accounts:` that replies to, quotes or mentions another
    account and denies it: the stance model's p(deny) toward that post (0.5 alone, 0.25 with a
    negation cue such as "only once" or "no one should"). Each comes with the denied post (who,
    when, what), the lag, the stance of the replies to the denial and the press articles naming
    both accounts in the 3 days after. Newest first; times in UTC. `tracker story new
    --from-denial POST_ID` turns one into a story.
    """
    cfg = config_of(ctx)
    since_at = parse_since(since, utcnow())
    con = db.read_connection(cfg)
    try:
        if since_at is None:
            since_at = denials_lib.default_since(con)
        found = denials_lib.find_denials(con, cfg.accounts, since=since_at, account=account)
    finally:
        con.close()
    df = denials_lib.denials_frame(found)
    if fmt != "table":
        if fmt == "csv":
            df["press_urls"] = df["press_urls"].map(" ".join)
        click.echo(query.export(df, fmt, None), nl=False)
        return
    who = f" by @{account.lstrip('@')}" if account else ""
    if not cfg.accounts:
        out.print("no tracked accounts: list them under `accounts:` in config.yaml")
        return
    if df.empty:
        out.print(f"no denials{who} since {short_utc(since_at)}", highlight=False)
        return
    # the post id first (what `story new --from-denial` takes), PLATFORM:ID when ids of
    # several platforms are listed; the long texts last (cut to the terminal's width)
    several = df["platform"].nunique() > 1
    view = df.assign(
        time=df["created_at"], who=df["account"], denies=df["denied_account"],
        post=(df["platform"] + ":" + df["post_id"]) if several else df["post_id"],
        replies=df[["support", "deny", "query", "comment"]].astype(str).agg("/".join, axis=1),
        score=df["score"].map(lambda v: f"{v:.2f}"),
        denial=df["text"], denied=df["denied_text"])
    n = len(df)
    out.print(table(view[["time", "post", "who", "denies", "lag", "relation", "score",
                          "replies", "press", "denial", "denied"]],
                    f"{n} denial{'s' if n != 1 else ''}{who} since {short_utc(since_at)} — "
                    "times in UTC; replies support/deny/query/comment"))


@click.group("story")
def story() -> None:
    """Stories in config.yaml: `tracker story new --from-denial POST_ID` writes one from a
    denial, for you to refine."""


def _story_id(ctx, param, value):
    if value is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", value):
        raise click.BadParameter("use lower-case letters, digits, '-' and '_' (at most 64)")
    return value


@story.command("new")
@click.option("--from-denial", "post", required=True, metavar="POST_ID",
              help="The denial (a post id, or PLATFORM:ID) the story starts from.")
@click.option("--id", "story_id", callback=_story_id, metavar="ID",
              help="The story's id (default: DENIER-denies-DENIED-DATE).")
@click.pass_context
def story_new(ctx: click.Context, post: str, story_id: str | None) -> None:
    """Add a story stanza to config.yaml from a denial (see `tracker denials`).

    The denied account becomes the claimant and the denier the subject; the query is the two
    posts' salient words AND either account's name; the window runs from a week before the
    denied post to two weeks after the denial. The rest of config.yaml (comments, layout) is
    kept byte for byte; an existing story id is never replaced. Refine the stanza, then run
    `tracker analyze ID`.
    """
    res = story_runs.new_story_from_denial(config_of(ctx), post, story_id)
    d = res.denial
    out.print(f"added story {res.story_id} to {res.path}", highlight=False, soft_wrap=True)
    flag = ("" if d.rule != "not flagged" else
            f" (not flagged as a denial: p(deny)={d.score:.2f}; written as asked)")
    out.print(f"from {d.key} by @{d.account}, answering @{d.denied_account}{flag}",
              highlight=False, markup=False, soft_wrap=True)
    out.print(res.text.rstrip("\n"), highlight=False, markup=False, soft_wrap=True)
    out.print(f"refine the title, query and window, then run: tracker analyze {res.story_id}",
              highlight=False, markup=False, soft_wrap=True)


def register(cli: click.Group) -> None:
    cli.add_command(denials)
    cli.add_command(story)

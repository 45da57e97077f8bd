"""The toy platform's source: its config section, job, plan, normalizer, cost and command."""

from __future__ import annotations

import os
import re
import sys

import click
import requests
from pydantic import field_validator

from tracker.core.config import Strict, http_url
from tracker.core.errors import ConfigError
from tracker.core.jsonload import loads
from tracker.core.terminal import run_job
from tracker.core.timeutil import iso, parse_iso
from tracker.sources.base import Job, ScopeFailures, Source
from tracker.sources.cost import JobCost, SourceCost
from tracker.sources.fetch import ArchivingFetcher, FetchLimits
from tracker.store.rows import Rows

PLATFORM = "toy"


class ToyConfig(Strict):
    base_url: str = "http://127.0.0.1:9"
    token_env: str = "TOY_TOKEN"
    page_size: int = 2
    max_requests_per_run: int = 50

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return http_url(v, "http://127.0.0.1:8080")


class ToyFetcher(ArchivingFetcher):
    source_label = PLATFORM

    def parse(self, status, text):
        try:
            return loads(text or ""), None
        except ValueError as exc:
            return None, f"invalid JSON: {exc}"

    def count(self, parsed) -> None:
        self.stats.posts_read += len(parsed.get("posts") or [])


def toy_handle(handle: str) -> str:
    if not re.fullmatch(r"[a-z0-9_]{1,30}", handle):
        raise ValueError("a toy handle is 1-30 lowercase letters, digits or _")
    return handle


def precheck(cfg, options: dict) -> None:
    if not os.environ.get(cfg.toy.token_env):
        raise ConfigError(f"{cfg.toy.token_env} is not set (toy.token_env)")


def collect_posts(raw, ctx, result) -> None:
    """Every tracked toy account's posts newer than its cursor, page by page."""
    cfg = ctx.cfg
    fetcher = ToyFetcher(raw, FetchLimits(cfg.toy.max_requests_per_run, backoff_base_seconds=0),
                         secret_env=(cfg.toy.token_env,), sleep=ctx.sleep, clock=ctx.clock)
    session = requests.Session()
    failures = ScopeFailures()
    try:
        for account in cfg.accounts_on(PLATFORM):
            scope = f"account:{account.handle}"
            with failures.scope(f"toy @{account.handle}"):
                since = (ctx.plan.get(scope) or {}).get("since_id", 0)
                while True:
                    params = {"since_id": since, "limit": cfg.toy.page_size}
                    url = f"{cfg.toy.base_url}/accounts/{account.handle}/posts"

                    def cursor(parsed, answer):
                        ids = [int(p["id"]) for p in parsed["posts"]]
                        return {"since_id": max([since, *ids])}, None

                    answer = fetcher.fetch(
                        purpose="posts", endpoint="GET /accounts/:handle/posts", params=params,
                        scope=scope, cursor_fn=cursor,
                        send=lambda: session.get(url, params=params, timeout=10))
                    since = max([since, *(int(p["id"]) for p in answer.parsed["posts"])])
                    if not answer.parsed["more"]:
                        break
    finally:
        ctx.absorb(fetcher.stats, result)
    failures.finish()


def plan(con, cfg, now, options: dict) -> dict:
    """scope -> its stored cursor."""
    return {scope: loads(c) for scope, c in con.execute(
        "SELECT scope, cursor FROM sync_state WHERE source = ?", [PLATFORM]).fetchall()}


def normalize(record: dict) -> Rows:
    """One archived toy page → accounts, handles, posts; pure."""
    rows = Rows()
    if record.get("status") != 200:
        return rows
    body = loads(record.get("body") or "")
    at = record["fetched_at"]
    account = body["account"]
    rows.add("accounts", {"platform": PLATFORM, "account_id": account["id"],
                          "handle": account["handle"], "first_seen_at": at,
                          "last_seen_at": at})
    rows.add("account_handles", {"platform": PLATFORM, "account_id": account["id"],
                                 "handle": account["handle"], "first_seen_at": at,
                                 "last_seen_at": at})
    for p in body["posts"]:
        rows.items += 1
        rows.add("posts", {
            "platform": PLATFORM, "post_id": str(p["id"]), "author_id": p["author"],
            "created_at": iso(parse_iso(p["at"])), "text": p["text"],
            "reply_to_post_id": str(p["reply_to"]) if p.get("reply_to") else None,
            "url": f"toy://{account['handle']}/{p['id']}", "seen_in": "data",
            "first_seen_at": at, "last_seen_at": at})
    return rows


def cost(cfg, runs: dict, overrides, measure: bool, days: int) -> SourceCost:
    """One request a tracked account a run (the toy feed is free)."""
    accounts = len(cfg.accounts_on(PLATFORM))
    jobs = [JobCost(job, cron, n, n * accounts, 0, 0, 0, 0.0) for job, (cron, n) in runs.items()]
    return SourceCost(jobs, accounts=accounts, notes=["toy: free, one request an account a run"])


@click.command("toy")
@click.pass_context
def collect_toy(ctx: click.Context) -> None:
    """Collect the tracked toy accounts' new posts now."""
    sys.exit(run_job(ctx, "collect_posts", source=PLATFORM).exit_code)


def register(cli: click.Group) -> None:
    cli.commands["collect"].add_command(collect_toy)


SOURCE = Source(
    name=PLATFORM, platform=PLATFORM, section="toy", config=ToyConfig,
    secrets=lambda section: (section.token_env,), normalize=normalize,
    jobs=(Job("collect_posts", "posts", collect_posts, "new posts of the tracked toy accounts",
              default_cron="*/15 * * * *", precheck=precheck),),
    cli=register, cost=cost, plan=plan, handle=toy_handle,
    active=lambda cfg: bool(cfg.accounts_on(PLATFORM)),
    docs="a local JSON feed of posts (tests only)")

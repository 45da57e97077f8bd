"""`tracker demo`: the whole collection over the bundled sample (X, the denial cross-posted to
Mastodon and Bluesky, the press), through local stand-ins of each API."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

import yaml

from tracker.config import load_config
from tracker.core.errors import TrackerError
from tracker.runs.analyze import run_analysis
from tracker.runs.runner import RunResult, run
from tracker.sources.registry import REGISTRY
from tracker.testing.press import PressSample
from tracker.testing.bluesky import serve as serve_bluesky
from tracker.testing.mastodon import serve as serve_mastodon
from tracker.testing.press import serve as serve_press
from tracker.testing.sample import CrossPostSample, SampleWorld, sample_dir
from tracker.testing.xapi import serve

DEMO_TOKEN = "demo-token-not-a-secret"


def _fill(value, servers: dict[str, str]):
    """``value`` with every ``{name}`` of a local server replaced by its URL."""
    if isinstance(value, dict):
        return {k: _fill(v, servers) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, servers) for v in value]
    if isinstance(value, str):
        for name, url in servers.items():
            value = value.replace("{" + name + "}", url)
    return value


def demo_config(x_api: str = "", press: dict | None = None, **servers: str) -> dict:
    """The demo's configuration (data/sample/demo.yaml) with the local servers filled in
    (``x_api``, and ``mastodon_api``, ``bluesky_api``: each placeholder of demo.yaml by name),
    and the jobs it runs at each phase of the sample."""
    data = yaml.safe_load((sample_dir() / "demo.yaml").read_text(encoding="utf-8"))
    jobs = data.pop("demo_jobs")
    filled = {k: v for k, v in {"x_api": x_api, **servers}.items() if v}
    if filled:
        data = _fill(data, filled)
    if press is not None:
        data["press"] = press
    return {"config": data, "jobs": jobs}


def demo_story() -> dict:
    """The sample story (the first of the demo's configuration)."""
    return demo_config()["config"]["stories"][0]


MARKER = ".tracker-demo"


class SimClock:
    """Time standing at a phase of the sample, advancing with the real clock from there."""

    def __init__(self, at: datetime):
        self.at, self.start = at, time.monotonic()

    def __call__(self) -> datetime:
        return self.at + timedelta(seconds=time.monotonic() - self.start)


@dataclass
class DemoResult:
    config: object
    runs: list[tuple[str, RunResult]] = field(default_factory=list)


def prepare_workdir(workdir: Path) -> None:
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise TrackerError(f"{workdir} exists and is not a demo folder; choose --dir")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("created by `tracker demo`; safe to delete\n")


def running(cfg, job: str) -> list[str]:
    """The sources whose ``job`` the demo runs: as `tracker run JOB` (runner.run_all), every
    source that has the job and something to do in the configuration."""
    having = [source for source, spec in REGISTRY.jobs() if spec.name == job]
    active = [s for s in having if s.active is None or s.active(cfg)]
    return [s.name for s in (active or having)]


def run_demo(workdir: Path, on_run: Callable[[str, RunResult], None] | None = None,
             sample_path: Path | None = None) -> DemoResult:
    """Replay the sample phase by phase (poll snapshots, posts, replies, deletion checks, press),
    then analyse the sample story."""
    workdir = Path(workdir).resolve()
    prepare_workdir(workdir)
    sample = SampleWorld.load(sample_path, token=DEMO_TOKEN)
    press = PressSample.load()
    clock = SimClock(sample.phases[0].at)
    cross = CrossPostSample.load(lambda: clock())      # the stand-ins read the phase's time
    with serve(sample.world) as url, serve_press(press.world) as press_url, \
            serve_mastodon(cross.mastodon) as mastodon_url, \
            serve_bluesky(cross.bluesky) as bluesky_url:
        demo = demo_config(url, press.config(press_url), mastodon_api=mastodon_url,
                           bluesky_api=bluesky_url)
        for section in demo["config"].values():
            if isinstance(section, dict) and section.get("bearer_token_env"):
                os.environ[section["bearer_token_env"]] = DEMO_TOKEN
        cfg_path = workdir / "config.yaml"
        cfg_path.write_text(yaml.safe_dump(demo["config"], sort_keys=False))
        cfg = load_config(cfg_path)
        result = DemoResult(cfg)
        jobs = demo["jobs"]
        for phase in sample.phases:
            sample.advance(phase.index)
            cross.advance(phase.index)
            press.world.now = phase.at           # feed items published by now are served
            clock = SimClock(phase.at)
            for job in jobs:
                for source in running(cfg, job):
                    r = run(cfg, job, source=source, clock=clock, sleep=lambda s: None)
                    label = f"{phase.at:%Y-%m-%d %H:%M}Z {phase.name} · {source}"
                    result.runs.append((label, r))
                    if on_run:
                        on_run(label, r)
                    if r.status != "ok":
                        raise TrackerError(f"demo run {r.job} of {source} ended {r.status}: "
                                           f"{r.error or r.stop_reason}")
        r = run_analysis(cfg, clock=SimClock(sample.phases[-1].at))
        result.runs.append(("analysis", r))
        if on_run:
            on_run("analysis", r)
        if r.status != "ok":
            raise TrackerError(f"demo analysis ended {r.status}: {r.error or r.stop_reason}")
    return result


SUMMARY_QUERIES = {
    "The story actors' posts on every platform (created_at is the platform's clock, UTC)": """
        SELECT p.created_at, p.platform, a.handle, CASE WHEN p.reply_to_post_id IS NOT NULL
               THEN 'reply' WHEN p.poll_id IS NOT NULL THEN 'poll' ELSE 'post' END AS kind,
               left(replace(p.text, chr(10), ' '), 70) AS text,
               p.deleted_at IS NOT NULL AS deleted
        FROM posts p JOIN accounts a ON a.platform = p.platform AND a.account_id = p.author_id
        WHERE EXISTS (SELECT 1 FROM story_actors s WHERE s.platform = p.platform
                      AND s.account_id = p.author_id)
        ORDER BY p.created_at, p.platform""",
    "Poll snapshots (captured_at is our clock)": """
        SELECT captured_at, label, votes, voting_status,
               round(100.0 * votes / sum(votes) OVER (PARTITION BY captured_at), 1) AS pct
        FROM poll_snapshots ORDER BY captured_at, position""",
    "Edits (one row per text version)": """
        SELECT edit_chain_id, version_index, version_post_id, left(text, 60) AS text
        FROM post_versions WHERE edit_chain_id IN
          (SELECT edit_chain_id FROM post_versions GROUP BY 1 HAVING count(*) > 1)
        ORDER BY edit_chain_id, version_index""",
    "Articles (published_at is the publisher's clock; GDELT's seendate or ours when absent)": """
        SELECT coalesce(a.published_at, s.gdelt_seen, a.first_seen_at) AS reported_at,
               CASE WHEN a.published_at IS NOT NULL THEN 'published'
                    WHEN s.gdelt_seen IS NOT NULL THEN 'gdelt seen' ELSE 'first seen' END AS clock,
               coalesce(a.outlet, a.domain) AS outlet, left(a.title, 60) AS title, s.sources
        FROM articles a JOIN (
            SELECT url, min(gdelt_seen_at) AS gdelt_seen,
                   string_agg(source_kind || ':' || source_name, ', '
                              ORDER BY source_kind, source_name) AS sources
            FROM article_sources GROUP BY url) s USING (url)
        ORDER BY reported_at, a.url""",
    "Claim reports updated with the denial (first seen with it; the version before was last "
    "seen at changed_after)": """
        SELECT outlet, claim_report_denial_at AS updated_by,
               claim_report_denial_after AS changed_after, updated_claim_report AS url
        FROM press_followup WHERE claim_report_denial_at IS NOT NULL ORDER BY 2""",
    "Stored rows": """
        SELECT 'accounts' AS tbl, count(*) AS n FROM accounts UNION ALL
        SELECT 'posts', count(*) FROM posts UNION ALL
        SELECT 'replies', count(*) FROM posts WHERE reply_to_post_id IS NOT NULL UNION ALL
        SELECT 'post_versions', count(*) FROM post_versions UNION ALL
        SELECT 'polls', count(*) FROM polls UNION ALL
        SELECT 'poll_snapshots', count(*) FROM poll_snapshots UNION ALL
        SELECT 'deleted posts', count(*) FROM posts WHERE deleted_at IS NOT NULL UNION ALL
        SELECT 'runs', count(*) FROM runs UNION ALL
        SELECT 'article_versions', count(*) FROM article_versions UNION ALL
        SELECT 'raw pages', count(*) FROM raw_pages""",
}

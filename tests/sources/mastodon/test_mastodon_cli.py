"""The Mastodon source through the `tracker` command: `collect mastodon` (and its --help),
the shared jobs, `rebuild` reproducing every table, `status` and `cost`."""

from __future__ import annotations

from datetime import timedelta

import yaml
from click.testing import CliRunner

from mastodon_helpers import OTHER, SOCIAL, TOKEN, ago, api, clock, q, world  # noqa: F401
from tests.helpers import snapshot
from tracker.cli import build_cli
from tracker.config import load_config
from tracker.core.timeutil import utcnow
from tracker.store.tables import REBUILT_TABLES


def tracker(cfg_path: str, *args: str):
    return CliRunner().invoke(build_cli(), ["--config", cfg_path, *args], obj={},
                              catch_exceptions=False)


def write_config(tmp_path, api, **mastodon) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "storage": {"database": "data/tracker.duckdb", "raw_dir": "data/raw"},
        "mastodon": {"base_urls": {SOCIAL: f"{api}/{SOCIAL}", OTHER: f"{api}/{OTHER}"},
                     "backoff_base_seconds": 0, **mastodon},
        "accounts": [{"platform": "mastodon", "handle": f"@alice@{SOCIAL}"},
                     {"platform": "mastodon", "handle": f"carol@{OTHER}"}],
        "stories": [{"id": "war-call", "title": "Did he talk to the president?",
                     "query": "president",
                     "window": {"start": str((utcnow() - timedelta(days=3)).date()),
                                "end": str((utcnow() + timedelta(days=1)).date())},
                     "actors": [{"platform": "mastodon", "handle": f"carol@{OTHER}",
                                 "role": "claimant"},
                                {"platform": "mastodon", "handle": f"alice@{SOCIAL}",
                                 "role": "subject"}]}],
    }))
    return str(path)


def test_collect_mastodon_has_help():
    res = CliRunner().invoke(build_cli(), ["collect", "mastodon", "--help"], obj={})
    assert res.exit_code == 0
    assert "Usage:" in res.output and "--account USER@INSTANCE" in res.output
    assert "mastodon" in CliRunner().invoke(build_cli(), ["collect", "--help"], obj={}).output


def test_a_story_collected_by_command_survives_rebuild_and_shows_in_status_and_cost(
        world, api, tmp_path, monkeypatch):
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    # `snapshot-polls` and `check-deletions` run every source's job, X's too (which wants its
    # token set even with no X account)
    monkeypatch.setenv("X_BEARER_TOKEN", "x-token-not-used-here")
    world.now = utcnow                     # the commands run on the real clock
    social, other = world.instance(SOCIAL), world.instance(OTHER)
    alice = social.account("alice")
    carol = other.account("carol")
    now = world.now()
    claim = other.post(carol, "He told me he spoke to the president about the war",
                       now - timedelta(hours=3))
    # alice's denial answers carol's post as alice's own instance knows it
    carol_there = social.account("carol", domain=OTHER)
    claim_there = social.post(carol_there, "He told me he spoke to the president about the war",
                              now - timedelta(hours=3))
    denial = social.post(alice, "Only spoke to the president once, 18 months ago, about space",
                         now - timedelta(hours=2), reply_to=claim_there)
    poll = social.post(alice, "Should the plan pass?", now - timedelta(hours=1),
                poll={"options": ["Yes", "No"], "expires_at": now + timedelta(hours=1)})
    other.post(carol, "He told me. The president too.", now - timedelta(minutes=30),
               reply_to=claim)
    cfg_path = write_config(tmp_path, api, token_instance=SOCIAL)

    res = tracker(cfg_path, "collect", "mastodon")
    assert res.exit_code == 0, res.output
    assert "collect_posts run" in res.output and "collect_replies run" in res.output
    # every tracked post's thread but carol's own reply (inside her claim's thread)
    assert sorted((r.instance, r.path) for r in world.requests if r.path.endswith("/context")) \
        == sorted([(OTHER, f"/api/v1/statuses/{claim['id']}/context"),
                   (SOCIAL, f"/api/v1/statuses/{denial['id']}/context"),
                   (SOCIAL, f"/api/v1/statuses/{poll['id']}/context")])
    assert TOKEN not in res.output
    res = tracker(cfg_path, "snapshot-polls")
    assert res.exit_code == 0, res.output
    assert world.requests[-1].path == "/api/v1/polls/1"
    social.edit(denial, "Only spoke to the president once, 18 months ago, about space. Period.",
                now)
    social.delete(claim_there)
    res = tracker(cfg_path, "check-deletions")
    assert res.exit_code == 0, res.output
    cfg = load_config(cfg_path)
    assert q("SELECT count(*) FROM post_versions WHERE version_index = 1", cfg) == [(1,)]
    # a snapshot per read of the poll: collected, refreshed, and looked up for deletion
    assert q("SELECT count(*) FROM poll_snapshots", cfg) == [(6,)]
    res = tracker(cfg_path, "analyze")
    assert res.exit_code == 0, res.output
    items = q("SELECT platform, event_type FROM story_items ORDER BY item_id", cfg)
    assert ("mastodon", "denial") in items and ("mastodon", "claim") in items

    tables = [t for t in REBUILT_TABLES if t != "raw_files"]
    before = snapshot(cfg.database, tables)
    assert before["posts"] and before["poll_snapshots"] and before["post_versions"]
    res = tracker(cfg_path, "rebuild")
    assert res.exit_code == 0, res.output
    assert snapshot(cfg.database, tables) == before

    res = tracker(cfg_path, "status")
    assert res.exit_code == 0, res.output
    assert f"statuses:alice@{SOCIAL}" in res.output
    res = tracker(cfg_path, "cost", "--no-measure")
    assert res.exit_code == 0, res.output
    assert "Mastodon: free to read" in res.output
    assert TOKEN not in res.output


def test_the_shared_scheduled_jobs_run_mastodon_too(world, api, tmp_path, clock):
    from tracker_jobs import collect_posts
    alice = world.instance(SOCIAL).account("alice")
    world.instance(SOCIAL).post(alice, "hello", ago(clock, minutes=5))
    world.instance(OTHER).account("carol")
    cfg = load_config(write_config(tmp_path, api))
    results = collect_posts.run(cfg, clock=clock, sleep=lambda s: None)
    assert [(r.job, r.status, r.by_purpose) for r in results] == [
        ("collect_posts", "ok", {"lookup": 2, "statuses": 2})]
    assert q("SELECT source FROM runs", cfg) == [("mastodon",)]

"""`tracker run JOB`: every job against the local X server, exit codes, the one lock."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

import tracker_jobs as jobs
from tests.conftest import TOKEN
from tests.ops import JOBS_HERE, db_rows, press, seed, write_config  # noqa: F401
from tracker.cli import cli
from tracker.testing.xapi import Fault
from tracker.core.lock import RunLock
from tracker.store.raw import list_raw_files

TRACKER = [sys.executable, "-m", "tracker"]


def invoke(*args):
    return CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False)


def test_registry_names_the_six_jobs_and_each_module_has_run():
    assert list(jobs.JOBS) == ["collect_posts", "snapshot_polls", "collect_replies",
                               "check_deletions", "collect_press", "analyze"]
    for name in JOBS_HERE:
        assert callable(jobs.load(name).run)


def test_every_job_runs_from_tracker_run(world, api, tmp_path):
    ids = seed(world)
    cfg = write_config(tmp_path, api)
    codes = {}
    for job in JOBS_HERE:
        if job == "check_deletions":
            world.delete(ids["poll"])
        res = invoke("--config", str(cfg), "run", job)
        codes[job] = res.exit_code
        assert f"{job} run " in res.output
    assert codes == dict.fromkeys(JOBS_HERE, 0)
    db = tmp_path / "data" / "tracker.duckdb"
    assert db_rows(db, "SELECT job, source, status, requests, coalesce(stop_reason, error) "
                       "FROM runs ORDER BY started_at") == [
        ("collect_posts", "x", "ok", 2, None),          # users/by + one timeline page
        ("snapshot_polls", "x", "ok", 1, None),         # the open poll's post
        ("collect_replies", "x", "ok", 1, None),        # two conversations, one search
        ("check_deletions", "x", "ok", 1, None),        # both posts in one lookup
        ("analyze", "analysis", "ok", 0, None),          # no stories configured here
    ]
    # one lookup that does not find a post is a sighting; a later run confirms the deletion
    assert db_rows(db, "SELECT post_id, author_id, deleted_at IS NOT NULL, missing_since "
                       "IS NOT NULL FROM posts ORDER BY post_id") == [
        (ids["poll"], "100", False, True), (ids["claim"], "100", False, False),
        (ids["reply"], "200", False, False)]
    assert db_rows(db, "SELECT label, votes FROM poll_snapshots ORDER BY captured_at, "
                       "position") == [("Yes", 10), ("No", 5), ("Yes", 10), ("No", 5)]
    assert [f.split("/")[0] for f in list_raw_files(tmp_path / "data" / "raw")] == [
        "x", "x", "x", "x", "analysis"]


def test_exit_code_4_when_the_budget_stops_a_run(world, api, tmp_path):
    seed(world, posts=20)
    cfg = write_config(tmp_path, api, page_size=5, max_requests_per_run=2)
    res = invoke("--config", str(cfg), "run", "collect_posts")
    assert res.exit_code == 4
    assert db_rows(tmp_path / "data" / "tracker.duckdb",
                   "SELECT status, requests FROM runs") == [("stopped", 2)]


def test_exit_code_1_when_a_run_fails_and_it_is_recorded(world, api, tmp_path):
    seed(world)
    world.faults.append(Fault(r"/users/by$", status=400, times=1))
    cfg = write_config(tmp_path, api)
    res = invoke("--config", str(cfg), "run", "collect_posts")
    assert res.exit_code == 1
    assert db_rows(tmp_path / "data" / "tracker.duckdb", "SELECT status, error FROM runs") == [
        ("failed", "GET /2/users/by: HTTP 400: Service Unavailable; injected fault")]


def test_exit_code_2_when_the_token_is_missing_and_nothing_is_written(world, api, tmp_path,
                                                                      monkeypatch):
    monkeypatch.delenv("X_BEARER_TOKEN")
    cfg = write_config(tmp_path, api)
    res = invoke("--config", str(cfg), "run", "collect_posts")
    assert res.exit_code == 2 and "X_BEARER_TOKEN is not set" in res.output
    assert not (tmp_path / "data" / "raw").exists() and world.requests == []


def test_the_job_modules_are_the_registry_s_scheduled_jobs_and_the_tracker_s_own():
    from tracker.core.config import OWN_JOBS
    from tracker.sources.registry import REGISTRY
    scheduled = {job.name for _, job in REGISTRY.scheduled_jobs()}
    assert set(jobs.JOBS) == scheduled | set(OWN_JOBS)


def test_an_unknown_job_name_is_a_typed_error():
    with pytest.raises(jobs.UnknownJob, match="unknown job 'collect_everything'.*collect_posts"):
        jobs.load("collect_everything")


def test_unknown_job_is_a_usage_error():
    res = CliRunner().invoke(cli, ["run", "collect_everything"], obj={})
    assert res.exit_code == 2 and "collect_posts" in res.output


def test_run_while_the_lock_is_held_exits_3_and_does_nothing(world, api, tmp_path):
    seed(world)
    cfg = write_config(tmp_path, api, schedule={"lock_wait_seconds": 1})
    with RunLock(tmp_path / "data" / ".tracker.lock"):
        t0 = time.monotonic()
        proc = subprocess.run([*TRACKER, "--config", str(cfg), "run", "collect_posts"],
                              capture_output=True, text=True, timeout=120)
        waited = time.monotonic() - t0
    assert proc.returncode == 3, proc.stderr
    assert "another tracker run holds" in proc.stderr and "after waiting 1 s" in proc.stderr
    assert waited >= 1
    assert list_raw_files(tmp_path / "data" / "raw") == [] and world.requests == []


def test_a_scheduled_run_waits_for_the_lock_within_its_bound(world, api, tmp_path):
    seed(world)
    cfg = write_config(tmp_path, api, schedule={"lock_wait_seconds": 60})
    lock = RunLock(tmp_path / "data" / ".tracker.lock").__enter__()
    proc = subprocess.Popen([*TRACKER, "--config", str(cfg), "run", "collect_posts"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    assert proc.poll() is None and world.requests == []      # waiting, nothing sent
    lock.__exit__(None, None, None)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "collect_posts run " in out and world.requests


def test_a_manual_command_does_not_wait_for_the_lock(world, api, tmp_path):
    cfg = write_config(tmp_path, api, schedule={"lock_wait_seconds": 60})
    with RunLock(tmp_path / "data" / ".tracker.lock"):
        t0 = time.monotonic()
        res = CliRunner().invoke(cli, ["--config", str(cfg), "collect", "x"], obj={})
        assert res.exit_code == 3 and time.monotonic() - t0 < 30


def test_second_run_while_the_first_is_running_exits_3_and_writes_nothing(world, api,
                                                                          tmp_path):
    seed(world, posts=20)
    cfg = write_config(tmp_path, api, page_size=5, schedule={"lock_wait_seconds": 0})
    world.delay = 0.3           # the first run takes a few seconds
    first = subprocess.Popen([*TRACKER, "--config", str(cfg), "run", "collect_posts"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not world.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert world.requests, "the first run never reached the server"
        second = subprocess.run([*TRACKER, "--config", str(cfg), "run", "collect_posts"],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 3 and "holds" in second.stderr
        assert first.wait(timeout=120) == 0, first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
        first.stdout.close()
        first.stderr.close()
    raw = list_raw_files(tmp_path / "data" / "raw")
    assert len(raw) == 1
    runs = db_rows(tmp_path / "data" / "tracker.duckdb", "SELECT status, requests FROM runs")
    assert runs == [("ok", len(world.requests))]       # every request was the first run's
    assert all(r.authorization == f"Bearer {TOKEN}" for r in world.requests)


def test_collect_press_runs_from_tracker_run(world, api, tmp_path, press):
    pworld, section = press
    cfg = write_config(tmp_path, api, press=section)
    res = invoke("--config", str(cfg), "run", "collect_press")
    assert res.exit_code == 0, res.output
    assert pworld.count(r"^/wire\.rss$") == 1
    assert db_rows(tmp_path / "data" / "tracker.duckdb",
                   "SELECT job, status FROM runs") == [("collect_press", "ok")]

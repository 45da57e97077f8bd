"""Scheduling: cron's meaning, the schedule config, `tracker cron`, the built-in scheduler."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import threading
import time
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import tracker_jobs as jobs
from tests.conftest import TOKEN
from tests.ops import (JOBS_HERE, all_jobs, db_rows, press, seed,  # noqa: F401
                       write_config)
from tracker.runs import load, runner
from tracker.cli import cli
from tracker.config import load_config, parse_config
from tracker.testing.xapi import Fault
from tracker.core.cron import CronError, parse_cron
from tracker.core.errors import ConfigError, LockHeld
from tracker.core.lock import RunLock
from tracker.core.logs import setup_logging
from tracker.service.scheduler import SchedulerService, crontab, record_run, tracker_command
from tracker.store.raw import list_raw_files, read_raw_file

ROOT = Path(__file__).resolve().parents[1]
UTC = ZoneInfo("UTC")
WEDNESDAY = datetime(2024, 6, 5, 12, 0, tzinfo=timezone.utc)


def invoke(*args):
    return CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False)


def fires(expr: str, n: int = 14, start: datetime = WEDNESDAY, tz=UTC) -> list[datetime]:
    trigger = parse_cron(expr).trigger(tz)
    out, prev, now = [], None, start
    for _ in range(n):
        nxt = trigger.get_next_fire_time(prev, now)
        out.append(nxt)
        prev, now = nxt, nxt + timedelta(seconds=1)
    return out


# ---- cron's meaning ---------------------------------------------------------------------


@pytest.mark.parametrize("dow", ["0", "7", "sun", "SUN", "0,7"])
def test_zero_seven_and_sun_fire_on_sunday(dow):
    times = fires(f"0 9 * * {dow}", n=5)
    assert [t.strftime("%a %d %H:%M") for t in times] == [
        "Sun 09 09:00", "Sun 16 09:00", "Sun 23 09:00", "Sun 30 09:00", "Sun 07 09:00"]


def test_apschedulers_own_from_crontab_would_have_fired_on_monday():
    """Why the tracker parses cron itself: APScheduler 3.x counts 0 as Monday."""
    from apscheduler.triggers.cron import CronTrigger

    own = CronTrigger.from_crontab("0 9 * * 0", timezone=UTC)
    assert own.get_next_fire_time(None, WEDNESDAY).strftime("%a") == "Mon"
    with pytest.raises(ValueError):
        CronTrigger.from_crontab("0 9 * * 7", timezone=UTC)


@pytest.mark.parametrize("dow", ["1-5", "mon-fri", "1,2,3,4,5"])
def test_weekday_ranges_fire_monday_to_friday_only(dow):
    days = [t.strftime("%a") for t in fires(f"30 8 * * {dow}", n=10)]
    assert days == ["Thu", "Fri", "Mon", "Tue", "Wed", "Thu", "Fri", "Mon", "Tue", "Wed"]


@pytest.mark.parametrize("expr, days", [
    ("0 0 * * 5-7", ["Fri", "Sat", "Sun", "Fri", "Sat", "Sun"]),
    ("0 0 * * */2", ["Thu", "Sat", "Sun", "Tue", "Thu", "Sat"]),      # 0,2,4,6
    ("0 0 * * 1-7/3", ["Thu", "Sun", "Mon", "Thu", "Sun", "Mon"]),    # 1,4,7
    ("0 0 * * mon-7", ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue"]),
    ("@weekly", ["Sun", "Sun", "Sun", "Sun", "Sun", "Sun"]),
])
def test_day_of_week_lists_steps_and_names(expr, days):
    assert [t.strftime("%a") for t in fires(expr, n=6)] == days


def test_day_of_month_or_day_of_week_as_in_cron():
    # both restricted: the 1st of the month OR a Friday (June 2024: Fri 7, 14, 21, 28; Jul 1)
    got = [t.strftime("%a %m-%d") for t in fires("0 0 1 * fri", n=6)]
    assert got == ["Fri 06-07", "Fri 06-14", "Fri 06-21", "Fri 06-28", "Mon 07-01", "Fri 07-05"]
    # a field starting with '*' makes it AND, as in cron: odd days that are Fridays
    got = [t.strftime("%a %m-%d") for t in fires("0 0 */2 * fri", n=3)]
    assert got == ["Fri 06-07", "Fri 06-21", "Fri 07-05"]


def test_minutes_hours_and_time_zone():
    assert [t.strftime("%H:%M") for t in fires("*/15 * * * *", n=5)] == [
        "12:00", "12:15", "12:30", "12:45", "13:00"]
    assert [t.strftime("%d %H:%M") for t in fires("30 */6 * * *", n=4)] == [
        "05 12:30", "05 18:30", "06 00:30", "06 06:30"]
    paris = fires("0 9 * * *", n=1, tz=ZoneInfo("Europe/Paris"))[0]
    assert paris.astimezone(timezone.utc).strftime("%d %H:%M") == "06 07:00"   # CEST


@pytest.mark.parametrize("expr, message", [
    ("* * * *", "has 4 fields; cron needs 5"),
    ("60 * * * *", "minute: 60 is out of range 0-59"),
    ("* * * * 8", "day of week: 8 is out of range 0-7"),
    ("5/10 * * * *", "write 5-59/10"),
    ("* * * * mon-sun", "runs backwards (Sunday is 0 or 7"),
    ("*/0 * * * *", "step '0'"),
    ("0 0 30 2 *", "never fires"),
    ("@reboot", "unknown macro"),
    ("0 0 * jan-dex *", "month: 'dex' is not a number"),
    ("*/² * * * *", "minute: step '²' in '*/²' must be a positive number"),
    ("99999 * * * *", "minute: 99999 is out of range 0-59"),
])
def test_bad_expressions_say_what_is_wrong(expr, message):
    with pytest.raises(CronError, match=re.escape(message)):
        parse_cron(expr)


# ---- the schedule config ----------------------------------------------------------------


def cfg_with(schedule) -> dict:
    return {"accounts": [{"handle": "alice"}], "schedule": schedule}


@pytest.mark.parametrize("schedule, message", [
    ({"jobs": {"collect_posts": {"cron": "*/15 * * *"}}},
     "schedule.jobs.collect_posts.cron: '*/15 * * *' has 4 fields"),
    ({"jobs": {"collect_post": {"cron": "* * * * *"}}},
     "schedule.jobs: unknown job 'collect_post' (jobs: collect_posts, collect_replies"),
    ({"timezone": "Mars/Olympus", "jobs": {}}, "schedule.timezone: unknown time zone"),
    ({"misfire_grace_seconds": 0}, "schedule.misfire_grace_seconds:"),
    ({"jobs": {"analyze": {"cron": "5 * * * *", "every": 3}}},
     "schedule.jobs.analyze.every: unknown key"),
])
def test_schedule_config_errors_name_the_path(schedule, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(cfg_with(schedule))
    assert message in str(exc.value)


def test_the_repository_config_has_a_staggered_schedule():
    cfg = load_config(ROOT / "config.yaml")
    assert cfg.schedule.timezone == "UTC" and cfg.schedule.misfire_grace_seconds == 300
    jobs = {k: v.cron for k, v in cfg.schedule.jobs.items()}
    assert jobs == {
        "collect_posts": "*/15 * * * *", "collect_replies": "5-59/15 * * * *",
        "snapshot_polls": "2-59/10 * * * *", "check_deletions": "38 * * * *",
        "collect_press": "11-59/30 * * * *", "analyze": "57 * * * *"}
    # no two jobs start at the same minute (they share one lock)
    minutes = [m for c in jobs.values() for m in parse_cron(c).minute]
    assert len(minutes) == len(set(minutes))


# ---- tracker cron -----------------------------------------------------------------------


def test_crontab_lines_are_absolute_and_say_where_logs_go(tmp_path):
    path = tmp_path / "cfg dir" / "config.yaml"
    path.parent.mkdir()
    path.write_text("accounts: [{handle: alice}]\nschedule:\n  jobs:\n"
                    "    analyze: {cron: '5 * * * *'}\n"
                    "    collect_posts: {cron: '*/15 * * * 1-5'}\n")
    cfg = load_config(path)
    text = crontab(cfg, command=["/opt/venv/bin/tracker"], log_dir=tmp_path / "logs%")
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    d, q = path.parent, f"'{path}'"
    assert lines == [
        f"*/15 * * * 1-5 cd '{d}' && /opt/venv/bin/tracker --config {q} --log-level INFO "
        f"run collect_posts >> {tmp_path}/logs\\%/collect_posts.log 2>&1",
        f"5 * * * * cd '{d}' && /opt/venv/bin/tracker --config {q} --log-level INFO "
        f"run analyze >> {tmp_path}/logs\\%/analyze.log 2>&1",
    ]
    assert "X_BEARER_TOKEN" in text and "CRON_TZ" not in text


def test_crontab_with_a_time_zone_and_an_env_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("schedule:\n  timezone: Europe/Paris\n  jobs:\n"
                    "    snapshot_polls: {cron: '*/10 * * * *'}\n")
    text = crontab(load_config(path), command=["/t"], env_file=Path("/etc/tracker.env"))
    body = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert body[0] == "CRON_TZ=Europe/Paris"
    assert body[1].startswith(f"*/10 * * * * cd {tmp_path} && set -a && . /etc/tracker.env "
                              "&& set +a && /t --config")


def test_crontab_needs_scheduled_jobs(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("accounts: []\n")
    res = invoke("--config", str(path), "cron")
    assert res.exit_code == 2 and "schedule.jobs: no jobs scheduled" in res.output


def test_tracker_cron_lines_run_every_job_like_cron_would(world, api, tmp_path, press):
    """What cron does with each line: /bin/sh -c COMMAND, % unescaped, in a bare environment."""
    ids = seed(world)
    names = all_jobs()
    cfg = write_config(tmp_path, api, press=press[1], schedule={
        "jobs": {name: {"cron": "* * * * *"} for name in names}})
    res = invoke("--config", str(cfg), "cron")
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln and not ln.startswith("#")]
    assert [ln.split(" run ")[1].split()[0] for ln in lines] == names
    assert all(ln.startswith("* * * * * cd ") for ln in lines)
    assert TOKEN not in res.output
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "X_BEARER_TOKEN": TOKEN}
    for ln in lines:
        if " run check_deletions " in ln:
            world.delete(ids["poll"])
        command = ln.split(" ", 5)[5].replace("\\%", "%")
        proc = subprocess.run(["/bin/sh", "-c", command], env=env, cwd="/",
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (ln, proc.stdout, proc.stderr)
    db = tmp_path / "data" / "tracker.duckdb"
    runs = db_rows(db, "SELECT job, status, run_id FROM runs ORDER BY started_at")
    assert [(j, s) for j, s, _ in runs] == [(j, "ok") for j in names]
    for job, _, run_id in runs:
        log = (tmp_path / "data" / "logs" / f"{job}.log").read_text()
        assert f"run {run_id} job={job} status=ok" in log
        assert TOKEN not in log


def test_readme_operations_commands_and_example(tmp_path):
    readme = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    ops = readme.split("## Running it unattended", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```cron\n(.*?)```", ops, re.S).group(1)
    got = [ln.split(" cd ")[0] + " " + ln.split(" run ")[1].split()[0]
           for ln in example.splitlines() if ln and not ln.startswith(("#", "CRON_TZ"))]
    res = invoke("--config", str(ROOT / "config.yaml"), "cron", "--log-dir", str(tmp_path))
    assert res.exit_code == 0
    want = [ln.split(" cd ")[0] + " " + ln.split(" run ")[1].split()[0]
            for ln in res.output.splitlines() if ln and not ln.startswith("#")]
    assert got == want                # docs/operations.md shows what `tracker cron` prints
    res = invoke("--config", str(ROOT / "config.yaml"), "schedule", "--dry-run")
    assert res.exit_code == 0 and "collect_posts    */15 * * * *" in res.output
    unit = (ROOT / "contrib" / "tracker-schedule.service").read_text()
    for line in ("Restart=on-failure", "KillSignal=SIGTERM", "EnvironmentFile=",
                 "TimeoutStopSec=", " schedule"):
        assert line in unit
    assert "contrib/tracker-schedule.service" in ops and "tracker status" in ops


# ---- the scheduler ----------------------------------------------------------------------


def run_until(service: SchedulerService, done, timeout: float = 90) -> int:
    """Run the service in this thread until done(events) is true, then stop it."""
    def watch():
        deadline = time.monotonic() + timeout
        while not done(service.events) and time.monotonic() < deadline:
            time.sleep(0.05)
        service.stop("test done")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    code = service.run(install_signals=False)
    watcher.join()
    return code


def executed(*names):
    return lambda events: {e.job for e in events if e.kind == "executed"} >= set(names)


def complete_raw_files(raw_dir: Path) -> list[str]:
    """Every raw file, asserting each ends with its run_end (nothing half-written)."""
    files = list_raw_files(raw_dir)
    for f in files:
        kinds = [r.record["type"] for r in read_raw_file(raw_dir / f)]
        assert kinds[0] == "run_start" and "run_end" in kinds, (f, kinds)
        assert all(r.record is not None for r in read_raw_file(raw_dir / f))
    return files


def test_scheduler_fires_every_job_on_a_fast_trigger(world, api, tmp_path, press):
    seed(world)
    names = all_jobs()
    cfg = load_config(write_config(tmp_path, api, press=press[1], schedule={
        "jobs": {name: {"cron": "0 0 1 1 *"} for name in names}}))
    service = SchedulerService(cfg, fast=0.2)
    assert run_until(service, executed(*names)) == 0
    assert not any(e.kind in ("failed", "missed") for e in service.events)
    files = complete_raw_files(cfg.raw_dir)
    runs = db_rows(cfg.database, "SELECT job, status FROM runs")
    assert len(runs) == len(files)               # every raw file is loaded: nothing pending
    assert {j for j, _ in runs} == set(names) and {s for _, s in runs} == {"ok"}


def boom_module(monkeypatch, job: str = "analyze") -> None:
    module = types.ModuleType("tests._boom_job")

    def run(cfg, **kw):
        raise RuntimeError(f"boom: could not use token {TOKEN}")

    module.run = run
    monkeypatch.setitem(sys.modules, "tests._boom_job", module)
    monkeypatch.setitem(jobs.JOBS, job, module)


def test_a_job_error_lands_in_runs_with_its_traceback_summary(world, api, tmp_path,
                                                              monkeypatch):
    boom_module(monkeypatch)
    cfg = load_config(write_config(tmp_path, api, schedule={
        "jobs": {"analyze": {"cron": "5 * * * *"}}}))
    service = SchedulerService(cfg, fast=0.2)
    run_until(service, lambda ev: any(e.kind == "failed" for e in ev))
    failed = [e for e in service.events if e.kind == "failed"]
    (job, source, status, error, requests), *_ = db_rows(
        cfg.database, "SELECT job, source, status, error, requests FROM runs "
                      f"WHERE run_id = '{failed[0].run_id}'")
    assert (job, source, status, requests) == ("analyze", "scheduler", "failed", 0)
    assert error.startswith("RuntimeError: boom: could not use token [REDACTED] (at "
                            "tests/test_schedule.py:")
    assert " in run < " in error and "tracker/service/scheduler.py:" in error
    assert TOKEN not in error
    complete_raw_files(cfg.raw_dir)


def test_an_unexpected_error_inside_a_run_keeps_its_traceback_summary(world, api, tmp_path):
    cfg = load_config(write_config(tmp_path, api))

    def body(raw, ctx, result):
        {}["missing"]

    r = runner.execute(cfg, "analyze", "analysis", body)
    assert r.status == "failed"
    assert re.fullmatch(r"KeyError: 'missing' \(at tests/test_schedule\.py:\d+ in body < "
                        r"tracker/runs/runner\.py:\d+ in execute\)", r.error)
    assert db_rows(cfg.database, "SELECT status, error FROM runs") == [("failed", r.error)]


def test_lock_held_by_another_writer_is_a_missed_run(world, api, tmp_path):
    seed(world)
    cfg = load_config(write_config(tmp_path, api, schedule={
        "lock_wait_seconds": 1, "jobs": {"collect_posts": {"cron": "*/15 * * * *"}}}))
    with RunLock(cfg.lock_file):                  # e.g. a cron run or `tracker collect x`
        service = SchedulerService(cfg, fast=0.2)
        run_until(service, lambda ev: any(e.kind == "missed" for e in ev))
    assert world.requests == []
    # recorded in raw while the lock was held; the next run (here: load) brings it to runs
    assert not cfg.database.exists()
    load.load_now(cfg)
    missed = db_rows(cfg.database, "SELECT job, source, status, stop_reason FROM runs")
    assert missed and all(r[:3] == ("collect_posts", "scheduler", "missed") for r in missed)
    assert "another tracker run holds" in missed[0][3]


def test_a_second_scheduler_on_the_same_data_is_refused(world, api, tmp_path):
    cfg = load_config(write_config(tmp_path, api, schedule={
        "jobs": {"analyze": {"cron": "5 * * * *"}}}))
    service = SchedulerService(cfg)
    with RunLock(service.service_lock):              # as a running `tracker schedule` does
        with pytest.raises(LockHeld, match="tracker-schedule.lock"):
            service.run(install_signals=False)
    assert not cfg.raw_dir.exists()


def test_a_misfire_is_recorded_as_missed(world, api, tmp_path):
    from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent

    cfg = load_config(write_config(tmp_path, api, schedule={
        "misfire_grace_seconds": 60, "jobs": {"snapshot_polls": {"cron": "*/10 * * * *"}}}))
    service = SchedulerService(cfg)
    due = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)
    service._on_event(JobExecutionEvent(EVENT_JOB_MISSED, "snapshot_polls", "default", due))
    (row,) = db_rows(cfg.database, "SELECT job, status, started_at, stop_reason FROM runs")
    assert row[:3] == ("snapshot_polls", "missed", due)
    assert "schedule.misfire_grace_seconds=60" in row[3]
    (start, end) = [r.record for r in read_raw_file(cfg.raw_dir / list_raw_files(cfg.raw_dir)[0])]
    assert start["source"] == "scheduler" and start["scheduled_for"].startswith(
        due.strftime("%Y-%m-%dT%H:%M:%S"))
    assert end["status"] == "missed"


def test_record_run_waits_in_raw_while_the_database_is_busy(world, api, tmp_path):
    cfg = load_config(write_config(tmp_path, api))
    with RunLock(cfg.lock_file):
        run_id = record_run(cfg, "collect_posts", "missed", started=datetime.now(timezone.utc),
                            stop_reason="test")
    assert not cfg.database.exists()
    assert [p.name for p in cfg.raw_dir.rglob("*")
            if p.is_file()] == [f"{run_id}.jsonl.gz"]      # no .part left behind
    load.load_now(cfg)
    assert db_rows(cfg.database, "SELECT run_id, status FROM runs") == [(run_id, "missed")]


def test_no_token_in_any_log_line_at_debug(world, api, tmp_path, monkeypatch):
    seed(world)
    boom_module(monkeypatch, "analyze")
    cfg = load_config(write_config(tmp_path, api, schedule={
        "jobs": {"collect_posts": {"cron": "* * * * *"}, "analyze": {"cron": "* * * * *"}}}))
    setup_logging("DEBUG")
    for name in ("tweepy", "urllib3", "apscheduler.scheduler", "apscheduler.executors"):
        logging.getLogger(name).setLevel(logging.DEBUG)     # even if someone turns them on
    root = logging.getLogger()
    handler = next(h for h in root.handlers if getattr(h, "_tracker", False))
    seen: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record):
            seen.append(handler.format(record))

    grab = Grab()
    grab.filters = handler.filters
    root.addHandler(grab)
    try:
        service = SchedulerService(cfg, fast=0.2)
        run_until(service, lambda ev: {e.kind for e in ev} >= {"executed", "failed"})
        logging.getLogger("tweepy.client").debug(
            "Making API request: GET /2/users/by\nHeaders: {'Authorization': 'Bearer %s'}",
            TOKEN)
    finally:
        root.removeHandler(grab)
        setup_logging("WARNING")
        for name in ("apscheduler.scheduler", "apscheduler.executors"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    text = "\n".join(seen)
    assert "scheduler started" in text and "job collect_posts finished" in text
    assert "job analyze failed: RuntimeError" in text
    assert "Traceback" in text                     # apscheduler's own, at DEBUG, redacted
    assert TOKEN not in text and "[REDACTED]" in text


def test_stop_ends_a_rate_limit_wait_and_the_run_resumes_later(world, api, tmp_path):
    seed(world)
    world.faults.append(Fault(r"/users/by$", status=429, body='{"title": "Too Many Requests"}',
                              headers={"x-rate-limit-reset": str(int(time.time()) + 600)}))
    cfg = load_config(write_config(tmp_path, api, schedule={
        "jobs": {"collect_posts": {"cron": "*/15 * * * *"}}}))
    service = SchedulerService(cfg, fast=0.2)
    run_until(service, lambda ev: len(world.requests) >= 1)     # stop during the 600 s wait
    (row,) = db_rows(cfg.database, "SELECT job, status, requests, stop_reason FROM runs")
    assert row[:3] == ("collect_posts", "stopped", 1)
    assert row[3].startswith("the scheduler is stopping (SIGTERM/SIGINT)")
    r = runner.run(cfg, "collect_posts")                                # the next run resumes
    assert (r.status, r.requests) == ("ok", 2)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_mid_job_stops_after_the_run_with_nothing_half_written(world, api, tmp_path,
                                                                      sig):
    seed(world, posts=30)
    path = write_config(tmp_path, api, page_size=5, schedule={
        "jobs": {"collect_posts": {"cron": "*/15 * * * *"},
                 "snapshot_polls": {"cron": "*/10 * * * *"}}})
    world.delay = 0.4                  # 8 requests: the run takes a few seconds
    log_file = tmp_path / "schedule.log"
    proc = subprocess.Popen([*tracker_command(), "--config", str(path), "--log-level", "DEBUG",
                             "--log-file", str(log_file), "schedule", "--fast", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(world.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(world.requests) >= 2, "no job reached the server"
        proc.send_signal(sig)
        sent_at = len(world.requests)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    cfg = load_config(path)
    files = complete_raw_files(cfg.raw_dir)
    runs = db_rows(cfg.database, "SELECT run_id, job, status, requests FROM runs "
                                 "ORDER BY started_at")
    assert len(runs) == len(files) >= 1          # the interrupted run is loaded: nothing pending
    assert all(status == "ok" for _, _, status, _ in runs)
    assert sum(r[3] for r in runs) == len(world.requests)
    # the interrupted run finished its pages; no job started after the signal
    assert runs[-1][1] == "collect_posts" and len(world.requests) >= sent_at
    log = log_file.read_text()
    stopping = f"{sig.name}: starting no new jobs; waiting for collect_posts to finish its run"
    run_line = log.index(f"run {runs[-1][0]} job=collect_posts status=ok")
    assert log.index(stopping) < run_line < log.index("scheduler stopped")
    assert "job snapshot_polls started" not in log[log.index(stopping):]
    assert TOKEN not in log + out + err

"""Disk full and a read-only data folder: the run fails cleanly, nothing is corrupted, the next
run recovers.

Two ways to get there:

- **real** (root with mount rights, as on the CI machine): the data folder is a small tmpfs
  that a filler file fills to within N bytes of full, for N chosen so the disk runs out at
  each stage of a run in turn (the run's first raw line; the raw archive in the middle of the
  pagination and then DuckDB's commit; the replica copy; and a control with room to spare);
  the read-only case bind-mounts the data folder read-only over itself. These tests skip,
  saying why, where mounting is not allowed.
- **simulated** (always runs): the raw archive's ``fsync`` fails with ENOSPC / EROFS after k
  pages, in-process; DuckDB's own writes cannot be simulated this way (the real tests cover
  them).

Afterwards every stored table is unchanged or holds only whole pages, every file opens, and
once the disk has room the next run stores every served post exactly once.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import make_post
from tracker.runs import runner
from tracker.cli import cli
from tracker.config import load_config
from tracker.core.errors import StorageError, TrackerError

from .common import NO_SLEEP, duplicate_keys, q, seed, served_posts, write_config


def _mount(*args) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    if not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)):
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights); the simulated "
                    "disk-full test covers the raw archive")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextmanager
def read_only(path: Path):
    if not (_mount("--bind", str(path), str(path))
            and _mount("-o", "remount,ro,bind", str(path))):
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
        pytest.skip("cannot bind-mount read-only here (needs root and mount rights); the "
                    "simulated test covers the raw archive")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder: Path, leave: int) -> Path:
    """A filler file that leaves about ``leave`` bytes free on folder's filesystem."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    filler = folder / "filler"
    with open(filler, "wb") as fh:
        chunk = b"\0" * (1 << 20)
        todo = max(0, free - leave)
        try:
            while todo > 0:
                fh.write(chunk[:min(todo, len(chunk))])
                todo -= min(todo, len(chunk))
        except OSError:
            pass
    return filler


def tables(cfg) -> dict:
    """Row counts of every table of the database (it must open and be readable)."""
    names = [r[0] for r in q(cfg.database, "SELECT table_name FROM information_schema.tables "
                                          "WHERE table_type = 'BASE TABLE'")]
    return {t: q(cfg.database, f"SELECT count(*) FROM {t}")[0][0] for t in names}


# free bytes left: 0 (nothing can be written: the run start fails), a few kB (the raw archive
# runs out mid-pagination, then DuckDB's commit), tens of kB (DuckDB's commit), a megabyte (raw
# and load fit; the replica copy runs out), plenty (the control: nothing fails)
LEAVE = [0, 2_000, 6_000, 40_000, 1_000_000, 30_000_000]


def _disk_full_case(leave: int, base: Path, clock) -> tuple:
    """One run with ``leave`` bytes free; returns what happened. Asserts the recovery."""
    from tests.conftest import TOKEN
    from tracker.testing.xapi import XWorld, serve

    world = XWorld(token=TOKEN)
    with serve(world) as api, tmpfs(base, "48m") as data:
        seed(world, clock, 150)
        cfg = load_config(write_config(data, api))
        assert runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP).status == "ok"
        before = tables(cfg)
        clock.advance(hours=2)
        for i in range(450):                       # 5 pages of new posts, long texts
            make_post(world, "100", clock.at - timedelta(hours=1, seconds=i),
                      f"new post {i} " + "x" * 400, 1)
        filler = fill(data, leave)
        try:
            r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
            assert r.status in ("ok", "failed"), r
            if r.status == "ok" and r.load_note:
                # the load committed; only analysts' copy could not be refreshed
                assert "No space left on device" in r.load_note and "\n" not in r.load_note
                outcome = "replica copy"
            elif r.status == "ok":
                outcome = "no failure"
            else:
                assert "No space left on device" in r.error and "\n" not in r.error
                outcome = ("replica copy" if "replica" in r.error else
                           "raw archive and database" if "raw archive" in r.error else
                           "database")
        except TrackerError as exc:                # before anything was collected
            assert "No space left on device" in str(exc) and "\n" not in str(exc)
            outcome = "run start"
        filler.unlink()
        # nothing is corrupted: the database opens, whatever it holds is whole
        after = tables(cfg)
        assert after["posts"] in (before["posts"], before["posts"] + 450), (outcome, after)
        assert not any(duplicate_keys(cfg.database).values())
        # the next run, with room again, loads what is waiting and reads the rest
        again = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
        assert (again.status, again.load_state) == ("ok", "loaded"), (outcome, again.error)
        stored = q(cfg.replica, "SELECT post_id FROM posts")
        assert len(stored) == len({p for (p,) in stored}) == 600, outcome
        assert {p for (p,) in stored} == served_posts(world)
        assert not any(duplicate_keys(cfg.database).values())
        assert not list(data.rglob("*.tmp"))       # no half copy of the replica left behind
        return outcome


def test_disk_full_at_every_stage_fails_cleanly_and_the_next_run_recovers(
        clock, tmp_path, monkeypatch):
    from tests.conftest import TOKEN

    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)
    outcomes = [_disk_full_case(leave, tmp_path / f"data{i}", clock)
                for i, leave in enumerate(LEAVE)]
    # the sweep reached the stages it aims at (exact byte counts depend on DuckDB's files)
    assert outcomes[0] == "run start" and outcomes[-1] == "no failure", outcomes
    assert {"raw archive and database", "replica copy"} <= set(outcomes), outcomes


def test_read_only_data_folder_fails_cleanly_and_the_next_run_recovers(
        world, api, clock, tmp_path):
    seed(world, clock, 150)
    data = tmp_path / "data"
    data.mkdir()
    cfg_path = write_config(data, api)
    cfg = load_config(cfg_path)
    assert runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP).status == "ok"
    before = tables(cfg)
    files = sorted(p.relative_to(data) for p in data.rglob("*") if p.is_file())
    clock.advance(hours=2)
    for i in range(50):
        make_post(world, "100", clock.at - timedelta(hours=1, seconds=i), f"new {i}", 1)
    with read_only(data):
        with pytest.raises(TrackerError) as exc:
            runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
        assert "Read-only file system" in str(exc.value) and "\n" not in str(exc.value)
        res = CliRunner().invoke(cli, ["--config", str(cfg_path), "collect", "x"], obj={})
        assert res.exit_code == 1
        assert "Read-only file system" in res.output and "Traceback" not in res.output
    assert sorted(p.relative_to(data) for p in data.rglob("*") if p.is_file()) == files
    assert tables(cfg) == before
    again = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert (again.status, again.posts_read) == ("ok", 50)
    assert q(cfg.replica, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(200, 200)]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
@pytest.mark.parametrize("after", [0, 1, 3])
def test_simulated_raw_write_failure_mid_run(code, after, world, make_cfg, clock, monkeypatch):
    """fsync of the raw archive fails after ``after`` records: the run fails with one clear
    line, the file keeps every whole line before it, the next run fills the gap."""
    import tracker.store.raw as raw_module

    seed(world, clock, 450)
    cfg = make_cfg()
    real = raw_module.os.fsync
    calls = [0]

    def failing(fd):
        calls[0] += 1
        if calls[0] > after:
            raise OSError(code, os.strerror(code))
        return real(fd)

    monkeypatch.setattr(raw_module.os, "fsync", failing)
    if after == 0:
        with pytest.raises(StorageError, match=os.strerror(code)):
            runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    else:
        r = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
        assert r.status == "failed" and os.strerror(code) in r.error
    monkeypatch.setattr(raw_module.os, "fsync", real)
    again = runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP)
    assert (again.status, again.load_state) == ("ok", "loaded")
    assert q(cfg.replica, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(450, 450)]
    # the interrupted run's file held only whole lines: nothing was quarantined or torn
    assert q(cfg.replica, "SELECT count(*) FROM raw_pages WHERE error IS NOT NULL") == [(0,)]
    statuses = sorted(s for (s,) in q(cfg.replica, "SELECT status FROM runs"))
    assert statuses == (["ok"] if after == 0 else ["crashed", "ok"])

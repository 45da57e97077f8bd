"""Outputs never destroy what the tracker keeps: `export --overwrite` and every `-o FILE`
refuse the database, its log and backups, the replica, the raw archive, the config file and
the lock file; `--overwrite` replaces only a previous export."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import make_post
from tracker.runs import runner
from tracker.runs.analyze import run_analysis
from tracker.cli import cli
from tracker.config import load_config

from .common import NO_SLEEP


def invoke(*args):
    return CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False)


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def setup(world, api, tmp_path, clock):
    world.add_user({"id": "100", "username": "alice", "name": "Alice"})
    make_post(world, "100", clock.at - timedelta(hours=2), "Putin called me, says Alice")
    data = tmp_path / "data"
    path = data / "config.yaml"
    data.mkdir()
    path.write_text(yaml.safe_dump({
        "storage": {"database": "tracker.duckdb", "raw_dir": "raw"},
        "x": {"api_base_url": api, "backoff_base_seconds": 0},
        "accounts": [{"handle": "alice"}],
        "stories": [{"id": "call", "title": "A call?", "query": "Putin",
                     "window": {"start": "2022-10-01", "end": "2022-10-31"},
                     "actors": [{"handle": "alice", "role": "claimant"}]}]}))
    cfg = load_config(path)
    assert runner.run(cfg, "collect_posts", clock=clock, **NO_SLEEP).status == "ok"
    assert run_analysis(cfg, clock=clock).status == "ok"
    return cfg, data


def test_export_overwrite_refuses_the_data_folder(setup):
    cfg, data = setup
    before = _digest(data)
    res = invoke("--config", str(cfg.source_path), "export", "--parquet", str(data),
                 "--overwrite")
    assert res.exit_code == 2 and "refusing" in res.output and "Traceback" not in res.output
    assert _digest(data) == before
    # the folder that holds the data folder, too
    res = invoke("--config", str(cfg.source_path), "export", "--parquet", str(data.parent),
                 "--overwrite")
    assert res.exit_code == 2 and _digest(data) == before


def test_export_overwrite_replaces_only_a_previous_export(setup, tmp_path):
    cfg, _ = setup
    args = ("--config", str(cfg.source_path), "export", "--parquet")
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.docx").write_text("two years of work")
    res = invoke(*args, str(mine), "--overwrite")
    assert res.exit_code == 2 and "not a previous export" in res.output
    assert (mine / "thesis.docx").read_text() == "two years of work"
    lake = tmp_path / "lake"
    assert invoke(*args, str(lake)).exit_code == 0
    assert invoke(*args, str(lake)).exit_code == 1                    # not without --overwrite
    assert invoke(*args, str(lake), "--overwrite").exit_code == 0     # a previous export: yes
    assert (lake / "_manifest.json").is_file()


@pytest.mark.parametrize("target", ["tracker.duckdb", "tracker.read.duckdb", "config.yaml",
                                    ".tracker.lock", "raw/x/new.csv", "tracker.duckdb.wal"])
@pytest.mark.parametrize("command", [
    ["report", "call", "-o", "{}"],
    ["report", "call", "-o", "{data}/r.html", "--png", "{}"],
    ["sql", "SELECT 1 AS one", "--format", "csv", "-o", "{}"],
    ["timeline", "call", "--format", "csv", "-o", "{}"],
    ["press", "list", "--format", "csv", "-o", "{}"],
])
def test_every_output_file_refuses_what_the_tracker_keeps(setup, target, command):
    cfg, data = setup
    (data / "tracker.duckdb.wal").touch()
    before = _digest(data)
    args = [a.format(str(data / target), data=data) for a in command]
    res = invoke("--config", str(cfg.source_path), *args)
    assert res.exit_code == 2, res.output
    assert "refusing to overwrite" in res.output or "raw archive" in res.output, res.output
    assert _digest(data) == before


def test_report_all_refuses_the_raw_archive_and_writes_beside_the_data(setup):
    cfg, data = setup
    res = invoke("--config", str(cfg.source_path), "report", "--all", "-o", str(data / "raw"))
    assert res.exit_code == 2 and "raw archive" in res.output
    res = invoke("--config", str(cfg.source_path), "report", "--all", "-o", str(data / "out"))
    assert res.exit_code == 0, res.output
    assert (data / "out" / "index.html").is_file() and (data / "out" / "call.html").is_file()

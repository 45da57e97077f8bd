"""The demo's database with no story in it, for the denials tests: the sample episode collected
by `tracker demo` (once per test process, shared with the other demo tests), then every story row, label and cached stance removed, and a configuration
that lists the tracked accounts only. Built once per test process (the demo takes ~15 s)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

from tracker.cli import cli
from tracker.store.db import open_db

_BUILT: dict[str, Path] = {}

# The demo's two X posts by the subject that answer the claimant (data/sample): the denial of
# the claim and the answer to the rebuttal, and what they answer.
CLAIM = "1579806518277046280"            # @ianbremmer 2022-10-11 12:10Z
DENIAL = "1579829167518646282"           # @elonmusk 13:40Z "I have spoken to Putin only once…"
REBUTTAL = "1579842505405366287"         # @ianbremmer 14:33Z (the edited version)
SECOND_DENIAL = "1579880757457846288"    # @elonmusk 17:05Z "No one should believe Bremmer."

CONFIG = """\
# tracked accounts only: no story is configured
storage:
  database: {db}
  raw_dir: raw
accounts:
  - {{platform: x, handle: elonmusk}}
  - {{platform: x, handle: ianbremmer}}
stories: []
"""


def cli_demo(tmp_path_factory) -> tuple[Path, str]:
    """`tracker demo --dir FOLDER` run once per test process through the command line: the
    folder it wrote (config.yaml with the demo story, tracker.duckdb analysed) and what it
    printed. Read the folder; copy it (``demo_copy``) to write."""
    if "demo" not in _BUILT:
        d = tmp_path_factory.mktemp("demo-once") / "demo"
        res = CliRunner().invoke(cli, ["demo", "--dir", str(d)], obj={},
                                 catch_exceptions=False)
        assert res.exit_code == 0, res.output
        _BUILT["demo"], _BUILT["output"] = d, res.output
    return _BUILT["demo"], _BUILT["output"]


def demo_folder(tmp_path_factory) -> Path:
    """The folder `tracker demo` wrote; read it, copy it to write."""
    return cli_demo(tmp_path_factory)[0]


def demo_copy(tmp_path_factory, name: str) -> tuple[Path, str]:
    """A copy of the demo's folder of one's own (its paths are relative), and what it printed."""
    src, output = cli_demo(tmp_path_factory)
    d = tmp_path_factory.mktemp(name) / "demo"
    shutil.copytree(src, d)
    return d, output


def demo_database(tmp_path_factory) -> Path:
    """The demo's database without stories (read it; copy it to write)."""
    if "db" not in _BUILT:
        base = demo_folder(tmp_path_factory).parent
        db = base / "nostory.duckdb"
        shutil.copyfile(base / "demo" / "tracker.duckdb", db)
        con = open_db(db)
        try:
            for table in ("story_items", "story_actors", "stories", "analyst_labels",
                          "stance_cache", "analysis_state"):
                con.execute(f"DELETE FROM {table}")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        _BUILT["db"] = db
    return _BUILT["db"]


def demo_config(tmp_path: Path, tmp_path_factory, text: str = CONFIG) -> Path:
    """A config.yaml in ``tmp_path`` over a fresh copy of the story-less demo database."""
    db = tmp_path / "tracker.duckdb"
    shutil.copyfile(demo_database(tmp_path_factory), db)
    path = tmp_path / "config.yaml"
    path.write_text(text.format(db=db), encoding="utf-8")
    assert yaml.safe_load(path.read_text())["storage"]["database"] == str(db)
    return path

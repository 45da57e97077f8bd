"""`tracker import`: the commands of docs/imports.md, bad lines as FILE:LINE, the summary, exit codes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import CORPUS
from tracker.cli import cli

from .helpers import config, query

ROOT = Path(__file__).resolve().parents[4]
IMPORTS = ROOT / "docs" / "imports.md"


def invoke(cfg_path, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg_path), *args], obj={},
                              catch_exceptions=False)


def write_config(tmp_path) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text("storage: {database: db/tracker.duckdb, raw_dir: raw}\naccounts: []\n")
    return p


def readme_import_commands() -> list[list[str]]:
    section = IMPORTS.read_text(encoding="utf-8")
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("tracker import "):
                cmds.append(shlex.split(line)[1:])
    return cmds


def test_readme_documents_every_format():
    formats = {c[1] for c in readme_import_commands()}
    assert formats == {"twarc2", "x-archive", "v1"}


@pytest.mark.parametrize("args", readme_import_commands(), ids=" ".join)
def test_readme_import_commands_run(args, tmp_path, monkeypatch):
    if any(a.startswith("../shared") for a in args) and not CORPUS.is_dir():
        pytest.skip("../shared/corpus not found beside the repo")
    monkeypatch.chdir(ROOT)
    res = invoke(write_config(tmp_path), *args)
    assert res.exit_code == 0, res.output
    assert "import run" in res.output and ": ok;" in res.output


def test_bad_lines_are_reported_with_file_and_line(tmp_path):
    src = tmp_path / "pages.jsonl"
    good = '{"data": [{"id": "1500000000000000001", "text": "hi", "author_id": "7"}]}'
    src.write_text(good + "\nnot json\n" + '{"data": [{"text": "no id"}]}\n' + good + "\n")
    cfg_path = write_config(tmp_path)
    res = invoke(cfg_path, "import", "twarc2", str(src))
    assert res.exit_code == 0, res.output
    assert f"{src.resolve()}:2: invalid JSON" in res.output
    assert f"{src.resolve()}:3: data: item without an id" in res.output
    assert re.search(r"tweets \(posts\)\s*│\s*2\s*│\s*1\s*│\s*0", res.output)
    assert "first_seen_at: each line's own retrieval time" in res.output


def test_nothing_importable_exits_1(tmp_path):
    src = tmp_path / "junk.jsonl"
    src.write_text("not json\n{\"also\": \"not a page\"\n")
    res = invoke(write_config(tmp_path), "import", "twarc2", str(src))
    assert res.exit_code == 1, res.output
    assert f"{src.resolve()}:1: invalid JSON" in res.output


def test_source_name_labels_the_run(tmp_path):
    src = tmp_path / "pages.jsonl"
    src.write_text('{"data": [{"id": "1500000000000000001", "text": "hi"}]}\n')
    cfg_path = write_config(tmp_path)
    res = invoke(cfg_path, "import", "twarc2", str(src), "--source-name", "brexit-2021")
    assert res.exit_code == 0, res.output
    cfg = config(tmp_path)
    assert query(cfg, "SELECT job, source FROM runs") == [("import", "import-brexit-2021")]
    assert list((tmp_path / "raw").iterdir()) == [tmp_path / "raw" / "import-brexit-2021"]
    res = invoke(cfg_path, "import", "twarc2", str(src), "--source-name", "Bad Name")
    assert res.exit_code == 1 and "--source-name" in res.output


def test_unknown_format_and_missing_path(tmp_path):
    cfg_path = write_config(tmp_path)
    assert invoke(cfg_path, "import", "csv", str(tmp_path)).exit_code == 2
    assert invoke(cfg_path, "import", "v1", str(tmp_path / "nope.jsonl")).exit_code == 2

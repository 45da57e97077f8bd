"""The README and docs/ stay true: their shell blocks run, their links resolve, and the README
starts with the two commands CI runs (docs/README.md, "Commands in these pages").

Every ```bash block runs, in page order, with `bash -euo pipefail` in a scratch folder that holds
the demo's database (its `config.yaml` is the demo's), unless the line above it says
``<!-- docs-test: skip (REASON) -->``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
SKIP = re.compile(r"^<!--\s*docs-test:\s*skip\s*\((?P<reason>[^)]*\S[^)]*)\)\s*-->$")
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")


@dataclass
class Block:
    page: Path
    line: int                 # 1-based line of the opening fence
    end: int                  # 1-based line of the closing fence
    lang: str
    text: str
    skip: str | None          # the marker's reason

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a Markdown page (a longer fence may hold shorter ones)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, start = m.group("fence"), i
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence)
                                      and lines[j].strip().strip(fence[0]) == ""):
            j += 1
        before = next((ln.strip() for ln in reversed(lines[:start]) if ln.strip()), "")
        marker = SKIP.match(before)
        out.append(Block(page, start + 1, j + 1, m.group("info").lower(),
                         "\n".join(lines[i + 1:j]), marker.group("reason") if marker else None))
        i = j + 1
    return out


ALL = [b for p in PAGES for b in blocks(p)]
SHELL = [b for b in ALL if b.lang in ("bash", "sh", "shell", "console")]
RUNNABLE = [b for b in SHELL if b.skip is None]


# ---- the README's first screen -------------------------------------------------------------

def test_readme_starts_with_the_two_commands_ci_runs():
    first = next(b for b in ALL if b.page == README)
    assert first.line < 12 and first.lang == "bash"
    commands = [ln for ln in first.text.splitlines() if ln and not ln.startswith("#")]
    demo, tests = commands
    assert demo.startswith("python3 -m venv .venv && . .venv/bin/activate")
    assert "pip install -U pip" in demo and "pip install -e . " in demo
    assert demo.endswith("&& tracker demo")
    assert "pip install -U pip" in tests and "pip install -e '.[test]'" in tests
    assert tests.endswith("&& python -m pytest -q -n 2")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for step in ("python3 -m venv .venv", "--upgrade pip", "-e '.[test]'", "python -m pytest -q -n 2"):
        assert step in ci, f".ci/run does not do what the README says: {step}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_marker_skips_a_block_and_says_why(page):
    markers = [ln.strip() for ln in prose(page).splitlines() if "docs-test" in ln]
    assert [m for m in markers if not SKIP.match(m)] == [], \
        "write the marker as <!-- docs-test: skip (REASON) -->"
    assert len(markers) == len([b for b in blocks(page) if b.skip]), \
        "a marker must sit on the line just above the block it skips"


def test_most_blocks_run():
    assert len(RUNNABLE) >= 8 and len(RUNNABLE) >= len(SHELL) // 3


# ---- the shell blocks ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder laid out like a clone (tests/, contrib/ and ../shared where they exist) holding
    the demo's database, with the demo's config as its config.yaml."""
    base = tmp_path_factory.mktemp("docs")
    repo = base / "repo"
    repo.mkdir()
    for name in ("tests", "contrib"):
        (repo / name).symlink_to(ROOT / name)
    if (ROOT.parent / "shared").exists():
        (base / "shared").symlink_to(ROOT.parent / "shared")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               COLUMNS="160")
    env.pop("TRACKER_CONFIG", None)
    assert shutil.which("tracker", path=env["PATH"]), "the tracker command is not installed"
    proc = subprocess.run(["tracker", "demo"], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    cfg = yaml.safe_load((repo / "data" / "demo" / "config.yaml").read_text(encoding="utf-8"))
    cfg["storage"] = {**cfg.get("storage", {}), "database": "data/demo/tracker.duckdb",
                      "raw_dir": "data/demo/raw"}
    (repo / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return repo, env


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.name)
def test_shell_block_runs(block, scratch):
    repo, env = scratch
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block.text], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f"{block.name} exited {proc.returncode} (mark it <!-- docs-test: skip (REASON) --> if "
        f"it cannot run offline):\n{block.text}\n--- stdout\n{proc.stdout[-3000:]}\n"
        f"--- stderr\n{proc.stderr[-3000:]}")


# ---- links -----------------------------------------------------------------------------------

LINK = re.compile(r"!?\[(?:[^\]`]|`[^`]*`)*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"<[^>]+>", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    out, seen = set(), {}
    for ln in prose(page, keep_code=True).splitlines():
        m = re.match(r"#{1,6}\s+(.*)", ln)
        if m:
            s = slug(m.group(1))
            k = seen.get(s, 0)
            seen[s] = k + 1
            out.add(s if k == 0 else f"{s}-{k}")
    return out


def prose(page: Path, keep_code: bool = False) -> str:
    """The page without its fenced blocks (and its inline code, unless keep_code)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    for b in blocks(page):
        for n in range(b.line - 1, min(b.end, len(lines))):
            lines[n] = ""
    text = "\n".join(lines)
    return text if keep_code else re.sub(r"``[^`]*``|`[^`\n]*`", "", text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(page):
    broken = []
    for target in LINK.findall(prose(page)):
        if re.match(r"[a-z]+:", target):
            continue                                    # https:, mailto:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert broken == []

"""pyproject.toml installs every package of the tracker (a wheel holds only those it lists)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed, mapped = set(tool["packages"]), tool["package-dir"]
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "tracker").rglob("__init__.py")}
    found |= {"tracker_jobs", "tracker_sample"}          # jobs/ and data/sample, mapped
    assert found <= listed

    def folder(package: str) -> Path:
        top, _, rest = package.partition(".")
        base = ROOT / mapped.get(top, top)
        return base.joinpath(*rest.split(".")) if rest else base

    assert [p for p in sorted(listed) if not folder(p).is_dir()] == []


def test_the_wheel_holds_every_file_an_install_needs(tmp_path):
    """A normal (non-editable) install has the sample, the templates, the model, the licence."""
    import subprocess
    import sys
    import zipfile

    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.skip(f"cannot build a wheel here (pip needs setuptools from PyPI): "
                    f"{proc.stderr.strip().splitlines()[-1:]}")
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", "tracker", "jobs", "data/sample"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    mapped = {"jobs/": "tracker_jobs/", "data/sample/": "tracker_sample/"}

    def in_wheel(path: str) -> str:
        for src, dst in mapped.items():
            if path.startswith(src):
                return dst + path[len(src):]
        return path

    wanted = {in_wheel(p) for p in tracked if not p.endswith("build_x_world.py")}
    assert sorted(wanted - names) == []
    assert any(n.endswith("licenses/LICENSE") for n in names)

"""Real DuckDB 1.x readers for the tests: a DuckDB Python package or CLI from PyPI, installed
once into a cache folder (pip --target, wheels only) and run in a subprocess.

The cache is ``$TRACKER_TEST_CACHE`` or ``~/.cache/poll-denial-tracker`` (``$XDG_CACHE_HOME``),
outside the work tree, so a fresh clone on the same machine reuses it. Without PyPI the tests
that need a reader skip, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

# what each reader stands for: the oldest DuckDB the default storage version promises, the
# long-term-support release, and the CLI the README recommends (its newest 1.x on PyPI)
READERS = {
    "python-1.1": ("duckdb==1.1.*", "1.1."),
    "python-1.4": ("duckdb==1.4.*", "1.4."),
    "cli-1.5": ("duckdb-cli==1.5.*", "1.5."),
}


def cache_dir() -> Path:
    if os.environ.get("TRACKER_TEST_CACHE"):
        return Path(os.environ["TRACKER_TEST_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "poll-denial-tracker"


def _install(spec: str, target: Path) -> None:
    """pip install ``spec`` into ``target``, whole or not at all; skips when pip cannot."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.part-{uuid.uuid4().hex[:8]}")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--no-deps", "--only-binary=:all:", "--target", str(tmp), spec]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"cannot install {spec} to test a DuckDB 1.x reader: {exc}")
    if done.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        last = [line for line in (done.stderr or done.stdout).splitlines()
                if line.strip() and "is ignored" not in line][-1:]
        pytest.skip(f"cannot install {spec} from PyPI to test a DuckDB 1.x reader (no network "
                    f"or no wheel for this Python?): {' '.join(last)}")
    try:
        tmp.rename(target)
    except OSError:                       # another test process installed it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)


# run by the reader's own Python: SQL statements in, every result as text out
_PY = r"""
import json, sys
import duckdb
db, statements = sys.argv[1], json.loads(sys.stdin.read())
out = {"version": duckdb.__version__}
try:
    con = duckdb.connect(db, read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    out["results"] = [[[None if v is None else str(v) for v in row]
                       for row in con.execute(sql).fetchall()] for sql in statements]
except Exception as exc:
    out["error"] = str(exc).splitlines()[0]
print(json.dumps(out))
"""


@dataclass
class Reader:
    name: str
    version_prefix: str
    home: Path

    @property
    def is_cli(self) -> bool:
        return self.name.startswith("cli")

    def query(self, db: Path, statements: list[str]) -> dict:
        """{'version': …, 'results': [rows of text, per statement]} or {'error': first line}."""
        if self.is_cli:
            return self._cli(db, statements)
        env = {**os.environ, "PYTHONPATH": str(self.home), "PYTHONNOUSERSITE": "1"}
        done = subprocess.run([sys.executable, "-c", _PY, str(db)], input=json.dumps(statements),
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def _cli(self, db: Path, statements: list[str]) -> dict:
        binary = self.home / "duckdb_cli" / "duckdb"
        version = subprocess.run([str(binary), "-version"], capture_output=True, text=True,
                                 timeout=60).stdout.split()[0].lstrip("v")
        out: dict = {"version": version, "results": []}
        for sql in statements:
            done = subprocess.run(
                [str(binary), "-readonly", "-json", str(db), "-c",
                 f"SET TimeZone = 'UTC'; {sql}"],
                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
            if done.returncode != 0 or "Error" in done.stderr:
                return {"version": version, "error": (done.stderr or done.stdout).splitlines()[0]}
            text = done.stdout.strip()
            rows = json.loads(text) if text else []
            out["results"].append([[None if v is None else str(v) for v in r.values()]
                                   for r in rows])
        return out


def reader(name: str) -> Reader:
    spec, prefix = READERS[name]
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    home = cache_dir() / "duckdb-readers" / f"{spec.replace('==', '-').replace('*', 'x')}-{tag}"
    _install(spec, home)
    return Reader(name, prefix, home)

"""The package's shape: dependencies point one way, no cycles, no platform named outside its
folder (docs/architecture.md draws the layers)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# layer -> the layers it may import (its own is always allowed). `tracker` itself holds only
# __version__ and may be imported from anywhere.
ALLOWED = {
    "core": set(),
    "store": {"core"},
    "testing": {"core"},
    "sources": {"core", "store"},
    "analysis": {"core", "store"},
    "config": {"core", "sources"},
    "report": {"core", "store", "analysis"},
    "runs": {"core", "store", "sources", "config", "analysis", "testing"},
    "jobs": {"core", "config", "runs"},
    "service": {"core", "store", "config", "runs", "jobs"},
    "cli": {"core", "store", "sources", "config", "analysis", "report", "runs", "jobs",
            "service", "testing"},
    "__main__": {"cli"},
}


def modules() -> dict[str, Path]:
    """Every module of tracker and tracker_jobs (the jobs/ folder), by dotted name."""
    out = {}
    for base, pkg in ((ROOT / "tracker", "tracker"), (ROOT / "jobs", "tracker_jobs")):
        for f in sorted(base.rglob("*.py")):
            parts = [pkg, *f.relative_to(base).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = f
    return out


def imports(path: Path) -> list[tuple[str, int]]:
    """(module imported, line) for every import of tracker code, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            names = [node.module or ""]
            names += [f"{node.module}.{a.name}" for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            names = [node.args[0].value]          # tracker/core/lazy.py: an import, later
        else:
            continue
        found += [(n, node.lineno) for n in names if n.split(".")[0] in ("tracker",
                                                                         "tracker_jobs")]
    return found


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module ``name`` is (``from pkg import name`` may name a module or an attribute)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "tracker_jobs":
        return "jobs"
    return parts[1] if len(parts) > 1 else None


def package(module: str, known: dict[str, Path]) -> str:
    """The package a module belongs to (a package's __init__ belongs to itself)."""
    return module if known[module].name == "__init__.py" else module.rpartition(".")[0]


def edges() -> list[tuple[str, str, int]]:
    known = modules()
    out = []
    for mod, path in known.items():
        for name, line in imports(path):
            target = resolve(name, known)
            if target and target != mod:
                out.append((mod, target, line))
    return sorted(set(out))


def test_every_module_is_in_a_layer():
    assert {layer(m) for m in modules()} - {None} <= set(ALLOWED)


def test_no_module_imports_a_layer_above_it():
    wrong = [f"{a} (line {n}) imports {b}" for a, b, n in edges()
             if layer(a) and layer(b) and layer(a) != layer(b)
             and layer(b) not in ALLOWED[layer(a)]]
    assert wrong == []


def test_no_import_cycle_between_packages():
    known = modules()
    graph: dict[str, set[str]] = {}
    for a, b, _ in edges():
        pa, pb = package(a, known), package(b, known)
        if pa != pb and not pb.startswith(pa + ".") and not pa.startswith(pb + "."):
            graph.setdefault(pa, set()).add(pb)
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_sources_import_no_other_source_but_through_the_registry():
    wrong = []
    for a, b, n in edges():
        pa, pb = a.split("."), b.split(".")
        if (len(pa) > 3 and len(pb) > 3 and pa[1] == pb[1] == "sources" and pa[2] != pb[2]):
            wrong.append(f"{a} (line {n}) imports {b}")
    assert wrong == []


# the folder of each platform: its name may appear only there (and in the test doubles of
# the outside world under tracker/testing, which stand in for that platform's servers)
PLATFORM_LITERAL = re.compile(r"""(?<![\w.])(['"])(x|mastodon|bluesky)\1""")


@pytest.mark.parametrize("folder", ["analysis", "report", "store", "runs", "core", "config.py",
                                    "service", "cli"])
def test_no_platform_literal_outside_its_source_folder(folder):
    base = ROOT / "tracker" / folder
    files = [base] if base.is_file() else sorted(base.rglob("*.py"))
    found = []
    for f in files:
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            # plotly's coordinates ("x": [...], "xref": "x", "anchor": "x") are not a platform
            code = re.sub(r"""["']x["']\s*:|["'](xref|xaxis|anchor)["']\s*:\s*["']x["']""", "",
                          code)
            if PLATFORM_LITERAL.search(code):
                found.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()}")
    assert found == []

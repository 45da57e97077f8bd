"""Modules loaded on first use, so that `tracker --help` and quick commands start fast.

The command line imports every command's module to list them; the library modules behind a
command (pandas, pyarrow, the report's templates) load only when a command uses them.
tests/architecture/test_layers.py reads ``lazy_module("…")`` like an import.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, executed when one of its attributes is first read."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module

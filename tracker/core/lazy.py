"""Modules loaded on first use, so that `tracker --help` and quick commands start fast.

The command line imports every command's module to list them; the library modules behind a
command (pandas, pyarrow, the report's templates) load only when a command uses them.
tests/architecture/test_layers.py reads ``lazy_module("…")`` like an import.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Iterator, Sequence
from types import ModuleType
from typing import Callable


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
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:                 # as an import would: pkg.mod reaches it
        setattr(sys.modules[parent], child, module)
    return module


class LazySequence(Sequence):
    """A tuple read on first use from ``make()`` (a source's jobs: their declarations sit beside
    code that needs the platform's SDK, which `tracker --help` must not load)."""

    def __init__(self, make: Callable[[], Iterable]):
        self._make = make
        self._items: tuple | None = None

    def _get(self) -> tuple:
        if self._items is None:
            self._items = tuple(self._make())
        return self._items

    def __getitem__(self, i):
        return self._get()[i]

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self) -> Iterator:
        return iter(self._get())

    def __eq__(self, other) -> bool:
        return self._get() == (tuple(other) if isinstance(other, Sequence) else other)

    def __hash__(self) -> int:
        return hash(self._get())

    def __repr__(self) -> str:
        return repr(self._get()) if self._items is not None else "LazySequence(<not loaded>)"

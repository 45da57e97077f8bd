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


class _LazyModule(ModuleType):
    """Stands for a module until an attribute is read, then imports it (under the import
    system's own lock, so threads may race for it) and hands every read and write to it."""

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self.__name__), attr)

    def __setattr__(self, attr: str, value) -> None:
        setattr(importlib.import_module(self.__name__), attr, value)

    def __delattr__(self, attr: str) -> None:
        delattr(importlib.import_module(self.__name__), attr)


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, imported when one of its attributes is first read.

    Not importlib's LazyLoader: before Python 3.12 a second thread reading an attribute while
    the first executes the module finds it half made (AttributeError)."""
    if name in sys.modules:
        return sys.modules[name]
    if importlib.util.find_spec(name) is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    return _LazyModule(name)


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

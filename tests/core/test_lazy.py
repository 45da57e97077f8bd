"""lazy_module: imported on first use, whole for every thread that races for it."""

from __future__ import annotations

import sys
import threading

import pytest

from tracker.core.lazy import lazy_module


@pytest.fixture
def slow_module(tmp_path, monkeypatch):
    (tmp_path / "slow_lazy_probe.py").write_text(
        "import time\nfirst = 1\ntime.sleep(0.3)\nvalue = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "slow_lazy_probe"
    sys.modules.pop("slow_lazy_probe", None)


def test_nothing_runs_before_an_attribute_is_read(slow_module):
    m = lazy_module(slow_module)
    assert slow_module not in sys.modules
    assert m.value == 42 and slow_module in sys.modules


def test_threads_racing_for_the_first_read_all_see_the_whole_module(slow_module):
    m = lazy_module(slow_module)
    got, errors = [], []

    def read():
        try:
            got.append(m.value)
        except Exception as exc:                  # noqa: BLE001 - the failure under test
            errors.append(repr(exc))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and got == [42] * 8


def test_writes_reach_the_module_and_a_missing_one_fails_at_once(slow_module):
    m = lazy_module(slow_module)
    m.value = 7
    assert sys.modules[slow_module].value == 7
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):
        lazy_module("no_such_module_here")

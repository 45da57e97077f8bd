"""Every registered source fills in the whole Source protocol (tracker/sources/base.py)."""

from __future__ import annotations

import dataclasses

import pytest

from tracker.core.cron import parse_cron
from tracker.core.errors import ConfigError
from tracker.sources.registry import REGISTRY


def test_every_registered_source_is_complete():
    assert REGISTRY.problems() == []


@pytest.mark.parametrize("source", REGISTRY.sources, ids=lambda s: s.name)
def test_scheduled_jobs_have_a_valid_default_schedule(source):
    for job in source.jobs:
        if job.scheduled:
            parse_cron(job.default_cron)


@pytest.mark.parametrize("change, problem", [
    ({"normalize": None}, "normalize must be callable"),
    ({"handle": None}, "must validate its accounts' handles"),
    ({"plan": None}, "needs a plan"),
    ({"secrets": lambda section: ["X_TOKEN"]}, "tuple of environment variable names"),
    ({"config": None}, "a config section needs its model"),
    ({"docs": ""}, "needs a one-line description"),
    ({"name": "press"}, "raw source name 'press' is used twice"),
])
def test_a_source_lacking_a_part_is_refused(change, problem):
    x = REGISTRY.named("x")
    broken = dataclasses.replace(x, **{"name": "x2", "section": "x2", **change})
    with pytest.raises(ConfigError, match=problem):
        REGISTRY.register(broken)
    assert broken not in REGISTRY.sources

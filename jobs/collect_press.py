"""Job collect_press: Press feeds and GDELT queries."""

from tracker.runs.runner import RunResult, run_all

NAME = "collect_press"


def run(cfg, **kw) -> list[RunResult]:
    return run_all(cfg, NAME, **kw)

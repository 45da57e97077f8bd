"""Job snapshot_polls: One snapshot of every open poll, on every platform that has polls."""

from tracker.runs.runner import RunResult, run_all

NAME = "snapshot_polls"


def run(cfg, **kw) -> list[RunResult]:
    return run_all(cfg, NAME, **kw)

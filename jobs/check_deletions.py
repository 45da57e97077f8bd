"""Job check_deletions: Tracked posts due a deletion check looked up, on every platform."""

from tracker.runs.runner import RunResult, run_all

NAME = "check_deletions"


def run(cfg, **kw) -> list[RunResult]:
    return run_all(cfg, NAME, **kw)

"""Job collect_posts: New posts of the tracked accounts, on every platform that has them."""

from tracker.runs.runner import RunResult, run_all

NAME = "collect_posts"


def run(cfg, **kw) -> list[RunResult]:
    return run_all(cfg, NAME, **kw)

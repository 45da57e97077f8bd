"""Job collect_replies: Replies in the conversations that are due, on every platform that has them."""

from tracker.runs.runner import RunResult, run_all

NAME = "collect_replies"


def run(cfg, **kw) -> list[RunResult]:
    return run_all(cfg, NAME, **kw)

"""Job analyze: match items to the configured stories and label them (tracker.analysis)."""

from tracker.runs.analyze import run_analysis
from tracker.runs.runner import RunResult

NAME = "analyze"


def run(cfg, **kw) -> list[RunResult]:
    return [run_analysis(cfg, **kw)]

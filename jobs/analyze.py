"""Job analyze: match items to the configured stories and label them (tracker.analysis)."""

from tracker import runner
from tracker.analysis.run import run_analysis
from tracker.config import Config


def run(cfg: Config, **kw) -> runner.RunResult:
    return run_analysis(cfg, **kw)

"""Job snapshot_polls: Re-read open polls (100 posts a request); a closed poll gets its final snapshot."""

from tracker import runner
from tracker.config import Config


def run(cfg: Config, **kw) -> runner.RunResult:
    return runner.snapshot_polls(cfg, **kw)

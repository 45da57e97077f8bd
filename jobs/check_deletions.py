"""Job check_deletions: Look recent tracked posts up by id; Not Found sets deleted_at, nothing is removed."""

from tracker import runner
from tracker.config import Config


def run(cfg: Config, **kw) -> runner.RunResult:
    return runner.check_deletions(cfg, **kw)

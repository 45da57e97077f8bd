"""Job collect_posts: Timelines of the tracked accounts since their cursors (first run backfills)."""

from tracker import runner
from tracker.config import Config


def run(cfg: Config, **kw) -> runner.RunResult:
    return runner.collect_posts(cfg, **kw)

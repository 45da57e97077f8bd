"""Job collect_replies: Replies to tracked posts younger than x.replies_window_days."""

from tracker import runner
from tracker.config import Config


def run(cfg: Config, **kw) -> runner.RunResult:
    return runner.collect_replies(cfg, **kw)

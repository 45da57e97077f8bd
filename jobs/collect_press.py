"""Job collect_press: every enabled press feed (conditional GET), then the GDELT queries."""

from tracker.config import Config
from tracker.runner import RunResult
from tracker.sources.press.job import collect_press


def run(cfg: Config, **kw) -> RunResult:
    return collect_press(cfg, **kw)

"""Poll & denial tracker: collect posts, polls, replies and coverage; build story timelines."""

__version__ = "0.1.0"

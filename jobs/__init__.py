"""Scheduled jobs. Each module exposes ``run(cfg) -> RunResult`` and only calls the library.

cron (via `tracker` commands) and the scheduler run the same functions.
"""

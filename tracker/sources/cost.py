"""What a source's share of `tracker cost` is made of, and the arithmetic every model uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from tracker.core.cron import CronExpr

DAYS = 30


@dataclass
class JobCost:
    job: str
    cron: str | None
    runs: int
    requests: float
    post_reads: float
    billed_post_reads: float
    user_reads: float
    usd: float
    note: str = ""
    source: str = ""          # whose job (set by the projection)


@dataclass
class SourceCost:
    """A source's projection: its jobs, the rates it used (and where each came from), its
    prices and fixed fees, and what it warns about."""

    jobs: list[JobCost]
    rates: dict[str, float] = field(default_factory=dict)
    rate_sources: dict[str, str] = field(default_factory=dict)
    pricing: dict = field(default_factory=dict)
    base_usd: float = 0.0
    accounts: int = 0
    warnings: list[str] = field(default_factory=list)
    rate_help: dict[str, str] = field(default_factory=dict)   # what each rate means
    notes: list[str] = field(default_factory=list)            # e.g. the prices, in words


def search_capacity(max_chars: int, term_chars: int) -> int:
    """How many ``term OR term …`` fit in a query of max_chars."""
    return max(1, (max_chars + len(" OR ")) // (term_chars + len(" OR ")))


def lifetime_reads(tiers, window_hours: float, interval_hours: float) -> float:
    """How many times an item is read over its life under a schedule of tiers, when runs come
    every interval_hours: at most once a run, at most once per tier spacing."""
    total, start = 0.0, 0.0
    for tier in tiers:
        end = min(tier.up_to_hours, window_hours)
        if end > start:
            total += (end - start) / max(tier.every_hours, interval_hours)
        start = max(start, end)
    return max(total, 1.0)


def runs_per_month(expr: CronExpr, days: int = DAYS) -> int:
    """How often a cron expression fires in ``days`` days (from a Monday, 1 Jan 2024, UTC)."""
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    per_day = len(expr.hour) * len(expr.minute)
    n = 0
    for d in range(days):
        day = start + timedelta(days=d)
        dom_ok = day.day in expr.day
        dow_ok = (day.weekday() + 1) % 7 in expr.day_of_week
        ok = (dom_ok and dow_ok) if (expr.day_star or expr.dow_star) else (dom_ok or dow_ok)
        if ok and day.month in expr.month:
            n += per_day
    return n

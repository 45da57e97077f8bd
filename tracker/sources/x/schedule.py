"""When a re-read is due: spacing that grows with an item's age (and, for conversations, with
how long they have been quiet), so recurring work follows what is new.

A schedule is a list of tiers ``(up_to_hours, every_hours)``: an item younger than the first
tier's age is re-read at most every ``every_hours`` (0: every run), and so on; past the last
tier it is never re-read. A re-read falls due ``TOLERANCE`` early, so a job run on a cron
minute is not put off a whole period by a few seconds of drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

TOLERANCE = timedelta(minutes=5)


def spacing(age_hours: float, tiers) -> float | None:
    """Hours between re-reads for an item this old, or None once past the last tier."""
    for tier in tiers:
        if age_hours < tier.up_to_hours:
            return tier.every_hours
    return None


@dataclass(frozen=True)
class Due:
    """Whether an item is due now, and since how long (for the backlog)."""

    due: bool
    overdue: timedelta = timedelta(0)


def due(now: datetime, created_at: datetime | None, last_read: datetime | None, tiers, *,
        factor: float = 1.0, window: timedelta | None = None) -> Due | None:
    """Is an item created at ``created_at`` and last read at ``last_read`` due at ``now``?

    None when it is past the schedule (or the window): never again. ``factor`` stretches the
    spacing (a conversation that has been quiet).
    """
    if created_at is None:
        return None
    age = now - created_at
    if window is not None and age > window:
        return None
    every = spacing(max(age.total_seconds(), 0) / 3600, tiers)
    if every is None:
        return None
    if last_read is None:
        return Due(True, age)
    next_at = last_read + timedelta(hours=every * factor)
    if every == 0 or now >= next_at - TOLERANCE:
        return Due(True, max(now - next_at, timedelta(0)))
    return Due(False)

"""When a re-read is due, and the settings that say so (``replies`` and ``deletions`` sections): spacing that grows with an item's age (and, for conversations, with
how long they have been quiet), so recurring work follows what is new.

A schedule is a list of tiers ``(up_to_hours, every_hours)``: an item younger than the first
tier's age is re-read at most every ``every_hours`` (0: every run), and so on; past the last
tier it is never re-read. A re-read falls due ``TOLERANCE`` early, so a job run on a cron
minute is not put off a whole period by a few seconds of drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import Field, field_validator

from tracker.core.config import Strict

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


# ---- the settings (x.replies, x.deletions; shared by the platforms) ---------------------


class ScheduleTier(Strict):
    """Items younger than ``up_to_hours`` are re-read at most every ``every_hours`` (0: every
    run)."""

    up_to_hours: float = Field(gt=0, le=87_600)
    every_hours: float = Field(ge=0, le=8_760)


def _tiers(v: list[ScheduleTier]) -> list[ScheduleTier]:
    ages = [t.up_to_hours for t in v]
    if ages != sorted(ages) or len(set(ages)) != len(ages):
        raise ValueError("tiers must be in increasing order of up_to_hours")
    return v


# Re-reads that thin with age, in the spirit of NewsDiffs' re-check schedule: most replies and
# deletions come in the first hours.
DEFAULT_REPLY_TIERS = [ScheduleTier(up_to_hours=6, every_hours=0),
                       ScheduleTier(up_to_hours=24, every_hours=1),
                       ScheduleTier(up_to_hours=72, every_hours=3),
                       ScheduleTier(up_to_hours=168, every_hours=12)]
DEFAULT_DELETION_TIERS = [ScheduleTier(up_to_hours=6, every_hours=0),
                          ScheduleTier(up_to_hours=24, every_hours=2),
                          ScheduleTier(up_to_hours=72, every_hours=6),
                          ScheduleTier(up_to_hours=168, every_hours=24)]


class RepliesConfig(Strict):
    """When a tracked post's conversation is searched for replies (x.replies)."""

    schedule: list[ScheduleTier] = DEFAULT_REPLY_TIERS
    # each search that found nothing new multiplies the spacing by this, up to max_quiet_factor
    quiet_factor: float = Field(2.0, ge=1, le=100)
    max_quiet_factor: float = Field(8.0, ge=1, le=1000)

    _ordered = field_validator("schedule")(_tiers)


class DeletionsConfig(Strict):
    """When a tracked post is looked up again to see whether it still exists (x.deletions)."""

    schedule: list[ScheduleTier] = DEFAULT_DELETION_TIERS

    _ordered = field_validator("schedule")(_tiers)

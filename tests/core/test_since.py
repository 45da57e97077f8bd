"""`--since`: a date, an ISO time or a duration back from now (tracker.core.timeutil.parse_since)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tracker.core.errors import InvalidArgument
from tracker.core.timeutil import parse_since

NOW = datetime(2024, 3, 4, 12, 30, tzinfo=timezone.utc)
UTC = timezone.utc


@pytest.mark.parametrize("value, want", [
    (None, None),
    ("2022-10-11", datetime(2022, 10, 11, tzinfo=UTC)),
    ("2022-10-11T14:00Z", datetime(2022, 10, 11, 14, tzinfo=UTC)),
    ("2022-10-11T14:00", datetime(2022, 10, 11, 14, tzinfo=UTC)),          # no zone: UTC
    ("2022-10-11T16:00+02:00", datetime(2022, 10, 11, 14, tzinfo=UTC)),
    (" 2022-10-11 14:00:30z ", datetime(2022, 10, 11, 14, 0, 30, tzinfo=UTC)),
    ("90m", NOW - timedelta(minutes=90)),
    ("90min", NOW - timedelta(minutes=90)),
    ("36h", NOW - timedelta(hours=36)),
    ("7d", NOW - timedelta(days=7)),
    ("2W", NOW - timedelta(weeks=2)),
    ("0h", NOW),
])
def test_accepted(value, want):
    got = parse_since(value, NOW)
    assert got == want
    assert got is None or got.tzinfo == UTC


def test_now_in_another_zone_gives_utc():
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    assert parse_since("1h", paris) == NOW - timedelta(hours=1)
    assert parse_since("1h", paris).tzinfo == UTC


@pytest.mark.parametrize("value", ["yesterday", "7", "-7d", "7 days", "2022-13-01", "", "1y"])
def test_refused_with_a_usage_error(value):
    with pytest.raises(InvalidArgument, match=r"--after .*: give a date \(2022-10-11\), an ISO "
                                              r"time \(2022-10-11T14:00Z\) or a duration"):
        parse_since(value, NOW, option="--after")
    assert InvalidArgument.exit_code == 2

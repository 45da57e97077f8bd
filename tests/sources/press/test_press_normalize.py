"""The pure press normalizer: dates, languages, GDELT answers, pages that are not what they say."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tracker.core.errors import MalformedPage
from tracker.sources.press.normalize import (NO_TZ, gdelt_json, gdelt_time, language_code,
                                             normalize, page_date, parse_date)

UTC = timezone.utc


@pytest.mark.parametrize("raw,expected,note", [
    ("Tue, 11 Oct 2022 16:05:00 +0200", datetime(2022, 10, 11, 14, 5, tzinfo=UTC), None),
    ("2022-10-11T09:05:00-05:00", datetime(2022, 10, 11, 14, 5, tzinfo=UTC), None),
    ("2022-10-11T14:05:00Z", datetime(2022, 10, 11, 14, 5, tzinfo=UTC), None),
    ("Tue, 11 Oct 2022 14:05:00 GMT", datetime(2022, 10, 11, 14, 5, tzinfo=UTC), None),
    ("Tue, 11 Oct 2022 10:05:00 EDT", datetime(2022, 10, 11, 14, 5, tzinfo=UTC), None),
    ("Tue, 11 Oct 2022 14:05:00", datetime(2022, 10, 11, 14, 5, tzinfo=UTC), NO_TZ),
    ("2022-10-11T14:05:00", datetime(2022, 10, 11, 14, 5, tzinfo=UTC), NO_TZ),
    ("Tue, 11 Oct 2022 14:05:00 -0000", datetime(2022, 10, 11, 14, 5, tzinfo=UTC), NO_TZ),
])
def test_parse_date(raw, expected, note):
    assert parse_date(raw) == (expected, note)


def test_parse_date_refuses_to_guess():
    assert parse_date("08/02/2013 12:00:00") == (
        None, "date '08/02/2013 12:00:00' not understood; first_seen_at (our clock) is the "
              "only time")
    assert parse_date("") == (None, None) and parse_date(None) == (None, None)


def test_gdelt_time_and_json():
    assert gdelt_time("20221011T143000Z") == datetime(2022, 10, 11, 14, 30, tzinfo=UTC)
    assert gdelt_time("20221011143000") == datetime(2022, 10, 11, 14, 30, tzinfo=UTC)
    assert gdelt_time("soon") is None
    assert gdelt_json("", {}) == {}
    assert gdelt_json('{"articles": [{"title": "a\tb"}]}', {}) == {"articles": [{"title": "a\tb"}]}
    with pytest.raises(MalformedPage, match="GDELT answered with an error instead of JSON: "
                                            "'Invalid query.'"):
        gdelt_json("<html><body>Invalid query.</body></html>", {"content-type": "text/html"})
    with pytest.raises(MalformedPage, match="not valid JSON"):
        gdelt_json('{"articles": [', {})


def test_language_codes():
    assert [language_code(v) for v in ("English", "en-US", "en_gb", "DE", "German", "Klingon",
                                       None, "")] == ["en", "en", "en", "de", "de", "Klingon",
                                                      None, None]


def test_page_date_reads_markup_only():
    assert page_date('<html><head><meta name="date" content="2022-10-11"></head></html>') == (
        datetime(2022, 10, 11, tzinfo=UTC),
        "the page gives a day without a time; read as 00:00 UTC", "meta date")
    assert page_date('<html><head><link rel="canonical" href="https://x.example/2022/10/11/a">'
                     '</head><body>Published on 11 October 2022</body></html>') == (
        None, None, None)


def record(**kw) -> dict:
    return {"type": "page", "run_id": "r", "seq": 1, "source": "press", "purpose": "feed",
            "endpoint": "https://x.example/rss", "params": {"feed": "X"},
            "scope": "feed:https://x.example/rss", "fetched_at": "2022-10-12T00:00:00.000000Z",
            "status": 200, "headers": {}, "body": "", **kw}


def test_pages_without_rows():
    assert normalize(record(status=304, body="")).tables == {}
    assert normalize(record(status=500, body="oops")).tables == {}
    assert normalize(record(status=None, body=None, error="ConnectionError: x")).tables == {}


def test_unreadable_pages_are_quarantined_with_the_reason():
    with pytest.raises(MalformedPage, match="not a feed: empty body"):
        normalize(record(body=""))
    with pytest.raises(MalformedPage, match="not a feed: no RSS or Atom document"):
        normalize(record(body='{"json": "instead"}'))
    with pytest.raises(MalformedPage, match="unknown press page purpose 'tweets'"):
        normalize(record(purpose="tweets", body="x"))
    with pytest.raises(MalformedPage, match="empty page"):
        normalize(record(purpose="page", body="  ", params={"path": "/x", "sha256": "0"}))


def test_normalize_is_pure():
    rss = ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>A'
           '</title><link>https://x.example/a?utm_source=y</link></item></channel></rss>')
    rec = record(body=rss)
    first, second = normalize(dict(rec)), normalize(dict(rec))
    assert first.tables == second.tables
    assert first.tables["articles"][0]["url"] == "https://x.example/a"

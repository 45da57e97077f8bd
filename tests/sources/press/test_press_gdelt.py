"""GDELT DOC 2.0 against the local server: splitting under the 250 cap, errors, cursors, volume."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.helpers import rows
from tracker.testing.xapi import Fault
from tests.helpers import collect_press

from .conftest import NO_SLEEP

UTC = timezone.utc
Q = '"elon musk" putin'


def article(i: int, at: datetime, **kw) -> dict:
    return {"url": f"https://news{i % 5}.example.com/story/{i}", "url_mobile": "",
            "title": f"Story {i}", "seendate": at.strftime("%Y%m%dT%H%M%SZ"), "socialimage": "",
            "domain": f"news{i % 5}.example.com", "language": "English",
            "sourcecountry": "United States", **kw}


def spread(n: int, start: datetime, every: timedelta) -> list[dict]:
    return [article(i, start + i * every) for i in range(n)]


def artlist_calls(world) -> list[tuple[str, str]]:
    return [(r.params["startdatetime"], r.params["enddatetime"]) for r in world.requests
            if r.params.get("mode") == "artlist"]


def test_answers_over_the_cap_are_split_until_every_answer_is_under_it(pworld, press_cfg,
                                                                       pclock):
    day = datetime(2022, 10, 11, tzinfo=UTC)
    pworld.add_articles(Q, spread(600, day, timedelta(minutes=2)))     # 00:00 to 19:58
    cfg = press_cfg(queries=[{"name": "mp", "query": Q, "start": "2022-10-11",
                              "end": "2022-10-11"}], gdelt={"volume": False})
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert (r.status, r.error) == ("ok", None)
    assert artlist_calls(pworld) == [
        ("20221011000000", "20221012000000"),       # 250: the cap, split
        ("20221011000000", "20221011120000"),       # 250: split
        ("20221011000000", "20221011060000"),       # 180
        ("20221011060000", "20221011120000"),       # 180
        ("20221011120000", "20221012000000"),       # 240
    ]
    assert [r.params["maxrecords"] for r in pworld.requests] == ["250"] * 5
    assert r.details["queries"] == [{"name": "mp", "windows": 3, "splits": 2, "articles": 600,
                                     "volume_points": 0, "skipped": False, "truncated": []}]
    # nothing silently truncated: every article is stored once, with GDELT's fields
    assert rows(cfg, "SELECT count(*), count(DISTINCT url) FROM articles") == [(600, 600)]
    assert rows(cfg, "SELECT count(*) FROM article_sources WHERE source_kind = 'gdelt'") == [
        (600,)]
    assert rows(cfg, """
        SELECT a.url, a.domain, a.outlet, a.title, a.language, a.source_country, a.published_at,
               s.source_name, s.detail, s.gdelt_seen_at, s.date_note
        FROM articles a JOIN article_sources s USING (url) WHERE a.url LIKE '%/story/7'""") == [
        ("https://news2.example.com/story/7", "news2.example.com", None, "Story 7", "en",
         "United States", None, "mp", Q, datetime(2022, 10, 11, 0, 14, tzinfo=UTC),
         "GDELT gives when it first saw the article (gdelt_seen_at), not when it was published")]
    # the cursor is carried by the last window's page only
    assert rows(cfg, "SELECT scope, cursor FROM sync_state") == [
        ("gdelt:mp", '{"query": "\\"elon musk\\" putin", "start": "2022-10-11T00:00:00.000000Z",'
                     ' "through": "2022-10-12T00:00:00.000000Z"}')]
    # a closed window that is complete is not read again
    r2 = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert (r2.requests, r2.details["queries"][0]["skipped"]) == (0, True)


def test_a_window_still_at_the_cap_at_the_smallest_size_is_reported(pworld, press_cfg, pclock):
    at = datetime(2022, 10, 11, 14, 0, tzinfo=UTC)
    pworld.add_articles(Q, [article(i, at) for i in range(300)])      # 300 in the same second
    cfg = press_cfg(queries=[{"name": "mp", "query": Q, "start": "2022-10-11T13:00:00",
                              "end": "2022-10-11T15:00:00"}],
                    gdelt={"volume": False, "min_window_minutes": 30})
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert r.status == "ok"
    assert r.error == ("warnings: GDELT query 'mp': 2022-10-11 14:00–2022-10-11 14:30 still has "
                       "250 articles (the cap) at press.gdelt.min_window_minutes=30; some may "
                       "be missing")
    assert artlist_calls(pworld) == [("20221011130000", "20221011150000"),
                                     ("20221011130000", "20221011140000"),
                                     ("20221011140000", "20221011150000"),
                                     ("20221011140000", "20221011143000"),
                                     ("20221011143000", "20221011150000")]


def test_gdelt_error_body_fails_that_query_alone_with_its_reason(pworld, press_cfg, pclock):
    pworld.errors["a"] = "The specified phrase is too short."
    pworld.add_articles(Q, spread(3, datetime(2022, 10, 11, tzinfo=UTC), timedelta(hours=1)))
    cfg = press_cfg(queries=[{"name": "short", "query": "a", "start": "2022-10-11"},
                             {"name": "mp", "query": Q, "start": "2022-10-11"}],
                    gdelt={"volume": False})
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    msg = ("1 failed: GDELT query 'short': 2022-10-11 00:00–2022-10-12 12:00: GDELT answered "
           "with an error instead of JSON: 'The specified phrase is too short.'")
    assert (r.status, r.error) == ("failed", msg)
    assert rows(cfg, "SELECT job, status, error FROM runs") == [("collect_press", "failed", msg)]
    assert rows(cfg, "SELECT scope, http_status, error FROM raw_pages ORDER BY seq") == [
        ("gdelt:short", 200, "quarantined: GDELT answered with an error instead of JSON: "
                             "'The specified phrase is too short.'"),
        ("gdelt:mp", 200, None)]
    assert rows(cfg, "SELECT count(*) FROM articles") == [(3,)]
    assert rows(cfg, "SELECT scope FROM sync_state") == [("gdelt:mp",)]


def test_open_window_resumes_from_its_cursor_minus_the_overlap(pworld, press_cfg, pclock):
    pworld.add_articles(Q, spread(3, datetime(2022, 10, 11, tzinfo=UTC), timedelta(hours=1)))
    cfg = press_cfg(queries=[{"name": "mp", "query": Q, "start": "2022-10-11"}],
                    gdelt={"volume": False, "overlap_minutes": 60})
    collect_press(cfg, clock=pclock, **NO_SLEEP)                    # now: 2022-10-12 12:00
    pworld.add_articles(Q, [article(99, datetime(2022, 10, 12, 13, 0, tzinfo=UTC))])
    pclock.advance(hours=2)
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    start, end = artlist_calls(pworld)[-1]
    assert (start, end[:10]) == ("20221012110000", "2022101214")
    assert (r.status, r.new_rows) == ("ok", 2)       # the article and its source
    assert rows(cfg, "SELECT count(*) FROM articles") == [(4,)]


def test_a_changed_query_reads_its_whole_window_again(pworld, press_cfg, pclock):
    cfg = press_cfg(queries=[{"name": "mp", "query": Q, "start": "2022-10-11"}],
                    gdelt={"volume": False})
    collect_press(cfg, clock=pclock, **NO_SLEEP)
    cfg2 = press_cfg(queries=[{"name": "mp", "query": "musk putin", "start": "2022-10-11"}],
                     gdelt={"volume": False})
    collect_press(cfg2, clock=pclock, **NO_SLEEP)
    assert artlist_calls(pworld)[-1][0] == "20221011000000"


def test_volume_timeline_rows(pworld, press_cfg, pclock):
    pworld.add_articles(Q, [article(1, datetime(2022, 10, 11, 14, 5, tzinfo=UTC)),
                            article(2, datetime(2022, 10, 11, 14, 20, tzinfo=UTC)),
                            article(3, datetime(2022, 10, 11, 14, 25, tzinfo=UTC))])
    cfg = press_cfg(queries=[{"name": "mp", "query": Q, "start": "2022-10-11T14:00:00",
                              "end": "2022-10-11T15:00:00"}])
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert (r.status, r.by_purpose) == ("ok", {"gdelt_artlist": 1, "gdelt_volume": 1})
    vol = [r for r in pworld.requests if r.params.get("mode") == "timelinevolraw"]
    assert [(v.params["startdatetime"], v.params["enddatetime"]) for v in vol] == [
        ("20221011140000", "20221011150000")]
    assert rows(cfg, "SELECT query_name, resolution, bucket, query, articles, all_articles "
                     "FROM gdelt_volume ORDER BY bucket") == [
        ("mp", "15m", datetime(2022, 10, 11, 14, 0, tzinfo=UTC), Q, 1, 4000),
        ("mp", "15m", datetime(2022, 10, 11, 14, 15, tzinfo=UTC), Q, 2, 4000),
        ("mp", "15m", datetime(2022, 10, 11, 14, 30, tzinfo=UTC), Q, 0, 4000),
        ("mp", "15m", datetime(2022, 10, 11, 14, 45, tzinfo=UTC), Q, 0, 4000)]
    # the window is closed and complete: neither list nor volume is asked again
    assert collect_press(cfg, clock=pclock, **NO_SLEEP).requests == 0


def test_gdelt_429_and_5xx_are_retried_with_backoff(pworld, press_cfg, pclock):
    pworld.add_articles(Q, spread(2, datetime(2022, 10, 11, tzinfo=UTC), timedelta(hours=1)))
    pworld.faults += [Fault(path="/api/v2/doc/doc", status=429,
                            body="Please limit requests to one every 5 seconds or contact "
                                 "kalev.leetaru5@gmail.com for larger queries.",
                            headers={"Retry-After": "5"}),
                      Fault(path="/api/v2/doc/doc", status=502, body="Bad Gateway")]
    cfg = press_cfg(queries=[{"name": "mp", "query": Q, "start": "2022-10-11"}],
                    gdelt={"volume": False}, backoff_base_seconds=1)
    sleeps: list[float] = []
    r = collect_press(cfg, clock=pclock, sleep=sleeps.append)
    assert (r.status, r.requests, sleeps) == ("ok", 3, [5.0, 2.0])
    assert rows(cfg, "SELECT http_status FROM raw_pages ORDER BY seq") == [(429,), (502,),
                                                                           (200,)]
    assert rows(cfg, "SELECT count(*) FROM articles") == [(2,)]


def test_gdelt_requests_are_paced(pworld, press_cfg, pclock):
    cfg = press_cfg(queries=[{"name": "a", "query": "x y", "start": "2022-10-11"},
                             {"name": "b", "query": "y z", "start": "2022-10-11"}],
                    gdelt={"min_interval_seconds": 5})
    sleeps: list[float] = []
    r = collect_press(cfg, clock=pclock, sleep=sleeps.append)
    assert r.requests == 4 and len(sleeps) == 3 and all(0 < s <= 5 for s in sleeps)

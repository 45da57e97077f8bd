"""Feeds end to end: requests against the local press server, raw archive, loader, exact rows."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from tests.helpers import rows, snapshot
from tracker.testing.xapi import Fault
from tests.helpers import collect_press
from tracker.store.raw import list_raw_files, read_raw_file

from .conftest import NO_SLEEP, fixture_bytes

UTC = timezone.utc
# outlet: the publication as the item names it (no <source> here: NULL, never the feed's name);
# outlet_domain: its registrable domain
ART_COLS = ("url, domain, outlet_domain, outlet, title, summary, text, authors, language, source_country, "
            "published_at")


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def pages(cfg) -> list[dict]:
    out = []
    for rel in list_raw_files(cfg.raw_dir):
        out += [rl.record for rl in read_raw_file(cfg.raw_dir / rel)
                if rl.record and rl.record.get("type") == "page"]
    return out


def test_rss2_sample_feed_exact_rows(pworld, press_cfg, pclock):
    pworld.put_feed("/rss", fixture_bytes("rss2sample.xml"))
    cfg = press_cfg({"Liftoff": "/rss"})
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert (r.status, r.error, r.requests, r.by_purpose) == ("ok", None, 1, {"feed": 1})
    assert rows(cfg, f"SELECT {ART_COLS} FROM articles ORDER BY url") == [
        ("https://liftoff.msfc.nasa.gov/2003/05/30.html", "liftoff.msfc.nasa.gov", "nasa.gov", None,
         None, "Sky watchers in Europe, Asia, and parts of Alaska and Canada will experience a "
         "partial eclipse of the Sun on Saturday, May 31st.", None, None, "en", None,
         t(2003, 5, 30, 11, 6, 42)),
        ("https://liftoff.msfc.nasa.gov/news/2003/news-VASIMR.asp", "liftoff.msfc.nasa.gov",
         "nasa.gov", None, "The Engine That Does More", "Before man travels to Mars, NASA hopes to "
         "design new engines that will let us fly through the Solar System more quickly. The "
         "proposed VASIMR engine would do that.", None, None, "en", None,
         t(2003, 5, 27, 8, 37, 32)),
        ("https://liftoff.msfc.nasa.gov/news/2003/news-laundry.asp", "liftoff.msfc.nasa.gov",
         "nasa.gov", None, "Astronauts' Dirty Laundry", "Compared to earlier spacecraft, the "
         "International Space Station has many luxuries, but laundry facilities are not one of "
         "them. Instead, astronauts have other options.", None, None, "en", None,
         t(2003, 5, 20, 8, 56, 2)),
        ("https://liftoff.msfc.nasa.gov/news/2003/news-starcity.asp", "liftoff.msfc.nasa.gov",
         "nasa.gov", None, "Star City", "How do Americans get ready to work with Russians aboard the "
         "International Space Station? They take a crash course in culture, language and "
         "protocol at Russia's Star City .", None, '["Writer"]', "en", None,
         t(2003, 6, 3, 9, 39, 21)),
    ]
    # every article's sources, and first_seen_at is the fetch time of the page that saw it
    assert rows(cfg, """
        SELECT s.url, s.source_kind, s.source_name, s.detail, s.source_url, s.date_note,
               a.first_seen_at = p.fetched_at AND s.first_seen_at = p.fetched_at
        FROM article_sources s JOIN articles a USING (url) JOIN raw_pages p USING (page_id)
        ORDER BY s.url""") == [
        ("https://liftoff.msfc.nasa.gov/2003/05/30.html", "feed", "Liftoff", cfg.press.feeds[0].url,
         "http://liftoff.msfc.nasa.gov/2003/05/30.html#item572", None, True),
        ("https://liftoff.msfc.nasa.gov/news/2003/news-VASIMR.asp", "feed", "Liftoff",
         cfg.press.feeds[0].url, "http://liftoff.msfc.nasa.gov/news/2003/news-VASIMR.asp", None,
         True),
        ("https://liftoff.msfc.nasa.gov/news/2003/news-laundry.asp", "feed", "Liftoff",
         cfg.press.feeds[0].url, "http://liftoff.msfc.nasa.gov/news/2003/news-laundry.asp",
         None, True),
        ("https://liftoff.msfc.nasa.gov/news/2003/news-starcity.asp", "feed", "Liftoff",
         cfg.press.feeds[0].url, "http://liftoff.msfc.nasa.gov/news/2003/news-starcity.asp",
         None, True),
    ]
    # the raw page is the response text verbatim, with the validators as its cursor
    [page] = pages(cfg)
    assert page["body"] == fixture_bytes("rss2sample.xml").decode("utf-8")
    assert (page["purpose"], page["status"], page["params"], page["scope"]) == (
        "feed", 200, {"feed": "Liftoff"}, f"feed:{cfg.press.feeds[0].url}")
    assert set(page["cursor_after"]) == {"etag", "last_modified"}
    assert rows(cfg, "SELECT source, scope, cursor FROM sync_state") == [
        ("press", f"feed:{cfg.press.feeds[0].url}", json.dumps(page["cursor_after"],
                                                              sort_keys=True))]


def test_atom_rfc4287_example_uses_updated_and_inherits_the_feed_author(pworld, press_cfg,
                                                                         pclock):
    pworld.put_feed("/atom", fixture_bytes("rfc4287-example.atom"), "application/atom+xml")
    cfg = press_cfg({"Example": "/atom"})
    assert collect_press(cfg, clock=pclock, **NO_SLEEP).status == "ok"
    assert rows(cfg, f"SELECT {ART_COLS} FROM articles") == [
        ("https://example.org/2003/12/13/atom03", "example.org", "example.org", None,
         "Atom-Powered Robots Run Amok", "Some text.", None, '["John Doe"]', None, None,
         t(2003, 12, 13, 18, 30, 2))]
    assert rows(cfg, "SELECT published_at, date_note FROM article_sources") == [
        (t(2003, 12, 13, 18, 30, 2), "the feed gives only the entry's updated time")]


def test_time_zones_plus0200_minus0500_none_and_missing(pworld, press_cfg, pclock):
    pworld.put_feed("/wire.rss", fixture_bytes("story-rss-tz.xml"))
    pworld.put_feed("/daily.atom", fixture_bytes("story-atom-tz.atom"), "application/atom+xml")
    cfg = press_cfg({"Sample Wire": "/wire.rss", "Sample Daily": "/daily.atom"})
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert (r.status, r.error, r.requests) == ("ok", None, 2)
    assert rows(cfg, """
        SELECT a.url, a.title, a.published_at, s.date_note, a.authors, a.language
        FROM articles a JOIN article_sources s USING (url) ORDER BY a.url""") == [
        ("https://daily.example.org/explainers/who-said-what", "Who said what, and when",
         t(2022, 10, 11, 18, 0), "the feed gives only the entry's updated time", None, "en"),
        # published 2022-10-11T09:05:00-05:00; an /amp/ link
        ("https://daily.example.org/news/musk-denies-putin-call",
         "Musk denies Putin call about Ukraine", t(2022, 10, 11, 14, 5), None,
         '["Cleo Sample"]', "en"),
        # pubDate without a zone: read as UTC, and said so
        ("https://wire.example.com/2022/10/11/bremmer-he-told-me", 'Bremmer: "He told me"',
         t(2022, 10, 11, 16, 40), "the date has no time zone; read as UTC", None, "en"),
        # pubDate "Tue, 11 Oct 2022 16:05:00 +0200"; utm_* and the fragment dropped
        ("https://wire.example.com/2022/10/11/musk-putin-once",
         "Musk says he spoke to Putin only once", t(2022, 10, 11, 14, 5), None,
         '["Ada Sample", "Ben Sample"]', "en"),
        # no pubDate at all: no date, first_seen_at is the only clock, and said so
        ("https://wire.example.com/live/musk-bremmer",
         "Live: reactions to the Musk-Bremmer dispute", None,
         "no date in the feed entry; first_seen_at (our clock) is the only time", None, "en"),
    ]
    assert rows(cfg, "SELECT summary, text FROM articles WHERE url LIKE '%musk-denies%'") == [
        ("The billionaire said the only call was 18 months ago.",
         "The billionaire said the only call was 18 months ago.\nBremmer disagreed.")]


def test_conditional_get_304_costs_one_request_and_changes_nothing(pworld, press_cfg, pclock):
    pworld.put_feed("/rss", fixture_bytes("rss2sample.xml"))
    cfg = press_cfg({"Liftoff": "/rss"})
    collect_press(cfg, clock=pclock, **NO_SLEEP)
    before = snapshot(cfg.replica, exclude=("runs", "raw_pages"))
    pclock.advance(minutes=15)
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert (r.status, r.requests, r.new_rows, r.updated_rows) == ("ok", 1, 0, 0)
    req = pworld.requests[-1]
    assert req.status == 304
    assert req.headers["if-none-match"].startswith('"')
    assert req.headers["if-modified-since"] == "Sat, 01 Oct 2022 00:00:00 GMT"
    assert snapshot(cfg.replica, exclude=("runs", "raw_pages")) == before
    # the 304 is archived too: status 304, empty body, no cursor, no rows
    last = pages(cfg)[-1]
    assert (last["status"], last["body"], last["cursor_after"]) == (304, "", None)
    assert rows(cfg, "SELECT http_status, items, error FROM raw_pages ORDER BY fetched_at") == [
        (200, 4, None), (304, 0, None)]
    assert r.details["feeds"][0]["status"] == "not_modified"


def test_a_changed_feed_is_read_again_and_its_new_item_added(pworld, press_cfg, pclock):
    body = fixture_bytes("story-rss-tz.xml")
    first, rest = body.split(b"<item>", 1)[0], b"<item>" + body.split(b"<item>", 1)[1]
    only_two = first + rest.replace(rest[rest.rindex(b"<item>"):rest.rindex(b"</item>") + 7],
                                    b"")
    pworld.put_feed("/wire.rss", only_two)
    cfg = press_cfg({"Wire": "/wire.rss"})
    collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert rows(cfg, "SELECT count(*) FROM articles") == [(2,)]
    pworld.put_feed("/wire.rss", body)
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert (pworld.requests[-1].status, r.new_rows > 0) == (200, True)
    assert rows(cfg, "SELECT count(*), count(DISTINCT url) FROM articles") == [(3, 3)]
    assert rows(cfg, "SELECT count(*) FROM article_sources") == [(3,)]


def test_malformed_feed_keeps_what_it_could_read_and_says_why(pworld, press_cfg, pclock):
    pworld.put_feed("/sax", fixture_bytes("saxerror.xml"))
    cfg = press_cfg({"Sax": "/sax"})
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    reason = "SAXParseException: <unknown>:15:44: not well-formed (invalid token)"
    assert (r.status, r.error) == (
        "ok", f"warnings: feed 'Sax': malformed feed ({reason}); kept the 3 entries that could "
              "be read")
    assert rows(cfg, "SELECT url, title FROM articles ORDER BY url") == [
        ("https://example.com/after", "Item After Error"),
        ("https://example.com/bad?bar=2&foo=1", "Bad Item"),
        ("https://example.com/good", "Good Item")]
    assert rows(cfg, "SELECT items, error FROM raw_pages") == [
        (3, f"kept the rest; skipped whatever the malformed feed hid (bozo: {reason}); "
            "3 entries read")]
    assert rows(cfg, "SELECT status, error FROM runs") == [("ok", r.error)]


def test_html_page_as_feed_is_a_clear_error_and_the_other_feeds_go_on(pworld, press_cfg,
                                                                       pclock):
    pworld.put_page("/news", fixture_bytes("notafeed.html"))
    pworld.put_feed("/rss", fixture_bytes("rss2sample.xml"))
    cfg = press_cfg({"Homepage": "/news", "Liftoff": "/rss"})
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    msg = (f"1 failed: feed 'Homepage': {cfg.press.feeds[0].url}: not a feed: the URL returned "
           "an HTML page titled \"The Is Not The Feed You're Looking For\"")
    assert (r.status, r.exit_code, r.error) == ("failed", 1, msg)
    assert rows(cfg, "SELECT status, error FROM runs") == [("failed", msg)]
    assert rows(cfg, "SELECT count(*) FROM article_sources WHERE source_name = 'Liftoff'") == [(4,)]
    assert rows(cfg, "SELECT endpoint, http_status, items, error FROM raw_pages "
                     "WHERE error IS NOT NULL") == [
        (cfg.press.feeds[0].url, 200, None, "quarantined: not a feed: the URL returned an HTML "
         "page titled \"The Is Not The Feed You're Looking For\"")]
    # no cursor for the page that was not a feed: the next run asks again in full
    assert rows(cfg, "SELECT scope FROM sync_state") == [(f"feed:{cfg.press.feeds[1].url}",)]


def test_html_page_naming_its_feed_says_where_the_feed_is(pworld, press_cfg, pclock):
    pworld.put_page("/home", '<!doctype html><html><head><title>Home</title><link rel="alternate"'
                             ' type="application/rss+xml" href="https://x.example/rss"></head>'
                             '<body>hi</body></html>')
    cfg = press_cfg({"Home": "/home"})
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert r.error.endswith("not a feed: the URL returned an HTML page titled 'Home'; the page "
                            "names its feed: https://x.example/rss")


def test_odd_dates_are_not_guessed_and_latin1_is_read(pworld, press_cfg, pclock):
    pworld.put_feed("/norfolk", fixture_bytes("rss2sample-odddatetime.xml"), "text/xml")
    cfg = press_cfg({"Norfolk": "/norfolk"})
    assert collect_press(cfg, clock=pclock, **NO_SLEEP).status == "ok"
    got = rows(cfg, "SELECT a.title, a.published_at, s.date_note FROM articles a "
                    "JOIN article_sources s USING (url) ORDER BY a.url")
    assert len(got) == 5
    assert got[0] == ("Teachers Pensions - Employee Contributions", None,
                      "date '08/02/2013 12:00:00' not understood; first_seen_at (our clock) is "
                      "the only time")
    assert {g[1] for g in got} == {None}


def test_server_errors_are_retried_and_a_404_fails_that_feed_alone(pworld, press_cfg, pclock):
    pworld.put_feed("/rss", fixture_bytes("rss2sample.xml"))
    pworld.faults.append(Fault(path="^/rss$", status=503, body="busy", times=2))
    cfg = press_cfg({"Liftoff": "/rss", "Gone": "/gone.rss"})
    sleeps = []
    r = collect_press(cfg, clock=pclock, sleep=sleeps.append)
    assert r.status == "failed"
    assert r.error == (f"1 failed: feed 'Gone': {cfg.press.feeds[1].url}: HTTP 404: "
                       "404 Not Found")
    assert (r.requests, len(sleeps)) == (4, 2)      # 503, 503, 200, then the 404
    assert rows(cfg, "SELECT http_status FROM raw_pages ORDER BY seq") == [
        (503,), (503,), (200,), (404,)]
    assert rows(cfg, "SELECT count(*) FROM articles") == [(4,)]


def test_request_cap_stops_the_run_with_cursors_intact(pworld, press_cfg, pclock):
    pworld.put_feed("/a", fixture_bytes("rss2sample.xml"))
    pworld.put_feed("/b", fixture_bytes("story-rss-tz.xml"))
    cfg = press_cfg({"A": "/a", "B": "/b"}, max_requests_per_run=1)
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert (r.status, r.exit_code, r.requests) == ("stopped", 4, 1)
    assert "press.max_requests_per_run" in r.stop_reason
    assert rows(cfg, "SELECT scope FROM sync_state") == [(f"feed:{cfg.press.feeds[0].url}",)]
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)   # A answers 304, so B is not reached
    assert (r.status, pworld.requests[-1].status) == ("stopped", 304)


def test_connection_errors_are_retried_then_recorded(pworld, press_cfg, pclock):
    import socket

    with socket.socket() as s:          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pworld.put_feed("/rss", fixture_bytes("rss2sample.xml"))
    cfg = press_cfg({"Liftoff": "/rss"}, max_retries=1)
    cfg.press.feeds.append(cfg.press.feeds[0].model_copy(
        update={"name": "Down", "url": f"http://127.0.0.1:{port}/rss"}))
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert r.status == "failed"
    assert r.error == (f"1 failed: feed 'Down': http://127.0.0.1:{port}/rss: gave up after 2 "
                       "attempts: ConnectionError: [Errno 111] Connection refused")
    assert [(p["endpoint"], p["status"], p["error"]) for p in pages(cfg)
            if p["status"] is None] == [
        (f"http://127.0.0.1:{port}/rss", None, "ConnectionError: [Errno 111] Connection refused")
    ] * 2                                  # every attempt archived, with what went wrong
    assert rows(cfg, "SELECT count(*) FROM articles") == [(4,)]

"""`tracker press add` (saved files and URLs) and one article seen by every kind of source."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import yaml
from click.testing import CliRunner

from tests.helpers import rows
from tracker.cli import cli
from tracker.testing.press import GDELT_PATH
from tests.helpers import add_pages, collect_press

from .conftest import FIXTURES, NO_SLEEP, fixture_bytes

UTC = timezone.utc


def write_config(tmp_path, press: dict | None = None):
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump({"storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
                                 "press": press or {}}))
    return p


def invoke(*args):
    return CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False)


def test_press_add_saved_page_with_date_meta_tags(tmp_path):
    cfg_path = write_config(tmp_path)
    page = FIXTURES / "page-with-date.html"
    res = invoke("--config", str(cfg_path), "press", "add", str(page))
    assert res.exit_code == 0, res.output
    assert "published 2022-10-11T14:05:00" in res.output
    assert "https://wire.example.com/2022/10/11/musk-putin-once" in res.output
    from tracker.config import load_config
    cfg = load_config(cfg_path)
    assert rows(cfg, "SELECT url, domain, outlet, title, summary, authors, language, "
                     "published_at FROM articles") == [
        ("https://wire.example.com/2022/10/11/musk-putin-once", "wire.example.com",
         "Sample Wire", "Musk says he spoke to Putin only once",
         "Elon Musk denied a report that he had spoken with Putin about Ukraine.",
         '["Ada Sample", "Ben Sample"]', "en", datetime(2022, 10, 11, 14, 5, tzinfo=UTC))]
    [(text,)] = rows(cfg, "SELECT text FROM articles")
    assert text.startswith("Musk says he spoke to Putin only once\nElon Musk on Tuesday denied")
    assert "Home" not in text and "hand-written test page" not in text   # boilerplate dropped
    assert rows(cfg, "SELECT source_kind, source_name, detail, source_url, published_at, "
                     "date_note FROM article_sources") == [
        ("manual", "file", str(page.resolve()),
         "https://wire.example.com/2022/10/11/musk-putin-once/",
         datetime(2022, 10, 11, 14, 5, tzinfo=UTC), None)]
    # the saved file is archived verbatim, with its path and sha256
    assert rows(cfg, "SELECT purpose, endpoint, params, http_status FROM raw_pages") == [
        ("page", page.resolve().as_uri(),
         json.dumps({"path": str(page.resolve()),
                     "sha256": hashlib.sha256(page.read_bytes()).hexdigest()}), None)]
    assert rows(cfg, "SELECT job, status, error FROM runs") == [("press_add", "ok", None)]


def test_press_add_saved_page_without_date_says_so(tmp_path):
    cfg_path = write_config(tmp_path)
    res = invoke("--config", str(cfg_path), "press", "add",
                 str(FIXTURES / "page-without-date.html"))
    assert res.exit_code == 0, res.output
    assert "no publication date on the page" in res.output
    from tracker.config import load_config
    cfg = load_config(cfg_path)
    assert rows(cfg, "SELECT a.url, a.title, a.published_at, s.source_url, s.date_note, "
                     "a.first_seen_at = s.first_seen_at FROM articles a "
                     "JOIN article_sources s USING (url)") == [
        ("https://wire.example.com/live/musk-bremmer",
         "Live: reactions to the Musk-Bremmer dispute", None,
         "https://wire.example.com/live/musk-bremmer?ref=homepage",
         "no publication date on the page; first_seen_at (our clock) is the only time", True)]


def test_press_add_needs_a_url_when_the_page_has_none(tmp_path):
    bare = tmp_path / "bare.html"
    bare.write_text("<html><head><title>Saved</title></head><body><article><p>"
                    + "Some words about a denial. " * 20 + "</p></article></body></html>")
    cfg_path = write_config(tmp_path)
    res = invoke("--config", str(cfg_path), "press", "add", str(bare))
    assert res.exit_code == 1
    assert ("no URL for this page: it has no <link rel=canonical> or og:url (pass --url)"
            in res.output)
    res = invoke("--config", str(cfg_path), "press", "add", str(bare), "--url",
                 "https://example.net/a/denial/?utm_campaign=x")
    assert res.exit_code == 0, res.output
    from tracker.config import load_config
    cfg = load_config(cfg_path)
    assert rows(cfg, "SELECT url, title FROM articles") == [
        ("https://example.net/a/denial", "Saved")]
    assert rows(cfg, "SELECT status, error IS NOT NULL FROM runs ORDER BY started_at") == [
        ("failed", True), ("ok", False)]


def test_press_add_missing_file_is_a_clear_error(tmp_path):
    cfg_path = write_config(tmp_path)
    res = invoke("--config", str(cfg_path), "press", "add", str(tmp_path / "nope.html"))
    assert res.exit_code == 1
    assert "nope.html: no such file (give a saved .html file or an http(s) URL)" in res.output


def test_press_add_url_fetches_the_page(pworld, papi, tmp_path, pclock):
    pworld.put_page("/2022/10/11/musk", fixture_bytes("page-with-date.html"))
    from tracker.config import parse_config
    cfg = parse_config({"storage": {"database": "db/t.duckdb", "raw_dir": "raw"}},
                       base_dir=tmp_path)
    r = add_pages(cfg, [papi + "/2022/10/11/musk"], clock=pclock, **NO_SLEEP)
    assert (r.status, r.requests) == ("ok", 1)
    assert rows(cfg, "SELECT source_kind, source_name, detail FROM article_sources") == [
        ("manual", "url", papi + "/2022/10/11/musk")]
    assert rows(cfg, "SELECT url FROM articles") == [
        ("https://wire.example.com/2022/10/11/musk-putin-once",)]
    r = add_pages(cfg, [papi + "/missing"], clock=pclock, **NO_SLEEP)
    assert (r.status, r.error) == ("failed", f"1 failed: {papi}/missing: HTTP 404: 404 Not Found")


def test_one_article_from_a_feed_gdelt_and_a_saved_page_is_one_row(pworld, press_cfg, pclock,
                                                                   tmp_path):
    """utm_* + fragment (feed), http + AMP path (GDELT), trailing slash (page): one URL."""
    pworld.put_feed("/wire.rss", fixture_bytes("story-rss-tz.xml"))
    pworld.add_articles("musk putin", [{
        "url": "http://WIRE.example.com/amp/2022/10/11/musk-putin-once", "url_mobile": "",
        "title": "Musk says he spoke to Putin only once (GDELT)", "seendate": "20221011T141500Z",
        "socialimage": "", "domain": "wire.example.com", "language": "English",
        "sourcecountry": "United Kingdom"}])
    cfg = press_cfg({"Sample Wire": "/wire.rss"},
                    queries=[{"name": "mp", "query": "musk putin", "start": "2022-10-11"}],
                    gdelt={"volume": False})
    assert collect_press(cfg, clock=pclock, **NO_SLEEP).status == "ok"
    pclock.advance(hours=1)
    assert add_pages(cfg, [str(FIXTURES / "page-with-date.html")], clock=pclock,
                     **NO_SLEEP).status == "ok"
    url = "https://wire.example.com/2022/10/11/musk-putin-once"
    assert rows(cfg, "SELECT count(*) FROM articles WHERE url = ?", [url]) == [(1,)]
    assert rows(cfg, "SELECT source_kind, source_name, source_url, published_at, gdelt_seen_at "
                     "FROM article_sources WHERE url = ? ORDER BY source_kind", [url]) == [
        ("feed", "Sample Wire",
         "https://wire.example.com/2022/10/11/musk-putin-once/?utm_source=rss&utm_medium=feed#top",
         datetime(2022, 10, 11, 14, 5, tzinfo=UTC), None),
        ("gdelt", "mp", "http://WIRE.example.com/amp/2022/10/11/musk-putin-once", None,
         datetime(2022, 10, 11, 14, 15, tzinfo=UTC)),
        ("manual", "file", "https://wire.example.com/2022/10/11/musk-putin-once/",
         datetime(2022, 10, 11, 14, 5, tzinfo=UTC), None)]
    # outlet, language and country keep the first value; the text comes from the page
    [(outlet, title, language, country, published, has_text, first, last)] = rows(cfg, """
        SELECT outlet, title, language, source_country, published_at, text IS NOT NULL,
               first_seen_at, last_seen_at FROM articles WHERE url = ?""", [url])
    assert (outlet, title, language, country, published, has_text) == (
        "Sample Wire", "Musk says he spoke to Putin only once", "en", "United Kingdom",
        datetime(2022, 10, 11, 14, 5, tzinfo=UTC), True)
    assert last > first
    assert rows(cfg, "SELECT count(*), count(DISTINCT url) FROM articles") == [(3, 3)]


def test_rebuild_gives_the_same_press_tables(pworld, press_cfg, pclock):
    from tests.helpers import snapshot
    from tracker.runs.load import rebuild

    pworld.put_feed("/wire.rss", fixture_bytes("story-rss-tz.xml"))
    pworld.put_feed("/sax", fixture_bytes("saxerror.xml"))
    pworld.add_articles("q", [{"url": "https://wire.example.com/live/musk-bremmer/",
                               "title": "Live", "seendate": "20221011T150000Z",
                               "domain": "wire.example.com", "language": "English",
                               "sourcecountry": "United Kingdom"}])
    cfg = press_cfg({"Wire": "/wire.rss", "Sax": "/sax"},
                    queries=[{"name": "q", "query": "q", "start": "2022-10-11"}])
    collect_press(cfg, clock=pclock, **NO_SLEEP)
    add_pages(cfg, [str(FIXTURES / "page-without-date.html")], clock=pclock, **NO_SLEEP)
    tables = ("articles", "article_sources", "gdelt_volume", "sync_state")
    before = snapshot(cfg.database, tables)
    rebuild(cfg)
    assert snapshot(cfg.database, tables) == before
    assert before["articles"] and before["gdelt_volume"]
    assert GDELT_PATH in cfg.press.gdelt.api_base_url

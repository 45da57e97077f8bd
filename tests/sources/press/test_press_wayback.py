"""Before we saw it: the Wayback Machine's captures of an article first seen late become
versions, one per distinct digest, marked as archive evidence; the CDX format is read as the
recorded answers in ../shared/corpus/wayback show it."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from tests.conftest import corpus_dir
from tests.helpers import collect_press, rows
from tracker.config import parse_config
from tracker.runs.analyze import run_analysis
from tracker.sources.press.cdx import parse_cdx, versions_to_read
from tracker.testing.press import Capture

from .conftest import NO_SLEEP
from .test_press_versions import CLAIM, DENIAL, PLAN, page

UTC = timezone.utc
PUB = datetime(2022, 10, 11, 12, 0, tzinfo=UTC)


def cassette_bodies(name: str) -> list[tuple[str, int, str]]:
    """(request URI, status, body text) of every interaction of a corpus cassette."""
    data = yaml.safe_load((corpus_dir("wayback") / "cassettes" / name).read_text())
    out = []
    for i in data["interactions"]:
        body = i["response"]["body"]["string"]
        if isinstance(body, bytes):
            try:
                body = gzip.decompress(body)
            except OSError:
                pass
            body = body.decode("utf-8", "replace")
        out.append((i["request"]["uri"], i["response"]["status"]["code"], body))
    return out


CDX_CASSETTES = ["test_search.yaml", "test_search_does_not_repeat_results.yaml",
                 "test_search_with_filter.yaml", "test_search_multipage.yaml",
                 "test_search_with_date.yaml"]


@pytest.mark.parametrize("name", CDX_CASSETTES)
def test_every_recorded_cdx_answer_parses(name):
    for uri, status, body in cassette_bodies(name):
        if status != 200 or "/cdx/" not in uri:
            continue
        captures, resume, bad = parse_cdx(body)
        lines = body.split("\n\n", 1)[0].splitlines() if body.strip() else []
        assert bad == [] and len(captures) == len([ln for ln in lines if ln.strip()])
        # a page with more to come ends with a blank line and the resume key
        assert (resume is not None) == ("\n\n" in body.rstrip("\n"))
        if name == "test_search_with_filter.yaml":
            assert resume is not None
        for c in captures:
            assert c.captured_at.year >= 1996 and len(c.timestamp) == 14 and c.digest


def test_repeated_digests_and_revisits_are_one_version_each_redirects_none():
    [(_, _, body)] = cassette_bodies("test_search_does_not_repeat_results.yaml")
    captures, resume, _ = parse_cdx(body)
    assert (len(captures), resume) == (15, None)
    todo = versions_to_read(captures, 10)
    # the 200 captures and the revisits resolved to them share one digest; the 301s are no
    # content
    assert [(first.timestamp, first.status, len(same)) for first, same in todo] == [
        ("20200612014014", "-", 9)]
    [(uri, _, body)] = cassette_bodies("test_search.yaml")
    captures, _, _ = parse_cdx(body)
    assert len(captures) == 3 and len(versions_to_read(captures, 10)) == 1


def config(tmp_path, papi, **wayback):
    return parse_config({
        "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
        "stories": [{"id": "call", "title": "t", "query": "Putin AND Musk",
                     "window": {"start": "2022-10-01", "end": "2022-10-31"}}],
        "press": {"feeds": [{"name": "Wire", "url": papi + "/wire.rss"}],
                  "gdelt": {"enabled": False}, "backoff_base_seconds": 0,
                  "refetch": {"enabled": False},
                  "wayback": {"enabled": True, "base_url": papi, "min_interval_seconds": 0,
                              **wayback}},
    }, base_dir=tmp_path)


def late_feed(papi: str) -> str:
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
            "<item><title>Musk spoke to Putin about Ukraine, Bremmer says</title>"
            f"<link>{papi}/news/late</link>"
            "<pubDate>Tue, 11 Oct 2022 12:00:00 GMT</pubDate></item></channel></rss>")


def test_an_article_first_seen_late_gets_one_version_per_digest(pworld, papi, tmp_path,
                                                                pclock):
    url = f"{papi}/news/late"
    v1 = page("Musk spoke to Putin about Ukraine, Bremmer says", CLAIM, PLAN).encode()
    v2 = page("Musk spoke to Putin about Ukraine, Bremmer says", DENIAL, CLAIM, PLAN).encode()
    v3 = page("Musk denies Bremmer's account of a Putin call", DENIAL, CLAIM, PLAN).encode()
    pworld.add_captures(url, [
        Capture("20221011121500", "AAAA", v1), Capture("20221011130000", "AAAA", v1),
        Capture("20221011131000", "RRRR", None, status="301"),
        Capture("20221011150000", "BBBB", v2),
        Capture("20221011160000", "BBBB", None, status="-", mimetype="warc/revisit"),
        Capture("20221011170000", "AAAA", v1),          # a cached copy served again
        Capture("20221012080000", "CCCC", v3)])
    pworld.put_feed("/wire.rss", late_feed(papi))
    cfg = config(tmp_path, papi)
    pclock.at = PUB + timedelta(days=1)                 # first seen a day after publication
    pworld.now = pclock.at
    assert collect_press(cfg, clock=pclock, **NO_SLEEP).status == "ok"
    before = len(pworld.requests)
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert (r.status, r.details["wayback"]) == ("ok", [
        {"url": url, "captures": 7, "digests": 3, "versions_read": 3, "more": False}])
    asked = [(q.path, q.params) for q in pworld.requests[before:] if q.path != "/wire.rss"]
    [(first_seen,)] = rows(cfg, "SELECT first_seen_at FROM articles")
    assert asked[0] == ("/cdx/search/cdx", {
        "url": url, "from": "20221004120000", "to": first_seen.strftime("%Y%m%d%H%M%S"),
        "limit": "500", "showResumeKey": "true", "resolveRevisits": "true"})
    assert [p for p, _ in asked[1:]] == [f"/web/{ts}id_/{url}" for ts in
                                         ("20221011121500", "20221011150000", "20221012080000")]
    assert rows(cfg, "SELECT count(*), count(DISTINCT digest) FROM article_captures") == [(7, 4)]
    got = rows(cfg, "SELECT version, origin, first_seen_at, last_seen_at, wayback_digest "
                    "FROM article_history ORDER BY version")
    t = lambda s: datetime.strptime(s, "%Y%m%d%H%M%S").replace(tzinfo=UTC)  # noqa: E731
    assert got == [
        (1, "wayback", t("20221011121500"), t("20221011170000"), "AAAA"),
        (2, "wayback", t("20221011150000"), t("20221011160000"), "BBBB"),
        (3, "wayback", t("20221012080000"), t("20221012080000"), "CCCC")]
    # asked once: the next run looks no more
    before = len(pworld.requests)
    collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert [q.path for q in pworld.requests[before:]] == ["/wire.rss"]
    # the analysis marks the capture that first carried the denial, on the archive's clock
    assert run_analysis(cfg, clock=pclock, **NO_SLEEP).status == "ok"
    assert rows(cfg, "SELECT event_type, clock, event_at FROM timeline "
                     "WHERE item_kind = 'article_version' ORDER BY event_at") == [
        ("article_updated_with_denial", "archived_at", t("20221011150000")),
        ("article_headline_changed", "archived_at", t("20221012080000"))]


def test_wayback_is_off_by_default_and_bounded(pworld, papi, tmp_path, pclock):
    pworld.put_feed("/wire.rss", late_feed(papi))
    cfg = parse_config({
        "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
        "stories": [{"id": "call", "title": "t", "query": "Putin AND Musk",
                     "window": {"start": "2022-10-01", "end": "2022-10-31"}}],
        "press": {"feeds": [{"name": "Wire", "url": papi + "/wire.rss"}],
                  "gdelt": {"enabled": False}, "refetch": {"enabled": False}}},
        base_dir=tmp_path)
    assert cfg.press.wayback.enabled is False
    assert cfg.press.wayback.base_url == "https://web.archive.org"
    pclock.at = PUB + timedelta(days=1)
    for _ in range(2):
        collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert {q.path for q in pworld.requests} == {"/wire.rss"}
    # on, with a budget too small for a look-up (a CDX search and max_versions mementos): none
    cfg = config(tmp_path, papi, max_versions=5)
    cfg.press.max_requests_per_run = 5
    before = len(pworld.requests)
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert [q.path for q in pworld.requests[before:]] == ["/wire.rss"]
    assert r.details["deferred"] == {"wayback_lookups": 1}

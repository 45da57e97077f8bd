"""Articles change: scheduled re-fetches keep each distinct version, the analysis labels the
version that added the denial with the interval it appeared in, no request falls outside the
schedule or the budget, and rebuild gives the same tables."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from tests.helpers import collect_press, rows, snapshot
from tracker.cli import cli
from tracker.config import parse_config
from tracker.runs.analyze import run_analysis
from tracker.runs.load import rebuild

from .conftest import NO_SLEEP

UTC = timezone.utc
PUB = datetime(2022, 10, 11, 12, 0, tzinfo=UTC)
STORY = {"id": "call", "title": "Did he discuss Ukraine with Putin?", "query": "Putin AND Musk",
         "window": {"start": "2022-10-01", "end": "2022-10-31"}}


def page(title: str, *paragraphs: str, modified: str | None = None) -> str:
    meta = (f'<meta property="article:modified_time" content="{modified}">' if modified
            else "")
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><title>{title}</title>"
            f'<meta property="article:published_time" content="2022-10-11T12:00:00Z">{meta}'
            f"</head><body><article><h1>{title}</h1>{body}</article></body></html>")


CLAIM = ("Elon Musk told the political scientist Ian Bremmer that he had spoken with Vladimir "
         "Putin about Ukraine, Bremmer wrote to his clients.")
PLAN = ("The conversation came shortly before Musk posted his peace plan and a poll on it, "
        "according to the newsletter.")
DENIAL = ("Update: Musk denied the report on Twitter, saying he had spoken to Putin only once, "
          "18 months ago, about space.")
V1 = page("Musk spoke to Putin about Ukraine, Bremmer says", CLAIM, PLAN)
V2 = page("Musk spoke to Putin about Ukraine, Bremmer says", DENIAL, CLAIM, PLAN,
          modified="2022-10-11T15:30:00Z")
V3 = page("Musk denies Bremmer's account of a Putin call", DENIAL, CLAIM, PLAN,
          modified="2022-10-12T08:00:00Z")


def feed(base: str) -> str:
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
            f"<item><title>Musk spoke to Putin about Ukraine, Bremmer says</title>"
            f"<link>{base}/news/musk-putin</link>"
            "<pubDate>Tue, 11 Oct 2022 12:00:00 GMT</pubDate></item></channel></rss>")


def config(tmp_path, papi, **press):
    return parse_config({
        "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
        "stories": [STORY],
        "press": {"feeds": [{"name": "Wire", "url": papi + "/wire.rss"}],
                  "gdelt": {"enabled": False}, "backoff_base_seconds": 0, **press},
    }, base_dir=tmp_path)


def deferred(cfg) -> dict:
    return json.loads(rows(cfg, "SELECT deferred FROM runs ORDER BY started_at DESC "
                                "LIMIT 1")[0][0])


class Runs:
    """Scheduled collect_press runs at given times, the server's clock following."""

    def __init__(self, cfg, world, clock):
        self.cfg, self.world, self.clock = cfg, world, clock

    def at(self, when: datetime):
        self.clock.at = when
        self.world.now = when
        before = len(self.world.requests)
        r = collect_press(self.cfg, clock=self.clock, **NO_SLEEP)
        assert r.status == "ok", r.error
        r.article_requests = [q.status for q in self.world.requests[before:]
                              if q.path == "/news/musk-putin"]
        return r


def test_a_page_changed_three_times_keeps_three_versions_and_labels_the_denial(
        pworld, papi, tmp_path, pclock):
    pworld.put_feed("/wire.rss", feed(papi))
    pworld.put_versions("/news/musk-putin", [(PUB, V1), (PUB + timedelta(hours=3), V2),
                                             (PUB + timedelta(hours=20), V3)])
    cfg = config(tmp_path, papi)
    run = Runs(cfg, pworld, pclock)
    h = lambda n: PUB + timedelta(hours=n)  # noqa: E731
    # (time, what the article's requests answered): the schedule re-reads it hourly under 6 h
    # old, every 6 h under 48 h, daily under a week; a run in between asks nothing
    script = [(h(0.25), []),            # the feed: the article is stored after this run
              (h(0.5), [200]),          # due (never read): version 1
              (h(1.0), []),             # read 30 min ago: not due
              (h(1.6), [304]),          # due; unchanged: 304, no version
              (h(4.0), [200]),          # version 2 (the update with the denial)
              (h(5.2), [304]),
              (h(10.0), []),            # 6 h spacing from 5.2 h: not yet
              (h(11.3), [304]),
              (h(21.0), [200]),         # version 3 (the headline flips)
              (h(30.0), [304]),
              (h(200), [])]             # past the last tier: never again
    for when, expected in script:
        assert run.at(when).article_requests == expected, when
    assert rows(cfg, "SELECT count(*) FROM article_versions") == [(3,)]
    got = rows(cfg, "SELECT version, title, first_seen_at, last_seen_at, previous_seen_until, "
                    "origin, outlet_modified_at FROM article_history ORDER BY version")
    assert [(g[0], g[5]) for g in got] == [(1, "fetch"), (2, "fetch"), (3, "fetch")]
    # first/last sighting: the 200 that brought a version, the last 304 that confirmed it
    minutes = lambda t: round((t - PUB).total_seconds() / 60)  # noqa: E731 (the clock ticks ms)
    assert [(minutes(g[2]), minutes(g[3])) for g in got] == [
        (30, 96), (240, 678), (1260, 1800)]
    assert [g[4] for g in got] == [None, got[0][3], got[1][3]]
    assert got[1][6] == datetime(2022, 10, 11, 15, 30, tzinfo=UTC)   # the outlet's claim

    r = run_analysis(cfg, clock=pclock, **NO_SLEEP)
    assert r.status == "ok", r.error
    events = rows(cfg, "SELECT event_type, rule, evidence, event_at, item_id, parent_item_id "
                       "FROM timeline WHERE item_kind = 'article_version' ORDER BY event_at")
    url = f"{papi}/news/musk-putin"
    assert [(e[0], e[1], minutes(e[3]), e[5]) for e in events] == [
        ("article_updated_with_denial", "update-adds-denial", 240, url),
        ("article_headline_changed", "headline-changed", 1260, url)]
    assert events[0][2].startswith(f"added '{DENIAL}'; cue 'denied'; appeared between "
                                   "2022-10-11 13:36:00")
    assert "and 2022-10-11 16:00:00" in events[0][2]
    assert events[0][2].endswith("the outlet's claim: meta article:modified_time: "
                                 "2022-10-11T15:30:00Z")
    assert events[0][4].startswith(url + "#version=")

    # rebuild from raw gives the same articles, versions and labels
    before = snapshot(cfg.database, ("articles", "article_versions", "article_sources"))
    labels = rows(cfg, "SELECT * FROM story_items ORDER BY ALL")
    rebuild(cfg)
    assert snapshot(cfg.database, ("articles", "article_versions", "article_sources")) == before
    con_rows = snapshot(cfg.database, ("story_items",))["story_items"]
    assert sorted(con_rows, key=repr) == sorted(labels, key=repr)


def test_history_command_prints_versions_with_the_diff(pworld, papi, tmp_path, pclock):
    pworld.put_feed("/wire.rss", feed(papi))
    pworld.put_versions("/news/musk-putin", [(PUB, V1), (PUB + timedelta(hours=3), V2)])
    cfg = config(tmp_path, papi)
    (tmp_path / "config.yaml").write_text(
        "storage: {database: db/tracker.duckdb, raw_dir: raw}\n"
        f"stories: [{{id: call, title: t, query: 'Putin AND Musk', window: {{start: "
        f"'2022-10-01', end: '2022-10-31'}}}}]\n"
        f"press: {{feeds: [{{name: Wire, url: '{papi}/wire.rss'}}], gdelt: {{enabled: false}}}}\n")
    run = Runs(cfg, pworld, pclock)
    for n in (0.25, 0.5, 4.0):
        run.at(PUB + timedelta(hours=n))
    res = CliRunner().invoke(cli, ["--config", str(tmp_path / "config.yaml"), "press",
                                   "history", f"{papi}/news/musk-putin/?utm_source=x"],
                             obj={}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = res.output
    assert "2 version(s)" in out and "version 2 (fetched)" in out
    assert f"+ {DENIAL}" in out
    assert "the outlet says: meta article:modified_time: 2022-10-11T15:30:00Z" in out


def test_refetches_stay_within_the_cap_and_the_budget_and_the_rest_is_deferred(
        pworld, papi, tmp_path, pclock):
    items = "".join(
        f"<item><title>Musk and Putin, part {i}</title><link>{papi}/news/{i}</link>"
        "<pubDate>Tue, 11 Oct 2022 12:00:00 GMT</pubDate></item>" for i in range(6))
    pworld.put_feed("/wire.rss", '<?xml version="1.0"?><rss version="2.0"><channel>'
                    f"<title>Wire</title>{items}</channel></rss>")
    for i in range(6):
        pworld.put_page(f"/news/{i}", page(f"Musk and Putin, part {i}", CLAIM, PLAN))
    cfg = config(tmp_path, papi, max_requests_per_run=4, refetch={"max_per_run": 2})
    run = Runs(cfg, pworld, pclock)
    run.at(PUB + timedelta(minutes=10))
    before = len(pworld.requests)
    r = run.at(PUB + timedelta(minutes=20))      # 1 feed request (304) + 2 articles (the cap)
    assert r.requests == len(pworld.requests) - before == 3
    assert deferred(cfg) == {"article_refetches": 4}
    cfg = config(tmp_path, papi, max_requests_per_run=3, refetch={"max_per_run": 50})
    run.cfg = cfg
    before = len(pworld.requests)
    r = run.at(PUB + timedelta(minutes=30))      # the budget: 1 feed + 2 articles
    assert r.requests == len(pworld.requests) - before == 3
    assert deferred(cfg) == {"article_refetches": 2}
    assert rows(cfg, "SELECT count(DISTINCT url) FROM article_versions") == [(4,)]
    cfg = config(tmp_path, papi, refetch={"enabled": False})
    run.cfg = cfg
    before = len(pworld.requests)
    run.at(PUB + timedelta(minutes=40))           # re-fetching off: the feed only
    assert [q.path for q in pworld.requests[before:]] == ["/wire.rss"]


def test_a_vanished_article_is_recorded_and_not_a_failure(pworld, papi, tmp_path, pclock):
    pworld.put_feed("/wire.rss", feed(papi))
    cfg = config(tmp_path, papi)
    run = Runs(cfg, pworld, pclock)
    run.at(PUB + timedelta(minutes=10))
    r = run.at(PUB + timedelta(minutes=40))
    assert r.article_requests == [404]
    assert r.details["articles"] == {"gone": 1}
    assert rows(cfg, "SELECT count(*) FROM article_versions") == [(0,)]
    run.at(PUB + timedelta(minutes=50))           # read 10 min ago: not due again
    assert rows(cfg, "SELECT count(*) FROM raw_pages WHERE purpose = 'article'") == [(1,)]

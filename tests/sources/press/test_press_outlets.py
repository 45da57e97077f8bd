"""The outlet is the publication: an aggregator feed's items keep their own publication, aliases
merge, press_followup and story_firsts group by it, and a database made before keeps up."""

from __future__ import annotations

import shutil
import socket
from datetime import datetime, timezone

import duckdb
import pytest

from tests.helpers import collect_press, rows
from tracker.config import parse_config
from tracker.runs.analyze import run_analysis
from tracker.runs.load import load_now
from tracker.sources.press.outlets import registrable_domain
from tracker.store import schema
from tracker.store.db import open_db

from .conftest import NO_SLEEP

UTC = timezone.utc
STORY = {"id": "call", "title": "Did he discuss Ukraine with Putin?",
         "query": "Putin AND Musk", "window": {"start": "2022-10-01", "end": "2022-10-31"},
         "actors": [{"platform": "x", "handle": "ianbremmer", "role": "claimant"},
                    {"platform": "x", "handle": "elonmusk", "role": "subject"}]}


def item(title: str, link: str, when: str, source: tuple[str, str] | None) -> str:
    src = f'<source url="{source[1]}">{source[0]}</source>' if source else ""
    return (f"<item><title>{title}</title><link>{link}</link><pubDate>{when}</pubDate>"
            f"{src}</item>")


def aggregator(base: str) -> str:
    """A news search's feed: three publications' reports, each naming its source."""
    items = [
        item("Musk spoke with Putin about Ukraine, Bremmer says", f"{base}/r/1",
             "Tue, 11 Oct 2022 12:30:00 GMT", ("Reuters", "https://www.reuters.com")),
        item("Bremmer: Musk talked to Putin before his peace plan", f"{base}/d/1",
             "Tue, 11 Oct 2022 12:45:00 GMT", ("The Daily", "https://www.thedaily.co.uk/")),
        item("Musk denies speaking to Putin about Ukraine", f"{base}/r/2",
             "Tue, 11 Oct 2022 14:00:00 GMT", ("Reuters", "https://www.reuters.com")),
        item("Elon Musk denies Putin call", f"{base}/a/1",
             "Tue, 11 Oct 2022 14:10:00 GMT", ("AP News", "https://apnews.com/")),
    ]
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>News search: Musk '
            'Putin</title><link>https://news.example.com/search</link>'
            + "".join(items) + "</channel></rss>")


def config(tmp_path, papi, outlets=None, **press):
    return parse_config({
        "storage": {"database": "db/tracker.duckdb", "raw_dir": "raw"},
        "accounts": [{"platform": "x", "handle": "ianbremmer"},
                     {"platform": "x", "handle": "elonmusk"}],
        "stories": [STORY],
        "press": {"feeds": [{"name": "News search", "url": papi + "/search.rss"}],
                  "gdelt": {"enabled": False}, "backoff_base_seconds": 0,
                  "outlets": outlets or [], **press},
    }, base_dir=tmp_path)


def posts(cfg) -> None:
    """The claim and the denial on the platform, as the collectors would have stored them."""
    con = open_db(cfg.database)
    for uid, handle in (("1", "ianbremmer"), ("2", "elonmusk")):
        con.execute("INSERT INTO accounts (platform, account_id, handle, first_seen_at, "
                    "last_seen_at) VALUES ('x', ?, ?, now(), now())", [uid, handle])
        con.execute("INSERT INTO account_handles (platform, account_id, handle, "
                    "first_seen_at, last_seen_at) VALUES ('x', ?, ?, now(), now())",
                    [uid, handle])
    for pid, uid, at, text, parent in (
            ("10", "1", "2022-10-11T12:10:00Z", "Musk told me he spoke with Putin", None),
            ("11", "2", "2022-10-11T13:40:00Z", "I have spoken to Putin only once", "10")):
        con.execute("INSERT INTO posts (platform, post_id, author_id, created_at, text, "
                    "reply_to_post_id, seen_in, first_seen_at, last_seen_at) VALUES "
                    "('x', ?, ?, ?, ?, ?, 'data', now(), now())", [pid, uid, at, text, parent])
    con.close()


def test_registrable_domains_are_public_suffix_aware_and_offline(monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("the public suffix list must not be fetched")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert {registrable_domain(u) for u in ("https://www.bbc.co.uk/news", "bbc.co.uk",
                                            "http://BBC.co.uk./x")} == {"bbc.co.uk"}
    assert registrable_domain("https://feeds.bbci.co.uk/news/rss.xml") == "bbci.co.uk"
    assert registrable_domain("https://www.spiegel.de/a") == "spiegel.de"
    assert registrable_domain("https://foo.blogspot.com/x") == "foo.blogspot.com"  # private
    assert registrable_domain("http://127.0.0.1:8080/a") == "127.0.0.1:8080"


def test_an_aggregator_feed_with_three_publications_gives_three_outlets(pworld, papi,
                                                                        tmp_path, pclock):
    pworld.put_feed("/search.rss", aggregator(papi))
    cfg = config(tmp_path, papi)
    r = collect_press(cfg, clock=pclock, **NO_SLEEP)
    assert (r.status, r.error) == ("ok", None)
    assert rows(cfg, "SELECT url, outlet, outlet_domain FROM articles ORDER BY url") == [
        (f"{papi}/a/1", "AP News", "apnews.com"),
        (f"{papi}/d/1", "The Daily", "thedaily.co.uk"),
        (f"{papi}/r/1", "Reuters", "reuters.com"),
        (f"{papi}/r/2", "Reuters", "reuters.com")]
    # the feed stays recorded as the source that saw them, never as their outlet
    assert rows(cfg, "SELECT DISTINCT source_kind, source_name FROM article_sources") == [
        ("feed", "News search")]
    posts(cfg)
    assert run_analysis(cfg, clock=pclock, **NO_SLEEP).status == "ok"
    assert rows(cfg, "SELECT outlet, claim_reported_at, denial_reported_at, reported_denial "
                     "FROM press_followup ORDER BY outlet") == [
        ("Reuters", datetime(2022, 10, 11, 12, 30, tzinfo=UTC),
         datetime(2022, 10, 11, 14, 0, tzinfo=UTC), True),
        ("The Daily", datetime(2022, 10, 11, 12, 45, tzinfo=UTC), None, False)]
    assert rows(cfg, "SELECT first_claim_press_outlet, first_denial_press_outlet "
                     "FROM story_firsts") == [("Reuters", "Reuters")]
    assert rows(cfg, "SELECT DISTINCT platform_or_outlet FROM timeline WHERE "
                     "source_kind = 'article' ORDER BY 1") == [
        ("AP News",), ("Reuters",), ("The Daily",)]


BBC_FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Topic: Musk</title>
<link>https://topics.example.org/</link>
<item><title>Musk and Putin: what we know</title><link>{base}/bbc/1</link>
<pubDate>Tue, 11 Oct 2022 12:30:00 GMT</pubDate>
<source url="https://www.bbc.co.uk/news">BBC News</source></item>
<item><title>Musk denies Putin call</title><link>{base}/bbc/2</link>
<pubDate>Tue, 11 Oct 2022 15:00:00 GMT</pubDate>
<source url="https://feeds.bbci.co.uk/news/world/rss.xml">BBC World</source></item>
<item><title>Musk, Putin and the peace plan</title><link>https://bbc.co.uk/news/world-63</link>
<pubDate>Tue, 11 Oct 2022 16:00:00 GMT</pubDate></item>
</channel></rss>"""


@pytest.mark.parametrize("outlets, expected", [
    ([], ["BBC News", "BBC World", "BBC News"]),       # bbc.co.uk's own name, bbci.co.uk apart
    ([{"name": "BBC", "domains": ["bbci.co.uk", "www.bbc.co.uk"]}], ["BBC", "BBC", "BBC"]),
    ([{"name": "BBC", "aliases": ["BBC News", "bbc world"]}], ["BBC", "BBC", "BBC"]),
])
def test_press_outlets_merge_aliases_into_one_display_name(pworld, papi, tmp_path, pclock,
                                                           outlets, expected):
    pworld.put_feed("/search.rss", BBC_FEED.replace("{base}", papi))
    cfg = config(tmp_path, papi, outlets)
    assert collect_press(cfg, clock=pclock, **NO_SLEEP).status == "ok"
    assert run_analysis(cfg, clock=pclock, **NO_SLEEP).status == "ok"   # syncs press.outlets
    got = rows(cfg, "SELECT outlet FROM article_outlets ORDER BY url")
    assert [g[0] for g in got] == expected
    # `tracker press list --outlet` finds them by the display name or the domain
    from tracker.sources.press.listing import list_articles
    assert len(list_articles(cfg, outlet="bbci")) == 1
    assert len(list_articles(cfg, outlet=expected[0])) == expected.count(expected[0])


def test_migration_8_re_derives_the_outlets_of_an_older_database(pworld, papi, tmp_path,
                                                                 pclock, monkeypatch):
    pworld.put_feed("/search.rss", aggregator(papi))
    cfg = config(tmp_path, papi)
    assert collect_press(cfg, clock=pclock, **NO_SLEEP).status == "ok"
    con = duckdb.connect(str(cfg.database), read_only=True)
    loaded = con.execute("SELECT path, run_id, lines, loaded_at FROM raw_files").fetchall()
    now = con.execute("SELECT * FROM articles ORDER BY url").df()
    con.close()
    # the same articles in a database made before migration 8: outlets were the feed's name
    old = tmp_path / "old.duckdb"
    monkeypatch.setattr(schema, "MIGRATIONS", [m for m in schema.MIGRATIONS if m[0] < 8])
    con = open_db(old)
    monkeypatch.undo()
    con.executemany("INSERT INTO raw_files (path, run_id, lines, loaded_at) VALUES "
                    "(?, ?, ?, ?)", loaded)
    cols = [c for (c,) in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = 'articles'").fetchall()]
    old_rows = now[[c for c in cols if c in now.columns]].assign(outlet="News search")
    con.register("old_rows", old_rows)
    con.execute("INSERT INTO articles BY NAME SELECT * FROM old_rows")
    con.close()
    for p in cfg.database.parent.iterdir():
        p.unlink()
    shutil.copy(old, cfg.database)
    load_now(cfg)                              # migrates, then loads the press files again
    assert rows(cfg, "SELECT DISTINCT outlet FROM articles ORDER BY 1") == [
        ("AP News",), ("Reuters",), ("The Daily",)]
    assert rows(cfg, "SELECT count(*) FROM raw_files WHERE loaded_at IS NULL") == [(0,)]

"""The story report without a browser: data gathered, escaping, colours, odd stories, the CLI."""

from __future__ import annotations

import html as htmllib
import json
import re
from datetime import timedelta

import duckdb
import markupsafe
import pytest
from click.testing import CliRunner

from tests.report.sample import HOSTILE, STORY_ID, sample_db
from tracker.analysis.rules import EVENT_TYPES
from tracker.cli import cli
from tracker.errors import TrackerError
from tracker.report import gather, render_html, write_report
from tracker.report.charts import esc, figure
from tracker.report.colors import EVENT_STYLES, STANCE_STYLES, event_style
from tracker.report.html import _sha256, inline_script, json_block
from tracker.report.timefmt import TimeFormat, lag_label, window_label
from tracker.report.view import lanes_and_items, safe_url
from tracker.store.db import open_db


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return sample_db(tmp_path_factory.mktemp("report") / "sample.duckdb")


@pytest.fixture
def con(db):
    c = open_db(db[0], read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def page(db) -> str:
    c = open_db(db[0], read_only=True)
    try:
        return render_html(gather(c, STORY_ID))
    finally:
        c.close()


def data_block(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def section(page: str, sid: str) -> str:
    return page.split(f'id="{sid}"', 1)[1].split("</section>", 1)[0]


# --- data ------------------------------------------------------------------------------------

def test_gather_reads_the_story_from_the_views(con, db):
    _, ids = db
    d = gather(con, STORY_ID)
    assert d.title.startswith("Did the billionaire")
    assert [(a.handle, a.role) for a in d.actors] == [("ianbremmer", "claimant"),
                                                      ("elonmusk", "subject")]
    assert len(d.timeline) == 19 and d.timeline["event_at"].is_monotonic_increasing
    assert str(d.timeline["event_at"].dt.tz) == "UTC"
    assert d.firsts["first_claim_item"] == ids["claim"]
    assert d.firsts["claim_to_denial"] == timedelta(minutes=90)
    assert list(d.press["outlet"]) == ["vice.com", "businessinsider.com"]
    assert list(d.press["reported_denial"]) == [False, True]
    replies = (d.timeline["event_type"] == "reply").sum()
    assert int(d.replies.to_numpy().sum()) == replies == 8
    assert list(d.replies.columns) == ["support", "deny", "query", "comment"]
    assert [p.poll_id for p in d.polls] == ["1576969255420280833"]
    assert len(d.polls[0].series) == 6
    assert d.last_collected.isoformat() == "2022-10-12T08:00:00+00:00"
    assert d.window_start.isoformat() == "2022-10-01T00:00:00+00:00"


def test_unknown_story_is_a_clear_error(con):
    with pytest.raises(TrackerError, match=r"story 'nope' has not been analysed "
                                           r"\(analysed stories: empty, musk-putin-call"):
        gather(con, "nope")


def test_a_database_without_stories(tmp_path):
    open_db(tmp_path / "fresh.duckdb").close()
    with pytest.raises(TrackerError, match="has not been analysed: check the id"):
        write_report(tmp_path / "fresh.duckdb", "any", tmp_path / "r.html")


# --- escaping --------------------------------------------------------------------------------

def test_untrusted_text_is_escaped_everywhere(page):
    assert HOSTILE not in page
    assert "<script>window.__pwned" not in page and "<img" not in page
    table = section(page, "timeline")
    assert str(markupsafe.escape(HOSTILE)) in table
    assert not re.search(r"<[^>]*\sonerror\s*=", page, re.I)     # never an attribute
    # The analyst's note is markup too: escaped in the evidence column.
    assert "a remark, not a reply &lt;b&gt;to&lt;/b&gt; the claim" in table
    # The only <script> elements are the data block and the file's own two scripts.
    assert len(re.findall(r"<script\b", page)) == 3


def test_the_data_block_reads_back_exactly_and_cannot_close_itself(page):
    block = page.split('id="report-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in block and ">" not in block and "&" not in block
    data = json.loads(block)
    assert HOSTILE in [i["text"] for i in data["items"]]
    nasty = {"t": "</script><!--<script>alert(1)</script>&amp;\u2028"}
    assert json.loads(json_block(nasty)) == nasty
    assert "</" not in json_block(nasty) and "<!--" not in json_block(nasty)


def test_hover_text_is_escaped_for_plotly(page):
    fig = data_block(page)["figure"]
    replies = next(t for t in fig["data"] if t["uid"] == "ev-reply")
    hostile = next(h for h in replies["hovertext"] if "__pwned" in h)
    assert "<script>" not in hostile and "<img" not in hostile
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in hostile
    assert "onerror=&#34;window.__pwned=2&#34;" in hostile      # Plotly ignores &quot;
    assert esc("""a<b>&"c'""") == "a&lt;b&gt;&amp;&#34;c&#39;"


def test_only_http_links(tmp_path, db):
    assert safe_url("https://x.com/i/web/status/1") == "https://x.com/i/web/status/1"
    for bad in ("javascript:alert(1)", "JAVASCRIPT:alert(1)", " data:text/html,<b>x</b>",
                "vbscript:x", "/relative", "https://", "", None, float("nan")):
        assert safe_url(bad) is None, bad
    path = tmp_path / "copy.duckdb"
    path.write_bytes(db[0].read_bytes())
    c = duckdb.connect(str(path))
    c.execute("UPDATE articles SET url = 'javascript:alert(1)//x' WHERE domain = 'vice.com'")
    c.execute("UPDATE story_items SET item_id = 'javascript:alert(1)//x' "
              "WHERE item_id LIKE 'https://www.vice.com/%'")
    text = render_html(gather(c, STORY_ID))
    c.close()
    assert 'href="javascript' not in text
    items = data_block(text)["items"]
    assert [i["url"] for i in items if i["item_id"].startswith("javascript:")] == [None]


def test_inline_scripts_cannot_be_closed_and_are_pinned_by_the_csp(page):
    assert inline_script("a='</script><!--'") == "a='<\\/script><\\!--'"
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 2 and "Plotly" in scripts[0]
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    policy = htmllib.unescape(policy)
    for s in scripts:
        assert _sha256(s) in policy
    assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy.split(";")[1]
    assert "cdn" not in page.lower().split("<script>", 1)[0]
    assert "<script src" not in page and "<link" not in page


# --- colours ---------------------------------------------------------------------------------

def test_one_colour_per_event_type_used_by_marks_legend_and_table(page):
    assert set(EVENT_TYPES) <= set(EVENT_STYLES)
    colours = [s.color for s in EVENT_STYLES.values()]
    assert len(set(colours)) == len(colours)
    assert len({s.label for s in EVENT_STYLES.values()}) == len(EVENT_STYLES)
    assert len({s.color for s in STANCE_STYLES.values()}) == len(STANCE_STYLES)
    assert event_style("not-a-type").label == "other label"
    fig = data_block(page)["figure"]
    events = [t for t in fig["data"] if t["uid"].startswith("ev-")]
    for t in events:
        style = EVENT_STYLES[t["uid"][3:]]
        assert (t["name"], t["marker"]["color"], t["marker"]["symbol"]) == (
            style.label, style.color, style.symbol)
        assert t["showlegend"] is False       # the page draws the legend (below on a phone)
    # The chart's legend (HTML, beside or below the chart) names each trace in its colour.
    chart_legend = section(page, "chart-section").split('id="chart-legend"', 1)[1]
    entries = re.findall(r'data-uid="([^"]+)".*?background: (#[0-9a-f]{6}).*?'
                         r'class="legend-label">([^<]*)<', chart_legend, re.S)
    assert [u for u, _, _ in entries] == [t["uid"] for t in fig["data"]]
    for uid, color, label in entries:
        trace = next(t for t in fig["data"] if t["uid"] == uid)
        assert color == (trace["marker"]["color"] if trace["type"] != "scatter"
                         or "line" not in trace or trace["mode"] == "markers"
                         else trace["line"]["color"])
        if uid.startswith("ev-"):
            assert (label, color) == (EVENT_STYLES[uid[3:]].label, EVENT_STYLES[uid[3:]].color)
        if uid.startswith("st-"):
            assert (label, color) == (STANCE_STYLES[uid[3:]].label,
                                      STANCE_STYLES[uid[3:]].color)
    items = data_block(page)["items"]
    for t in events:                   # every mark of a trace is an item of that event type
        assert {items[n]["event"] for n in t["customdata"]} == {t["uid"][3:]}
    for t in fig["data"]:
        if t["uid"].startswith("st-"):
            assert t["marker"]["color"] == STANCE_STYLES[t["uid"][3:]].color
    legend = section(page, "timeline").split('id="event-legend"', 1)[1].split("</p>", 1)[0]
    for key, color in re.findall(r'data-event="([^"]+)">.*?background: (#[0-9a-f]{6})', legend):
        assert color == EVENT_STYLES[key].color


# --- stories of every shape ------------------------------------------------------------------

def test_the_chart_has_lanes_replies_and_the_poll_on_one_axis(page):
    fig = data_block(page)["figure"]
    lay = fig["layout"]
    lanes = [a for a in lay["annotations"] if a["name"].startswith("lane:")]
    assert [a["text"] for a in lanes] == [
        "@ianbremmer · claimant", "@elonmusk · subject", "others (replies, mentions)", "press"]
    assert [a["y"] - 0.5 for a in lanes] == [3, 2, 1, 0]    # each at the top of its lane
    assert lay["yaxis"]["tickvals"] == [3, 2, 1, 0] and not lay["yaxis"]["showticklabels"]
    assert {t.get("xaxis") for t in fig["data"]} == {"x"}
    assert {t["yaxis"] for t in fig["data"]} == {"y", "y2", "y3"}
    assert lay["xaxis"]["title"]["text"] == "time (UTC)"
    polls = [t for t in fig["data"] if t["uid"].startswith("poll-")]
    assert [t["name"] for t in polls] == ["Yes", "No"]
    assert polls[0]["y"] == [40.8, 41.0, 40.8]


def test_a_story_without_a_poll(con):
    text = render_html(gather(con, "no-poll"))
    fig = data_block(text)["figure"]
    assert not [t for t in fig["data"] if t["uid"].startswith("poll-")]
    assert "yaxis3" not in fig["layout"] and "legend3" not in fig["layout"]
    assert 'id="no-poll"' in text and 'id="polls"' not in text
    assert "@elonmusk · subject" not in [a["text"] for a in fig["layout"]["annotations"]]


def test_an_empty_story(con, tmp_path):
    d = gather(con, "empty")
    assert d.empty and d.polls == [] and len(d.replies) == 0
    text = render_html(d)
    assert 'id="no-items"' in text and 'id="chart"' not in text
    assert "plotly.js (basic" not in text           # no chart, no charting library
    assert data_block(text)["figure"] is None
    assert len(re.findall(r"<tr>\s*<th scope=\"row\">first", text)) == 5
    assert "none yet" in section(text, "firsts")
    assert 'id="no-press"' in text


def test_local_time_zone_names_itself(con):
    text = render_html(gather(con, STORY_ID), tz="Europe/Paris")
    assert "2022-10-11 14:10 CEST" in text          # the claim, 12:10 UTC
    assert 'datetime="2022-10-11T12:10:00Z"' in text
    assert "shown in Europe/Paris" in text
    assert data_block(text)["figure"]["layout"]["xaxis"]["title"]["text"] == \
        "time (Europe/Paris)"
    with pytest.raises(TrackerError, match="unknown time zone 'Mars/Olympus'"):
        render_html(gather(con, STORY_ID), tz="Mars/Olympus")


def test_time_helpers():
    assert lag_label(timedelta(minutes=45)) == "45 min"
    assert lag_label(timedelta(hours=1, minutes=30)) == "1 h 30 min"
    assert lag_label(timedelta(days=2, hours=3, minutes=5)) == "2 d 3 h"
    assert lag_label(timedelta(hours=-2)) == "−2 h"
    assert lag_label(None) == "—" and lag_label(float("nan")) == "—"
    tf = TimeFormat()
    assert tf.label(None) == "—" and tf.is_utc
    assert window_label("2022-10-01T00:00:00Z", "2022-11-01T00:00:00Z") == \
        "2022-10-01 to 2022-10-31 (UTC dates, both included)"


def test_lanes_put_actors_first_and_the_press_last(con):
    lanes, items = lanes_and_items(gather(con, STORY_ID), TimeFormat())
    assert lanes.names[-1] == "press" and lanes.y("press") == 0
    assert lanes.y("@ianbremmer · claimant") == len(lanes.names) - 1
    claim = next(i for i in items if i["event"] == "claim")
    assert claim["lane"] == "@ianbremmer · claimant" and claim["url"].startswith("https://x.com")
    assert {i["lane"] for i in items if i["event"].startswith("coverage")} == {"press"}
    assert figure(gather(con, "empty"), lanes, [], TimeFormat()) is None


# --- files and the command -------------------------------------------------------------------

@pytest.fixture
def cfg_path(db, tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text(f"storage:\n  database: {db[0]}\n")
    return p


def test_report_command_writes_one_self_contained_file(cfg_path, tmp_path):
    out = tmp_path / "out" / "story.html"
    res = CliRunner().invoke(cli, ["--config", str(cfg_path), "report", STORY_ID, "-o",
                                   str(out)], obj={}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output and "(19 items)" in res.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and "plotly.js (basic - minified)" in text
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", text, flags=re.S)
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", markup)
    links = re.findall(r'<a\b[^>]*href="([^"]+)"', markup)
    assert links and all(u.startswith(("https://", "#")) for u in links)
    assert not (tmp_path / "out" / "story.html.tmp").exists()


def test_report_command_errors_are_one_line(cfg_path, tmp_path, monkeypatch):
    res = CliRunner().invoke(cli, ["--config", str(cfg_path), "report", "nope", "-o",
                                   str(tmp_path / "x.html")], obj={})
    assert res.exit_code == 1 and "story 'nope' has not been analysed" in res.output
    monkeypatch.setenv("TRACKER_CHROMIUM", str(tmp_path / "no-such-chromium"))
    out = tmp_path / "r.html"
    res = CliRunner().invoke(cli, ["--config", str(cfg_path), "report", STORY_ID, "-o",
                                   str(out), "--png", str(tmp_path / "r.png")], obj={})
    assert res.exit_code == 1 and "--png" in res.output and "HTML report was written" in \
        res.output
    assert out.exists() and not (tmp_path / "r.png").exists()

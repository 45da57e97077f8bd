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

from tests.report.sample import EMPTY_STORY, HOSTILE, NO_POLL_STORY, STORY, STORY_ID, sample_db
from tracker.core.events import EVENT_TYPES
from tracker.cli import cli
from tracker.core.errors import TrackerError
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


def test_poll_options_are_escaped_in_the_chart_legend(con):
    d = gather(con, STORY_ID)
    d.polls[0].series["label"] = d.polls[0].series["label"].where(
        d.polls[0].series["position"] != 1, HOSTILE)
    text = render_html(d)
    legend = section(text, "chart-section").split('id="chart-legend"', 1)[1]
    assert HOSTILE not in text and "<img" not in text
    assert f'class="legend-label">{markupsafe.escape(HOSTILE)}<' in legend
    trace = next(t for t in data_block(text)["figure"]["data"] if t["uid"] == "poll-1-1")
    assert trace["name"] == esc(HOSTILE)


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


# --- every story at once: --all and the index ------------------------------------------------

LATER = {**STORY, "id": "later", "title": "Not <b>analysed</b> yet & pending"}


@pytest.fixture
def all_cfg(db, tmp_path):
    import yaml

    p = tmp_path / "all-stories.yaml"
    p.write_text(yaml.safe_dump({"storage": {"database": str(db[0])},
                                 "stories": [STORY, NO_POLL_STORY, EMPTY_STORY, LATER]}))
    return p


def index_rows(text: str) -> dict[str, dict]:
    """The index's story rows: id → its title, link, window, milestone cells, items, note."""
    out = {}
    for sid, row in re.findall(r'<tr id="story-([^"]+)"[^>]*>(.*?)</tr>', text, re.S):
        cells = {k: " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", v)).split())
                 for k, v in re.findall(r'<td class="milestone" data-key="([^"]+)"[^>]*>(.*?)</td>',
                                        row, re.S)}
        link = re.search(r'<a class="story-title" href="([^"]+)">([^<]*)</a>', row)
        title = link.group(2) if link else re.search(
            r'<span class="story-title">([^<]*)</span>', row).group(1)
        note = re.search(r'<span class="warn note-text">([^<]*)</span>', row)
        out[sid] = {"href": link.group(1) if link else None, "title": htmllib.unescape(title),
                    "window": re.search(r'<td class="window"[^>]*>([^<]*)</td>', row).group(1),
                    "items": int(re.search(r'<td class="num items"[^>]*>(\d+)</td>',
                                           row).group(1)),
                    "note": note.group(1) if note else None, **cells}
    return out


def test_report_all_writes_every_story_and_an_index(all_cfg, tmp_path):
    out = tmp_path / "reports"
    res = CliRunner().invoke(cli, ["--config", str(all_cfg), "report", "--all", "-o", str(out)],
                             obj={}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == [
        "empty.html", "index.html", "musk-putin-call.html", "no-poll.html"]
    assert f"wrote {out / 'musk-putin-call.html'} (19 items)" in res.output
    assert "no report for later: not analysed yet (run: tracker analyze later)" in res.output
    assert f"wrote {out / 'index.html'} (4 stories, 3 reports)" in res.output
    text = (out / "index.html").read_text(encoding="utf-8")
    rows = index_rows(text)
    assert list(rows) == ["musk-putin-call", "no-poll", "empty", "later"]     # config order
    # Every link resolves to a report beside the index, and that report is the story's.
    hrefs = re.findall(r'<a\b[^>]*href="([^"]+)"', text)
    assert hrefs == ["musk-putin-call.html", "no-poll.html", "empty.html"]
    for sid in ("musk-putin-call", "no-poll", "empty"):
        report = (out / rows[sid]["href"]).read_text(encoding="utf-8")
        assert f"<code>{sid}</code>" in report and report.startswith("<!doctype html>")
    # The sample story's firsts and lags, exactly.
    assert rows["musk-putin-call"] == {
        "href": "musk-putin-call.html", "items": 19, "note": None,
        "title": "Did the billionaire discuss Ukraine with the Russian president?",
        "window": "2022-10-01 – 2022-10-31",
        "claim": "2022-10-11 12:10 UTC",
        "claim_press": "2022-10-11 13:05 UTC 55 min after the claim",
        "denial": "2022-10-11 13:40 UTC 1 h 30 min after the claim",
        "denial_press": "2022-10-11 15:30 UTC 1 h 50 min after the denial",
        "rebuttal": "2022-10-11 14:25 UTC 45 min after the denial"}
    # Without its subject among the actors, no-poll has a claim and its press report only.
    assert {k: rows["no-poll"][k] for k in ("claim", "claim_press", "denial", "rebuttal")} == {
        "claim": "2022-10-11 12:10 UTC", "claim_press": "2022-10-11 13:05 UTC 55 min after "
        "the claim", "denial": "—", "rebuttal": "—"}
    assert rows["empty"]["items"] == 0 and rows["empty"]["claim"] == "—"
    assert rows["empty"]["window"] == "2021-01-01 – 2021-01-31"
    # A configured story never analysed: listed, escaped, with no link and a note.
    assert rows["later"]["href"] is None and rows["later"]["items"] == 0
    assert rows["later"]["title"] == "Not <b>analysed</b> yet & pending"
    assert "Not &lt;b&gt;analysed&lt;/b&gt; yet &amp; pending" in text
    assert rows["later"]["note"] == "not analysed yet (run: tracker analyze later)"
    # Self-contained and script-free: nothing to fetch, nothing to run.
    assert "<script" not in text and "<link" not in text and "<img" not in text
    policy = htmllib.unescape(re.search(
        r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1))
    assert "default-src 'none'" in policy and "script-src 'none'" in policy
    assert 'id="story-count">4<' in text and "2022-10-12 08:00 UTC" in text
    # Writing again replaces the files and leaves no temporary ones.
    res = CliRunner().invoke(cli, ["--config", str(all_cfg), "report", "--all", "-o", str(out),
                                   "--tz", "Europe/Paris"], obj={}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert not list(out.glob("*.tmp"))
    assert index_rows((out / "index.html").read_text())["musk-putin-call"]["claim"] == \
        "2022-10-11 14:10 CEST"


def test_report_all_usage_errors(all_cfg, cfg_path, tmp_path):
    def run(*args, cfg=all_cfg):
        return CliRunner().invoke(cli, ["--config", str(cfg), "report", *args], obj={})

    res = run("--all", STORY_ID, "-o", str(tmp_path / "d"))
    assert res.exit_code == 2 and "either a STORY or --all" in res.output
    res = run("--all", "-o", str(tmp_path / "d"), "--png", str(tmp_path / "x.png"))
    assert res.exit_code == 2 and "--png pictures one story" in res.output
    res = run()
    assert res.exit_code == 2 and "which story?" in res.output
    (tmp_path / "f").write_text("")
    res = run("--all", "-o", str(tmp_path / "f"))
    assert res.exit_code == 1 and "is a file" in res.output
    res = run("--all", "-o", str(tmp_path / "d"), cfg=cfg_path)        # no stories configured
    assert res.exit_code == 1 and "no stories in the config" in res.output
    assert not (tmp_path / "d").exists()


def test_a_story_named_index_does_not_replace_the_index(db, tmp_path):
    from tracker.config import parse_config
    from tracker.report import report_file_name, write_all

    assert report_file_name("index") == "index.story.html"
    cfg = parse_config({"storage": {"database": str(db[0])},
                        "stories": [{**STORY, "id": "index"}, STORY]})
    res = write_all(cfg, tmp_path / "out")
    assert [s.file for s in res.stories] == [None, "musk-putin-call.html"]   # not analysed
    assert (tmp_path / "out" / "index.html").exists()


def test_index_sections_come_from_one_list(con):
    """Another section (say, the latest denials) is a partial plus a rows function."""
    from tracker.report.index import SECTIONS, Section, entry, render_index

    d = gather(con, STORY_ID)
    tf = TimeFormat()
    stories = [entry(STORY_ID, d.title, "", "musk-putin-call.html", d, tf)]
    seen = []

    def rows(st, tf_):
        seen.append((st, tf_))
        return ["a row"]

    extra = Section("again", "The stories again", "index/stories.html.j2", rows)
    text = render_index(stories, tf, sections=[*SECTIONS, extra])
    assert seen == [(stories, tf)]
    assert re.findall(r'<section id="([^"]+)">\s*<h2>([^<]+)</h2>', text) == [
        ("stories", "Stories and their firsts"), ("again", "The stories again")]
    assert text.count('<tr id="story-musk-putin-call"') == 2
    assert stories[0].data is d           # a section can read everything a report shows


# --- the first view --------------------------------------------------------------------------

def test_active_span_frames_the_claim_and_its_answers(con):
    from dataclasses import replace

    import pandas as pd

    from tracker.report.view import active_span

    d = gather(con, STORY_ID)
    lo, hi = active_span(d)                 # claim 12:10 … second denial 17:05, 8 % margins
    assert (lo.isoformat(), hi.isoformat()) == ("2022-10-11T11:46:24+00:00",
                                                "2022-10-11T17:28:36+00:00")
    fig = data_block(render_html(d))["figure"]
    assert fig["layout"]["xaxis"]["range"] == fig["views"][0]["range"] == [
        "2022-10-11 11:46:24", "2022-10-11 17:28:36"]
    assert [v["id"] for v in fig["views"]] == ["span", "day", "all", "window"]
    assert fig["views"][3]["range"] == ["2022-10-01 00:00:00", "2022-11-01 00:00:00"]

    def story(events, firsts=None):
        tl = pd.DataFrame({"event_at": pd.to_datetime([t for t, _ in events], utc=True),
                           "event_type": [e for _, e in events]})
        return replace(d, timeline=tl, firsts=firsts or {})

    # A claim and nothing after it: two hours around it.
    lo, hi = active_span(story([("2022-10-11T12:00Z", "claim")],
                               {"first_claim_at": pd.Timestamp("2022-10-11T12:00Z")}))
    assert (lo.isoformat(), hi.isoformat()) == ("2022-10-11T11:00:00+00:00",
                                                "2022-10-11T13:00:00+00:00")
    # No claim: from the first labelled event that is not a reply to the last answer; a
    # denial days later stretches it (margin 8 %: 4 h 48 min of 60 h).
    lo, hi = active_span(story([("2022-10-01T00:00Z", "reply"), ("2022-10-02T00:00Z", "poll"),
                                ("2022-10-04T12:00Z", "denial")]))
    assert (lo.isoformat(), hi.isoformat()) == ("2022-10-01T19:12:00+00:00",
                                                "2022-10-04T16:48:00+00:00")
    assert active_span(story([])) is None

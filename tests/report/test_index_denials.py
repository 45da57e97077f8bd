"""The index page's latest denials (tracker/report/index.py): on the demo, each denial linked to
the story holding it; with no story, the command that makes one; escaping and unsafe links."""

from __future__ import annotations

import html as htmllib
import re
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from tests.denials_demo import CLAIM, DENIAL, REBUTTAL, SECOND_DENIAL, demo_config, demo_folder
from tracker.analysis.denials import Denial, PressArticle
from tracker.cli import cli
from tracker.report.index import LatestDenials, denial_rows, render_index
from tracker.report.timefmt import TimeFormat


def invoke(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], obj={})


def text_of(fragment: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def denial_rows_of(page: str) -> dict[str, dict]:
    """The denials table's rows: post key → each cell's text, and the row's links."""
    out = {}
    for key, row in re.findall(r'<tr id="denial-[^"]+" data-post="([^"]+)"[^>]*>(.*?)</tr>',
                               page, re.S):
        cells = {cls.split()[-1]: text_of(v) for cls, v in
                 re.findall(r'<td class="([^"]+)"[^>]*>(.*?)</td>', row, re.S)}
        out[key] = {**cells, "links": re.findall(r'<a\b[^>]*href="([^"]+)"', row)}
    return out


def sections(page: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)">', page)


def test_the_demo_index_links_each_denial_to_its_story(tmp_path, tmp_path_factory):
    demo = demo_folder(tmp_path_factory)
    for name in ("config.yaml", "tracker.duckdb"):
        shutil.copyfile(demo / name, tmp_path / name)
    out = tmp_path / "reports"
    res = invoke(tmp_path / "config.yaml", "report", "--all", "-o", str(out))
    assert res.exit_code == 0, res.output
    page = (out / "index.html").read_text(encoding="utf-8")
    assert sections(page) == ["stories", "denials"]
    assert "posted since 2022-10-05 07:45 UTC (the 7 days up to the newest stored post)" in page
    rows = denial_rows_of(page)
    assert list(rows) == [f"x:{SECOND_DENIAL}", f"x:{DENIAL}"]                # newest first
    r = rows[f"x:{DENIAL}"]
    assert (r["time"], r["who"], r["denied"], r["lag"]) == (
        "2022-10-11 13:40 UTC", "@elonmusk", "@ianbremmer (reply)", "1 h 30 min")
    # three replies (support / deny / query / comment, as the stance model says)
    assert sum(int(n) for n in r["replies"].split(" / ")) == 3
    assert r["denial"] == ("I have spoken to Putin only once and that was about 18 months ago. "
                           "The subject matter was space. post")
    assert r["denied-text"].startswith("As I wrote to our clients") and \
        r["denied-text"].endswith("(2022-10-11 12:10 UTC) post")
    assert r["press"] == "5 first 2022-10-11 14:20 UTC, Business Insider"
    assert r["story"] == "musk-putin-call (denial)"
    assert r["links"] == [
        f"https://x.com/elonmusk/status/{DENIAL}", f"https://x.com/ianbremmer/status/{CLAIM}",
        "https://www.businessinsider.com/elon-musk-denies-putin-talks-ukraine-ian-bremmer-2022-10",
        "musk-putin-call.html"]
    assert (out / "musk-putin-call.html").exists()
    assert rows[f"x:{SECOND_DENIAL}"]["links"][1] == \
        f"https://x.com/ianbremmer/status/{REBUTTAL}"
    assert "<script" not in page


def test_with_no_story_the_index_alone_and_the_command_to_make_one(tmp_path, tmp_path_factory):
    cfg = demo_config(tmp_path, tmp_path_factory)
    out = tmp_path / "reports"
    res = invoke(cfg, "report", "--all", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert f"wrote {out / 'index.html'} (0 stories, 0 reports)" in res.output
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "No stories in config.yaml." in page
    rows = denial_rows_of(page)
    assert [r["story"] for r in rows.values()] == [
        f"tracker story new --from-denial x:{SECOND_DENIAL}",
        f"tracker story new --from-denial x:{DENIAL}"]


def at(s):
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc)


def denial(**kw) -> Denial:
    base = dict(platform="x", post_id="9", created_at=at("2024-03-01T10:30"), account="alice",
                account_name="Alice", text="<b>no</b> & never", url="javascript:alert(1)",
                relation="reply", denied_account="carol", denied_name="Carol",
                denied_post_id="8", denied_at=at("2024-03-01T09:00"),
                denied_text="<img src=x onerror=alert(2)>", denied_url="https://x.com/c/8",
                lag=timedelta(hours=1, minutes=30), score=0.9, stance="deny", cue="never",
                rule="stance-model", evidence='"><script>alert(3)</script>',
                press=[PressArticle("data:text/html,x", None, "t", at("2024-03-01T12:00"),
                                    "published_at")])
    base.update(kw)
    return Denial(**base)


def test_markup_is_escaped_and_only_http_links_are_kept():
    latest = LatestDenials(at("2024-02-25"), [denial()], limit=1)
    page = render_index([], TimeFormat("Europe/Paris"), denials=latest)
    row = denial_rows_of(page)["x:9"]
    assert row["links"] == ["https://x.com/c/8"]            # javascript: and data: dropped
    assert "<b>no</b>" not in page and "&lt;b&gt;no&lt;/b&gt; &amp; never" in page
    assert "<img src=x" not in page and "<script>alert(3)" not in page
    assert row["time"] == "2024-03-01 11:30 CET"
    assert row["press"] == "1 first 2024-03-01 13:00 CET, data:text/html,x"
    # the cap: as many as asked, and the page says where the rest are
    assert "the 1 newest: <code>tracker denials</code> lists them all" in page


@pytest.mark.parametrize("latest, text", [
    (LatestDenials(None, note="no tracked accounts (list them under `accounts:` in "
                              "config.yaml)"),
     "no tracked accounts (list them under `accounts:` in config.yaml)"),
    (LatestDenials(at("2024-02-25")), "No denials since 2024-02-25 00:00 UTC."),
])
def test_nothing_to_list(latest, text):
    page = render_index([], TimeFormat(), denials=latest)
    assert sections(page) == ["stories", "denials"]
    assert htmllib.escape(text, quote=False) in page or text in htmllib.unescape(page)
    assert 'id="denials-table"' not in page
    assert denial_rows(latest, [], TimeFormat())["rows"] == []

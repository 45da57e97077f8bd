"""The sample story's report in a real browser: headless Chromium, network blocked.

Checks that the chart drew (its marks exist and have size), that each legend entry names the
colour of the marks it stands for, that the tables have the expected rows, that no console error
and no network request happened, and that a post made of markup neither ran nor rendered as
markup. Saves a screenshot under the test's temporary folder.

And that it reads at a glance, on a desktop (1400 px) and a phone (400 px): the first view
frames the claim and its answers, no two labels overlap in any view (measured boxes), count
axes tick at whole numbers, nothing scrolls sideways on a phone, and the slide view (--png)
has no toolbar and no buttons.

Needs the Debian packages `chromium` and `chromium-driver` (.ci/run installs them) and the
`selenium` package (the `test` extra); without them the tests are skipped, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.report.sample import HOSTILE, STORY_ID, sample_db
from tracker.report import write_report
from tracker.report.colors import EVENT_STYLES, STANCE_STYLES
from tracker.report.png import OFFLINE_FLAGS, SLIDE

webdriver = pytest.importorskip("selenium.webdriver",
                                reason="selenium is not installed (pip install -e '.[test]')")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

NETWORK_SCHEMES = ("http:", "https:", "ws:", "wss:", "ftp:")


def _browser_paths() -> tuple[str, str]:
    chromium = os.environ.get("TRACKER_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    driver = os.environ.get("TRACKER_CHROMEDRIVER") or shutil.which("chromedriver") \
        or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
    if not chromium or not driver:
        pytest.skip("headless Chromium and chromedriver are needed for the browser test "
                    "(Debian: apt-get install chromium chromium-driver; CI installs them)")
    return chromium, driver


def rgb(hex_color: str) -> str:
    h = hex_color.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (0, 2, 4)))


class Page:
    """A report open in Chromium; collects the console and network logs as tests go."""

    def __init__(self, driver, path: Path):
        self.driver, self.path = driver, path
        self.console: list[dict] = []
        self.requests: list[str] = []

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def drain(self) -> None:
        self.console += self.driver.get_log("browser")
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                self.requests.append(msg["params"]["request"]["url"])
            elif msg["method"] == "Network.webSocketCreated":
                self.requests.append(msg["params"]["url"])

    def assert_clean(self) -> None:
        """No console errors (CSP violations included) and no request leaving the machine."""
        self.drain()
        errors = [e for e in self.console if e.get("level") in ("SEVERE", "ERROR")]
        assert errors == [], errors
        outside = [u for u in self.requests if u.lower().startswith(NETWORK_SCHEMES)]
        assert outside == [], outside
        assert any(u.startswith("file://") for u in self.requests)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> tuple[Path, dict]:
    d = tmp_path_factory.mktemp("report")
    db, ids = sample_db(d / "sample.duckdb")
    result = write_report(db, STORY_ID, d / "report.html")
    return result.path, ids


def wait_laid_out(driver) -> None:
    """Until the chart drew and its script finished laying out the labels."""
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.body.getAttribute('data-chart')"))
    if driver.execute_script("return document.body.getAttribute('data-chart')") == "ready":
        WebDriverWait(driver, 30, poll_frequency=0.1).until(lambda d: d.execute_script(
            "return document.body.getAttribute('data-labels')") in ("ready", "unsettled"))


def open_report(path: Path, tmp_path_factory, width: int, fragment: str = "",
                chart: bool = True):
    chromium, chromedriver = _browser_paths()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in OFFLINE_FLAGS:           # headless, no GPU/sandbox, no background networking,
        opts.add_argument(flag)          # every host unresolvable, a dead proxy
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.add_argument(f"--window-size={width},1000")
    opts.add_argument("--hide-scrollbars")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=opts)
    driver.set_page_load_timeout(60)
    driver.set_window_size(width, 1000)          # below 500 px only once started
    driver.get(path.as_uri() + fragment)
    inner = driver.execute_script("return window.innerWidth")
    if inner != width:
        driver.set_window_size(2 * width - inner, 1000)
        driver.get(path.as_uri() + fragment)
    if chart:
        wait_laid_out(driver)
    page = Page(driver, path)
    assert page.js("return window.innerWidth") == width
    return page


@pytest.fixture(scope="module")
def page(report_file, tmp_path_factory):
    p = open_report(report_file[0], tmp_path_factory, 1400)
    try:
        yield p
    finally:
        p.driver.quit()


@pytest.fixture(scope="module")
def phone(report_file, tmp_path_factory):
    p = open_report(report_file[0], tmp_path_factory, 400)
    try:
        yield p
    finally:
        p.driver.quit()


def show_view(page: Page, view: str) -> None:
    """Press a range button above the chart and wait for the labels to be laid out again."""
    page.js(f"document.querySelector('#views button[data-view=\"{view}\"]').click()")
    wait_laid_out(page.driver)
    assert page.js("return document.querySelector('#views [aria-pressed=true]').dataset.view") \
        == view


def test_chart_drew_with_marks_that_have_size(page, report_file, tmp_path):
    assert page.js("return document.body.getAttribute('data-chart')") == "ready"
    box = page.driver.find_element(By.CSS_SELECTOR, "#chart .main-svg").rect
    assert box["width"] > 600 and box["height"] > 400
    n_items = page.js("return JSON.parse(document.getElementById('report-data')"
                      ".textContent).items.length")
    points = page.driver.find_elements(By.CSS_SELECTOR,
                                       "#chart .scatterlayer .trace[class*='traceev-'] path.point")
    assert len(points) == n_items == 19
    sizes = page.js("return Array.from(arguments[0]).map(p => p.getBBox())"
                    ".map(b => [b.width, b.height])", points)
    assert all(w > 0 and h > 0 for w, h in sizes)
    bars = page.js("return Array.from(document.querySelectorAll('#chart .barlayer .point path'))"
                   ".map(p => p.getBBox()).filter(b => b.width > 0 && b.height > 0).length")
    assert bars >= 5
    shot = tmp_path / "report.png"
    page.driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    # The poll ran days before the claim: outside the first view, drawn in "all items".
    show_view(page, "all")
    lines = page.js("return Array.from(document.querySelectorAll("
                    "'#chart .scatterlayer .trace[class*=\"tracepoll-\"] path.js-line'))"
                    ".map(p => p.getTotalLength())")
    assert len(lines) == 2 and all(length > 10 for length in lines)
    show_view(page, "span")
    page.assert_clean()


LEGEND_OF_MARKS = """
const legend = {};
document.querySelectorAll(arguments[0] + ' .legend-entry').forEach(t => {
  legend[t.querySelector('.legend-label').textContent] =
      getComputedStyle(t.querySelector('.mark')).backgroundColor;
});
const items = JSON.parse(document.getElementById('report-data').textContent).items;
const marks = [];
document.querySelectorAll('#chart .scatterlayer .trace[class*="traceev-"]').forEach(g => {
  const trace = g.__data__[0].trace;          // plotly's own binding of the marks to the data
  g.querySelectorAll('path.point').forEach(p => {
    const item = items[trace.customdata[p.__data__.i]];
    marks.push({event: item.event, fill: getComputedStyle(p).fill, text: item.text});
  });
});
return {legend, marks};
"""


def test_legend_names_the_colours_of_the_marks(page):
    got = page.js(LEGEND_OF_MARKS, "#chart-legend [data-group=events]")
    legend, marks = got["legend"], got["marks"]
    # The legend lists exactly the event types present, each in the mapping's colour …
    present = {m["event"] for m in marks}
    assert legend == {EVENT_STYLES[e].label: rgb(EVENT_STYLES[e].color) for e in present}
    # … and every mark has the colour its event type's legend entry shows.
    for m in marks:
        assert m["fill"] == legend[EVENT_STYLES[m["event"]].label], m
    # Claims and press reports of them must never share a colour (a peer's swapped legend).
    assert legend["claim"] != legend["press: reports the claim"]
    assert {m["event"] for m in marks if m["text"].startswith("As I wrote")} == {"claim"}
    # The stance legend matches the stacked bars the same way.
    bars = page.js("""
        const out = {};
        document.querySelectorAll('#chart .barlayer .trace').forEach(g => {
          const t = g.__data__[0].trace;
          out[t.name] = Array.from(g.querySelectorAll('.point path'))
                             .map(p => getComputedStyle(p).fill);
        });
        const legend = {};
        document.querySelectorAll('#chart-legend [data-group=stances] .legend-entry').forEach(t => {
          legend[t.querySelector('.legend-label').textContent] =
              getComputedStyle(t.querySelector('.mark')).backgroundColor;
        });
        return {out, legend};""")
    assert bars["legend"] and set(bars["legend"]) == set(bars["out"])
    for stance, fills in bars["out"].items():
        assert set(fills) == {bars["legend"][stance]} == {rgb(STANCE_STYLES[stance].color)}
    # A legend entry hides and shows its marks (it is a button: keyboard too).
    toggle = """const b = document.querySelector('#chart-legend [data-uid="ev-reply"]');
        b.click();
        const gd = document.getElementById('chart');
        const t = gd.data.find(t => t.uid === 'ev-reply');
        return [b.getAttribute('aria-pressed'), t.visible === undefined ? true : t.visible,
                gd.querySelectorAll('.scatterlayer .traceev-reply path.point').length];"""
    assert page.js(toggle) == ["false", False, 0]
    assert page.js(toggle) == ["true", True, 8]
    # The table's swatches use the same colours.
    swatches = page.js("""return Array.from(document.querySelectorAll(
        '#timeline-table tbody tr')).map(r => [r.dataset.event,
        getComputedStyle(r.querySelector('.swatch')).backgroundColor])""")
    assert len(swatches) == 19
    for event, color in swatches:
        assert color == rgb(EVENT_STYLES[event].color)
    page.assert_clean()


def _rows(page, table: str) -> list[list[str]]:
    return page.js(f"""return Array.from(document.querySelectorAll('#{table} tbody tr'))
        .map(r => Array.from(r.children).map(c => c.textContent.trim()))""")


def test_tables_have_the_expected_rows(page, report_file):
    _, ids = report_file
    firsts = _rows(page, "firsts-table")
    assert [(r[0], r[1]) for r in firsts] == [
        ("first claim", "2022-10-11 12:10 UTC"),
        ("first press report of the claim", "2022-10-11 13:05 UTC"),
        ("first denial", "2022-10-11 13:40 UTC"),
        ("first press report of the denial", "2022-10-11 15:30 UTC"),
        ("first rebuttal", "2022-10-11 14:25 UTC")]
    assert firsts[0][2] == "@ianbremmer" and firsts[3][2] == "businessinsider.com"
    assert [r[1] for r in _rows(page, "lags-table")] == ["55 min", "1 h 30 min", "1 h 50 min",
                                                        "45 min"]
    assert _rows(page, "press-table") == [
        ["vice.com", "2022-10-11 13:05 UTC", "no", "—", "—"],
        ["businessinsider.com", "2022-10-11 13:20 UTC", "yes", "2022-10-11 15:30 UTC",
         "2 h 10 min"]]
    rows = page.js("""return Array.from(document.querySelectorAll('#timeline-table tbody tr'))
        .map(r => ({id: r.id, event: r.dataset.event, time: r.cells[0].textContent.trim(),
                    label: r.cells[5].textContent.trim(),
                    links: Array.from(r.querySelectorAll('a')).map(a => a.href)}))""")
    assert len(rows) == 19
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    assert all(len(r["links"]) == 1 and r["links"][0].startswith("https://") for r in rows)
    assert {r["event"] for r in rows} == {"poll", "reply", "claim", "mention",
                                          "coverage_of_claim", "denial", "rebuttal",
                                          "coverage_of_denial", "coverage_of_rebuttal"}
    claim = next(r for r in rows if r["event"] == "claim")
    assert claim["links"] == [f"https://x.com/i/web/status/{ids['claim']}"]
    assert [r["label"] for r in rows].count("analyst ✎") == 1
    poll = _rows(page, "polls .poll-table")
    assert poll == [["Yes", "1,064,010", "40.8 %"], ["No", "1,542,321", "59.2 %"]]
    page.assert_clean()


HOVER = """
const gd = document.getElementById('chart');
const items = JSON.parse(document.getElementById('report-data').textContent).items;
const c = gd.data.findIndex(t => t.uid === 'ev-reply');
const p = gd.data[c].customdata.findIndex(n => items[n].text.includes(arguments[0]));
Plotly.Fx.hover(gd, [{curveNumber: c, pointNumber: p}]);
const label = document.querySelector('#chart .hoverlayer .hovertext');
return label ? label.textContent : '';
"""


def hover(page, needle: str) -> str:
    """Hover the reply whose text contains needle; the label's text (Plotly throttles hover,
    so retry until the label is that reply's)."""
    label = ""

    def shown(driver):
        nonlocal label
        label = driver.execute_script(HOVER, needle)
        return needle in label

    WebDriverWait(page.driver, 10, poll_frequency=0.1).until(shown)
    return label


def test_injected_markup_shows_as_text_and_never_runs(page):
    assert page.js("return typeof window.__pwned") == "undefined"
    cells = page.js("""return Array.from(document.querySelectorAll('#timeline-table td.text'))
        .filter(c => c.textContent.indexOf('__pwned') >= 0)
        .map(c => [c.textContent, c.querySelectorAll('script, img').length,
                   c.getBoundingClientRect().height])""")
    assert len(cells) == 1
    text, elements, height = cells[0]
    assert text == HOSTILE and elements == 0 and height > 0
    assert page.js("return document.querySelectorAll('img').length") == 0
    # Its hover label shows the same text, literally (and so do quotes and ampersands).
    label = hover(page, "__pwned")
    assert "<script>window.__pwned=1</script><img src=x" in label
    assert 'onerror="window.__pwned=2">' in label
    assert "Bremmer & Musk can't both" in hover(page, "Bremmer &")
    assert page.js("return typeof window.__pwned") == "undefined"
    page.assert_clean()


def test_clicking_a_marker_shows_its_text_evidence_and_link(page, report_file):
    _, ids = report_file
    page.js("Plotly.Fx.unhover(document.getElementById('chart'))")
    point = page.driver.find_element(By.CSS_SELECTOR, "#chart .traceev-claim path.point")
    ActionChains(page.driver).move_to_element(point).click().perform()
    WebDriverWait(page.driver, 10).until(
        lambda d: not d.execute_script("return document.getElementById('details').hidden"))
    got = page.js("""const t = id => document.getElementById(id).textContent;
        return {event: t('details-event'), time: t('details-time'), text: t('details-text'),
                evidence: t('details-evidence'), href: document.getElementById('details-link').href,
                row: document.querySelector('#timeline-table tr.hl').id,
                selected: document.body.dataset.selected}""")
    assert got["event"] == "claim" and got["time"] == "2022-10-11 12:10 UTC"
    assert got["text"].startswith("As I wrote to our clients: Elon Musk told me")
    assert got["evidence"].startswith("claimant's post; matched Putin")
    assert got["href"] == f"https://x.com/i/web/status/{ids['claim']}"
    assert got["row"] == f"item-{got['selected']}"
    page.assert_clean()


def test_no_console_errors_and_nothing_fetched(page):
    page.assert_clean()
    # The page forbids fetching anything and pins its scripts: a CSP is in force.
    policy = page.js("return document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]')"
                     ".content")
    assert "default-src 'none'" in policy and "connect-src 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    # Nothing in the file points at another host for its own resources.
    html = page.path.read_text(encoding="utf-8")
    assert "<script src" not in html and "<link" not in html


# --- read at a glance: framing, labels, ticks, phone width, slides ---------------------------

AXIS_RANGE = "return document.getElementById('chart')._fullLayout.xaxis.range.map(String)"


def test_first_view_frames_the_claim_and_its_answers(page):
    """Claim 12:10, the last answer (the second denial) 17:05: the chart opens on that span with
    a margin (8 % of it each side), not on the month-long window."""
    lo, hi = (s[:16] for s in page.js(AXIS_RANGE))
    assert (lo, hi) == ("2022-10-11 11:46", "2022-10-11 17:28")
    assert page.js("return document.querySelector('#views [aria-pressed=true]').dataset.view") \
        == "span"
    assert page.js("return Array.from(document.querySelectorAll('#views button'))"
                   ".map(b => b.textContent)") == [
        "claim to last answer", "24 h from the first claim", "all items", "whole window"]
    show_view(page, "window")
    lo, hi = (s[:10] for s in page.js(AXIS_RANGE))
    assert (lo, hi) == ("2022-10-01", "2022-11-01")
    show_view(page, "span")
    page.assert_clean()


LAYOUT_BOXES = """
const gd = document.getElementById('chart');
const rect = el => { const r = el.getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
const labels = Array.from(gd.querySelectorAll('.infolayer g.annotation'))
  .filter(g => g.getBoundingClientRect().width > 0)
  .map(g => ({name: gd.layout.annotations[Number(g.dataset.index)].name,
              text: g.textContent, box: rect(g)}));
const plot = gd._fullLayout.xaxis;
const left = gd.getBoundingClientRect().left + gd._fullLayout._size.l;
const marks = Array.from(gd.querySelectorAll('.scatterlayer .trace[class*="traceev-"] path.point'))
  .map(rect).filter(b => (b.left + b.right) / 2 >= left
                         && (b.left + b.right) / 2 <= left + plot._length);
const obstacles = Array.from(document.querySelectorAll('#chart .modebar, #views'))
  .filter(el => el.getBoundingClientRect().width > 0)
  .map(el => ({name: el.className || el.id, box: rect(el)}));
return {labels, marks, obstacles, chart: rect(gd), width: window.innerWidth};
"""


def _overlap(a: dict, b: dict) -> bool:
    """Boxes that share more than half a pixel both ways."""
    return (min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.5
            and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5)


def assert_labels_apart(page: Page) -> list[dict]:
    """No two chart labels overlap, none overlaps a marker, the toolbar or the range buttons,
    and each lies whole inside the chart and the window. Returns the labels."""
    got = page.js(LAYOUT_BOXES)
    labels, chart = got["labels"], got["chart"]
    assert len(labels) >= 4
    for k, a in enumerate(labels):
        box = a["box"]
        assert chart["left"] - 0.5 <= box["left"] and box["right"] <= chart["right"] + 0.5, a
        assert 0 <= box["left"] and box["right"] <= got["width"], a
        assert chart["top"] - 0.5 <= box["top"], a
        for b in labels[k + 1:]:
            assert not _overlap(box, b["box"]), (a, b)
        for o in got["obstacles"]:
            assert not _overlap(box, o["box"]), (a, o)
        for m in got["marks"]:
            assert not _overlap(box, m), (a, m)
    return labels


MILESTONE_LABELS = {
    "first:claim": "first claim 12:10",
    "first:claim_press": "claim in the press 13:05 (+55 min)",
    "first:denial": "first denial 13:40 (+1 h 30 min)",
    "first:denial_press": "denial in the press 15:30 (+1 h 50 min)",
    "first:rebuttal": "first rebuttal 14:25 (+45 min)",
}


@pytest.mark.parametrize("width", [1400, 400])
def test_labels_never_overlap_at_any_width_in_any_view(width, request):
    p = request.getfixturevalue("page" if width == 1400 else "phone")
    labels = assert_labels_apart(p)
    # The first view shows every milestone's label and every lane's name.
    shown = {a["name"]: a["text"] for a in labels}
    assert {k: shown.get(k) for k in MILESTONE_LABELS} == MILESTONE_LABELS
    assert [shown.get(f"lane:{k}") for k in range(4)] == [
        "@ianbremmer · claimant", "@elonmusk · subject", "others (replies, mentions)", "press"]
    # Close milestones (the rebuttal 14:25 and the claim's press report 13:05 sit near others)
    # are on separate rows when they would touch: rows differ by whole label heights.
    for view in ("day", "all", "window", "span"):
        show_view(p, view)
        assert_labels_apart(p)
    p.assert_clean()


def test_count_axes_tick_at_whole_numbers(page):
    for view in ("span", "all"):
        show_view(page, view)
        ticks = page.js("return Array.from(document.querySelectorAll('#chart g.y2tick text'))"
                        ".map(t => t.textContent)")
        assert ticks and all(t.isdigit() for t in ticks), ticks
        assert ticks[0] == "0" and len(set(ticks)) == len(ticks)
    assert page.js("return document.getElementById('chart').layout.yaxis2.dtick") == 1
    page.assert_clean()


def test_phone_width_reads_without_sideways_scrolling(phone, tmp_path):
    p = phone
    assert p.js("return document.documentElement.scrollWidth") <= 400
    geo = p.js("""const gd = document.getElementById('chart'), fl = gd._fullLayout;
        const r = el => el.getBoundingClientRect().toJSON();
        return {events: fl.yaxis._length, plotWidth: fl.xaxis._length, svg: r(gd),
                legend: r(document.getElementById('chart-legend')),
                entries: Array.from(document.querySelectorAll('#chart-legend .legend-entry'))
                  .map(r)}""")
    assert geo["events"] >= 4 * 50 and geo["svg"]["height"] >= 600     # lanes readable
    assert geo["plotWidth"] >= 300                                      # time gets the width
    # The legend is below the chart, whole: every entry inside the window.
    assert geo["legend"]["top"] >= geo["svg"]["bottom"] - 1
    assert len(geo["entries"]) == 9 + 4 + 2
    assert all(0 <= e["left"] and e["right"] <= 400 and e["height"] < 40
               for e in geo["entries"])
    # Tables wrap: the firsts are short cards, not 650 px columns; nothing wider than the window.
    rows = p.js("""return Array.from(document.querySelectorAll('#firsts-table tbody tr'))
        .map(r => r.getBoundingClientRect().toJSON())""")
    assert len(rows) == 5
    assert all(20 < r["height"] <= 160 and r["right"] <= 400 for r in rows), rows
    widest = p.js("""return Math.max(...Array.from(document.querySelectorAll(
        'table, table tr, #details, header, footer, #views, #chart-legend'))
        .map(e => e.getBoundingClientRect().right))""")
    assert widest <= 400
    # An event's details (long ids and links) do not widen the page either.
    p.js("Plotly.Fx.unhover(document.getElementById('chart'))")
    point = p.driver.find_element(By.CSS_SELECTOR, "#chart .traceev-rebuttal path.point")
    ActionChains(p.driver).move_to_element(point).click().perform()
    WebDriverWait(p.driver, 10).until(
        lambda d: not d.execute_script("return document.getElementById('details').hidden"))
    assert p.js("return document.documentElement.scrollWidth") <= 400
    p.driver.save_screenshot(str(tmp_path / "phone.png"))
    p.assert_clean()


def test_no_sideways_scrolling_from_phone_to_wide_screen(report_file, tmp_path_factory):
    """Between the two widths tested in detail: the legend's and the tables' breakpoints."""
    from tests.report.sample import NO_POLL_STORY, STORY
    from tracker.config import parse_config
    from tracker.report import write_all

    db = report_file[0].parent / "sample.duckdb"
    cfg = parse_config({"storage": {"database": str(db)}, "stories": [STORY, NO_POLL_STORY]})
    index = write_all(cfg, tmp_path_factory.mktemp("widths")).path
    p = open_report(report_file[0], tmp_path_factory, 1400)
    try:
        for width in (320, 640, 700, 900, 1000, 1150, 1200):
            for path, chart in ((report_file[0], True), (index, False)):
                p.driver.set_window_size(width, 1000)
                p.driver.get(path.as_uri())
                inner = p.js("return window.innerWidth")
                if inner != width:
                    p.driver.set_window_size(2 * width - inner, 1000)
                    p.driver.get(path.as_uri())
                if chart:
                    wait_laid_out(p.driver)
                    assert_labels_apart(p)
                assert p.js("return window.innerWidth") == width
                assert p.js("return document.documentElement.scrollWidth") <= width, \
                    (path.name, width)
        p.assert_clean()
    finally:
        p.driver.quit()


@pytest.fixture(scope="module")
def slide(report_file, tmp_path_factory):
    p = open_report(report_file[0], tmp_path_factory, 1400, SLIDE)   # what --png opens
    try:
        yield p
    finally:
        p.driver.quit()


def test_slide_view_has_no_toolbar_and_no_buttons(slide):
    assert slide.js("return document.body.classList.contains('slide')")
    visible = slide.js("""return Array.from(document.querySelectorAll(
        '.modebar, .modebar-btn, #views, button, .hint, #firsts, #timeline, footer'))
        .filter(e => e.getBoundingClientRect().width > 0 && !e.closest('#chart-legend'))
        .map(e => e.className || e.id || e.tagName)""")
    assert visible == []
    assert slide.js("return document.querySelectorAll('#chart .modebar-btn').length") == 0
    labels = assert_labels_apart(slide)
    assert {a["name"] for a in labels} >= set(MILESTONE_LABELS)
    # The height the page reports (png.py sizes the picture with it) is all of it.
    height = slide.js("return Number(document.body.dataset.pageHeight)")
    assert height == slide.js("return document.documentElement.scrollHeight")
    assert 700 < height < 1400
    slide.assert_clean()


def test_png_option_screenshots_the_header_and_chart(report_file, slide, tmp_path):
    _browser_paths()
    path, _ = report_file
    db = path.parent / "sample.duckdb"
    result = write_report(db, STORY_ID, tmp_path / "r.html", png=tmp_path / "r.png")
    head = result.png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    # The slide view (no toolbar, no buttons: the test above), whole and no taller.
    assert width == 1400
    assert abs(height - slide.js("return Number(document.body.dataset.pageHeight)")) <= 2


@pytest.mark.parametrize("width", [1400, 400])
def test_index_of_stories_reads_on_any_width_and_links_to_the_reports(width, report_file,
                                                                       tmp_path_factory):
    from tests.report.sample import EMPTY_STORY, NO_POLL_STORY, STORY
    from tracker.config import parse_config
    from tracker.report import write_all

    db = report_file[0].parent / "sample.duckdb"
    cfg = parse_config({"storage": {"database": str(db)},
                        "stories": [STORY, NO_POLL_STORY, EMPTY_STORY]})
    out = tmp_path_factory.mktemp("all")
    index = write_all(cfg, out).path
    p = open_report(index, tmp_path_factory, width, chart=False)
    try:
        assert p.js("return document.documentElement.scrollWidth") <= width
        rows = p.js("""return Array.from(document.querySelectorAll('#stories-table tbody tr'))
            .map(r => r.getBoundingClientRect().toJSON())""")
        assert len(rows) == 3 and all(r["right"] <= width for r in rows)
        if width == 400:
            assert all(r["height"] < 330 for r in rows), rows
        cells = p.js("""return Array.from(document.querySelectorAll(
            '#story-musk-putin-call td.milestone')).map(c => c.textContent.trim())""")
        assert cells[0] == "2022-10-11 12:10 UTC"
        assert cells[2] == "2022-10-11 13:40 UTC1 h 30 min after the claim"
        links = p.js("return Array.from(document.querySelectorAll('#stories-table a'))"
                     ".map(a => a.href)")
        assert links == [(out / f).as_uri() for f in ("musk-putin-call.html", "no-poll.html",
                                                       "empty.html")]
        p.driver.find_element(By.CSS_SELECTOR, "#story-musk-putin-call a").click()
        WebDriverWait(p.driver, 30).until(lambda d: d.current_url.endswith("musk-putin-call.html"))
        wait_laid_out(p.driver)
        assert p.js("return document.body.dataset.chart") == "ready"
        assert p.js("return document.documentElement.scrollWidth") <= width
        p.assert_clean()
    finally:
        p.driver.quit()

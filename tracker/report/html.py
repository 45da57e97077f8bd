"""Render a story report as one self-contained HTML file.

Everything the page needs is inside it: the styles, the vendored plotly.js, the page's own
script and the data (JSON in a `<script type="application/json">` block, read with JSON.parse).
Nothing is fetched when it is viewed, and a Content-Security-Policy forbids fetching anything:
only the file's own two scripts (pinned by their SHA-256) may run, inline event handlers may not.

Untrusted text (posts, articles, poll options, evidence) is escaped by Jinja2's autoescaping in
the tables, escaped by charts.esc in the chart's hover labels, and set with textContent by the
page's script; URLs are linked only when they are http(s).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import lru_cache
from importlib import resources

import jinja2

from tracker import __version__
from tracker.report.charts import figure
from tracker.report.colors import EVENT_STYLES, STANCE_STYLES, event_style
from tracker.report.data import ReportData
from tracker.report.timefmt import TimeFormat, window_label
from tracker.report.view import (firsts_rows, lag_rows, lanes_and_items, person_rows, poll_rows,
                                 press_rows)

PLOTLY_FILE = "plotly-basic.min.js"


@lru_cache(maxsize=None)
def _asset(*parts: str) -> str:
    return resources.files("tracker.report").joinpath(*parts).read_text(encoding="utf-8")


def plotly_version() -> str:
    m = re.search(r"plotly\.js \(basic - minified\) v([\w.\-]+)", _asset("vendor", PLOTLY_FILE))
    return m.group(1) if m else "?"


def inline_script(js: str) -> str:
    """JS safe to put between <script> tags: no '</script' or '<!--' can end or bend it."""
    return re.sub(r"<(/script|!--)", r"<\\\1", js, flags=re.I)


def json_block(payload) -> str:
    """JSON for a <script type="application/json"> block: '<', '>' and '&' as \\u escapes, so
    no text inside can close the block or open a comment; JSON.parse reads it back unchanged."""
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def csp(*scripts: str) -> str:
    return ("default-src 'none'; script-src "
            + (" ".join(_sha256(s) for s in scripts) or "'none'")
            + "; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
            "connect-src 'none'; base-uri 'none'; form-action 'none'")


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("tracker.report", "templates"),
        autoescape=True,                       # every {{ }} is escaped unless marked safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)


def _details_item(it: dict) -> dict:
    keys = ("n", "time", "event", "event_label", "color", "stance", "who", "role", "source",
            "text", "url", "evidence", "rule", "confidence", "labeled_by", "deleted",
            "item_kind", "item_id", "clock")
    return {k: it[k] for k in keys}


def render_html(data: ReportData, tz: str = "UTC") -> str:
    """The report of one story as an HTML document (a str)."""
    tf = TimeFormat(tz)
    lanes, items = lanes_and_items(data, tf)
    fig = figure(data, lanes, items, tf)
    chart_legend = fig.pop("legend") if fig else []     # drawn by the template (escaped there)
    payload = {"story_id": data.story_id, "zone": tf.name, "figure": fig,
               "items": [_details_item(i) for i in items]}
    plotly_js = inline_script(_asset("vendor", PLOTLY_FILE)) if fig else ""
    report_js = inline_script(_asset("static", "report.js"))
    scripts = [s for s in (plotly_js, report_js) if s]
    used = {i["event"] for i in items}
    legend = [(k, s) for k, s in EVENT_STYLES.items() if k in used]
    legend += [(k, event_style(k)) for k in sorted(used - set(EVENT_STYLES))]
    replies_total = int(data.replies.to_numpy().sum()) if len(data.replies) else 0
    return _env().get_template("report.html.j2").render(
        d=data, tf=tf, zone=tf.description(), window=window_label(data.window_start,
                                                                   data.window_end),
        items=items, figure=fig, legend=legend, stance_styles=STANCE_STYLES,
        chart_legend=chart_legend, views=fig["views"] if fig else [],
        firsts=firsts_rows(data, items, tf), lags=lag_rows(data), press=press_rows(data, tf),
        people=person_rows(data, items, tf),
        polls=poll_rows(data, tf), replies_total=replies_total,
        data_json=json_block(payload), plotly_js=plotly_js, report_js=report_js,
        css=_asset("static", "report.css"), csp=csp(*scripts), version=__version__,
        plotly_version=plotly_version() if fig else None)

"""The story chart as a Plotly figure (plain JSON: data, layout, config), drawn in the page by
the vendored plotly.js. One time axis, up to three panels stacked on it:

  events   a lane per person (a claimant's or subject's posts on every platform), one for
           others and one for the press; a marker per event, coloured and shaped by event
           type (colors.EVENT_STYLES, also the legend)
  replies  replies per hour, stacked by stance
  poll     each option's share at each capture, per poll of the story

Plotly reads a few HTML tags in hover text and legend names, so every piece of untrusted text
put there goes through `esc` first: a post's `<script>` shows as text, never as markup.
"""

from __future__ import annotations

import html
import textwrap

import pandas as pd

from tracker.report.colors import EVENT_STYLES, STANCE_STYLES, event_style, option_color
from tracker.report.data import ReportData
from tracker.report.timefmt import TimeFormat, lag_label, window_label
from tracker.report.view import Lanes, active_span, milestones

LANE_PX, BAND_PX, GAP_PX = 58, 170, 56
# Above the panels: a strip for Plotly's toolbar, then one row of milestone labels (the page's
# script adds rows when labels would overlap); below: the time axis' ticks and title.
TOP_PX, LABEL_ROW_PX, BOTTOM_PX = 30, 18, 56
HOUR_MS = 3_600_000
_HOURS_2, _HOURS_22 = pd.Timedelta(hours=2), pd.Timedelta(hours=22)


def esc(text: str) -> str:
    """Escape text for Plotly's hover labels and legend names. Plotly reads <b>, <br>, <a …>
    and entities there; it decodes &lt; &gt; &amp; and numeric entities but not &quot;, so
    quotes become numeric entities."""
    return (html.escape(text or "", quote=False)
            .replace('"', "&#34;").replace("'", "&#39;"))


def _wrap(text: str, width: int = 70, limit: int = 400) -> str:
    text = " ".join((text or "").split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "<br>".join(esc(line) for line in textwrap.wrap(text, width)) or ""


def hover_text(item: dict) -> str:
    """The hover label of an event: what, when, who, the text, the evidence (all escaped)."""
    head = f"<b>{esc(item['event_label'])}</b>"
    if item.get("stance"):
        head += f" · stance {esc(item['stance'])}"
    when = item["time"] + (" (first seen by us; no publication date)"
                           if item.get("clock") == "first_seen_at" else "")
    lines = [head, esc(when), esc(f"{item['who']} · {item['source']}")]
    if item.get("deleted"):
        lines.append(esc(f"deleted (seen gone {item['deleted']})"))
    if item.get("text"):
        lines.append(_wrap(item["text"]))
    ev = item.get("evidence") or ""
    if item.get("labeled_by") == "analyst":
        ev += " ✎ analyst's label"
    if ev:
        lines.append("<i>evidence:</i> " + _wrap(ev, 80, 300))
    lines.append("<i>click for details and the link</i>")
    return "<br>".join(lines)


def _bands(heights: list[int]) -> list[tuple[float, float]]:
    """Vertical domains (0..1, bottom to top) for panels of these pixel heights, top first."""
    total = sum(heights) + GAP_PX * (len(heights) - 1)
    out, top = [], total
    for h in heights:
        out.append((round((top - h) / total, 4), round(top / total, 4)))
        top -= h + GAP_PX
    return out


def count_ticks(peak: int) -> dict:
    """A count axis (replies per hour) from 0 with whole-number ticks only: a step of 1, 2, 5,
    10, 20, 50 … giving at most five ticks, and a little room above the highest bar."""
    peak = max(int(peak), 1)
    step, k = 1, 0
    while peak / step > 5:
        k += 1
        step = (1, 2, 5)[k % 3] * 10 ** (k // 3)
    return {"tickmode": "linear", "tick0": 0, "dtick": step, "tickformat": "d",
            "range": [0, round(peak * 1.12 + 0.05, 2)]}


def _short_time(tf: TimeFormat, at, day) -> str:
    """'12:10' on the day of the first milestone, 'Oct 12 09:00' on another day."""
    local = tf.local(at)
    return local.strftime("%H:%M") if local.date() == day else local.strftime("%b %-d %H:%M")


def milestone_marks(data: ReportData, tf: TimeFormat) -> tuple[list[dict], list[dict]]:
    """A dotted guide across every panel and a label above the chart at each milestone (first
    claim, its first press report, first denial, …). The labels start on one row; the page's
    script moves them apart (report.js, placeLabels), so they never overlap at any width."""
    marks = milestones(data)
    shapes, labels = [], []
    day = tf.local(marks[0]["at"]).date() if marks else None
    for m in marks:
        at = tf.axis(m["at"])
        color = event_style(m["event"]).color
        text = f"{m['label']} {_short_time(tf, m['at'], day)}"
        hover = f"{m['label']}: {tf.label(m['at'])}"
        if m["lag"] is not None:
            text += f" (+{lag_label(m['lag'])})"
            hover += f", {lag_label(m['lag'])} after {m['since']}"
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": at, "x1": at,
                       "y0": 0, "y1": 1, "name": f"guide:{m['key']}",
                       "line": {"color": color, "width": 1.2, "dash": "dot"}})
        # The guide's continuation up to its label, however many rows up the label goes
        # (report.js sets its length in pixels).
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "ysizemode": "pixel",
                       "yanchor": 1, "x0": at, "x1": at, "y0": 0, "y1": 0,
                       "name": f"tick:{m['key']}",
                       "line": {"color": color, "width": 1.2, "dash": "dot"}})
        labels.append({"name": f"first:{m['key']}", "x": at, "xref": "x", "y": 1,
                       "yref": "paper", "xanchor": "center", "yanchor": "bottom",
                       "yshift": 0, "xshift": 0, "text": esc(text), "hovertext": esc(hover),
                       "showarrow": False, "bgcolor": "rgba(255,255,255,0.9)",
                       "borderpad": 1, "font": {"size": 11, "color": _darker(color)}})
    return shapes, labels


def _darker(color: str) -> str:
    """The colour darkened enough to read as text on white (yellow labels otherwise vanish)."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    f = min(1.0, 120 / lum) if lum else 1.0
    return "#{:02x}{:02x}{:02x}".format(*(int(c * f) for c in (r, g, b)))


def _span(values) -> list[str] | None:
    values = [v for v in values if v]
    return [min(values), max(values)] if values else None


def figure(data: ReportData, lanes: Lanes, items: list[dict], tf: TimeFormat) -> dict | None:
    """The chart as {data, layout, config, views, legend, extents}, or None when the story has
    no items. `views` are the time ranges the page offers as buttons (the first is the chart's
    first view), `legend` the legend the page draws below or beside the chart, `extents` each
    lower panel's time span (the page says so when a view shows none of it)."""
    if not items:
        return None
    replies = data.replies
    has_replies = len(replies) > 0 and int(replies.to_numpy().sum()) > 0
    polls = [p for p in data.polls if not p.series.empty]
    panels = ["events"] + (["replies"] if has_replies else []) + (["poll"] if polls else [])
    heights = [max(3, len(lanes.names)) * LANE_PX] + [BAND_PX] * (len(panels) - 1)
    bands = dict(zip(panels, _bands(heights)))
    axis_of = {name: ("y" if k == 0 else f"y{k + 1}") for k, name in enumerate(panels)}
    bottom = axis_of[panels[-1]]
    legend: list[dict] = []

    traces: list[dict] = []
    entries: list[dict] = []
    for event_type, style in [*EVENT_STYLES.items(), (None, None)]:
        if event_type is None:       # labels outside the known set (an analyst's typo…)
            group = [i for i in items if i["event"] not in EVENT_STYLES]
            if not group:
                continue
            style = event_style(group[0]["event"])
            uid = "ev-other"
        else:
            group = [i for i in items if i["event"] == event_type]
            uid = f"ev-{event_type}"
        if not group:
            continue
        small = event_type == "reply"
        traces.append({
            "type": "scatter", "mode": "markers", "uid": uid, "name": esc(style.label),
            "showlegend": False, "xaxis": "x", "yaxis": "y",
            "x": [i["at"] for i in group], "y": [lanes.y(i["lane"]) for i in group],
            "customdata": [i["n"] for i in group],
            "hovertext": [hover_text(i) for i in group], "hoverinfo": "text",
            "marker": {"color": style.color, "symbol": style.symbol, "size": 8 if small else 14,
                       "opacity": 0.75 if small else 1,
                       "line": {"color": "#333333", "width": 0.5 if small else 1}},
        })
        entries.append({"uid": uid, "label": style.label, "color": style.color,
                        "symbol": style.symbol})
    legend.append({"id": "events", "title": "event (marker colour and shape)",
                   "entries": entries})

    extents: dict[str, list[str] | None] = {}
    layout_extra: dict = {}
    if has_replies:
        y2 = axis_of["replies"]
        entries = []
        for stance, style in STANCE_STYLES.items():
            if stance not in replies.columns or int(replies[stance].sum()) == 0:
                continue
            col = replies[stance]
            traces.append({
                "type": "bar", "uid": f"st-{stance}", "name": esc(style.label),
                "showlegend": False, "xaxis": "x", "yaxis": y2,
                "x": [tf.axis(t) for t in col.index], "y": [int(v) for v in col.to_numpy()],
                "width": [HOUR_MS] * len(col), "offset": 0,
                "marker": {"color": style.color, "line": {"width": 0}},
                "hovertext": [esc(f"{int(v)} {stance} replies, hour from {tf.label(t)}")
                              for t, v in col.items()],
                "hoverinfo": "text",
            })
            entries.append({"uid": f"st-{stance}", "label": style.label,
                            "color": style.color, "symbol": "square"})
        legend.append({"id": "stances", "title": "reply stance (replies per hour)",
                       "entries": entries})
        hours = [t for t, total in replies.sum(axis=1).items() if total > 0]
        extents[y2] = _span([tf.axis(min(hours)), tf.axis(max(hours) + pd.Timedelta(hours=1))])
        layout_extra["y" + "axis" + y2[1:]] = {
            "domain": list(bands["replies"]), "anchor": "x", "fixedrange": True,
            "title": {"text": "replies / hour"}, "automargin": True, "gridcolor": "#eeeeee",
            **count_ticks(replies.sum(axis=1).max())}

    if polls:
        y3 = axis_of["poll"]
        entries = []
        for k, poll in enumerate(polls, 1):
            prefix = f"poll {k}: " if len(polls) > 1 else ""
            for pos, opt in poll.series.groupby("position", sort=True):
                label = str(opt["label"].iloc[0])
                traces.append({
                    "type": "scatter", "mode": "lines+markers", "uid": f"poll-{k}-{pos}",
                    "name": esc(prefix + label), "showlegend": False,
                    "xaxis": "x", "yaxis": y3,
                    "x": [tf.axis(t) for t in opt["captured_at"]],
                    "y": [None if s != s else round(100 * float(s), 1) for s in opt["share"]],
                    "line": {"color": option_color(int(pos)), "width": 2},
                    "marker": {"color": option_color(int(pos)), "size": 7},
                    "hovertext": [esc(f"{prefix}{label}: {100 * float(s):.1f} % "
                                      f"({int(v)} votes, {st}) at {tf.label(t)}")
                                  if s == s else esc(f"{label}: no votes yet")
                                  for t, s, v, st in zip(opt["captured_at"], opt["share"],
                                                         opt["votes"].fillna(0),
                                                         opt["voting_status"].fillna(""))],
                    "hoverinfo": "text",
                })
                entries.append({"uid": f"poll-{k}-{pos}", "label": prefix + label,
                                "color": option_color(int(pos)), "symbol": "line"})
        legend.append({"id": "poll", "title": "poll option (share of votes)",
                       "entries": entries})
        extents[y3] = _span([tf.axis(t) for p in polls for t in p.series["captured_at"]])
        layout_extra["y" + "axis" + y3[1:]] = {
            "domain": list(bands["poll"]), "anchor": "x", "fixedrange": True,
            "title": {"text": "poll share %"}, "range": [0, 100], "automargin": True,
            "ticksuffix": "%", "gridcolor": "#eeeeee", "dtick": 25}

    views = _views(data, items, tf)
    zone = "UTC" if tf.is_utc else tf.name
    shapes, labels = milestone_marks(data, tf)
    top = TOP_PX + (LABEL_ROW_PX if labels else 0)
    layout: dict = {
        "height": sum(heights) + GAP_PX * (len(heights) - 1) + top + BOTTOM_PX,
        "margin": {"l": 10, "r": 12, "t": top, "b": BOTTOM_PX, "autoexpand": True},
        "showlegend": False,
        "hovermode": "closest",
        "hoverlabel": {"align": "left", "namelength": -1},
        "plot_bgcolor": "#ffffff", "paper_bgcolor": "#ffffff",
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                 "size": 12},
        "barmode": "stack", "bargap": 0,
        "xaxis": {"type": "date", "anchor": bottom, "title": {"text": f"time ({zone})"},
                  "range": views[0]["range"], "autorange": False,
                  "showgrid": True, "gridcolor": "#e6e6e6", "showspikes": True,
                  "spikemode": "across", "spikethickness": 1, "spikecolor": "#888888",
                  "automargin": True},
        # Lanes are named inside the chart (above each lane's markers), not by tick labels
        # beside it: the time axis keeps the page's whole width, on a phone too.
        "yaxis": {"domain": list(bands["events"]), "fixedrange": True,
                  "tickmode": "array", "tickvals": [lanes.y(n) for n in lanes.names],
                  "showticklabels": False, "ticks": "",
                  "range": [-0.6, len(lanes.names) - 0.4], "zeroline": False,
                  "showgrid": True, "gridcolor": "#eeeeee"},
        **layout_extra,
        "shapes": shapes,
        "annotations": [*labels, *_lane_labels(lanes), *_empty_notes(panels, axis_of, bands,
                                                                      extents)],
    }
    return {
        "data": traces,
        "layout": layout,
        "config": {"displaylogo": False, "responsive": True, "showLink": False,
                   "showSendToCloud": False, "displayModeBar": True,
                   "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d",
                                              "resetScale2d"],
                   "toImageButtonOptions": {"filename": f"story-{data.story_id}",
                                            "format": "png", "scale": 2}},
        "views": views,
        "legend": legend,
        "toolbar_px": TOP_PX,
        "extents": extents,
    }


def _lane_labels(lanes: Lanes) -> list[dict]:
    """Each lane's name at its top left, inside the chart, above its markers."""
    return [{"name": f"lane:{k}", "x": 0, "xref": "paper", "xanchor": "left",
             "y": lanes.y(n) + 0.5, "yref": "y", "yanchor": "top", "yshift": 0, "borderpad": 0,
             "text": esc(n), "showarrow": False, "align": "left",
             "font": {"size": 11, "color": "#444444"}}
            for k, n in enumerate(lanes.names)]


def _empty_notes(panels, axis_of, bands, extents) -> list[dict]:
    """A note in a lower panel when the view shows none of its data (hidden until then)."""
    out = []
    for panel in panels[1:]:
        axis = axis_of[panel]
        span = extents.get(axis)
        if not span:
            continue
        what = "replies" if panel == "replies" else "poll captures"
        when = f"{_day_time(span[0])} – {_day_time(span[1])}"
        lo, hi = bands[panel]
        out.append({"name": f"empty:{axis}", "x": 0.5, "xref": "paper", "xanchor": "center",
                    "y": (lo + hi) / 2, "yref": "paper", "yanchor": "middle",
                    "text": f"no {esc(what)} in this view<br>({esc(what)}: {esc(when)})",
                    "showarrow": False, "visible": False,
                    "font": {"size": 11, "color": "#6b6b70"}})
    return out


def _day_time(axis_value: str) -> str:
    return pd.Timestamp(axis_value).strftime("%b %-d %H:%M")


def _views(data: ReportData, items: list[dict], tf: TimeFormat) -> list[dict]:
    """The time ranges offered above the chart; the first one is shown first."""
    views = []
    span = active_span(data)
    has_claim = tf.axis(data.firsts.get("first_claim_at")) is not None
    if span is not None:
        views.append({"id": "span", "range": [tf.axis(span[0]), tf.axis(span[1])],
                      "label": "claim to last answer" if has_claim else "active span",
                      "title": "From the first claim to the last denial or rebuttal "
                               "(and the first press reports), with a margin"})
    start = data.firsts.get("first_claim_at")
    start = start if has_claim else data.timeline["event_at"].min()
    views.append({"id": "day", "range": [tf.axis(start - _HOURS_2), tf.axis(start + _HOURS_22)],
                  "label": "24 h from the first " + ("claim" if has_claim else "item"),
                  "title": "From 2 hours before to 22 hours after it"})
    views.append({"id": "all", "range": None, "label": "all items",
                  "title": "Every item of the story, the poll and the replies"})
    if data.window_start is not None and data.window_end is not None:
        views.append({"id": "window", "range": [tf.axis(data.window_start),
                                                tf.axis(data.window_end)],
                      "label": "whole window", "title": "The story's window in config.yaml: "
                      + window_label(data.window_start, data.window_end)})
    return views

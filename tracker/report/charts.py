"""The story chart as a Plotly figure (plain JSON: data, layout, config), drawn in the page by
the vendored plotly.js. One time axis, up to three panels stacked on it:

  events   a lane per actor (claimant, subject, others) and one for the press; a marker per
           event, coloured and shaped by event type (colors.EVENT_STYLES, also the legend)
  replies  replies per hour, stacked by stance
  poll     each option's share at each capture, per poll of the story

Plotly reads a few HTML tags in hover text and legend names, so every piece of untrusted text
put there goes through `esc` first: a post's `<script>` shows as text, never as markup.
"""

from __future__ import annotations

import html
import textwrap

import pandas as pd

from .colors import EVENT_STYLES, STANCE_STYLES, event_style, option_color
from .data import ReportData
from .timefmt import TimeFormat
from .view import Lanes

LANE_PX, BAND_PX, GAP_PX, MARGIN_PX = 46, 170, 56, 110
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


def figure(data: ReportData, lanes: Lanes, items: list[dict], tf: TimeFormat) -> dict | None:
    """The chart as {data, layout, config}, or None when the story has no items."""
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

    traces: list[dict] = []
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
            "legend": "legend", "legendgroup": "events", "xaxis": "x", "yaxis": "y",
            "x": [i["at"] for i in group], "y": [lanes.y(i["lane"]) for i in group],
            "customdata": [i["n"] for i in group],
            "hovertext": [hover_text(i) for i in group], "hoverinfo": "text",
            "marker": {"color": style.color, "symbol": style.symbol, "size": 8 if small else 14,
                       "opacity": 0.75 if small else 1,
                       "line": {"color": "#333333", "width": 0.5 if small else 1}},
        })

    if has_replies:
        y2 = axis_of["replies"]
        for stance, style in STANCE_STYLES.items():
            if stance not in replies.columns or int(replies[stance].sum()) == 0:
                continue
            col = replies[stance]
            traces.append({
                "type": "bar", "uid": f"st-{stance}", "name": esc(style.label),
                "legend": "legend2", "xaxis": "x", "yaxis": y2,
                "x": [tf.axis(t) for t in col.index], "y": [int(v) for v in col.to_numpy()],
                "width": [HOUR_MS] * len(col), "offset": 0,
                "marker": {"color": style.color, "line": {"width": 0}},
                "hovertext": [esc(f"{int(v)} {stance} replies, hour from {tf.label(t)}")
                              for t, v in col.items()],
                "hoverinfo": "text",
            })

    if polls:
        y3 = axis_of["poll"]
        for k, poll in enumerate(polls, 1):
            prefix = f"poll {k}: " if len(polls) > 1 else ""
            for pos, opt in poll.series.groupby("position", sort=True):
                label = str(opt["label"].iloc[0])
                traces.append({
                    "type": "scatter", "mode": "lines+markers", "uid": f"poll-{k}-{pos}",
                    "name": esc(prefix + label), "legend": "legend3",
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

    zone = "UTC" if tf.is_utc else tf.name
    layout: dict = {
        "height": sum(heights) + GAP_PX * (len(heights) - 1) + MARGIN_PX,
        "margin": {"l": 10, "r": 10, "t": 60, "b": 60},
        "hovermode": "closest",
        "hoverlabel": {"align": "left", "namelength": -1},
        "plot_bgcolor": "#ffffff", "paper_bgcolor": "#ffffff",
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                 "size": 12},
        "barmode": "stack", "bargap": 0,
        "xaxis": {"type": "date", "anchor": bottom, "title": {"text": f"time ({zone})"},
                  "showgrid": True, "gridcolor": "#e6e6e6", "showspikes": True,
                  "spikemode": "across", "spikethickness": 1, "spikecolor": "#888888",
                  "automargin": True},
        "yaxis": {"domain": list(bands["events"]), "fixedrange": True, "automargin": True,
                  "tickmode": "array", "tickvals": [lanes.y(n) for n in lanes.names],
                  "ticktext": [esc(n) for n in lanes.names],
                  "range": [-0.6, len(lanes.names) - 0.4], "zeroline": False,
                  "showgrid": True, "gridcolor": "#eeeeee",
                  "title": {"text": "who"}},
        "legend": {"title": {"text": "event (marker colour)"}, "x": 1.01, "xanchor": "left",
                   "y": bands["events"][1], "yanchor": "top", "bgcolor": "rgba(0,0,0,0)"},
        "shapes": [], "annotations": [],
    }
    if has_replies:
        name = axis_of["replies"]
        layout["y" + "axis" + name[1:]] = {
            "domain": list(bands["replies"]), "anchor": "x", "fixedrange": True,
            "title": {"text": "replies / hour"}, "rangemode": "tozero", "automargin": True,
            "gridcolor": "#eeeeee"}
        layout["legend2"] = {"title": {"text": "reply stance"}, "x": 1.01, "xanchor": "left",
                             "y": bands["replies"][1], "yanchor": "top", "traceorder": "normal"}
    if polls:
        name = axis_of["poll"]
        layout["y" + "axis" + name[1:]] = {
            "domain": list(bands["poll"]), "anchor": "x", "fixedrange": True,
            "title": {"text": "poll share %"}, "range": [0, 100], "automargin": True,
            "ticksuffix": "%", "gridcolor": "#eeeeee"}
        layout["legend3"] = {"title": {"text": "poll option"}, "x": 1.01, "xanchor": "left",
                             "y": bands["poll"][1], "yanchor": "top"}

    # Quick zooms: the whole story, or the day that follows the first claim (or first item).
    start = data.firsts.get("first_claim_at")
    start = start if tf.axis(start) else data.timeline["event_at"].min()
    day0, day1 = tf.axis(start - _HOURS_2), tf.axis(start + _HOURS_22)
    layout["updatemenus"] = [{
        "type": "buttons", "direction": "right", "showactive": True, "active": 0,
        "x": 0, "xanchor": "left", "y": 1, "yanchor": "bottom", "pad": {"b": 34},
        "bgcolor": "#f3f3f5", "bordercolor": "#cccccc", "font": {"size": 11},
        "buttons": [
            {"label": "whole story", "method": "relayout",
             "args": [{"xaxis.autorange": True}]},
            {"label": "24 h from the first " + ("claim" if tf.axis(
                data.firsts.get("first_claim_at")) else "item"),
             "method": "relayout", "args": [{"xaxis.range": [day0, day1]}]},
        ]}]

    # Dotted guides at the firsts, across every panel, coloured like their events.
    for k, (label, col, event_type) in enumerate((("first claim", "first_claim_at", "claim"),
                                                  ("first denial", "first_denial_at", "denial"),
                                                  ("first rebuttal", "first_rebuttal_at",
                                                   "rebuttal"))):
        at = tf.axis(data.firsts.get(col))
        if at is None:
            continue
        color = EVENT_STYLES[event_type].color
        layout["shapes"].append({"type": "line", "xref": "x", "yref": "paper", "x0": at,
                                 "x1": at, "y0": 0, "y1": 1,
                                 "line": {"color": color, "width": 1, "dash": "dot"}})
        layout["annotations"].append({"x": at, "xref": "x", "y": 1, "yref": "paper",
                                      "yanchor": "bottom", "yshift": 13 * k, "text": label,
                                      "showarrow": False,
                                      "font": {"size": 11, "color": color}})
    return {
        "data": traces,
        "layout": layout,
        "config": {"displaylogo": False, "responsive": True, "showLink": False,
                   "showSendToCloud": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"],
                   "toImageButtonOptions": {"filename": f"story-{data.story_id}",
                                            "format": "png", "scale": 2}},
    }

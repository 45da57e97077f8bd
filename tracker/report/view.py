"""The report's rows, ready to render: one item per timeline row, the chart's lanes, the tables.

Values here are plain text (never markup): the HTML template escapes them, the chart's hover
text escapes them itself (charts.hover_text), and the page's script only ever sets textContent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pandas as pd

from tracker.report.colors import event_style
from tracker.report.data import Person, ReportData
from tracker.report.timefmt import TimeFormat, lag_label

PRESS_LANE = "press"
OTHERS_LANE = "others (replies, mentions)"


def safe_url(url) -> str | None:
    """The URL if it is http(s) and has a host; anything else (javascript:, data:, …) → None."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def _isna(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _text(value) -> str:
    return "" if _isna(value) else str(value)


def actor_lane(handle: str, role: str) -> str:
    return f"@{handle} · {role}"


def person_lane(p: Person) -> str:
    """A person's lane: '@handle · role' for a single unnamed identity, else 'Name · role ·
    platforms' (one lane for every platform the person speaks on)."""
    if not p.named:
        return actor_lane(p.identities[0].handle, p.role)
    return f"{p.person} · {p.role} · {', '.join(p.platforms)}"


@dataclass
class Lanes:
    names: list[str]                 # top to bottom

    def y(self, name: str) -> int:
        """Numeric y of a lane: the top lane has the largest value."""
        return len(self.names) - 1 - self.names.index(name)


def lanes_and_items(data: ReportData, tf: TimeFormat) -> tuple[Lanes, list[dict]]:
    """One lane per person (every platform's posts of an actor in it), one for everyone else,
    one for the press; the items with their lane."""
    people = data.people
    person_lanes = {p.person.lower(): person_lane(p) for p in people}
    account_lanes = {(a.platform, a.handle.lower()): person_lanes[p.person.lower()]
                     for p in people for a in p.identities}
    actor_lanes = {h: lane for (_, h), lane in account_lanes.items()}   # by handle alone
    names = list(dict.fromkeys(person_lanes.values()))
    extra: list[str] = []
    items = []
    for n, r in enumerate(data.timeline.itertuples(index=False)):
        kind = r.source_kind
        actor, role = _text(r.actor), _text(r.role)
        if kind == "article":
            lane = PRESS_LANE
            who = _text(r.platform_or_outlet)
            source = f"article · {who}"
        else:
            person = _text(getattr(r, "person", None))
            platform = _text(r.platform_or_outlet)
            if person and person.lower() in person_lanes:
                lane = person_lanes[person.lower()]
            elif actor and (platform, actor.lower()) in account_lanes and role:
                lane = account_lanes[(platform, actor.lower())]
            elif actor and actor.lower() in actor_lanes and role:
                lane = actor_lanes[actor.lower()]
            elif actor and role in ("claimant", "subject", "other"):
                lane = actor_lane(actor, role)
                if lane not in names and lane not in extra:
                    extra.append(lane)
            else:
                lane = OTHERS_LANE
            who = f"@{actor}" if actor else "(unknown account)"
            source = f"post on {_text(r.platform_or_outlet) or 'an unknown platform'}"
        style = event_style(r.event_type)
        conf = r.confidence
        items.append({
            "n": n,
            "item_kind": _text(r.item_kind),
            "item_id": _text(r.item_id),
            "at": tf.axis(r.event_at),
            "time": tf.label(r.event_at),
            "iso": tf.iso(r.event_at),
            "clock": _text(r.clock),
            "event": _text(r.event_type),
            "event_label": style.label,
            "color": style.color,
            "stance": _text(r.stance),
            "lane": lane,
            "who": who,
            "role": role if role != "press" else "",
            "source": source,
            "text": _text(r.text),
            "url": safe_url(r.url),
            "evidence": _text(r.evidence),
            "rule": _text(r.rule),
            "confidence": None if _isna(conf) else round(float(conf), 2),
            "labeled_by": _text(r.labeled_by) or "auto",
            "deleted": tf.label(r.deleted_at) if _text(r.deleted_at) else "",
        })
    names += extra
    if any(i["lane"] == OTHERS_LANE for i in items) or not names:
        names.append(OTHERS_LANE)
    names.append(PRESS_LANE)
    return Lanes(names), items


FIRSTS = (
    ("first claim", "first_claim_at", "first_claim_item"),
    ("first press report of the claim", "first_claim_press_at", "first_claim_press_item"),
    ("first denial", "first_denial_at", "first_denial_item"),
    ("first press report of the denial", "first_denial_press_at", "first_denial_press_item"),
    ("first rebuttal", "first_rebuttal_at", "first_rebuttal_item"),
)
LAGS = (
    ("claim → first press report", "claim_to_press"),
    ("claim → denial", "claim_to_denial"),
    ("denial → first press report of it", "denial_to_press"),
    ("denial → rebuttal", "denial_to_rebuttal"),
)


def firsts_rows(data: ReportData, items: list[dict], tf: TimeFormat) -> list[dict]:
    by_id = {}
    for it in items:
        by_id.setdefault(it["item_id"], it)
    rows = []
    for label, at_col, item_col in FIRSTS:
        item = by_id.get(_text(data.firsts.get(item_col)))
        rows.append({"label": label, "time": tf.label(data.firsts.get(at_col)),
                     "iso": tf.iso(data.firsts.get(at_col)), "item": item})
    return rows


# The story's milestones marked on the chart (a dotted guide and a label each) and listed in the
# index of stories: (key, short label, firsts column, event type whose colour it takes,
# lag column measuring it from the milestone before it, what that lag is measured from).
MILESTONES = (
    ("claim", "first claim", "first_claim_at", "claim", None, None),
    ("claim_press", "claim in the press", "first_claim_press_at", "coverage_of_claim",
     "claim_to_press", "the claim"),
    ("denial", "first denial", "first_denial_at", "denial", "claim_to_denial", "the claim"),
    ("denial_press", "denial in the press", "first_denial_press_at", "coverage_of_denial",
     "denial_to_press", "the denial"),
    ("rebuttal", "first rebuttal", "first_rebuttal_at", "rebuttal", "denial_to_rebuttal",
     "the denial"),
)


def _when(value) -> datetime | None:
    if _isna(value):
        return None
    ts = pd.Timestamp(value)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


def milestones(data: ReportData) -> list[dict]:
    """The story's milestones that happened, in MILESTONES order: key, label, at (UTC),
    event type, lag (a timedelta or None) and what the lag is measured from."""
    out = []
    for key, label, col, event, lag_col, since in MILESTONES:
        at = _when(data.firsts.get(col))
        if at is None:
            continue
        lag = data.firsts.get(lag_col) if lag_col else None
        out.append({"key": key, "label": label, "at": at, "event": event,
                    "lag": None if _isna(lag) else pd.Timedelta(lag).to_pytimedelta(),
                    "since": since})
    return out


ANSWERS = ("denial", "rebuttal")
MIN_SPAN = timedelta(hours=2)
MIN_MARGIN = timedelta(minutes=20)


def active_span(data: ReportData) -> tuple[datetime, datetime] | None:
    """The part of the story where it happens, for the chart's first view: from the first claim
    to the last answer to it (the last denial or rebuttal), stretched to take in the firsts
    (the press reports of the claim and of the denial), with a margin each side (8 % of the
    span, at least 20 min) and at least MIN_SPAN wide. Without a claim it starts at the first
    labelled event that is not a reply; None when the story has no items."""
    tl = data.timeline
    if tl.empty:
        return None
    at = tl["event_at"]
    start = _when(data.firsts.get("first_claim_at"))
    if start is None:
        key = at[~tl["event_type"].isin(("reply", "mention"))]
        start = _when((key if len(key) else at).min())
    ends = [_when(t) for t in at[tl["event_type"].isin(ANSWERS)]]
    ends += [m["at"] for m in milestones(data)]
    ends = [t for t in ends if t is not None and t >= start]
    end = max(ends, default=start)
    margin = max((end - start) * 0.08, MIN_MARGIN)
    lo, hi = start - margin, end + margin
    if hi - lo < MIN_SPAN:
        extra = (MIN_SPAN - (hi - lo)) / 2
        lo, hi = lo - extra, hi + extra
    return lo, hi


def person_rows(data: ReportData, items: list[dict], tf: TimeFormat) -> list[dict]:
    """Each person's statements made on more than one platform (person_firsts): per platform
    its first post, its time and how long after the first platform it came."""
    df = data.person_firsts
    if df is None or df.empty:
        return []
    by_id = {}
    for it in items:
        if it["item_kind"] == "post":
            by_id.setdefault(it["item_id"], it)
    rows = []
    for (person, event), group in df.groupby(["person", "event_type"], sort=False):
        if len(group) < 2:
            continue
        group = group.sort_values("platform_order")
        first = group.iloc[0]
        rows.append({
            "person": _text(person), "role": _text(first.role), "event": _text(event),
            "event_label": event_style(_text(event)).label,
            "first_platform": _text(first.platform),
            "platforms": [{"platform": _text(r.platform), "handle": _text(r.handle),
                           "time": tf.label(r.first_at), "iso": tf.iso(r.first_at),
                           "after": ("first" if r.platform_order == 1
                                     else lag_label(r.after_first)),
                           "item": by_id.get(_text(r.first_item))}
                          for r in group.itertuples(index=False)]})
    return rows


def lag_rows(data: ReportData) -> list[dict]:
    return [{"label": label, "lag": lag_label(data.firsts.get(col))} for label, col in LAGS]


def press_rows(data: ReportData, tf: TimeFormat) -> list[dict]:
    rows = []
    for r in data.press.itertuples(index=False):
        reported = False if _isna(r.reported_denial) else bool(r.reported_denial)
        # a claim report later updated with the denial: first seen with it, and the last
        # sighting without it (the update came in between); NULL columns on older databases
        updated_at = getattr(r, "claim_report_denial_at", None)
        updated = not _isna(updated_at) if updated_at is not None else False
        rows.append({"outlet": _text(r.outlet), "claim_at": tf.label(r.claim_reported_at),
                     "reported_denial": reported,
                     "denial_at": (tf.label(r.denial_reported_at)
                                   if reported and not _isna(r.denial_reported_at) else "—"),
                     "lag": lag_label(r.claim_to_denial_report) if reported else "—",
                     "updated_at": tf.label(updated_at) if updated else None,
                     "updated_after": (tf.label(r.claim_report_denial_after)
                                       if updated else None)})
    return rows


def poll_rows(data: ReportData, tf: TimeFormat) -> list[dict]:
    """The latest capture of each poll: option, votes, share."""
    out = []
    for k, p in enumerate(data.polls, 1):
        if p.series.empty:
            out.append({"k": k, "poll": p, "captured": "—", "status": "", "options": [],
                        "captures": 0})
            continue
        last_at = p.series["captured_at"].max()
        last = p.series[p.series["captured_at"] == last_at].sort_values("position")
        out.append({
            "k": k, "poll": p, "captured": tf.label(last_at),
            "status": _text(last["voting_status"].iloc[0]),
            "captures": int(p.series["captured_at"].nunique()),
            "options": [{"label": _text(o.label),
                         "votes": None if _isna(o.votes) else int(o.votes),
                         "share": "—" if _isna(o.share) else f"{100 * float(o.share):.1f} %"}
                        for o in last.itertuples(index=False)]})
    return out

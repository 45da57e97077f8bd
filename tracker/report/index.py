"""The index of stories: one page listing every configured story (title, window, a link to its
report) with its latest firsts: when the claim, the denial and the rebuttal first came, when the
press first reported the claim and the denial, and the lags between them.

`tracker report --all -o DIR` writes it as DIR/index.html beside one report per story, with a
second section: the latest denials by the tracked accounts, found without a story
(:func:`latest_denials`, tracker/analysis/denials.py), each linked to the story that holds it or
given the command that makes one (`tracker story new --from-denial PLATFORM:ID`).

The page is made of sections, each a (title, Jinja partial, rows function) in SECTIONS; to add
one (say, the latest denials across stories), write a partial under templates/index/ and a
function that turns the stories into its rows, and append a Section:

    def latest_denials(stories, tf):             # StoryEntry.data holds all a report shows
        return [...]
    SECTIONS.append(Section("denials", "Latest denials", "index/denials.html.j2",
                            latest_denials))

The partial gets `rows` (what the function returned), `stories`, `section` and `tf`. Like the
reports, the page needs no network and fetches nothing (its CSP forbids it; it has no script),
and every value is escaped by the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from tracker import __version__
from tracker.core.timeutil import utcnow
from tracker.report.data import ReportData
from tracker.report.html import _asset, _env, csp
from tracker.report.timefmt import TimeFormat, lag_label
from tracker.report.view import MILESTONES, milestones, safe_url


@dataclass
class StoryEntry:
    """One configured story as the index shows it."""

    story_id: str
    title: str
    window: str                        # "2022-10-01 – 2022-10-31": UTC dates, both included
    file: str | None                   # its report's file name in the folder; None: none written
    items: int = 0
    firsts: dict[str, dict] = field(default_factory=dict)   # key → time, iso, date, clock, lag
    note: str | None = None            # why there is no report (not analysed yet, …)
    data: ReportData | None = None     # everything gathered for its report


@dataclass(frozen=True)
class Section:
    id: str                            # the section's HTML id
    title: str
    template: str                      # a partial under templates/
    rows: Callable[[list[StoryEntry], TimeFormat], object] | None = None


# The milestones the index shows, as (key, column heading); MILESTONES says how each is found.
COLUMNS = [(key, label) for key, label, *_ in MILESTONES]

SECTIONS: list[Section] = [
    Section("stories", "Stories and their firsts", "index/stories.html.j2"),
]


def short_window(start: datetime | None, end_exclusive: datetime | None) -> str:
    """The window as UTC dates, both included ("2022-10-01 – 2022-10-31"), or with times
    when it does not end at midnight."""
    if start is None or end_exclusive is None:
        return "—"
    s, e = start.astimezone(timezone.utc), end_exclusive.astimezone(timezone.utc)
    if e.time() == datetime.min.time() and s.time() == datetime.min.time():
        return f"{s:%Y-%m-%d} – {e - timedelta(days=1):%Y-%m-%d}"
    return f"{s:%Y-%m-%d %H:%M} – {e:%Y-%m-%d %H:%M} UTC"


def entry(story_id: str, title: str, window: str, file: str | None,
          data: ReportData | None, tf: TimeFormat, note: str | None = None) -> StoryEntry:
    """A story's index entry from its gathered data (None when it could not be gathered)."""
    e = StoryEntry(story_id, title, window, file, note=note, data=data)
    if data is not None:
        e.title = data.title or title
        e.window = short_window(data.window_start, data.window_end)
        e.items = len(data.timeline)
        for m in milestones(data):
            local = tf.local(m["at"])
            e.firsts[m["key"]] = {
                "time": tf.label(m["at"]), "iso": tf.iso(m["at"]),
                "date": local.strftime("%Y-%m-%d"), "clock": local.strftime("%H:%M %Z"),
                "lag": (f"{lag_label(m['lag'])} after {m['since']}"
                        if m["lag"] is not None else "")}
    return e


# --------------------------------------------------------------------- the latest denials

LATEST_DENIALS = 30            # the index lists at most this many, newest first


@dataclass
class LatestDenials:
    """The tracked accounts' latest denials, found without a story, for the index."""

    since: datetime | None             # the range's start (7 days before the newest post)
    found: list = field(default_factory=list)      # analysis.denials.Denial, newest first
    limit: int = LATEST_DENIALS
    stories: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #        denial key (PLATFORM:ID) → [(story id, its label there)] of the stories holding it
    note: str | None = None            # why nothing could be listed


def latest_denials(con, accounts, limit: int = LATEST_DENIALS) -> LatestDenials:
    """The ``limit`` newest denials by ``accounts`` (config.accounts) over the days up to the
    newest stored post (``tracker denials``' default range), and the stories holding each."""
    from tracker.analysis import denials as dn          # the stance model: on first use only

    if not list(accounts or []):
        return LatestDenials(None, note="no tracked accounts (list them under `accounts:` in "
                                        "config.yaml)")
    since = dn.default_since(con)
    found = dn.find_denials(con, accounts, since=since, limit=limit)
    keys = [d.key for d in found]
    held: dict[str, list[tuple[str, str]]] = {}
    if keys:
        for key, story_id, event in con.execute(
                "SELECT platform || ':' || item_id, story_id, event_type FROM story_labels "
                "WHERE item_kind = 'post' AND list_contains($keys, platform || ':' || item_id) "
                "ORDER BY story_id", {"keys": keys}).fetchall():
            held.setdefault(key, []).append((story_id, event))
    return LatestDenials(since, found, limit, held)


def denial_rows(latest: LatestDenials, stories: list[StoryEntry], tf: TimeFormat) -> dict:
    """What the denials partial shows: a row per denial, its story links or the command that
    makes a story of it."""
    files = {s.story_id: s for s in stories}
    rows = []
    for d in latest.found:
        in_stories = [{"id": sid, "event": event.replace("_", " "),
                       "file": files[sid].file if sid in files else None}
                      for sid, event in latest.stories.get(d.key, [])]
        first = d.press[0] if d.press else None
        rows.append({
            "id": f"{d.platform}-{d.post_id}", "key": d.key,
            "time": tf.label(d.created_at), "iso": tf.iso(d.created_at),
            "who": d.account, "denied": d.denied_account, "relation": d.relation,
            "denied_time": tf.label(d.denied_at) if d.denied_at else None,
            "lag": lag_label(d.lag) if d.lag is not None else "",
            "text": d.text, "denied_text": d.denied_text,
            "url": safe_url(d.url), "denied_url": safe_url(d.denied_url),
            "score": f"{d.score:.2f}", "rule": d.rule, "cue": d.cue, "evidence": d.evidence,
            "replies": d.replies, "press": len(d.press),
            "press_first": (f"{tf.label(first.at)}, {first.outlet or first.url}"
                            if first else None),
            "press_url": safe_url(first.url) if first else None,
            "deleted": d.deleted_at is not None,
            "stories": in_stories,
            "command": None if in_stories else f"tracker story new --from-denial {d.key}"})
    return {"rows": rows, "since": tf.label(latest.since) if latest.since else None,
            "note": latest.note, "capped": len(latest.found) >= latest.limit,
            "limit": latest.limit}


def denials_section(latest: LatestDenials) -> Section:
    return Section("denials", "Latest denials, with or without a story",
                   "index/denials.html.j2",
                   lambda stories, tf: denial_rows(latest, stories, tf))


def render_index(stories: list[StoryEntry], tf: TimeFormat,
                 sections: list[Section] | None = None,
                 generated_at: datetime | None = None,
                 last_collected: datetime | None = None,
                 denials: LatestDenials | None = None) -> str:
    """The index page (a str); with ``denials`` (:func:`latest_denials`), a section of them
    after the others."""
    sections = SECTIONS if sections is None else sections
    if denials is not None:
        sections = [*sections, denials_section(denials)]
    rows = {s.id: (s.rows(stories, tf) if s.rows else None) for s in sections}
    return _env().get_template("index.html.j2").render(
        stories=stories, sections=sections, rows=rows, columns=COLUMNS, tf=tf,
        generated=tf.label(generated_at or utcnow()), collected=tf.label(last_collected),
        zone=tf.description(), css=_asset("static", "report.css"), csp=csp(),
        version=__version__)

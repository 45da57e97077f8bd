"""The index of stories: one page listing every configured story (title, window, a link to its
report) with its latest firsts: when the claim, the denial and the rebuttal first came, when the
press first reported the claim and the denial, and the lags between them.

`tracker report --all -o DIR` writes it as DIR/index.html beside one report per story.

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
from tracker.report.view import MILESTONES, milestones


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


def render_index(stories: list[StoryEntry], tf: TimeFormat,
                 sections: list[Section] | None = None,
                 generated_at: datetime | None = None,
                 last_collected: datetime | None = None) -> str:
    """The index page (a str)."""
    sections = SECTIONS if sections is None else sections
    rows = {s.id: (s.rows(stories, tf) if s.rows else None) for s in sections}
    return _env().get_template("index.html.j2").render(
        stories=stories, sections=sections, rows=rows, columns=COLUMNS, tf=tf,
        generated=tf.label(generated_at or utcnow()), collected=tf.label(last_collected),
        zone=tf.description(), css=_asset("static", "report.css"), csp=csp(),
        version=__version__)

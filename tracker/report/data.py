"""Everything a story report shows, gathered from the analysis views (tracker.analysis.api).

The report reads only: a read-only connection to the database or its replica is enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pandas as pd

from tracker.analysis import api
from tracker.core.errors import TrackerError
from tracker.core.timeutil import utcnow

ROLE_ORDER = {"claimant": 0, "subject": 1, "other": 2}


@dataclass
class Actor:
    """One identity of a story actor (story_actors): a person has one per platform."""

    platform: str
    handle: str
    role: str
    account_id: str | None = None
    person: str | None = None        # the actor's name, else its handle (story_actors.person)

    @property
    def named(self) -> bool:
        """Whether the person has a name of its own (not just this handle)."""
        return bool(self.person) and self.person.lower() != self.handle.lower()


@dataclass
class Person:
    """A story actor across platforms: its name (or handle), role and identities."""

    person: str
    role: str
    identities: list[Actor]

    @property
    def named(self) -> bool:
        return any(a.named for a in self.identities) or len(self.identities) > 1

    @property
    def platforms(self) -> list[str]:
        return list(dict.fromkeys(a.platform for a in self.identities))


def people_of(actors: list[Actor]) -> list[Person]:
    """The actors grouped by person, in the order of their first identity."""
    out: dict[str, Person] = {}
    for a in actors:
        key = (a.person or a.handle).lower()
        if key not in out:
            out[key] = Person(a.person or a.handle, a.role, [])
        out[key].identities.append(a)
    return list(out.values())


@dataclass
class Poll:
    poll_id: str
    post_id: str
    text: str | None                 # the poll post's text (the question)
    url: str | None
    series: pd.DataFrame             # captured_at, position, label, votes, share, voting_status


@dataclass
class ReportData:
    story_id: str
    title: str | None
    query: str | None
    window_start: datetime | None
    window_end: datetime | None      # exclusive
    in_config: bool
    actors: list[Actor]
    timeline: pd.DataFrame           # the timeline view's rows for the story, in time order
    firsts: dict                     # the story_firsts row
    press: pd.DataFrame              # press_followup rows
    replies: pd.DataFrame            # replies per hour (UTC bins), one column per stance
    polls: list[Poll]
    last_collected: datetime | None
    last_analysed: datetime | None
    generated_at: datetime = field(default_factory=utcnow)
    # person_firsts rows: each person's first post of each statement per platform, the lags
    person_firsts: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def empty(self) -> bool:
        return self.timeline.empty

    @property
    def people(self) -> list[Person]:
        return people_of(self.actors)


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [name]).fetchone()[0])


def _utc(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """Timestamps as tz-aware UTC whatever the connection's session time zone."""
    for c in cols:
        if c in df.columns and pd.api.types.is_datetime64_any_dtype(df[c]):
            s = df[c]
            df[c] = s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")
    return df


def _ts(value) -> datetime | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        return None
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params=None):
    try:
        row = con.execute(sql, params or []).fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def last_collected(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The end of the last collection run that stored something (ok or stopped cleanly);
    without runs, the newest time the tracker saw any item."""
    at = _scalar(con, "SELECT max(finished_at) FROM runs WHERE status IN ('ok', 'stopped') "
                      "AND source NOT IN ('analysis', 'analyst')")
    if at is None:
        seen = [_scalar(con, f"SELECT max({c}) FROM {t}") for t, c in (
            ("posts", "last_seen_at"), ("articles", "last_seen_at"),
            ("poll_snapshots", "captured_at"))]
        seen = [s for s in seen if s is not None]
        at = max(seen) if seen else None
    return _ts(at)


def gather(con: duckdb.DuckDBPyConnection, story_id: str) -> ReportData:
    """Read one story's report data. TrackerError when the story was never analysed."""
    if not _has_table(con, "stories"):
        raise TrackerError("this database has no story analysis yet: run `tracker analyze`")
    row = con.execute("SELECT story_id, title, query, window_start, window_end, in_config "
                      "FROM stories WHERE story_id = ?", [story_id]).fetchone()
    if row is None:
        known = [r[0] for r in con.execute("SELECT story_id FROM stories ORDER BY 1").fetchall()]
        hint = f" (analysed stories: {', '.join(known)})" if known else ""
        raise TrackerError(f"story {story_id!r} has not been analysed{hint}: check the id, "
                           f"or run `tracker analyze {story_id}` if it is in config.yaml")
    try:
        rows = con.execute("SELECT platform, handle, role, account_id, person FROM story_actors "
                           "WHERE story_id = ?", [story_id]).fetchall()
    except duckdb.BinderException:     # a database not yet migrated: each identity a person
        rows = con.execute("SELECT platform, handle, role, account_id, handle FROM story_actors "
                           "WHERE story_id = ?", [story_id]).fetchall()
    actors = [Actor(*r) for r in rows]
    # by role, then person, then platform
    actors.sort(key=lambda a: (ROLE_ORDER.get(a.role, 9), (a.person or a.handle).lower(),
                               a.platform, a.handle.lower()))

    timeline = _utc(api.timeline(con, story_id), "event_at", "deleted_at")
    firsts_df = _utc(api.story_firsts(con, story_id), "first_claim_at", "first_claim_press_at",
                     "first_denial_at", "first_denial_press_at", "first_rebuttal_at")
    firsts = firsts_df.iloc[0].to_dict() if len(firsts_df) else {}
    press = _utc(api.press_followup(con, story_id), "claim_reported_at", "denial_reported_at",
                 "claim_report_denial_at", "claim_report_denial_after")
    people = _utc(api.person_firsts(con, story_id), "first_at")
    replies = api.reply_stance(con, story_id, freq="1h")
    if len(replies) and replies.index.tz is not None:
        replies.index = replies.index.tz_convert("UTC")
    elif len(replies):
        replies.index = replies.index.tz_localize("UTC")

    polls = []
    for platform, poll_id, post_id, text, url in con.execute(
            "SELECT DISTINCT p.platform, p.poll_id, p.post_id, p.text, p.url FROM timeline t "
            "JOIN posts p ON p.platform = t.platform_or_outlet AND p.post_id = t.item_id "
            "WHERE t.story_id = ? AND t.item_kind = 'post' AND t.event_type = 'poll' "
            "AND p.poll_id IS NOT NULL ORDER BY p.platform, p.post_id", [story_id]).fetchall():
        series = _utc(con.execute(
            "SELECT captured_at, position, label, votes, share, voting_status FROM poll_series "
            "WHERE platform = ? AND poll_id = ? ORDER BY captured_at, position",
            [platform, poll_id]).df(), "captured_at")
        polls.append(Poll(poll_id, post_id, text, url, series))

    return ReportData(
        story_id=row[0], title=row[1], query=row[2], window_start=_ts(row[3]),
        window_end=_ts(row[4]), in_config=bool(row[5]), actors=actors, timeline=timeline,
        firsts=firsts, press=press, replies=replies, polls=polls, person_firsts=people,
        last_collected=last_collected(con),
        last_analysed=_ts(_scalar(con, "SELECT max(finished_at) FROM runs WHERE job = 'analyze' "
                                       "AND status = 'ok'")))

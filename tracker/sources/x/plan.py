"""What the next X run should read, decided from what is already stored.

Recurring work follows what is new (DESIGN rule 8): a conversation is searched when it is due
(often while young or active, rarely once quiet, never past the replies window), a post is
looked up again for deletion on a schedule that thins with its age, and the due items come in
the order that matters (youngest and most active first), so a run the budget stops has done
the most useful part. See schedule.py for the tiers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from tracker.core.errors import MalformedPage
from tracker.core.timeutil import parse_iso
from tracker.sources.x.normalize import normalize
from tracker.store.raw import read_raw_file
from tracker.sources.schedule import TOLERANCE, spacing


def _num(value) -> int:
    return int(value) if value is not None and str(value).isdigit() else 0


def cursor_rank(cursor: dict) -> tuple:
    """How much of a scope a cursor covers, by post ids (never by the clock): the newest id it
    has reached, then finished before unfinished, then how far back an unfinished pagination
    got. A cursor replaces the stored one only if it ranks at least as high, so a raw file
    loaded late never moves a cursor back, and a clock that ran ahead freezes nothing."""
    gap = cursor.get("gap") if isinstance(cursor.get("gap"), dict) else None
    top = max(_num(cursor.get("newest_id")), _num(gap.get("newest_id")) if gap else 0)
    if not gap:
        return (top, 1, 0)
    until = _num(gap.get("until_id"))
    return (top, 0, -until if until else -(1 << 64))


@dataclass
class ConversationDue:
    """A conversation to search for replies, with what its cursor needs."""

    conversation_id: str
    age_hours: float
    root_replies: int | None        # the root's reply_count as last read (None: unknown)
    why: str                        # "new", "active" or "due"
    last_id: str | None = None      # the newest post of the conversation already stored


@dataclass
class Backlog:
    """Due work, for `tracker status` and a run's record of what it deferred."""

    conversations_due: int = 0
    conversations_followed: int = 0
    deletions_due: int = 0
    deletions_followed: int = 0
    oldest_due_hours: float = 0.0        # how long the longest-waiting due item has waited

    def as_dict(self) -> dict:
        return {"conversations_due": self.conversations_due,
                "conversations_followed": self.conversations_followed,
                "deletions_due": self.deletions_due,
                "deletions_followed": self.deletions_followed,
                "oldest_due_hours": round(self.oldest_due_hours, 2)}


@dataclass
class XPlan:
    known_handles: dict[str, str] = field(default_factory=dict)   # lower-case handle -> id
    cursors: dict[str, dict] = field(default_factory=dict)        # scope -> cursor
    open_poll_posts: list[str] = field(default_factory=list)
    tracked_ids: list[str] = field(default_factory=list)
    # account id -> its newest post's creation time (for quiet accounts), and the newest id of
    # its posts already stored (for batching accounts whose searches re-read nothing)
    last_post_at: dict[str, datetime] = field(default_factory=dict)
    last_post_id: dict[str, str] = field(default_factory=dict)
    conversations: list[ConversationDue] = field(default_factory=list)   # due, in order
    deletion_ids: list[str] = field(default_factory=list)                # due, in order
    backlog: Backlog = field(default_factory=Backlog)


def read_plan(con: duckdb.DuckDBPyConnection | None, cfg=None, now: datetime | None = None,
              tracked_handles: list[str] | None = None, every_conversation: bool = False
              ) -> XPlan:
    """Handles, cursors, open polls, and (given the config and the time) the conversations
    and deletion checks that are due, from a connection (the database or its replica).
    ``every_conversation``: every followed conversation counts as due (a catch-up)."""
    plan = XPlan()
    if con is None:
        return plan
    # A handle can pass from one account to another; the latest holder wins.
    for handle, account_id in con.execute(
            "SELECT lower(handle), arg_max(account_id, last_seen_at) FROM account_handles "
            "WHERE platform = 'x' GROUP BY lower(handle)").fetchall():
        plan.known_handles[handle] = account_id
    for scope, cursor in con.execute(
            "SELECT scope, cursor FROM sync_state WHERE source = 'x'").fetchall():
        plan.cursors[scope] = json.loads(cursor)
    plan.open_poll_posts = [r[0] for r in con.execute(
        "SELECT p.post_id FROM polls p LEFT JOIN posts s ON s.platform = p.platform "
        "AND s.post_id = p.post_id WHERE p.platform = 'x' AND p.final_snapshot_at IS NULL "
        "AND p.post_id IS NOT NULL AND s.deleted_at IS NULL ORDER BY p.post_id").fetchall()]
    if cfg is None or now is None:
        return plan
    handles = tracked_handles if tracked_handles is not None else [
        a.handle for a in cfg.accounts_on("x")]
    plan.tracked_ids = [plan.known_handles[h.lower()] for h in handles
                        if h.lower() in plan.known_handles]
    if plan.tracked_ids:
        for author, at, last in con.execute(
                "SELECT author_id, max(created_at) FILTER (WHERE seen_in = 'data'), "
                "max(TRY_CAST(post_id AS HUGEINT))::VARCHAR FROM posts WHERE platform = 'x' "
                "AND author_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY author_id",
                [plan.tracked_ids]).fetchall():
            if at is not None:
                plan.last_post_at[author] = at
            plan.last_post_id[author] = last
    plan.conversations = conversations_due(con, plan.tracked_ids, now, cfg.x, plan.backlog,
                                           every_one=every_conversation)
    plan.deletion_ids = deletions_due(con, plan.tracked_ids, now, cfg.x, plan.backlog)
    return plan


def _spacing_sql(tiers, age: str) -> str:
    """A SQL expression: the tiers' spacing in hours for ``age`` hours (NULL past the last)."""
    whens = " ".join(f"WHEN {age} < {float(t.up_to_hours)!r} THEN {float(t.every_hours)!r}"
                     for t in tiers)
    return f"CASE {whens} ELSE NULL END" if whens else "NULL"


def _tier_sql(tiers, age: str) -> str:
    """A SQL expression: the index of the tier ``age`` hours falls in."""
    whens = " ".join(f"WHEN {age} < {float(t.up_to_hours)!r} THEN {i}"
                     for i, t in enumerate(tiers))
    return f"CASE {whens} ELSE {len(tiers)} END" if whens else "0"


def tier_of(age_hours: float, tiers) -> int:
    for i, t in enumerate(tiers):
        if age_hours < t.up_to_hours:
            return i
    return len(tiers)


def conversations_due(con: duckdb.DuckDBPyConnection | None, author_ids: list[str],
                      now: datetime, xcfg, backlog: Backlog | None = None,
                      every_one: bool = False) -> list[ConversationDue]:
    """The conversations of tracked accounts' posts (younger than the replies window) that are
    due a search now, in the order they should be searched (see the sort below).

    Due: never searched; active since the last search (the root's reply count, read again by
    a deletion check or a poll refresh, went up; or a post of the conversation arrived by
    another path); or its spacing (x.replies.schedule, by the age of the tracked account's
    latest post in it, stretched by quiet_factor for each search that found nothing new, and
    once more while the root's fresh reply count has not moved) has passed. ``every_one``:
    every conversation in the window is due (a catch-up).
    """
    if con is None or not author_ids or xcfg.replies_window_days <= 0:
        return []
    since = now - timedelta(days=xcfg.replies_window_days)
    rows = con.execute(
        "WITH mine AS (SELECT conversation_id AS cid, max(created_at) AS last_post_at "
        "FROM posts WHERE platform = 'x' AND author_id IN (SELECT unnest(?::VARCHAR[])) "
        "AND seen_in = 'data' AND reposted_post_id IS NULL AND deleted_at IS NULL "
        "AND created_at >= ? AND conversation_id IS NOT NULL GROUP BY conversation_id), "
        "cur AS (SELECT substr(scope, 9) AS cid, cursor FROM sync_state "
        "WHERE source = 'x' AND scope LIKE 'replies:%'), "
        "arrived AS (SELECT conversation_id AS cid, max(first_seen_at) FILTER (WHERE post_id "
        "<> conversation_id) AS at, max(TRY_CAST(post_id AS HUGEINT)) FILTER (WHERE post_id "
        "<> conversation_id)::VARCHAR AS last_id "
        "FROM posts WHERE platform = 'x' AND conversation_id IN (SELECT cid FROM mine) "
        "GROUP BY conversation_id) "
        "SELECT m.cid, m.last_post_at, c.cursor->>'searched_at', "
        "TRY_CAST(c.cursor->>'quiet' AS INTEGER), TRY_CAST(c.cursor->>'root_replies' AS BIGINT), "
        "r.reply_count, r.last_seen_at, a.at, a.last_id "
        "FROM mine m LEFT JOIN cur c USING (cid) LEFT JOIN arrived a USING (cid) "
        "LEFT JOIN posts r ON r.platform = 'x' AND r.post_id = m.cid",
        [author_ids, since]).fetchall()
    rc = xcfg.replies
    out: list[tuple] = []
    oldest = 0.0
    for (cid, last_post_at, searched, quiet, root_replies, replies, root_seen, arrived,
         last_id) in rows:
        age = max((now - last_post_at).total_seconds() / 3600, 0.0)
        every = spacing(age, rc.schedule)
        if every is None:
            continue
        searched_at = parse_time(searched)
        tier = tier_of(age, rc.schedule)
        if searched_at is None:
            out.append(((0, tier, 0.0, -_num(cid)), ConversationDue(cid, age, replies, "new", last_id)))
            oldest = max(oldest, age)
            continue
        last = searched_at.timestamp()
        fresh = root_seen is not None and root_seen > searched_at
        active = ((fresh and replies is not None and root_replies is not None
                   and replies > root_replies) or (arrived is not None and arrived > searched_at))
        if active:
            out.append(((0, tier, last, -_num(cid)), ConversationDue(cid, age, replies, "active",
                                                                 last_id)))
            continue
        quiet_n = (quiet or 0) + (1 if fresh and replies is not None and replies == root_replies
                                  else 0)
        factor = min(rc.quiet_factor ** quiet_n, rc.max_quiet_factor)
        next_at = searched_at + timedelta(hours=every * factor)
        if every == 0 or now >= next_at - TOLERANCE or every_one:
            out.append(((1, tier, last, -_num(cid)), ConversationDue(cid, age, replies, "due", last_id)))
            oldest = max(oldest, (now - next_at).total_seconds() / 3600)
    # new and active ones first, then the youngest tier, then the longest unsearched: a run
    # the budget stops is continued by the next
    out.sort(key=lambda r: r[0])
    if backlog is not None:
        backlog.conversations_due = len(out)
        backlog.conversations_followed = len(rows)
        backlog.oldest_due_hours = max(backlog.oldest_due_hours, oldest)
    return [r[1] for r in out]


def deletions_due(con: duckdb.DuckDBPyConnection | None, author_ids: list[str],
                  now: datetime, xcfg, backlog: Backlog | None = None) -> list[str]:
    """Tracked accounts' posts (younger than x.deletion_check_days, not known deleted) due a
    lookup: those a lookup did not find (a second lookup confirms the deletion), then the
    ones whose spacing (x.deletions.schedule, by the post's age, since it was last seen) has
    passed, the youngest tier first (deletions cluster in the first hours) and within a tier
    the least recently seen first, so a run the budget stops is continued by the next."""
    if con is None or not author_ids or xcfg.deletion_check_days <= 0:
        return []
    since = now - timedelta(days=xcfg.deletion_check_days)
    age = "(epoch(?::TIMESTAMPTZ) - epoch(created_at)) / 3600.0"
    rows = con.execute(
        f"WITH c AS (SELECT post_id, created_at, last_seen_at, missing_since, {age} AS age_h "
        "FROM posts WHERE platform = 'x' AND author_id IN (SELECT unnest(?::VARCHAR[])) "
        "AND seen_in = 'data' AND deleted_at IS NULL AND created_at >= ?), "
        f"s AS (SELECT *, {_spacing_sql(xcfg.deletions.schedule, 'age_h')} AS every_h, "
        f"{_tier_sql(xcfg.deletions.schedule, 'age_h')} AS tier FROM c) "
        "SELECT post_id, missing_since IS NOT NULL AS missing, age_h, "
        "(epoch(?::TIMESTAMPTZ) - epoch(last_seen_at)) / 3600.0 - every_h AS overdue_h "
        "FROM s WHERE missing_since IS NOT NULL OR (every_h IS NOT NULL AND (every_h = 0 OR "
        "last_seen_at + to_seconds(every_h * 3600) - to_seconds(?) <= ?::TIMESTAMPTZ)) "
        "ORDER BY missing DESC, tier, last_seen_at, post_id",
        [now, author_ids, since, now, TOLERANCE.total_seconds(), now]).fetchall()
    if backlog is not None:
        backlog.deletions_due = len(rows)
        backlog.deletions_followed = con.execute(
            "SELECT count(*) FROM posts WHERE platform = 'x' AND author_id IN "
            "(SELECT unnest(?::VARCHAR[])) AND seen_in = 'data' AND deleted_at IS NULL "
            "AND created_at >= ?", [author_ids, since]).fetchone()[0]
        overdue = [r[3] for r in rows if r[3] is not None]
        if overdue:
            backlog.oldest_due_hours = max(backlog.oldest_due_hours, max(overdue))
    return [r[0] for r in rows]


def parse_time(value) -> datetime | None:
    if not value:
        return None
    try:
        return parse_iso(value)
    except (ValueError, OverflowError):
        return None


def plan_pending(plan: XPlan, cursors: dict[str, dict], raw_dir: Path,
                 waiting: list[str]) -> None:
    """Complete a plan read from the replica with what waits in raw (the database could not
    be written): the cursors the waiting pages carry, and the polls they saw, so that a poll
    first seen meanwhile is refreshed on schedule and one seen closed is not read again."""
    plan.cursors.update(cursors)
    open_posts = set(plan.open_poll_posts)
    for post_id, closed in pending_polls(raw_dir, waiting).values():
        if post_id:
            (open_posts.discard if closed else open_posts.add)(post_id)
    plan.open_poll_posts = sorted(open_posts, key=lambda p: (len(p), p))


def pending_polls(raw_dir: Path, files: list[str]) -> dict[str, tuple[str | None, bool]]:
    """poll_id -> (its post's id, closed?) as the given X raw files last saw it, in run order."""
    out: dict[str, tuple[str | None, bool]] = {}
    for rel in files:
        for rl in read_raw_file(Path(raw_dir) / rel):
            rec = rl.record
            if not (rec and rec.get("type") == "page" and rec.get("source") == "x"):
                continue
            try:
                rows = normalize(rec)
            except MalformedPage:
                continue
            for p in rows.tables.get("polls", []):
                post, closed = out.get(p["poll_id"], (None, False))
                out[p["poll_id"]] = (post or p["post_id"],
                                     closed or p["voting_status"] == "closed")
    return out

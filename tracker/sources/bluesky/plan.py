"""What the next Bluesky run should read, decided from what is already stored.

Recurring work follows what is new (DESIGN rule 8): each feed is read down to its stored
newest item; a conversation's thread is read when it is due (often while young, rarely once
quiet, never past ``bluesky.replies_window_days``); a tracked post is looked up again for
deletion on a schedule that thins with its age (``bluesky.deletions``), a post not found last
time first. The tiers are tracker/sources/schedule.py's, as for every platform.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from tracker.core.errors import MalformedPage
from tracker.core.timeutil import parse_iso
from tracker.sources.bluesky.normalize import PLATFORM, SOURCE, normalize
from tracker.sources.schedule import TOLERANCE, due, spacing
from tracker.store.raw import read_raw_file

THREAD_SCOPE = "thread:"
FEED_SCOPE = "feed:"


def parse_time(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except (ValueError, OverflowError):
        return None


def _epoch(value) -> float:
    t = parse_time(value)
    return t.timestamp() if t is not None else 0.0


def cursor_rank(cursor: dict) -> tuple:
    """How much of a scope a cursor covers, so that a raw file loaded late never moves a
    cursor back. A feed's: the feed position of the newest item it reached (the AppView's
    times, not our clock), then finished before unfinished, then how far back an unfinished
    pagination got. A thread's: when it was read."""
    if "read_at" in cursor:
        return (_epoch(cursor.get("read_at")), 1, 0.0)
    gap = cursor.get("gap") if isinstance(cursor.get("gap"), dict) else None
    top = max(_epoch(cursor.get("newest_at")), _epoch(gap.get("top_at")) if gap else 0.0)
    if not gap:
        return (top, 1, 0.0)
    return (top, 0, -_epoch(gap.get("until_at")) if gap.get("until_at") else -float("inf"))


@dataclass
class ConversationDue:
    """A conversation (its root's URI) whose thread is due a read."""

    root: str
    age_hours: float
    why: str                     # "new" or "due"


@dataclass
class Backlog:
    """Due work, for `tracker status` and a run's record of what it deferred."""

    conversations_due: int = 0
    conversations_followed: int = 0
    deletions_due: int = 0
    deletions_followed: int = 0
    oldest_due_hours: float = 0.0

    def as_dict(self) -> dict:
        return {"conversations_due": self.conversations_due,
                "conversations_followed": self.conversations_followed,
                "deletions_due": self.deletions_due,
                "deletions_followed": self.deletions_followed,
                "oldest_due_hours": round(self.oldest_due_hours, 2)}


@dataclass
class BlueskyPlan:
    known_handles: dict[str, str] = field(default_factory=dict)   # lower-case handle -> DID
    cursors: dict[str, dict] = field(default_factory=dict)        # scope -> cursor
    tracked_ids: list[str] = field(default_factory=list)
    conversations: list[ConversationDue] = field(default_factory=list)   # due, in order
    deletion_uris: list[str] = field(default_factory=list)               # due, in order
    backlog: Backlog = field(default_factory=Backlog)


def read_plan(con: duckdb.DuckDBPyConnection | None, cfg=None, now: datetime | None = None,
              every_conversation: bool = False) -> BlueskyPlan:
    """Handles, cursors, and (given the config and the time) the threads and deletion checks
    that are due, from a connection (the database or its replica)."""
    plan = BlueskyPlan()
    if con is None:
        return plan
    # a handle can pass from one account to another; its latest holder wins
    for handle, did in con.execute(
            "SELECT lower(handle), arg_max(account_id, last_seen_at) FROM account_handles "
            "WHERE platform = ? GROUP BY lower(handle)", [PLATFORM]).fetchall():
        plan.known_handles[handle] = did
    for scope, cursor in con.execute(
            "SELECT scope, cursor FROM sync_state WHERE source = ?", [SOURCE]).fetchall():
        plan.cursors[scope] = json.loads(cursor)
    if cfg is None or now is None:
        return plan
    handles = [a.handle.lower() for a in cfg.accounts_on(PLATFORM)]
    plan.tracked_ids = list(dict.fromkeys(plan.known_handles[h] for h in handles
                                          if h in plan.known_handles))
    plan.conversations = conversations_due(con, plan.tracked_ids, now, cfg.bluesky,
                                           plan.backlog, every_one=every_conversation)
    plan.deletion_uris = deletions_due(con, plan.tracked_ids, now, cfg.bluesky, plan.backlog)
    return plan


def conversations_due(con, author_ids: list[str], now: datetime, bcfg,
                      backlog: Backlog | None = None, every_one: bool = False
                      ) -> list[ConversationDue]:
    """The conversations of tracked accounts' posts (younger than the replies window, root
    not known deleted) whose thread is due a read, in the order they should be read: never
    read first, then the youngest tier, then the longest unread.

    Due: its spacing (``replies.schedule``, by the age of the tracked account's latest post
    in it, stretched by ``quiet_factor`` for each read in a row that found no new post, up to
    ``max_quiet_factor``) has passed; ``every_one``: every conversation in the window."""
    if con is None or not author_ids or bcfg.replies_window_days <= 0:
        return []
    since = now - timedelta(days=bcfg.replies_window_days)
    rows = con.execute(
        "WITH mine AS (SELECT conversation_id AS cid, max(created_at) AS last_post_at "
        "FROM posts WHERE platform = ? AND author_id IN (SELECT unnest(?::VARCHAR[])) "
        "AND seen_in = 'data' AND reposted_post_id IS NULL AND deleted_at IS NULL "
        "AND created_at >= ? AND conversation_id IS NOT NULL GROUP BY conversation_id), "
        "cur AS (SELECT substr(scope, ?) AS cid, cursor FROM sync_state "
        "WHERE source = ? AND starts_with(scope, ?)) "
        "SELECT m.cid, m.last_post_at, c.cursor->>'read_at', "
        "TRY_CAST(c.cursor->>'quiet' AS INTEGER) FROM mine m LEFT JOIN cur c USING (cid) "
        "WHERE m.cid NOT IN (SELECT post_id FROM posts WHERE platform = ? "
        "AND deleted_at IS NOT NULL) ORDER BY m.cid",
        [PLATFORM, author_ids, since, len(THREAD_SCOPE) + 1, SOURCE, THREAD_SCOPE,
         PLATFORM]).fetchall()
    rc = bcfg.replies
    out: list[tuple] = []
    oldest = 0.0
    for cid, last_post_at, read, quiet in rows:
        age = max((now - last_post_at).total_seconds() / 3600, 0.0)
        every = spacing(age, rc.schedule)
        if every is None:
            continue
        tier = _tier(age, rc.schedule)
        read_at = parse_time(read)
        if read_at is None:
            out.append(((0, tier, 0.0), ConversationDue(cid, age, "new")))
            oldest = max(oldest, age)
            continue
        factor = min(rc.quiet_factor ** (quiet or 0), rc.max_quiet_factor)
        next_at = read_at + timedelta(hours=every * factor)
        if every == 0 or now >= next_at - TOLERANCE or every_one:
            out.append(((1, tier, read_at.timestamp()), ConversationDue(cid, age, "due")))
            oldest = max(oldest, (now - next_at).total_seconds() / 3600)
    out.sort(key=lambda r: r[0])
    if backlog is not None:
        backlog.conversations_due = len(out)
        backlog.conversations_followed = len(rows)
        backlog.oldest_due_hours = max(backlog.oldest_due_hours, oldest)
    return [r[1] for r in out]


def deletions_due(con, author_ids: list[str], now: datetime, bcfg,
                  backlog: Backlog | None = None) -> list[str]:
    """Tracked accounts' own posts (not reposts; younger than ``deletion_check_days``, not
    known deleted) due a lookup: those not found last time (a second miss confirms the
    deletion), then those whose spacing (``deletions.schedule`` by the post's age, since it
    was last seen) has passed, the youngest tier first and the least recently seen first."""
    if con is None or not author_ids or bcfg.deletion_check_days <= 0:
        return []
    since = now - timedelta(days=bcfg.deletion_check_days)
    rows = con.execute(
        "SELECT post_id, created_at, last_seen_at, missing_since IS NOT NULL FROM posts "
        "WHERE platform = ? AND author_id IN (SELECT unnest(?::VARCHAR[])) "
        "AND seen_in = 'data' AND reposted_post_id IS NULL AND deleted_at IS NULL "
        "AND created_at >= ?", [PLATFORM, author_ids, since]).fetchall()
    tiers = bcfg.deletions.schedule
    out: list[tuple] = []
    oldest = 0.0
    for post_id, created_at, last_seen_at, missing in rows:
        age = max((now - created_at).total_seconds() / 3600, 0.0)
        if missing:
            out.append(((0, 0, last_seen_at.timestamp(), post_id), post_id))
            continue
        d = due(now, created_at, last_seen_at, tiers)
        if d is not None and d.due:
            out.append(((1, _tier(age, tiers), last_seen_at.timestamp(), post_id), post_id))
            oldest = max(oldest, d.overdue.total_seconds() / 3600)
    out.sort(key=lambda r: r[0])
    if backlog is not None:
        backlog.deletions_due = len(out)
        backlog.deletions_followed = len(rows)
        backlog.oldest_due_hours = max(backlog.oldest_due_hours, oldest)
    return [r[1] for r in out]


def _tier(age_hours: float, tiers) -> int:
    for i, t in enumerate(tiers):
        if age_hours < t.up_to_hours:
            return i
    return len(tiers)


def plan_pending(plan: BlueskyPlan, cursors: dict[str, dict], raw_dir: Path,
                 waiting: list[str]) -> None:
    """Complete a plan read from the replica with what waits in raw (the database could not
    be written): the cursors the waiting pages carry, and the handles their profiles
    resolved (so that none is asked for again)."""
    plan.cursors.update(cursors)
    for rel in waiting:
        if not rel.startswith(f"{SOURCE}/"):
            continue
        for rl in read_raw_file(Path(raw_dir) / rel):
            rec = rl.record
            if not (rec and rec.get("type") == "page" and rec.get("source") == SOURCE
                    and rec.get("purpose") == "profile"):
                continue
            try:
                rows = normalize(rec)
            except MalformedPage:
                continue
            for h in rows.tables.get("account_handles", []):
                plan.known_handles[h["handle"].lower()] = h["account_id"]

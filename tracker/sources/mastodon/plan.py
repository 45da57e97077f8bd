"""What the next Mastodon run should read, decided from what is already stored.

Recurring work follows what is new (DESIGN rule 8): statuses since each account's cursor; a
tracked post's replies (its ``/context``) when due on ``mastodon.replies.schedule`` (often while
young or active, rarely once quiet, never past the window); a tracked post looked up again on
``mastodon.deletions.schedule`` (one not found last time first); an open poll every run until
its final snapshot; an edit's history once, when a new text version shows up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from tracker.core.timeutil import parse_iso
from tracker.sources.mastodon.config import split_handle
from tracker.sources.mastodon.ids import order_key
from tracker.sources.mastodon.normalize import account_id
from tracker.sources.schedule import TOLERANCE, spacing

PLATFORM = "mastodon"


def cursor_rank(cursor: dict) -> tuple:
    """How much of a scope a cursor covers, never by our clock for statuses: the newest status
    read forward, then how many the backfill read, then whether it finished. A replies cursor
    ranks by when the thread was read (the server's answer time)."""
    if "newest_id" in cursor:
        return (0, order_key(cursor.get("newest_id")), int(cursor.get("read") or 0),
                cursor.get("older_than") is None)
    return (1, (0, str(cursor.get("read_at") or "")), 0, True)


@dataclass
class ThreadDue:
    """A tracked post whose replies are due a read (its ``/context``)."""

    post_id: str
    why: str                       # "new", "active" or "due"
    replies: int | None            # its replies_count as last read
    cursor: dict | None


@dataclass
class Backlog:
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
class MastodonPlan:
    cursors: dict[str, dict] = field(default_factory=dict)        # scope -> cursor
    tracked_ids: list[str] = field(default_factory=list)
    threads: list[ThreadDue] = field(default_factory=list)        # due, in order
    followed: set[str] = field(default_factory=set)               # posts whose replies are read
    deletion_ids: list[str] = field(default_factory=list)         # due, in order
    open_polls: list[tuple[str, str]] = field(default_factory=list)   # (poll id, post id)
    histories_due: list[str] = field(default_factory=list)        # posts with an unplaced version
    placed_versions: set[str] = field(default_factory=set)        # versions after the first
    backlog: Backlog = field(default_factory=Backlog)


def read_plan(con: duckdb.DuckDBPyConnection | None, cfg=None, now: datetime | None = None,
              every_thread: bool = False) -> MastodonPlan:
    """Cursors and (given the config and the time) what is due."""
    plan = MastodonPlan()
    if con is None:
        return plan
    for scope, cursor in con.execute(
            "SELECT scope, cursor FROM sync_state WHERE source = ?", [PLATFORM]).fetchall():
        plan.cursors[scope] = json.loads(cursor)
    if cfg is None or now is None:
        return plan
    mcfg = cfg.mastodon
    plan.tracked_ids = [account_id(a.handle) for a in cfg.accounts_on(PLATFORM)]
    grace = timedelta(hours=mcfg.poll_final_grace_hours)
    plan.open_polls = [(p, s) for p, s in con.execute(
        "SELECT p.poll_id, p.post_id FROM polls p LEFT JOIN posts s ON s.platform = p.platform "
        "AND s.post_id = p.post_id WHERE p.platform = ? AND p.final_snapshot_at IS NULL "
        "AND p.post_id IS NOT NULL AND s.deleted_at IS NULL AND s.missing_since IS NULL "
        "AND (p.end_at IS NULL AND s.created_at >= ? OR p.end_at >= ?) ORDER BY p.poll_id",
        [PLATFORM, now - timedelta(days=mcfg.deletion_check_days), now - grace]).fetchall()]
    if not plan.tracked_ids:
        return plan
    plan.placed_versions = {r[0] for r in con.execute(
        "SELECT version_post_id FROM post_versions WHERE platform = ? AND version_index > 0",
        [PLATFORM]).fetchall()}
    plan.histories_due = [r[0] for r in con.execute(
        "SELECT DISTINCT v.edit_chain_id FROM post_versions v JOIN posts p "
        "ON p.platform = v.platform AND p.post_id = v.edit_chain_id WHERE v.platform = ? "
        "AND v.version_index IS NULL AND p.deleted_at IS NULL "
        "AND p.author_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY 1",
        [PLATFORM, plan.tracked_ids]).fetchall()]
    plan.threads = threads_due(con, plan.tracked_ids, plan.cursors, now, mcfg, plan.backlog,
                               every_one=every_thread, followed=plan.followed)
    plan.deletion_ids = deletions_due(con, plan.tracked_ids, now, mcfg, plan.backlog)
    return plan


def parse_time(value) -> datetime | None:
    if not value:
        return None
    try:
        return parse_iso(value)
    except (ValueError, OverflowError):
        return None


def threads_due(con, author_ids: list[str], cursors: dict[str, dict], now: datetime, mcfg,
                backlog: Backlog | None = None, every_one: bool = False,
                followed: set[str] | None = None) -> list[ThreadDue]:
    """The tracked accounts' own posts (younger than the replies window) whose replies are due
    a read now, most urgent first.

    Due: never read; active since (its replies_count, read again by a lookup, went up); or its
    spacing (by its age, stretched by quiet_factor for each read that found no new reply) has
    passed. A post under another due tracked post is left out: its parent's context holds it
    (and that read moves its cursor too). ``followed`` gets every post in the window.
    """
    if con is None or not author_ids or mcfg.replies_window_days <= 0:
        return []
    rows = con.execute(
        "SELECT post_id, created_at, reply_to_post_id, reply_count, last_seen_at FROM posts "
        "WHERE platform = ? AND author_id IN (SELECT unnest(?::VARCHAR[])) AND seen_in = 'data' "
        "AND reposted_post_id IS NULL AND deleted_at IS NULL AND missing_since IS NULL "
        "AND created_at >= ?",
        [PLATFORM, author_ids, now - timedelta(days=mcfg.replies_window_days)]).fetchall()
    rc = mcfg.replies
    due: list[tuple[tuple, ThreadDue]] = []
    parent: dict[str, str | None] = {}
    oldest = 0.0
    for post_id, created_at, reply_to, replies, seen_at in rows:
        parent[post_id] = reply_to
        if followed is not None:
            followed.add(post_id)
        age = max((now - created_at).total_seconds() / 3600, 0.0)
        every = spacing(age, rc.schedule)
        if every is None:
            continue
        tier = next((i for i, t in enumerate(rc.schedule) if age < t.up_to_hours), 0)
        cursor = cursors.get(f"replies:{post_id}")
        read_at = parse_time((cursor or {}).get("read_at"))
        if read_at is None:
            due.append(((0, tier, 0.0, post_id), ThreadDue(post_id, "new", replies, cursor)))
            oldest = max(oldest, age)
            continue
        before = (cursor or {}).get("replies_count")
        if (seen_at is not None and seen_at > read_at and replies is not None
                and isinstance(before, int) and replies > before):
            due.append(((0, tier, read_at.timestamp(), post_id),
                        ThreadDue(post_id, "active", replies, cursor)))
            continue
        factor = min(rc.quiet_factor ** int(cursor.get("quiet") or 0), rc.max_quiet_factor)
        next_at = read_at + timedelta(hours=every * factor)
        if every == 0 or now >= next_at - TOLERANCE or every_one:
            due.append(((1, tier, read_at.timestamp(), post_id),
                        ThreadDue(post_id, "due", replies, cursor)))
            oldest = max(oldest, (now - next_at).total_seconds() / 3600)
    chosen = {d.post_id for _, d in due}

    def covered(post_id: str) -> bool:
        seen: set[str] = set()
        up = parent.get(post_id)
        while up and up not in seen:
            if up in chosen:
                return True
            seen.add(up)
            up = parent.get(up)
        return False

    due = [d for d in due if not covered(d[1].post_id)]
    due.sort(key=lambda d: d[0])
    if backlog is not None:
        backlog.conversations_due = len(due)
        backlog.conversations_followed = len(rows)
        backlog.oldest_due_hours = max(backlog.oldest_due_hours, oldest)
    return [d for _, d in due]


def _spacing_sql(tiers, age: str) -> str:
    whens = " ".join(f"WHEN {age} < {float(t.up_to_hours)!r} THEN {float(t.every_hours)!r}"
                     for t in tiers)
    return f"CASE {whens} ELSE NULL END" if whens else "NULL"


def _tier_sql(tiers, age: str) -> str:
    whens = " ".join(f"WHEN {age} < {float(t.up_to_hours)!r} THEN {i}"
                     for i, t in enumerate(tiers))
    return f"CASE {whens} ELSE {len(tiers)} END" if whens else "0"


def deletions_due(con, author_ids: list[str], now: datetime, mcfg,
                  backlog: Backlog | None = None) -> list[str]:
    """Tracked accounts' posts (boosts included: an unboost deletes the boost) younger than
    mastodon.deletion_check_days and not known deleted, due a lookup: those not found last
    time first (a second lookup confirms), then by tier (youngest first) and least recently
    seen, so a run the budget stops is continued by the next."""
    if con is None or not author_ids or mcfg.deletion_check_days <= 0:
        return []
    since = now - timedelta(days=mcfg.deletion_check_days)
    age = "(epoch(?::TIMESTAMPTZ) - epoch(created_at)) / 3600.0"
    rows = con.execute(
        f"WITH c AS (SELECT post_id, created_at, last_seen_at, missing_since, {age} AS age_h "
        "FROM posts WHERE platform = ? AND author_id IN (SELECT unnest(?::VARCHAR[])) "
        "AND seen_in = 'data' AND deleted_at IS NULL AND created_at >= ?), "
        f"s AS (SELECT *, {_spacing_sql(mcfg.deletions.schedule, 'age_h')} AS every_h, "
        f"{_tier_sql(mcfg.deletions.schedule, 'age_h')} AS tier FROM c) "
        "SELECT post_id, missing_since IS NOT NULL AS missing, "
        "(epoch(?::TIMESTAMPTZ) - epoch(last_seen_at)) / 3600.0 - every_h AS overdue_h "
        "FROM s WHERE missing_since IS NOT NULL OR (every_h IS NOT NULL AND (every_h = 0 OR "
        "last_seen_at + to_seconds(every_h * 3600) - to_seconds(?) <= ?::TIMESTAMPTZ)) "
        "ORDER BY missing DESC, tier, last_seen_at, post_id",
        [now, PLATFORM, author_ids, since, now, TOLERANCE.total_seconds(), now]).fetchall()
    if backlog is not None:
        backlog.deletions_due = len(rows)
        backlog.deletions_followed = con.execute(
            "SELECT count(*) FROM posts WHERE platform = ? AND author_id IN "
            "(SELECT unnest(?::VARCHAR[])) AND seen_in = 'data' AND deleted_at IS NULL "
            "AND created_at >= ?", [PLATFORM, author_ids, since]).fetchone()[0]
        overdue = [r[2] for r in rows if r[2] is not None]
        if overdue:
            backlog.oldest_due_hours = max(backlog.oldest_due_hours, max(overdue))
    return [r[0] for r in rows]


def plan_pending(plan: MastodonPlan, cursors: dict[str, dict], raw_dir: Path,
                 waiting: list[str]) -> None:
    """A plan read from the replica, completed with the cursors the pages waiting in raw carry
    (the database could not be written): no status is read twice."""
    plan.cursors.update(cursors)


def statuses_scope(handle: str) -> str:
    """The scope of an account's statuses cursor."""
    return f"statuses:{account_id(handle)}"


def instances_of(handles: list[str]) -> set[str]:
    return {split_handle(h)[1] for h in handles}

"""What the next X run should read, decided from what is already stored."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb


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
class XPlan:
    known_handles: dict[str, str] = field(default_factory=dict)   # lower-case handle -> id
    cursors: dict[str, dict] = field(default_factory=dict)        # scope -> cursor
    open_poll_posts: list[str] = field(default_factory=list)
    tracked_ids: list[str] = field(default_factory=list)


def read_plan(con: duckdb.DuckDBPyConnection | None) -> XPlan:
    """Handles, cursors and open polls from a connection (the database or its replica)."""
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
    return plan


def conversations_to_follow(con: duckdb.DuckDBPyConnection | None, author_ids: list[str],
                            now: datetime, window_days: int) -> list[str]:
    """Conversations of tracked accounts' own posts younger than the replies window.

    Least recently searched first (never searched ones before all others): when the request
    budget stops a run, the next run goes on with the conversations this one did not reach,
    instead of searching the same ones again and never the rest.
    """
    if con is None or not author_ids or window_days <= 0:
        return []
    since = now - timedelta(days=window_days)
    return [r[0] for r in con.execute(
        "WITH mine AS (SELECT DISTINCT conversation_id FROM posts WHERE platform = 'x' "
        "AND author_id IN (SELECT unnest(?::VARCHAR[])) AND seen_in = 'data' "
        "AND reposted_post_id IS NULL AND deleted_at IS NULL AND created_at >= ? "
        "AND conversation_id IS NOT NULL), "
        "searched AS (SELECT scope, max(fetched_at) AS at FROM raw_pages "
        "WHERE source = 'x' AND purpose = 'replies' GROUP BY scope) "
        "SELECT m.conversation_id FROM mine m "
        "LEFT JOIN searched s ON s.scope = 'replies:' || m.conversation_id "
        "ORDER BY s.at NULLS FIRST, m.conversation_id",
        [author_ids, since]).fetchall()]


def deletion_candidates(con: duckdb.DuckDBPyConnection | None, author_ids: list[str],
                        now: datetime, window_days: int) -> list[str]:
    """Tracked accounts' posts younger than the deletion window and not yet known deleted.

    Posts a lookup did not find first (their deletion waits for a second lookup to confirm
    it), then least recently seen first: a check the request budget stops is continued by the
    next one with the posts it did not reach (a lookup that finds a post updates its
    last_seen_at).
    """
    if con is None or not author_ids or window_days <= 0:
        return []
    since = now - timedelta(days=window_days)
    return [r[0] for r in con.execute(
        "SELECT post_id FROM posts WHERE platform = 'x' "
        "AND author_id IN (SELECT unnest(?::VARCHAR[])) AND seen_in = 'data' "
        "AND deleted_at IS NULL AND created_at >= ? "
        "ORDER BY missing_since IS NULL, last_seen_at, post_id",
        [author_ids, since]).fetchall()]

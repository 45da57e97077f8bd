"""The configured stories and their actors, written into the database before an analysis."""

from __future__ import annotations

import duckdb

from tracker.core.config import StoryConfig


def sync_stories(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig]) -> None:
    """Upsert stories and replace their actors from the config (one story_actors row per
    identity, naming its person); resolve each identity's account id."""
    con.execute("UPDATE stories SET in_config = false")
    if not stories:
        return
    con.execute(
        "INSERT INTO stories SELECT *, true FROM (VALUES "
        + ", ".join("(?, ?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ)" for _ in stories) + ") "
        "ON CONFLICT (story_id) DO UPDATE SET title = excluded.title, query = excluded.query, "
        "window_start = excluded.window_start, window_end = excluded.window_end, "
        "in_config = true",
        [v for s in stories for v in (s.id, s.title, s.query, s.window.start_at,
                                      s.window.end_at)])
    con.execute("DELETE FROM story_actors WHERE story_id IN (SELECT unnest(?::VARCHAR[]))",
                [[s.id for s in stories]])
    rows = [(s.id, ident.platform, ident.handle, a.role, a.person)
            for s in stories for a in s.actors for ident in a.accounts]
    if rows:
        con.execute(
            "INSERT INTO story_actors (story_id, platform, handle, role, account_id, person) "
            "SELECT v.story_id, v.platform, v.handle, v.role, (SELECT arg_max(h.account_id, "
            "h.last_seen_at) FROM account_handles h WHERE h.platform = v.platform "
            "AND lower(h.handle) = lower(v.handle)), v.person FROM (VALUES "
            + ", ".join("(?, ?, ?, ?, ?::VARCHAR)" for _ in rows)
            + ") v(story_id, platform, handle, role, person)",
            [x for r in rows for x in r])

"""The configured stories and their actors, written into the database before an analysis."""

from __future__ import annotations

import duckdb

from tracker.core.config import StoryConfig


def sync_stories(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig]) -> None:
    """Upsert stories and replace their actors from the config; resolve actors' account ids."""
    con.execute("UPDATE stories SET in_config = false")
    for s in stories:
        con.execute(
            "INSERT INTO stories VALUES (?, ?, ?, ?, ?, true) ON CONFLICT (story_id) DO UPDATE "
            "SET title = excluded.title, query = excluded.query, window_start = "
            "excluded.window_start, window_end = excluded.window_end, in_config = true",
            [s.id, s.title, s.query, s.window.start_at, s.window.end_at])
        con.execute("DELETE FROM story_actors WHERE story_id = ?", [s.id])
        for a in s.actors:
            con.execute(
                "INSERT INTO story_actors SELECT ?, ?, ?, ?, (SELECT arg_max(account_id, "
                "last_seen_at) FROM account_handles WHERE platform = ? AND lower(handle) = "
                "lower(?))", [s.id, a.platform, a.handle, a.role, a.platform, a.handle])

"""The configured stories and their actors, written into the database before an analysis."""

from __future__ import annotations

import duckdb

from tracker.core.config import StoryConfig


def sync_stories(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig]) -> None:
    """Upsert stories and replace their actors from the config (one story_actors row per
    identity, naming its person); resolve each identity's account id."""
    con.execute("UPDATE stories SET in_config = false")
    for s in stories:
        con.execute(
            "INSERT INTO stories VALUES (?, ?, ?, ?, ?, true) ON CONFLICT (story_id) DO UPDATE "
            "SET title = excluded.title, query = excluded.query, window_start = "
            "excluded.window_start, window_end = excluded.window_end, in_config = true",
            [s.id, s.title, s.query, s.window.start_at, s.window.end_at])
        con.execute("DELETE FROM story_actors WHERE story_id = ?", [s.id])
        for a in s.actors:
            for ident in a.accounts:
                con.execute(
                    "INSERT INTO story_actors (story_id, platform, handle, role, account_id, "
                    "person) SELECT ?, ?, ?, ?, (SELECT arg_max(account_id, last_seen_at) "
                    "FROM account_handles WHERE platform = ? AND lower(handle) = lower(?)), ?",
                    [s.id, ident.platform, ident.handle, a.role, ident.platform, ident.handle,
                     a.person])

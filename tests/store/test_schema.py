"""Migrations: a database made before story items had a platform keeps its rows."""

from __future__ import annotations

from tracker.store import schema
from tracker.store.db import open_db


def test_migration_6_keys_story_items_by_platform_and_keeps_every_row(tmp_path, monkeypatch):
    path = tmp_path / "old.duckdb"
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:5])
    con = open_db(path)
    # views as an older release made them (they read story_items, so the migration must
    # replace them before it can replace the table)
    con.execute("CREATE VIEW story_labels AS SELECT * FROM story_items")
    con.execute("CREATE VIEW timeline AS SELECT * FROM story_labels")
    con.execute("INSERT INTO posts (platform, post_id, text, first_seen_at, last_seen_at) "
                "VALUES ('x', '11', 'a claim', now(), now())")
    con.execute("INSERT INTO story_items VALUES "
                "('s', 'post', '11', 'claim', 'claimant-post', 'matched', 0.8, NULL, NULL, "
                "NULL, NULL, NULL), "
                "('s', 'article', 'https://n.example/a', 'coverage_of_claim', 'matches-query',"
                " 'matched', 0.7, NULL, NULL, NULL, NULL, NULL)")
    con.execute("INSERT INTO analyst_labels VALUES ('r:1', 's', 'post', '11', 'set', "
                "'mention', NULL, 'ana', '2022-10-12T00:00:00Z'), ('r:2', 's', 'article', "
                "'https://n.example/a', 'set', 'mention', NULL, 'ana', '2022-10-12T00:00:00Z')")
    con.close()
    monkeypatch.undo()

    con = open_db(path)
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (
        max(v for v, _, _ in schema.MIGRATIONS),)
    assert con.execute("SELECT item_kind, platform, item_id, event_type FROM story_items "
                       "ORDER BY ALL").fetchall() == [
        ("article", "web", "https://n.example/a", "coverage_of_claim"),
        ("post", "x", "11", "claim")]
    # old labels: a post's platform stays NULL (it applies whatever the platform), an article's
    # is 'web'
    assert con.execute("SELECT label_id, platform FROM analyst_labels ORDER BY 1").fetchall() == [
        ("r:1", None), ("r:2", "web")]
    assert con.execute("SELECT item_kind, platform, item_id, event_type, labeled_by "
                       "FROM story_labels ORDER BY ALL").fetchall() == [
        ("article", "web", "https://n.example/a", "mention", "analyst"),
        ("post", "x", "11", "mention", "analyst")]
    con.execute("INSERT INTO stories VALUES ('s', 'S', 'claim', NULL, NULL, true)")
    con.execute("INSERT INTO articles (url, domain, first_seen_at, last_seen_at, published_at) "
                "VALUES ('https://n.example/a', 'n.example', now(), now(), "
                "'2022-10-12T00:00:00Z')")
    assert con.execute("SELECT item_id, platform_or_outlet FROM timeline "
                       "ORDER BY ALL").fetchall() == [("11", "x"),
                                                      ("https://n.example/a", "n.example")]
    con.close()


def test_migrating_twice_changes_nothing(tmp_path):
    open_db(tmp_path / "t.duckdb").close()
    con = open_db(tmp_path / "t.duckdb")
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone() == (
        len(schema.MIGRATIONS),)
    con.close()

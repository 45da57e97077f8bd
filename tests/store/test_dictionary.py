"""The data dictionary: every table, view and column carries its comment in the database, the
same text as docs/data-dictionary.md, and an old database gets them on its next open."""

from __future__ import annotations

import pytest

from tracker.store import dictionary
from tracker.store.db import open_db
from tracker.store.dictdoc import DOC, render_markdown
from tracker.store.dictionary import BY_NAME, ENTRIES, comment_statements, undocumented


def _comments(con) -> dict[str, str | None]:
    """'table', 'table.column' -> its comment, for every table, view and column."""
    here = "database_name = current_database()"
    out = {n: c for n, c in con.execute(
        f"SELECT table_name, comment FROM duckdb_tables() WHERE {here} UNION ALL "
        f"SELECT view_name, comment FROM duckdb_views() WHERE {here} AND NOT internal"
    ).fetchall()}
    out.update({f"{t}.{c}": comment for t, c, comment in con.execute(
        f"SELECT table_name, column_name, comment FROM duckdb_columns() WHERE {here}"
    ).fetchall()})
    return out


def _wanted() -> dict[str, str]:
    out = {e.name: e.summary for e in ENTRIES}
    out.update({f"{e.name}.{c}": doc for e in ENTRIES for c, doc in e.columns})
    return out


def test_every_table_view_and_column_of_a_new_database_is_in_the_dictionary(tmp_path):
    con = open_db(tmp_path / "t.duckdb")
    problems = undocumented(con)
    con.close()
    assert problems == [], ("describe these in tracker/store/dictionary.py, then run "
                            "`python -m tracker.store.dictdoc`:\n" + "\n".join(problems))


def test_every_table_view_and_column_carries_the_dictionarys_text_as_its_comment(tmp_path):
    con = open_db(tmp_path / "t.duckdb")
    got = _comments(con)
    con.close()
    # (what the dictionary lacks, the test above names)
    assert {name: got.get(name) for name in _wanted()} == _wanted()


def test_the_committed_docs_are_the_dictionarys_render():
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/data-dictionary.md differs from tracker/store/dictionary.py: run "
        "`python -m tracker.store.dictdoc`")


def test_the_docs_show_each_column_with_its_type_and_key():
    text = render_markdown()
    assert ("| `post_id` | VARCHAR, key | the platform's id of the post |" in text)
    assert ("| `claim_to_press` | INTERVAL | first_claim_press_at - first_claim_at "
            "(an interval) |") in text
    assert "| `scope` | VARCHAR, key | what the cursor is for: 'timeline:&lt;account_id&gt;'" \
        in text


def test_an_existing_database_gets_missing_or_changed_comments_on_its_next_open(tmp_path):
    path = tmp_path / "old.duckdb"
    open_db(path).close()
    con = open_db(path)
    # as a database made before the dictionary, or after a migration replaced a view
    con.execute("COMMENT ON TABLE posts IS NULL")
    con.execute("COMMENT ON COLUMN posts.deleted_at IS 'stale'")
    con.execute("CREATE OR REPLACE VIEW reply_stance AS SELECT story_id, "
                "date_trunc('hour', event_at) AS hour, stance, count(*) AS replies "
                "FROM timeline WHERE event_type = 'reply' GROUP BY ALL")
    assert comment_statements(con) == [
        "COMMENT ON TABLE \"posts\" IS " + _quote(BY_NAME["posts"].summary),
        "COMMENT ON VIEW \"reply_stance\" IS " + _quote(BY_NAME["reply_stance"].summary),
        "COMMENT ON COLUMN \"posts\".\"deleted_at\" IS "
        + _quote(BY_NAME["posts"].column("deleted_at")),
        *["COMMENT ON COLUMN \"reply_stance\".\"" + c + "\" IS " + _quote(doc)
          for c, doc in sorted(BY_NAME["reply_stance"].columns)],
    ]
    con.close()
    con = open_db(path)
    got = _comments(con)
    assert {name: got.get(name) for name in _wanted()} == _wanted()
    assert comment_statements(con) == []       # up to date: the next open writes nothing
    con.close()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def test_what_the_dictionary_lacks_is_named_with_the_entry_to_fix(tmp_path):
    con = open_db(tmp_path / "t.duckdb")
    before = undocumented(con)      # empty, unless a new migration awaits its entries
    con.execute("CREATE TABLE bluesky_likes (post_id VARCHAR)")
    con.execute("ALTER TABLE posts ADD COLUMN mood VARCHAR")
    con.execute("CREATE VIEW busy_hours AS SELECT 1 AS n")
    con.execute("ALTER TABLE stories DROP COLUMN in_config")
    assert [p for p in undocumented(con) if p not in before] == [
        "table bluesky_likes: no entry in tracker/store/dictionary.py (add "
        "table('bluesky_likes', ...) to ENTRIES)",
        "view busy_hours: no entry in tracker/store/dictionary.py (add "
        "view('busy_hours', ...) to ENTRIES)",
        "column posts.mood: not described in the 'posts' entry",
        "column stories.in_config: described, but stories has no such column",
    ]
    # what it cannot describe keeps no comment, and opening the database still works
    con.close()
    con = open_db(tmp_path / "t.duckdb")
    assert _comments(con)["bluesky_likes"] is None
    con.close()


def test_columns_described_out_of_the_tables_order_are_named(tmp_path, monkeypatch):
    entry = BY_NAME["schema_migrations"]
    swapped = dictionary.Entry(entry.name, entry.kind, entry.section, entry.summary,
                               tuple(reversed(entry.columns)))
    monkeypatch.setitem(dictionary.BY_NAME, "schema_migrations", swapped)
    con = open_db(tmp_path / "t.duckdb")
    assert [p for p in undocumented(con) if "schema_migrations" in p] == [
        "table schema_migrations: describe its columns in the database's order: version, "
        "description, applied_at"]
    con.close()


@pytest.mark.parametrize("text, problem", [
    ("platform the platform", "is not 'column: description'"),
    ("platform: ", "is not 'column: description'"),
])
def test_a_malformed_dictionary_line_is_an_error_when_declared(text, problem):
    with pytest.raises(ValueError, match=problem):
        dictionary.table("t", "collected", "A table.", text)


def test_a_column_described_twice_is_an_error_when_declared():
    with pytest.raises(ValueError, match="a column is described twice"):
        dictionary.table("t", "collected", "A table.", "a: one\na: two")

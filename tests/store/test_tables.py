"""The declared tables (tables.py) and the migrations' DDL describe the same tables."""

from __future__ import annotations

import pytest

from tracker.store.db import open_db
from tracker.store.tables import SPECS, Column, Rule, TableSpec

ALIASES = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}     # how the catalogue spells it


def test_every_declared_table_matches_the_database_catalogue(tmp_path):
    con = open_db(tmp_path / "t.duckdb")
    for name, spec in SPECS.items():
        got = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position", [name]).fetchall()
        assert got == [(c.name, ALIASES.get(c.type, c.type)) for c in spec.declared], name
        pk = con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'", [name]).fetchone()
        assert tuple(pk[0]) == spec.key, name
    con.close()


def test_an_unknown_write_rule_is_an_error_when_declared():
    with pytest.raises(TypeError, match="write rule 'newest' is not a Rule"):
        Column("title", "VARCHAR", "newest")
    with pytest.raises(ValueError, match="key column post_id is not declared"):
        TableSpec("t", ("post_id",), (Column("text", "VARCHAR", Rule.LATEST),))

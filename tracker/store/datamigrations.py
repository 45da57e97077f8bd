"""Data migrations: rewrites of stored values that a source owns (the form of its rows
changed), registered by the source and applied by ``schema.migrate`` after the schema's own
migrations, once per database (the ``data_migrations`` table says which are done).

Light on purpose (no DuckDB import): sources register here when the registry is imported."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class DataMigration:
    """A rewrite of stored values that one source owns (its rows' form changed), applied once
    per database in its own transaction after the schema migrations; ``apply(con)`` stamps the
    rows it changes with a new ``load_seq`` so that the analysis and the lake see them."""

    name: str                  # unique, e.g. "<source>: what changed"; kept in data_migrations
    description: str
    apply: Callable[["duckdb.DuckDBPyConnection"], None]


# registered by the sources as they are imported (a process that never imports a source never
# writes its rows, so its data migrations wait for the next one that does)
DATA_MIGRATIONS: list[DataMigration] = []


def register_data_migration(migration: DataMigration) -> None:
    if all(m.name != migration.name for m in DATA_MIGRATIONS):
        DATA_MIGRATIONS.append(migration)


def apply_data_migrations(con: "duckdb.DuckDBPyConnection") -> None:
    """Apply, each in its own transaction, the registered data migrations not yet applied."""
    from tracker.store.tx import rollback

    con.execute(
        "CREATE TABLE IF NOT EXISTS data_migrations "
        "(name VARCHAR PRIMARY KEY, description VARCHAR, applied_at TIMESTAMPTZ DEFAULT now())")
    done = {r[0] for r in con.execute("SELECT name FROM data_migrations").fetchall()}
    for m in DATA_MIGRATIONS:
        if m.name in done:
            continue
        con.execute("BEGIN")
        try:
            m.apply(con)
            con.execute("INSERT INTO data_migrations (name, description) VALUES (?, ?)",
                        [m.name, m.description])
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise

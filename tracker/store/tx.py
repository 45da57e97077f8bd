"""Transactions that keep their failure."""

from __future__ import annotations

import duckdb


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back after a failure, keeping the failure: DuckDB may already have aborted the
    transaction itself (a failed COMMIT on a full disk), and then ROLLBACK has nothing to do."""
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass

"""Rewrites of stored X rows whose form changed (registered in source.py as data migrations)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from tracker.core.jsonload import loads
from tracker.sources.x.normalize import PLATFORM, as_sent

BATCH_ROWS = 50_000        # rows the migration reads and writes through Python at a time

# Where DuckDB's compact JSON text of a value may differ from ``as_sent``'s (json.dumps): an
# escape sequence (DuckDB writes \u001F, Python \u001f), a number with an exponent (1e300 /
# 1e+300), a fraction below 1e-4 (0.00001 / 1e-05), a float of 17 digits or more before the
# point (10000000000000000.0 / 1e+16), an integer of 19 digits or more (beyond 64 bits the
# reader gives a float: 18446744073709551621 / 1.8446744073709552e+19). A match inside a
# string costs only a Python pass.
NOT_AS_SENT = r"\\u|(^|[:,\[])-?([0-9]+(\.[0-9]+)?[eE]|0\.0000|[0-9]{17,}\.|[0-9]{19})"


def entities_as_sent(con: duckdb.DuckDBPyConnection) -> None:
    """``entities`` and ``withheld`` stored before as ``json.dumps(sort_keys=True)`` (spaces
    after ``,`` and ``:``) become ``as_sent``'s compact text. The key order they were sent in is
    not stored, so these keep the sorted order; a rebuild from the raw archive, or the next
    capture of the post, gives the order X sent. One UPDATE in SQL for the values DuckDB writes
    as ``as_sent`` does, then the few others through ``as_sent``, a batch at a time."""
    seq = None
    for col in ("entities", "withheld"):
        old = (f"platform = ? AND {col} IS NOT NULL "
               f"AND {col}::VARCHAR <> json({col})::VARCHAR")
        odd = f"regexp_matches(json({col})::VARCHAR, ?)"
        if con.execute(f"SELECT count(*) FROM (SELECT 1 FROM posts WHERE {old} LIMIT 1)",
                       [PLATFORM]).fetchall()[0][0] == 0:
            continue
        if seq is None:
            seq = con.execute("SELECT nextval('load_seq')").fetchall()[0][0]
        con.execute(f"UPDATE posts SET {col} = json({col}), load_seq = ? "
                    f"WHERE {old} AND NOT {odd}", [seq, PLATFORM, NOT_AS_SENT])
        reader = con.sql(f"SELECT post_id, {col}::VARCHAR AS v FROM posts WHERE {old} AND {odd}",
                         params=[PLATFORM, NOT_AS_SENT]).to_arrow_reader(BATCH_ROWS)
        fixes = []
        for batch in reader:
            for pid, v in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                new = as_sent(loads(v))
                if new != v:
                    fixes.append((pid, new))
        for i in range(0, len(fixes), BATCH_ROWS):
            part = fixes[i:i + BATCH_ROWS]
            fix = pa.table({"post_id": pa.array([f[0] for f in part], pa.string()),
                            "v": pa.array([f[1] for f in part], pa.string())})
            con.register("_as_sent", fix)
            try:
                con.execute(f"UPDATE posts SET {col} = f.v, load_seq = ? FROM _as_sent f "
                            f"WHERE posts.platform = ? AND posts.post_id = f.post_id",
                            [seq, PLATFORM])
            finally:
                con.unregister("_as_sent")

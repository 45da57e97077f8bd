"""Rewrites of stored X rows whose form changed (registered in source.py as data migrations)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from tracker.core.jsonload import loads
from tracker.sources.x.normalize import PLATFORM, as_sent

# Where DuckDB's compact JSON text of a value may differ from ``as_sent``'s (json.dumps): an
# escape sequence (DuckDB writes \u001F, Python \u001f), a number with an exponent (1e300 /
# 1e+300), a fraction below 1e-4 (0.00001 / 1e-05), a float of 17 digits or more before the
# point (10000000000000000.0 / 1e+16). A match inside a string costs only a Python pass.
NOT_AS_SENT = r"\\u|(^|[:,\[])-?([0-9]+(\.[0-9]+)?[eE]|0\.0000|[0-9]{17,}\.)"


def entities_as_sent(con: duckdb.DuckDBPyConnection) -> None:
    """``entities`` and ``withheld`` stored before as ``json.dumps(sort_keys=True)`` (spaces
    after ``,`` and ``:``) become ``as_sent``'s compact text. The key order they were sent in is
    not stored, so these keep the sorted order; a rebuild from the raw archive, or the next
    capture of the post, gives the order X sent."""
    seq = None
    for col in ("entities", "withheld"):
        # compact in SQL where DuckDB's text is as_sent's, the rest through as_sent
        todo = con.sql(
            f"SELECT post_id, {col}::VARCHAR, json({col})::VARCHAR, "
            f"regexp_matches(json({col})::VARCHAR, ?) FROM posts "
            f"WHERE platform = ? AND {col} IS NOT NULL "
            f"AND {col}::VARCHAR <> json({col})::VARCHAR",
            params=[NOT_AS_SENT, PLATFORM]).to_arrow_table()
        if not todo.num_rows:
            continue
        ids, old, compact, odd = (todo.column(i).to_pylist() for i in range(4))
        new = [as_sent(loads(o)) if gated else c for o, c, gated in zip(old, compact, odd)]
        keep = [i for i, (o, n) in enumerate(zip(old, new)) if o != n]
        if not keep:
            continue
        if seq is None:
            seq = con.execute("SELECT nextval('load_seq')").fetchall()[0][0]
        fix = pa.table({"post_id": pa.array([ids[i] for i in keep], pa.string()),
                        "v": pa.array([new[i] for i in keep], pa.string())})
        con.register("_as_sent", fix)
        try:
            con.execute(f"UPDATE posts SET {col} = f.v, load_seq = ? FROM _as_sent f "
                        f"WHERE posts.platform = ? AND posts.post_id = f.post_id",
                        [seq, PLATFORM])
        finally:
            con.unregister("_as_sent")


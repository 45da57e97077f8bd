"""Merging staged rows into a table by its declared write rule (tables.py), in SQL.

Rows come as dicts or pyarrow Tables (the vectorized paths), are staged with their order, and
merge in one statement per table: keys not stored yet are plain inserts; the others go through
``ON CONFLICT`` with each column's rule (latest capture wins, min, max, keep the first). Post
status findings (deleted, protected…) are applied after the rows of the same transaction.
"""

from __future__ import annotations

from typing import Iterator

import duckdb
import pyarrow as pa

from tracker.store.tables import Rule, TableSpec

def _parts(rows: list) -> Iterator[pa.Table]:
    """Runs of row dicts, and runs of pyarrow Tables of one schema, in order, each as one
    Table with ``_ord``."""
    start = 0
    run: list[dict] = []
    arrow: list[pa.Table] = []

    def arrow_part() -> pa.Table:
        table = arrow[0] if len(arrow) == 1 else pa.concat_tables(arrow)
        return table.append_column("_ord", pa.array(range(start, start + table.num_rows),
                                                     pa.int64()))

    for item in rows + [None]:
        if isinstance(item, dict):
            if arrow:
                part = arrow_part()
                yield part
                start += part.num_rows
                arrow = []
            item["_ord"] = start + len(run)
            run.append(item)
            continue
        if run:
            yield pa.Table.from_pylist(run)
            start += len(run)
            run = []
        if isinstance(item, pa.Table) and item.num_rows:
            if arrow and item.schema != arrow[0].schema:
                part = arrow_part()
                yield part
                start += part.num_rows
                arrow = []
            arrow.append(item)
        elif item is None and arrow:
            yield arrow_part()


def upsert(con: duckdb.DuckDBPyConnection, spec: TableSpec, rows: list,
           stamp: int | None = None) -> tuple[int, int]:
    """Merge rows (dicts and/or pyarrow Tables, in order) into a table by its write rule;
    return (new rows, updated rows). ``stamp``: the load's sequence number, written to the
    table's stamp column on every row inserted or changed."""
    if not rows:
        return 0, 0
    parts = list(_parts(rows))
    if (len(parts) == 1 and all(isinstance(r, pa.Table) for r in rows)
            and set(spec.columns) <= set(parts[0].column_names)):
        # Arrow tables with every column, typed (the vectorized paths): read in place, not
        # copied
        con.execute("DROP TABLE IF EXISTS _stage")
        con.register("_stage", parts[0])
        try:
            return merge(con, spec, stamp)
        finally:
            con.unregister("_stage")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS "
                f"SELECT *, 0::BIGINT AS _ord FROM {spec.name} LIMIT 0")
    for batch in parts:
        con.register("_batch", batch)
        try:
            con.execute("INSERT INTO _stage BY NAME SELECT * FROM _batch")
        finally:
            con.unregister("_batch")
    return merge(con, spec, stamp)


# Times outside these are a source's nonsense (`created_at: 0000-01-01`), not history: they are
# stored as NULL, like any value no parser accepts, so every reader (CSV, pandas) can read them.
TIME_RANGE = ("1900-01-01 00:00:00+00", "2200-01-01 00:00:00+00")
_time_columns: dict[str, list[str]] = {}


def _drop_impossible_times(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> None:
    cols = _time_columns.get(spec.name)
    if cols is None:
        cols = _time_columns[spec.name] = [c for c, t in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? AND table_schema = 'main' AND is_nullable = 'YES'",
            [spec.name]).fetchall()
            if t.startswith("TIMESTAMP") and c in spec.columns and c not in spec.key]
    if not cols:
        return
    ok = "({c} IS NULL OR ({c} >= '{lo}'::TIMESTAMPTZ AND {c} < '{hi}'::TIMESTAMPTZ))"
    conds = [ok.format(c=c, lo=TIME_RANGE[0], hi=TIME_RANGE[1]) for c in cols]
    sets = [f"{c} = CASE WHEN {cond} THEN {c} END" for c, cond in zip(cols, conds)]
    con.execute(f"UPDATE _agg SET {', '.join(sets)} WHERE NOT ({' AND '.join(conds)})")


def merge(con: duckdb.DuckDBPyConnection, spec: TableSpec,
          stamp: int | None = None) -> tuple[int, int]:
    """Merge ``_stage`` (rows and their order, ``_ord``) into the table."""
    key = ", ".join(spec.key)
    aggs = []
    for c in spec.columns:
        if c in spec.key:
            aggs.append(c)
        elif spec.append_only:
            aggs.append(f"arg_min({c}, _ord) AS {c}")
        else:
            rule = spec.rule(c)
            fn = {Rule.MIN: "min", Rule.MAX: "max", Rule.KEEP: "min"}.get(rule)
            # latest capture first, then file order; arg_max skips NULLs (never overwrite
            # a value with a missing one)
            aggs.append(f"{fn}({c}) AS {c}" if fn
                        else f"arg_max({c}, ({spec.order_by}, _ord)) AS {c}")
    cols = ", ".join(spec.columns)
    # a key staged once is its own aggregate: only keys staged more than once are grouped
    select = (f"WITH dup AS (SELECT {key} FROM _stage GROUP BY {key} HAVING count(*) > 1) "
              f"SELECT {cols} FROM _stage ANTI JOIN dup USING ({key}) UNION ALL "
              f"SELECT {', '.join(aggs)} FROM _stage SEMI JOIN dup USING ({key}) "
              f"GROUP BY {key}")
    on = " AND ".join(f"s.{k} = t.{k}" for k in spec.key)
    # one look at the table: keys it does not have yet are plain inserts (cheap); only the
    # others go through ON CONFLICT. A join with the staged keys on the build side (an EXISTS
    # would hash the whole table's keys at every merge)
    staged = con.execute(f"CREATE OR REPLACE TEMP TABLE _agg AS SELECT s.*, "
                         f"t.{spec.key[-1]} IS NOT NULL AS _old FROM ({select}) s "
                         f"LEFT JOIN (SELECT {key} FROM {spec.name}) t ON {on}").fetchone()[0]
    _drop_impossible_times(con, spec)
    stamped = spec.stamp is not None and stamp is not None
    into = f"{cols}, {spec.stamp}" if stamped else cols
    values = f"{cols}, {int(stamp)}" if stamped else cols
    new = con.execute(f"INSERT INTO {spec.name} ({into}) SELECT {values} FROM _agg "
                      f"WHERE NOT _old").fetchone()[0]
    if spec.append_only or new == staged:
        return new, 0
    sets, changed = [], []
    for c in spec.columns:
        if c in spec.key:
            continue
        rule = spec.rule(c)
        t, x, ob = f"{spec.name}.{c}", f"excluded.{c}", spec.order_by
        expr = {
            Rule.MIN: f"least({t}, {x})",
            Rule.MAX: f"greatest({t}, {x})",
            Rule.KEEP: f"coalesce({t}, {x})",
        # latest capture wins; an older one (e.g. an import) only fills what is missing
        }.get(rule, f"CASE WHEN excluded.{ob} >= {spec.name}.{ob} "
                    f"THEN coalesce({x}, {t}) ELSE coalesce({t}, {x}) END")
        sets.append(f"{c} = {expr}")
        changed.append(f"({expr}) IS DISTINCT FROM {t}")
    if stamped:
        sets.append(f"{spec.stamp} = {int(stamp)}")
    updated = con.execute(
        f"INSERT INTO {spec.name} ({cols}) SELECT {cols} FROM _agg WHERE _old "
        f"ON CONFLICT ({key}) DO UPDATE SET "
        f"{', '.join(sets)} WHERE {' OR '.join(changed)}").fetchone()[0]
    return new, updated


def apply_post_status(con: duckdb.DuckDBPyConnection, found: list[tuple],
                      stamp: int | None = None) -> int:
    """Mark posts deleted/unavailable; set once, never cleared. Returns rows changed.

    ``found``: (platform, post_id, state, at, run_id). A 'not_found' is first recorded as a
    sighting (``missing_since``, ``missing_run``); ``deleted_at`` (= the first sighting) is set
    when a lookup in a later run does not find the post either. A post seen again in the
    meantime is cleared of the sighting (see ``clear_missing``). 'deleted' (the source's own
    word) sets ``deleted_at`` at once. ``stamp``: the load's sequence number, written to
    ``load_seq`` of every post changed.
    """
    if not found:
        return 0
    seq = "" if stamp is None else f", load_seq = {int(stamp)}"
    con.register("_status", pa.table({
        "platform": [f[0] for f in found], "post_id": [f[1] for f in found],
        "state": [f[2] for f in found], "found_at": [f[3] for f in found],
        "run_id": [f[4] if len(f) > 4 else None for f in found],
        "ord": list(range(len(found)))}))
    try:
        firsts = ("SELECT platform, post_id, arg_min(state, ord) AS state, "
                  "arg_min(found_at, ord)::TIMESTAMPTZ AS found_at, "
                  "arg_min(run_id, ord) AS run_id FROM _status WHERE {} "
                  "GROUP BY platform, post_id")
        match = "posts.platform = s.platform AND posts.post_id = s.post_id"
        changed = con.execute(
            f"UPDATE posts SET deleted_at = s.found_at{seq} FROM ("
            + firsts.format("state = 'deleted'") + f") s WHERE {match} AND posts.deleted_at IS NULL").fetchone()[0]
        # a second sighting, from another run and later than the first, confirms it
        changed += con.execute(
            f"UPDATE posts SET deleted_at = posts.missing_since{seq} FROM (SELECT s.platform, "
            "s.post_id FROM _status s JOIN posts p USING (platform, post_id) "
            "WHERE s.state = 'not_found' AND p.deleted_at IS NULL "
            "AND p.missing_since IS NOT NULL AND s.found_at::TIMESTAMPTZ > p.missing_since "
            "AND s.run_id IS DISTINCT FROM p.missing_run GROUP BY ALL) s "
            f"WHERE {match} AND posts.deleted_at IS NULL").fetchone()[0]
        changed += con.execute(
            f"UPDATE posts SET missing_since = s.found_at, missing_run = s.run_id{seq} FROM ("
            + firsts.format("state = 'not_found'") + f") s WHERE {match} "
            "AND posts.deleted_at IS NULL AND posts.missing_since IS NULL").fetchone()[0]
        changed += con.execute(
            f"UPDATE posts SET unavailable_reason = s.state, unavailable_at = s.found_at{seq} "
            "FROM ("
            + firsts.format("state NOT IN ('deleted', 'not_found')") + f") s WHERE {match} "
            "AND posts.unavailable_reason IS NULL").fetchone()[0]
    finally:
        con.unregister("_status")
    return changed


def clear_missing(con: duckdb.DuckDBPyConnection, pages: list[dict],
                  stamp: int | None = None) -> int:
    """A post whose 'not found' sighting is followed by an answer that has it again (a lookup
    that failed once) is no longer a deletion candidate. ``stamp`` as in apply_post_status."""
    if not pages:
        return 0
    seq = "" if stamp is None else f", load_seq = {int(stamp)}"
    return con.execute(
        f"UPDATE posts SET missing_since = NULL, missing_run = NULL{seq} "
        "WHERE missing_since IS NOT NULL AND deleted_at IS NULL "
        "AND last_seen_at > missing_since").fetchone()[0]

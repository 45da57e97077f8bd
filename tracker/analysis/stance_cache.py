"""Reply stances, kept by what decides them.

A reply's stance depends only on its text, its parent's text and the model
(``stance.MODEL_VERSION``): ``stance_cache`` keeps each result under a digest of the three, so
re-analysing a story, a rebuild's analysis or a second story holding the same reply never runs
the model again, and a new model version recomputes exactly what it must.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

_DIGEST = "md5(coalesce({r}, '') || chr(31) || coalesce({p}, '') || chr(31) || ?)"


def model_version() -> str:
    from tracker.analysis.stance import MODEL_VERSION  # loads the model's file on first use

    return MODEL_VERSION


def stances(con: duckdb.DuckDBPyConnection, replies: str) -> None:
    """``_stances(platform, post_id, parent_id, stance, stance_rule, stance_evidence,
    stance_confidence)``
    for the posts of the temp table ``replies`` (platform, post_id, parent_id): from the cache,
    the model run once over the ones it lacks (and the cache filled)."""
    version = model_version()
    digest = _DIGEST.format(r="p.text", p="pp.text")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _want AS
        SELECT DISTINCT r.platform, r.post_id, r.parent_id, {digest} AS digest,
               p.text AS reply, pp.text AS parent
        FROM {replies} r
        JOIN posts p ON p.platform = r.platform AND p.post_id = r.post_id
        LEFT JOIN posts pp ON pp.platform = r.platform AND pp.post_id = r.parent_id""",
                [version])
    missing = con.execute(
        "SELECT digest, any_value(reply), any_value(parent) FROM _want ANTI JOIN stance_cache "
        "USING (digest) GROUP BY digest ORDER BY digest").fetchall()
    if missing:
        from tracker.analysis.stance import predict_stance  # numpy and the model, on first use

        results = predict_stance([m[1] or "" for m in missing], [m[2] or "" for m in missing])
        con.register("_fresh", pa.table({
            "digest": [m[0] for m in missing],
            "model_version": [version] * len(missing),
            "stance": [r.label for r in results],
            "stance_rule": [r.rule for r in results],
            "stance_evidence": [r.evidence for r in results],
            "stance_confidence": pa.array([float(r.confidence) for r in results], pa.float64()),
        }))
        try:
            con.execute("INSERT INTO stance_cache SELECT * FROM _fresh ON CONFLICT DO NOTHING")
        finally:
            con.unregister("_fresh")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _stances AS
        SELECT w.platform, w.post_id, w.parent_id, c.stance, c.stance_rule,
               c.stance_evidence, c.stance_confidence
        FROM _want w JOIN stance_cache c USING (digest)""")

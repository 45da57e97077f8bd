"""Story analysis in DuckDB: match items to stories, label them by the rules, store story_items.

All matching and labelling is set-based SQL per story (no Python loop per item); only reply
stance calls the stance model, once per story with every reply in a list.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from tracker.core.config import StoryConfig
from tracker.analysis import rules
from tracker.analysis.article_updates import label_article_updates
from tracker.core.storyquery import parse_query, terms, to_sql
from tracker.store.tx import rollback

NEG = rules.cue_pattern(rules.NEGATION_CUES)
DEN = rules.cue_pattern(rules.DENIAL_COVERAGE_CUES)
REB = rules.cue_pattern(rules.REBUTTAL_COVERAGE_CUES)
C = rules.CONFIDENCE


@dataclass
class StoryResult:
    story_id: str
    items: int
    by_event: dict[str, int]


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [name]).fetchone()[0])


def sync_stories(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig]) -> None:
    """Upsert stories and replace their actors from the config; resolve actors' account ids."""
    con.execute("UPDATE stories SET in_config = false")
    for s in stories:
        con.execute(
            "INSERT INTO stories VALUES (?, ?, ?, ?, ?, true) ON CONFLICT (story_id) DO UPDATE "
            "SET title = excluded.title, query = excluded.query, window_start = "
            "excluded.window_start, window_end = excluded.window_end, in_config = true",
            [s.id, s.title, s.query, s.window.start_at, s.window.end_at])
        con.execute("DELETE FROM story_actors WHERE story_id = ?", [s.id])
        for a in s.actors:
            con.execute(
                "INSERT INTO story_actors SELECT ?, ?, ?, ?, (SELECT arg_max(account_id, "
                "last_seen_at) FROM account_handles WHERE platform = ? AND lower(handle) = "
                "lower(?))", [s.id, a.platform, a.handle, a.role, a.platform, a.handle])


def _matched_terms_sql(node, column: str) -> tuple[str, list]:
    parts, params = [], []
    for t in terms(node):
        parts.append(f"CASE WHEN regexp_matches({column}, ?) THEN ? END")
        params += [t.pattern(), str(t)]
    if not parts:
        return "''", []
    return "concat_ws(', ', " + ", ".join(parts) + ")", params


def _label_posts(con: duckdb.DuckDBPyConnection, story: StoryConfig) -> None:
    """Fill temp table _labels with the story's posts and their automatic labels."""
    node = parse_query(story.query)
    expr, qparams = to_sql(node, "p.text")
    mterms, mparams = _matched_terms_sql(node, "p.text")
    start, end = story.window.start_at, story.window.end_at
    con.execute("CREATE OR REPLACE TEMP TABLE _actors AS SELECT platform, account_id, role "
                "FROM story_actors WHERE story_id = ? AND account_id IS NOT NULL", [story.id])
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _seed AS
        SELECT p.platform, p.post_id, true AS matched FROM posts p
        WHERE p.reposted_post_id IS NULL AND p.created_at >= ? AND p.created_at < ? AND {expr}
        UNION
        SELECT p.platform, p.post_id, false FROM posts p
        JOIN _actors a ON a.platform = p.platform AND a.account_id = p.author_id
        WHERE p.poll_id IS NOT NULL AND p.created_at >= ? AND p.created_at < ?""",
                [start, end, *qparams, start, end])
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _edges AS
        SELECT platform, post_id AS child, reply_to_post_id AS parent FROM posts
        WHERE reposted_post_id IS NULL AND reply_to_post_id IS NOT NULL
          AND created_at >= ? AND created_at < ?
        UNION ALL
        SELECT platform, post_id, quoted_post_id FROM posts
        WHERE reposted_post_id IS NULL AND quoted_post_id IS NOT NULL
          AND created_at >= ? AND created_at < ?""", [start, end, start, end])
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _thread AS
        WITH RECURSIVE thread(platform, post_id) AS (
            SELECT platform, post_id FROM _seed
            UNION
            SELECT e.platform, e.child FROM _edges e
            JOIN thread t ON e.platform = t.platform AND e.parent = t.post_id
        )
        SELECT DISTINCT platform, post_id FROM thread""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _it AS
        SELECT p.platform, p.post_id, p.text, p.poll_id, a.role,
               rp.post_id AS reply_parent, ra.role AS reply_role,
               qp.post_id AS quote_parent, qa.role AS quote_role,
               coalesce(s.matched, false) AS matched,
               coalesce(regexp_extract(p.text, ?, 1), '') AS neg_cue,
               {mterms} AS mterms
        FROM _thread t
        JOIN posts p ON p.platform = t.platform AND p.post_id = t.post_id
        LEFT JOIN _seed s ON s.platform = p.platform AND s.post_id = p.post_id AND s.matched
        LEFT JOIN _actors a ON a.platform = p.platform AND a.account_id = p.author_id
        LEFT JOIN _thread tr ON tr.platform = p.platform AND tr.post_id = p.reply_to_post_id
        LEFT JOIN posts rp ON rp.platform = tr.platform AND rp.post_id = tr.post_id
        LEFT JOIN _actors ra ON ra.platform = rp.platform AND ra.account_id = rp.author_id
        LEFT JOIN _thread tq ON tq.platform = p.platform AND tq.post_id = p.quoted_post_id
        LEFT JOIN posts qp ON qp.platform = tq.platform AND qp.post_id = tq.post_id
        LEFT JOIN _actors qa ON qa.platform = qp.platform AND qa.account_id = qp.author_id""",
                [NEG, *mparams])
    cue = ("CASE WHEN neg_cue <> '' THEN '; negation cue ''' || lower(neg_cue) || '''' "
           "ELSE '; no negation cue' END")
    rel = ("CASE WHEN {r} = '{want}' THEN 'reply to' ELSE 'quote of' END || ' the {who}''s "
           "post ' || CASE WHEN {r} = '{want}' THEN reply_parent ELSE quote_parent END")
    denial_rel = rel.format(r="reply_role", want="claimant", who="claimant")
    rebut_rel = rel.format(r="reply_role", want="subject", who="subject")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _labels AS
        SELECT ?::VARCHAR AS story_id, 'post' AS item_kind, platform, post_id AS item_id,
          CASE
            WHEN role IS NOT NULL AND poll_id IS NOT NULL THEN 'poll'
            WHEN role = 'subject' AND 'claimant' IN (reply_role, quote_role) THEN 'denial'
            WHEN role = 'subject' AND neg_cue <> '' THEN 'denial'
            WHEN role = 'claimant' AND 'subject' IN (reply_role, quote_role) THEN 'rebuttal'
            WHEN role = 'claimant' AND matched THEN 'claim'
            WHEN role IS NULL AND coalesce(reply_parent, quote_parent) IS NOT NULL THEN 'reply'
            ELSE 'mention' END AS event_type,
          CASE
            WHEN role IS NOT NULL AND poll_id IS NOT NULL THEN 'actor-poll'
            WHEN role = 'subject' AND 'claimant' IN (reply_role, quote_role)
              THEN 'subject-answers-claimant'
            WHEN role = 'subject' AND neg_cue <> '' THEN 'subject-negation-cue'
            WHEN role = 'claimant' AND 'subject' IN (reply_role, quote_role)
              THEN 'claimant-answers-subject'
            WHEN role = 'claimant' AND matched THEN 'claimant-post'
            WHEN role IS NULL AND coalesce(reply_parent, quote_parent) IS NOT NULL
              THEN 'reply-in-thread'
            WHEN matched THEN 'matches-query'
            ELSE 'actor-post-in-thread' END AS rule,
          CASE
            WHEN role IS NOT NULL AND poll_id IS NOT NULL
              THEN role || '''s post with poll ' || poll_id
            WHEN role = 'subject' AND 'claimant' IN (reply_role, quote_role)
              THEN 'subject''s ' || {denial_rel} || {cue}
            WHEN role = 'subject' AND neg_cue <> ''
              THEN 'subject''s post; negation cue ''' || lower(neg_cue) || ''''
            WHEN role = 'claimant' AND 'subject' IN (reply_role, quote_role)
              THEN 'claimant''s ' || {rebut_rel}
            WHEN role = 'claimant' AND matched
              THEN 'claimant''s post; matched ' || mterms
            WHEN role IS NULL AND coalesce(reply_parent, quote_parent) IS NOT NULL
              THEN CASE WHEN reply_parent IS NOT NULL THEN 'reply to ' || reply_parent
                        ELSE 'quote of ' || quote_parent END || ' in the story'
            WHEN matched THEN coalesce(role || '''s post; ', '') || 'matched ' || mterms
            ELSE role || '''s post in a story thread' END AS evidence,
          CASE
            WHEN role IS NOT NULL AND poll_id IS NOT NULL THEN {C['poll']}
            WHEN role = 'subject' AND 'claimant' IN (reply_role, quote_role)
              THEN CASE WHEN neg_cue <> '' THEN {C['relation+cue']} ELSE {C['relation']} END
            WHEN role = 'subject' AND neg_cue <> '' THEN {C['cue-only']}
            WHEN role = 'claimant' AND 'subject' IN (reply_role, quote_role)
              THEN {C['relation+cue']}
            WHEN role = 'claimant' AND matched THEN {C['claim']}
            WHEN role IS NULL AND coalesce(reply_parent, quote_parent) IS NOT NULL
              THEN {C['reply']}
            ELSE {C['mention']} END AS confidence,
          CASE WHEN role = 'subject' AND 'claimant' IN (reply_role, quote_role)
                 THEN CASE WHEN reply_role = 'claimant' THEN reply_parent ELSE quote_parent END
               WHEN role = 'claimant' AND 'subject' IN (reply_role, quote_role)
                 THEN CASE WHEN reply_role = 'subject' THEN reply_parent ELSE quote_parent END
               ELSE coalesce(reply_parent, quote_parent) END AS parent_item_id
        FROM _it""", [story.id])


def _label_articles(con: duckdb.DuckDBPyConnection, story: StoryConfig) -> None:
    """Append the story's articles to _labels, typed by what they came after and their cues."""
    if not _has_table(con, "articles"):
        return
    text = "concat_ws(' ', a.title, a.summary, a.text)"
    node = parse_query(story.query)
    expr, qparams = to_sql(node, text)
    mterms, mparams = _matched_terms_sql(node, text)
    firsts = con.execute(
        "SELECT min(p.created_at) FILTER (WHERE l.event_type = 'denial'), "
        "min(p.created_at) FILTER (WHERE l.event_type = 'rebuttal'), "
        "min(p.created_at) FILTER (WHERE l.event_type = 'claim') "
        "FROM _labels l JOIN posts p ON p.platform = l.platform AND p.post_id = l.item_id "
        "WHERE l.item_kind = 'post'").fetchone()
    con.execute(f"""
        INSERT INTO _labels
        WITH m AS (
            SELECT a.url, t.event_at, t.clock,
                   coalesce(regexp_extract({text}, ?, 1), '') AS den_cue,
                   coalesce(regexp_extract({text}, ?, 1), '') AS reb_cue,
                   {mterms} AS mterms
            FROM articles a JOIN article_times t USING (url)
            WHERE t.event_at >= ? AND t.event_at < ? AND {expr}
        ), typed AS (
            SELECT *, CASE
                WHEN ?::TIMESTAMPTZ IS NOT NULL AND event_at >= ?::TIMESTAMPTZ AND reb_cue <> ''
                  THEN 'coverage_of_rebuttal'
                WHEN ?::TIMESTAMPTZ IS NOT NULL AND event_at >= ?::TIMESTAMPTZ AND den_cue <> ''
                  THEN 'coverage_of_denial'
                WHEN ?::TIMESTAMPTZ IS NOT NULL AND event_at < ?::TIMESTAMPTZ THEN 'mention'
                ELSE 'coverage_of_claim' END AS event_type
            FROM m
        )
        SELECT ?, 'article', 'web', url, event_type,
               CASE event_type WHEN 'coverage_of_rebuttal' THEN 'after-rebuttal+cue'
                               WHEN 'coverage_of_denial' THEN 'after-denial+cue'
                               WHEN 'mention' THEN 'before-claim'
                               ELSE 'matches-query' END,
               CASE event_type
                 WHEN 'coverage_of_rebuttal' THEN 'published after the first rebuttal; cue '''
                      || lower(reb_cue) || ''''
                 WHEN 'coverage_of_denial' THEN 'published after the first denial; cue '''
                      || lower(den_cue) || ''''
                 WHEN 'mention' THEN 'matched ' || mterms
                      || '; published before the claimant''s first claim (background)'
                 ELSE 'matched ' || mterms || CASE
                      WHEN ?::TIMESTAMPTZ IS NULL OR event_at < ?::TIMESTAMPTZ
                        THEN '; before any denial' ELSE '; no denial cue' END END
               || CASE clock WHEN 'gdelt_seen_at'
                             THEN '; no publication date, GDELT''s first-seen time used'
                             WHEN 'first_seen_at'
                             THEN '; no publication date, first_seen_at used' ELSE '' END,
               CASE WHEN event_type = 'coverage_of_claim' THEN {C['coverage']}
                    WHEN event_type = 'mention' THEN {C['mention']}
                    ELSE {C['coverage+cue']} END,
               NULL
        FROM typed""",
        [DEN, REB, *mparams, story.window.start_at, story.window.end_at, *qparams,
         firsts[1], firsts[1], firsts[0], firsts[0], firsts[2], firsts[2], story.id,
         firsts[0], firsts[0]])


def _stance(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Stance of every reply in _labels toward the post it answers."""
    rows = con.execute(
        "SELECT l.platform, l.item_id, p.text, pp.text FROM _labels l "
        "JOIN posts p ON p.platform = l.platform AND p.post_id = l.item_id "
        "LEFT JOIN posts pp ON pp.platform = l.platform AND pp.post_id = l.parent_item_id "
        "WHERE l.event_type = 'reply' ORDER BY l.platform, l.item_id").fetchall()
    results = []
    if rows:
        from tracker.analysis.stance import predict_stance  # loads numpy and the model

        results = predict_stance([r[2] or "" for r in rows], [r[3] or "" for r in rows])
    return pa.table({
        "platform": pa.array([r[0] for r in rows], pa.string()),
        "item_id": pa.array([r[1] for r in rows], pa.string()),
        "stance": pa.array([r.label for r in results], pa.string()),
        "stance_rule": pa.array([r.rule for r in results], pa.string()),
        "stance_evidence": pa.array([r.evidence for r in results], pa.string()),
        "stance_confidence": pa.array([float(r.confidence) for r in results], pa.float64()),
    })


def analyze_story(con: duckdb.DuckDBPyConnection, story: StoryConfig) -> StoryResult:
    """Recompute one story's automatic labels (inside the caller's transaction)."""
    _label_posts(con, story)
    _label_articles(con, story)
    label_article_updates(con, story)
    con.register("_stance_tbl", _stance(con))
    try:
        con.execute("DELETE FROM story_items WHERE story_id = ?", [story.id])
        con.execute("""
            INSERT INTO story_items
            SELECT l.story_id, l.item_kind, l.platform, l.item_id, l.event_type, l.rule,
                   l.evidence,
                   l.confidence, l.parent_item_id, s.stance, s.stance_rule, s.stance_evidence,
                   s.stance_confidence
            FROM _labels l LEFT JOIN _stance_tbl s
              ON l.item_kind = 'post' AND l.event_type = 'reply' AND s.platform = l.platform
             AND s.item_id = l.item_id""")
    finally:
        con.unregister("_stance_tbl")
    by_event = dict(con.execute(
        "SELECT event_type, count(*) FROM story_items WHERE story_id = ? GROUP BY 1 ORDER BY 1",
        [story.id]).fetchall())
    return StoryResult(story.id, sum(by_event.values()), by_event)


def analyze(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig],
            only: str | None = None) -> list[StoryResult]:
    """Sync stories from the config and relabel them, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        sync_stories(con, stories)
        results = [analyze_story(con, s) for s in stories if only in (None, s.id)]
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    return results

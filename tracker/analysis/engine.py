"""Story analysis in DuckDB: match items to stories, label them by the rules, store story_items.

A story is analysed **in full** the first time, when its configuration or its resolved actors
change, and on `tracker analyze --full`; afterwards **incrementally**: only the posts and
articles loaded since its last analysis (``load_seq``, stamped by the loader) are looked at —
the new posts that match or answer into the story join it with the stored posts that answer
them, the posts whose parent just joined are relabelled, and the articles are relabelled when
the story's firsts moved or its articles changed. Where an incremental step cannot be sure (a
member that changed and no longer qualifies), the story is analysed in full. Both ways give
the same rows (tests/analysis/test_incremental.py).

Matching is one pass over the text for every story at once (matching.py); labelling is
set-based SQL (labels.py); reply stance comes from the stance cache, the model running only on
replies it has not seen (stance_cache.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import duckdb

from tracker.analysis import incremental
from tracker.analysis.article_updates import label_article_updates
from tracker.analysis.labels import (LABEL_COLUMNS, NEG, actors, all_firsts, empty_labels,
                                     label_articles, label_posts, windows)
from tracker.analysis.matching import match_articles, match_posts, terms_words_sql
from tracker.analysis.stance_cache import stances
from tracker.analysis.story_sync import sync_stories
from tracker.core.config import StoryConfig
from tracker.core.timeutil import utcnow
from tracker.store.tx import rollback


@dataclass
class StoryResult:
    story_id: str
    items: int
    by_event: dict[str, int]
    mode: str = "full"                  # full | incremental | unchanged
    relabelled: int = 0                 # items computed this time
    why: str = ""                       # why a story was analysed in full
    details: dict = field(default_factory=dict)


def story_digests(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig]
                  ) -> dict[str, str]:
    """What each story's labels depend on besides the data: its configuration and the
    accounts its actors resolved to."""
    resolved: dict[str, list] = {s.id: [] for s in stories}
    for sid, *row in con.execute(
            "SELECT story_id, platform, handle, role, account_id FROM story_actors "
            "WHERE story_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY ALL",
            [[s.id for s in stories]]).fetchall():
        resolved[sid].append(tuple(row))
    return {s.id: hashlib.sha256(json.dumps([s.model_dump(mode="json"), resolved[s.id]],
                                            sort_keys=True, default=str).encode()).hexdigest()
            for s in stories}


def _watermark(con: duckdb.DuckDBPyConnection) -> int:
    """The last load that changed a post, an article or an article version."""
    return int(con.execute(
        "SELECT greatest((SELECT coalesce(max(load_seq), 0) FROM posts), "
        "(SELECT coalesce(max(load_seq), 0) FROM articles), "
        "(SELECT coalesce(max(load_seq), 0) FROM article_versions))").fetchone()[0])


def _keep(con: duckdb.DuckDBPyConnection) -> None:
    """Add ``_labels`` to ``_out_labels`` (taken whole when nothing else is there: a full
    analysis's labels are most of a run's rows, and copying them costs a tenth of a second a
    million)."""
    if con.execute("SELECT count(*) FROM _out_labels").fetchone()[0]:
        con.execute("INSERT INTO _out_labels SELECT * FROM _labels")
    else:
        con.execute("DROP TABLE _out_labels")
        con.execute("ALTER TABLE _labels RENAME TO _out_labels")


# ---- full -------------------------------------------------------------------------------

def _edges(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig]) -> None:
    """``_edges``: every reply and quote (not reposts) created inside the stories' windows."""
    start = min(s.window.start_at for s in stories)
    end = max(s.window.end_at for s in stories)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _edges AS
        SELECT platform, post_id AS child, reply_to_post_id AS parent, created_at FROM posts
        WHERE reposted_post_id IS NULL AND reply_to_post_id IS NOT NULL
          AND created_at >= ? AND created_at < ?
        UNION ALL
        SELECT platform, post_id, quoted_post_id, created_at FROM posts
        WHERE reposted_post_id IS NULL AND quoted_post_id IS NOT NULL
          AND created_at >= ? AND created_at < ?""", [start, end, start, end])


def _full(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig]) -> dict[str, tuple]:
    """Label every item of these stories from scratch into ``_out_labels``; their firsts.

    All the stories at once: one walk of their threads, each post's text read once (its
    negation cue if a subject wrote it, its words if a query matched it), one labelling
    statement for the posts and one for the articles."""
    if not stories:
        return {}
    match_posts(con, stories)
    match_articles(con, stories)
    _edges(con, stories)
    actors(con, stories)
    windows(con, stories)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _thread AS
        WITH RECURSIVE seed(story_id, platform, post_id) AS (
            SELECT story_id, platform, post_id FROM _matched
            UNION
            SELECT a.story_id, p.platform, p.post_id FROM posts p
            JOIN _actors a ON a.platform = p.platform AND a.account_id = p.author_id
            JOIN _windows w ON w.story_id = a.story_id
            WHERE p.poll_id IS NOT NULL AND p.created_at >= w.start_at
              AND p.created_at < w.end_at
        ), thread(story_id, platform, post_id) AS (
            SELECT story_id, platform, post_id FROM seed
            UNION
            SELECT t.story_id, e.platform, e.child FROM _edges e
            JOIN thread t ON e.platform = t.platform AND e.parent = t.post_id
            JOIN _windows w ON w.story_id = t.story_id
            WHERE e.created_at >= w.start_at AND e.created_at < w.end_at
        )
        SELECT DISTINCT story_id, platform, post_id FROM thread""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tposts AS
        WITH k AS (SELECT DISTINCT platform, post_id FROM _thread),
        subj AS (SELECT DISTINCT platform, account_id FROM _actors WHERE role = 'subject'),
        hit AS (SELECT DISTINCT platform, post_id FROM _matched)
        SELECT p.platform, p.post_id, p.author_id, p.created_at, p.text, p.poll_id,
               p.reply_to_post_id, p.quoted_post_id,
               CASE WHEN subj.account_id IS NOT NULL
                    THEN coalesce(regexp_extract(p.text, ?, 1), '') ELSE '' END AS neg_cue,
               CASE WHEN hit.post_id IS NOT NULL THEN {terms_words_sql(stories, 'p.text')} END
                 AS words
        FROM posts p SEMI JOIN k USING (platform, post_id)
        LEFT JOIN subj ON subj.platform = p.platform AND subj.account_id = p.author_id
        LEFT JOIN hit ON hit.platform = p.platform AND hit.post_id = p.post_id""", [NEG])
    empty_labels(con)
    label_posts(con, stories, todo="_thread", posts="_tposts", neg="neg_cue", words="words")
    found = all_firsts(con, stories, "_labels", posts="_tposts")
    label_articles(con, stories, found)
    label_article_updates(con)
    con.executemany("INSERT INTO _out_full VALUES (?)", [[s.id] for s in stories])
    _keep(con)
    return found


# ---- the run ------------------------------------------------------------------------------

VALUE_COLUMNS = ("event_type", "rule", "evidence", "confidence", "parent_item_id", "stance",
                 "stance_rule", "stance_evidence", "stance_confidence")


def _store(con: duckdb.DuckDBPyConnection) -> None:
    """Write what was recomputed into story_items, with each reply's stance: only the rows
    that differ are deleted and inserted (a full analysis that changes nothing writes
    nothing)."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _replies AS
        SELECT DISTINCT platform, item_id AS post_id, parent_item_id AS parent_id
        FROM _out_labels WHERE item_kind = 'post' AND event_type = 'reply'""")
    stances(con, "_replies")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _items AS
        SELECT l.story_id, l.item_kind, l.platform, l.item_id, l.event_type, l.rule,
               l.evidence, l.confidence, l.parent_item_id, s.stance, s.stance_rule,
               s.stance_evidence, s.stance_confidence
        FROM _out_labels l LEFT JOIN _stances s
          ON l.item_kind = 'post' AND l.event_type = 'reply' AND s.platform = l.platform
         AND s.post_id = l.item_id AND s.parent_id IS NOT DISTINCT FROM l.parent_item_id""")
    # the rows being replaced (whole stories, a story's articles, single items: never the
    # same row twice), compared with the new ones by key: one join, not two set differences
    key = ("story_id", "item_kind", "platform", "item_id")
    differs = " OR ".join(f"s.{c} IS DISTINCT FROM i.{c}" for c in VALUE_COLUMNS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _changed AS
        WITH scope AS (
            SELECT * FROM story_items WHERE story_id IN (SELECT story_id FROM _out_full)
            UNION ALL
            SELECT * FROM story_items WHERE story_id IN (SELECT story_id FROM _out_articles)
              AND item_kind IN ('article', 'article_version')
            UNION ALL
            SELECT * FROM story_items
            WHERE (story_id, item_kind, platform, item_id) IN (SELECT * FROM _out_delete))
        SELECT {', '.join(f'coalesce(s.{c}, i.{c}) AS {c}' for c in key)},
               s.story_id IS NOT NULL AS stored, i.story_id IS NOT NULL AS computed
        FROM scope s FULL JOIN _items i
          ON {' AND '.join(f's.{c} = i.{c}' for c in key)}
        WHERE s.story_id IS NULL OR i.story_id IS NULL OR {differs}""")
    con.execute("""
        DELETE FROM story_items WHERE (story_id, item_kind, platform, item_id) IN (
            SELECT story_id, item_kind, platform, item_id FROM _changed WHERE stored)""")
    con.execute("""
        INSERT INTO story_items SELECT * FROM _items
        SEMI JOIN (SELECT * FROM _changed WHERE computed)
        USING (story_id, item_kind, platform, item_id)""")


def analyze(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig],
            only: str | None = None, full: bool = False) -> list[StoryResult]:
    """Sync stories from the config and bring their labels up to date, in one transaction:
    incrementally where a story was analysed before with the same configuration, in full
    otherwise or with ``full``."""
    con.execute("BEGIN TRANSACTION")
    try:
        sync_stories(con, stories)
        chosen = [s for s in stories if only in (None, s.id)]
        seq = _watermark(con)
        state = {r[0]: (r[1], r[2], tuple(r[3:])) for r in con.execute(
            "SELECT story_id, config_digest, load_seq, first_denial, first_rebuttal, "
            "first_claim FROM analysis_state").fetchall()}
        con.execute(f"CREATE OR REPLACE TEMP TABLE _out_labels ({LABEL_COLUMNS})")
        con.execute("CREATE OR REPLACE TEMP TABLE _out_full (story_id VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE _out_articles (story_id VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE _out_delete (story_id VARCHAR, "
                    "item_kind VARCHAR, platform VARCHAR, item_id VARCHAR)")
        digests = story_digests(con, chosen)
        results: dict[str, StoryResult] = {}
        in_full: list[StoryConfig] = []
        since: dict[str, int] = {}
        for s in chosen:
            old = state.get(s.id)
            why = ("--full" if full else "first analysis" if old is None
                   else "its configuration or actors changed" if old[0] != digests[s.id]
                   else "")
            if why:
                in_full.append(s)
                results[s.id] = StoryResult(s.id, 0, {}, "full", why=why)
            else:
                since[s.id] = old[1]
        first_times: dict[str, tuple] = {}
        for s in chosen:
            if s.id in since and since[s.id] >= seq:      # no load since its last analysis
                results[s.id] = StoryResult(s.id, 0, {}, "unchanged")
                first_times[s.id] = state[s.id][2]
        stepwise = [s for s in chosen if s.id in since and since[s.id] < seq]
        if stepwise:
            incremental.prepare(con, stepwise, since)
            done = incremental.relabel(con, stepwise, since,
                                       {s.id: state[s.id][2] for s in stepwise})
            for s in stepwise:
                mode, n, why, first_times[s.id] = done[s.id]
                results[s.id] = StoryResult(s.id, 0, {}, mode, n, why)
                if mode == "full":
                    in_full.append(s)
        first_times.update(_full(con, in_full))
        _store(con)
        labelled = dict(con.execute("SELECT story_id, count(*) FROM _out_labels "
                                    "GROUP BY story_id").fetchall())
        now = utcnow()
        for s in chosen:
            if results[s.id].mode == "full":
                results[s.id].relabelled = labelled.get(s.id, 0)
        if chosen:
            con.execute(
                "INSERT OR REPLACE INTO analysis_state (story_id, config_digest, load_seq, "
                "analysed_at, mode, first_denial, first_rebuttal, first_claim) VALUES "
                + ", ".join("(?, ?, ?, ?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ)"
                            for _ in chosen),
                [v for s in chosen for v in (s.id, digests[s.id], seq, now,
                                             results[s.id].mode, *first_times[s.id])])
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    counts: dict[str, dict[str, int]] = {}
    for sid, event, n in con.execute(
            "SELECT story_id, event_type, count(*) FROM story_items WHERE story_id IN "
            "(SELECT unnest(?::VARCHAR[])) GROUP BY ALL ORDER BY 1, 2",
            [[s.id for s in chosen]]).fetchall():
        counts.setdefault(sid, {})[event] = n
    out = []
    for s in chosen:
        r = results[s.id]
        r.by_event = counts.get(s.id, {})
        r.items = sum(r.by_event.values())
        out.append(r)
    return out

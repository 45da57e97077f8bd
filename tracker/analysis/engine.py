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

from tracker.analysis.article_updates import label_article_updates
from tracker.analysis.labels import (LABEL_COLUMNS, empty_labels, firsts, label_articles,
                                     label_posts)
from tracker.analysis.matching import match_articles, match_posts
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


def story_digest(con: duckdb.DuckDBPyConnection, story: StoryConfig) -> str:
    """What a story's labels depend on besides the data: its configuration and the accounts
    its actors resolved to."""
    actors = con.execute("SELECT platform, handle, role, account_id FROM story_actors "
                         "WHERE story_id = ? ORDER BY ALL", [story.id]).fetchall()
    text = json.dumps([story.model_dump(mode="json"), actors], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _watermark(con: duckdb.DuckDBPyConnection) -> int:
    """The last load that changed a post, an article or an article version."""
    return int(con.execute(
        "SELECT greatest((SELECT coalesce(max(load_seq), 0) FROM posts), "
        "(SELECT coalesce(max(load_seq), 0) FROM articles), "
        "(SELECT coalesce(max(load_seq), 0) FROM article_versions))").fetchone()[0])


def _actors(con: duckdb.DuckDBPyConnection, story: StoryConfig) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE _actors AS SELECT platform, account_id, role "
                "FROM story_actors WHERE story_id = ? AND account_id IS NOT NULL", [story.id])


def _keep(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO _out_labels SELECT * FROM _labels")


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


def _full(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig]) -> None:
    """Label every item of these stories from scratch into ``_out_labels``."""
    if not stories:
        return
    match_posts(con, stories)
    match_articles(con, stories)
    _edges(con, stories)
    for story in stories:
        start, end = story.window.start_at, story.window.end_at
        _actors(con, story)
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _thread AS
            WITH RECURSIVE seed(platform, post_id) AS (
                SELECT platform, post_id FROM _matched WHERE story_id = ?
                UNION
                SELECT p.platform, p.post_id FROM posts p
                JOIN _actors a ON a.platform = p.platform AND a.account_id = p.author_id
                WHERE p.poll_id IS NOT NULL AND p.created_at >= ? AND p.created_at < ?
            ), thread(platform, post_id) AS (
                SELECT platform, post_id FROM seed
                UNION
                SELECT e.platform, e.child FROM _edges e
                JOIN thread t ON e.platform = t.platform AND e.parent = t.post_id
                WHERE e.created_at >= ? AND e.created_at < ?
            )
            SELECT DISTINCT platform, post_id FROM thread""",
                    [story.id, start, end, start, end])
        con.execute("CREATE OR REPLACE TEMP TABLE _todo AS SELECT * FROM _thread")
        empty_labels(con)
        label_posts(con, story)
        label_articles(con, story, firsts(con, "_labels", story.id))
        label_article_updates(con, story)
        con.execute("INSERT INTO _out_full VALUES (?)", [story.id])
        _keep(con)


# ---- incremental --------------------------------------------------------------------------

def _follow(con: duckdb.DuckDBPyConnection, since, end) -> None:
    """``_joining``: ``_front`` and every post created since ``since`` (replies come after
    what they answer) that answers one of them, at any depth, less the current members."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _joining AS
        WITH RECURSIVE edges AS (
            SELECT platform, post_id AS child, reply_to_post_id AS parent FROM posts
            WHERE reposted_post_id IS NULL AND reply_to_post_id IS NOT NULL
              AND created_at >= ? AND created_at < ?
            UNION ALL
            SELECT platform, post_id, quoted_post_id FROM posts
            WHERE reposted_post_id IS NULL AND quoted_post_id IS NOT NULL
              AND created_at >= ? AND created_at < ?
        ), r(platform, post_id) AS (
            SELECT platform, post_id FROM _front
            UNION
            SELECT e.platform, e.child FROM edges e
            JOIN r ON e.platform = r.platform AND e.parent = r.post_id
        )
        SELECT DISTINCT platform, post_id FROM r
        WHERE (platform, post_id) NOT IN (SELECT * FROM _members)""", [since, end] * 2)


def _incremental(con: duckdb.DuckDBPyConnection, story: StoryConfig, since: int
                 ) -> tuple[str, int, str]:
    """Relabel what the loads after ``since`` touched; (mode, items labelled, why not)."""
    start, end = story.window.start_at, story.window.end_at
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _new AS
        SELECT platform, post_id, created_at, reply_to_post_id, quoted_post_id FROM posts
        WHERE coalesce(load_seq, 0) > ? AND reposted_post_id IS NULL
          AND created_at >= ? AND created_at < ?""", [since, start, end])
    n_new = con.execute("SELECT count(*) FROM _new").fetchone()[0]
    # articles whose row or versions changed: each is relabelled (or leaves) on its own
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _achanged AS
        SELECT url FROM articles WHERE coalesce(load_seq, 0) > ?
        UNION SELECT url FROM article_versions WHERE coalesce(load_seq, 0) > ?""",
                [since, since])
    articles_changed = con.execute("SELECT count(*) FROM _achanged").fetchone()[0] > 0
    if not n_new and not articles_changed:
        return "unchanged", 0, ""
    _actors(con, story)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _members AS
        SELECT platform, item_id AS post_id FROM story_items
        WHERE story_id = ? AND item_kind = 'post'""", [story.id])
    match_posts(con, [story], scope="_new")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _newseed AS
        SELECT platform, post_id FROM _matched
        UNION
        SELECT n.platform, n.post_id FROM _new n JOIN posts p USING (platform, post_id)
        JOIN _actors a ON a.platform = p.platform AND a.account_id = p.author_id
        WHERE p.poll_id IS NOT NULL""")
    # posts that join now: new seeds, new posts answering a member or a new seed, and every
    # stored post that answers one of those (it may have arrived before its parent)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _front AS
        WITH base AS (SELECT * FROM _members UNION SELECT * FROM _newseed)
        SELECT platform, post_id FROM _newseed
        UNION
        SELECT n.platform, n.post_id FROM _new n
        JOIN base b ON b.platform = n.platform AND b.post_id = n.reply_to_post_id
        UNION
        SELECT n.platform, n.post_id FROM _new n
        JOIN base b ON b.platform = n.platform AND b.post_id = n.quoted_post_id""")
    con.execute("DELETE FROM _front WHERE (platform, post_id) IN (SELECT * FROM _members)")
    since_time = con.execute("SELECT min(p.created_at) FROM _front f JOIN posts p "
                             "USING (platform, post_id)").fetchone()[0]
    if since_time is None:                          # nobody joins: no thread to follow
        con.execute("CREATE OR REPLACE TEMP TABLE _joining (platform VARCHAR, "
                    "post_id VARCHAR)")
    else:
        _follow(con, since_time, end)
    con.execute("CREATE OR REPLACE TEMP TABLE _thread AS SELECT * FROM _members "
                "UNION SELECT * FROM _joining")
    # members that changed must still belong (matched, an actor's poll, or answering one)
    lost = con.execute("""
        WITH changed AS (
            SELECT n.* FROM _new n SEMI JOIN _members m USING (platform, post_id)
            WHERE (n.platform, n.post_id) NOT IN (SELECT * FROM _newseed)
        ), held AS (
            SELECT c.platform, c.post_id FROM changed c
            JOIN _thread t ON t.platform = c.platform AND t.post_id = c.reply_to_post_id
            UNION
            SELECT c.platform, c.post_id FROM changed c
            JOIN _thread t ON t.platform = c.platform AND t.post_id = c.quoted_post_id
        )
        SELECT count(*) FROM changed ANTI JOIN held USING (platform, post_id)""").fetchone()[0]
    if lost:
        return "full", 0, f"{lost} changed post(s) may have left the story"
    # to label: who joins, members that changed, members whose parent just joined
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _todo AS
        WITH m AS (SELECT p.platform, p.post_id, p.reply_to_post_id, p.quoted_post_id
                   FROM _members JOIN posts p USING (platform, post_id))
        SELECT * FROM _joining
        UNION SELECT platform, post_id FROM _new SEMI JOIN _members USING (platform, post_id)
        UNION SELECT m.platform, m.post_id FROM m
              JOIN _joining j ON j.platform = m.platform AND j.post_id = m.reply_to_post_id
        UNION SELECT m.platform, m.post_id FROM m
              JOIN _joining j ON j.platform = m.platform AND j.post_id = m.quoted_post_id""")
    if not articles_changed and not con.execute("SELECT count(*) FROM _todo").fetchone()[0]:
        return "unchanged", 0, ""                   # new posts, none of them this story's
    match_posts(con, [story], scope="_todo")        # whether each of them matches
    empty_labels(con)
    label_posts(con, story)
    n = con.execute("SELECT count(*) FROM _labels").fetchone()[0]
    con.execute("INSERT INTO _out_delete SELECT ?, 'post', platform, post_id FROM _todo",
                [story.id])
    before = firsts(con, "story_items", story.id)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _after AS
        SELECT story_id, item_kind, platform, item_id, event_type FROM story_items
        WHERE story_id = ? AND item_kind = 'post'
          AND (platform, item_id) NOT IN (SELECT * FROM _todo)
        UNION ALL
        SELECT story_id, item_kind, platform, item_id, event_type FROM _labels""", [story.id])
    after = firsts(con, "_after", story.id)
    if after != before:
        # the firsts moved: every article's type may change
        match_articles(con, [story])
        label_articles(con, story, after)
        label_article_updates(con, story)
        con.execute("INSERT INTO _out_articles VALUES (?)", [story.id])
    elif articles_changed:
        # only the changed articles (and their versions) are labelled again
        match_articles(con, [story], scope="_achanged")
        label_articles(con, story, after)
        label_article_updates(con, story)
        con.execute("""
            INSERT INTO _out_delete
            SELECT ?, 'article', 'web', url FROM _achanged
            UNION ALL
            SELECT story_id, item_kind, platform, item_id FROM story_items
            WHERE story_id = ? AND item_kind = 'article_version'
              AND parent_item_id IN (SELECT url FROM _achanged)""", [story.id, story.id])
    n = con.execute("SELECT count(*) FROM _labels").fetchone()[0]
    _keep(con)
    if not n and not con.execute("SELECT count(*) FROM _out_delete WHERE story_id = ?",
                                 [story.id]).fetchone()[0]:
        return "unchanged", 0, ""
    return "incremental", n, ""


# ---- the run ------------------------------------------------------------------------------

def _store(con: duckdb.DuckDBPyConnection) -> None:
    """Replace what was recomputed in story_items, with each reply's stance."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _replies AS
        SELECT DISTINCT platform, item_id AS post_id, parent_item_id AS parent_id
        FROM _out_labels WHERE item_kind = 'post' AND event_type = 'reply'""")
    stances(con, "_replies")
    con.execute("DELETE FROM story_items WHERE story_id IN (SELECT story_id FROM _out_full)")
    con.execute("DELETE FROM story_items WHERE story_id IN (SELECT story_id FROM _out_articles) "
                "AND item_kind IN ('article', 'article_version')")
    con.execute("DELETE FROM story_items WHERE (story_id, item_kind, platform, item_id) IN "
                "(SELECT * FROM _out_delete)")
    con.execute("""
        INSERT INTO story_items
        SELECT l.story_id, l.item_kind, l.platform, l.item_id, l.event_type, l.rule,
               l.evidence, l.confidence, l.parent_item_id, s.stance, s.stance_rule,
               s.stance_evidence, s.stance_confidence
        FROM _out_labels l LEFT JOIN _stances s
          ON l.item_kind = 'post' AND l.event_type = 'reply' AND s.platform = l.platform
         AND s.post_id = l.item_id AND s.parent_id IS NOT DISTINCT FROM l.parent_item_id""")


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
        state = {r[0]: r[1:] for r in con.execute(
            "SELECT story_id, config_digest, load_seq FROM analysis_state").fetchall()}
        con.execute(f"CREATE OR REPLACE TEMP TABLE _out_labels ({LABEL_COLUMNS})")
        con.execute("CREATE OR REPLACE TEMP TABLE _out_full (story_id VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE _out_articles (story_id VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE _out_delete (story_id VARCHAR, "
                    "item_kind VARCHAR, platform VARCHAR, item_id VARCHAR)")
        digests = {s.id: story_digest(con, s) for s in chosen}
        results: dict[str, StoryResult] = {}
        in_full: list[StoryConfig] = []
        for s in chosen:
            old = state.get(s.id)
            why = ("--full" if full else "first analysis" if old is None
                   else "its configuration or actors changed" if old[0] != digests[s.id]
                   else "")
            if why:
                in_full.append(s)
                results[s.id] = StoryResult(s.id, 0, {}, "full", why=why)
                continue
            mode, n, why = _incremental(con, s, old[1])
            results[s.id] = StoryResult(s.id, 0, {}, mode, n, why)
            if mode == "full":
                in_full.append(s)
        _full(con, in_full)
        _store(con)
        for s in chosen:
            r = results[s.id]
            if r.mode == "full":
                r.relabelled = con.execute("SELECT count(*) FROM _out_labels WHERE story_id = ?",
                                           [s.id]).fetchone()[0]
            con.execute("INSERT OR REPLACE INTO analysis_state VALUES (?, ?, ?, ?, ?)",
                        [s.id, digests[s.id], seq, utcnow(), r.mode])
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    out = []
    for s in chosen:
        r = results[s.id]
        r.by_event = dict(con.execute(
            "SELECT event_type, count(*) FROM story_items WHERE story_id = ? GROUP BY 1 "
            "ORDER BY 1", [s.id]).fetchall())
        r.items = sum(r.by_event.values())
        out.append(r)
    return out

"""Incremental analysis: relabel only what the loads since a story's last analysis touched.

:func:`prepare` reads the database once for every story of the run: the posts loaded since the
oldest story's last analysis (``load_seq``) with the posts they answer, the changed articles,
and the stories' members; it matches the new text against every story's query in one pass.
:func:`relabel` then works per story on small tables: the new posts that match or answer into
the story join it with the stored posts that answer them (replies come after what they
answer, so only posts created since the earliest joining one are followed), the members whose
parent just joined are relabelled, changed members are checked to still belong (else the story
is analysed in full), and articles are relabelled one by one when they changed, or all when
the story's firsts moved. The story's firsts are kept in analysis_state, so a run never reads
the whole posts table. The results equal a full analysis (tests/analysis/test_incremental.py).
"""

from __future__ import annotations

import duckdb

from tracker.analysis.article_updates import label_article_updates
from tracker.analysis.labels import (DEN, NEG, REB, actors, empty_labels, firsts,
                                     label_articles, label_posts, tagged)
from tracker.analysis.matching import ARTICLE_TEXT, match_articles, match_posts
from tracker.core.config import StoryConfig

POST_COLUMNS = ("platform, post_id, author_id, created_at, text, reply_to_post_id, "
                "quoted_post_id, reposted_post_id, poll_id, load_seq")
FIRSTS = ("denial", "rebuttal", "claim")        # the order of labels.firsts


def _count(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> int:
    return con.execute(sql, params or []).fetchone()[0]


def prepare(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig],
            since: dict[str, int]) -> None:
    """The shared tables of this run's incremental stories (``since``: story -> the last load
    its labels include): ``_new_all`` (posts loaded since, not reposts), ``_rows`` (those and
    the posts they answer), ``_matched_new``, ``_members_all``, ``_achanged_all`` (articles
    whose row or versions changed since), their rows and times (``_arows``, ``_atimes``) and
    ``_amatched_new``."""
    low = min(since.values())
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _new_all AS
        SELECT {POST_COLUMNS} FROM posts
        WHERE coalesce(load_seq, 0) > ? AND reposted_post_id IS NULL""", [low])
    # replies come after what they answer: a thread that new posts join is followed among
    # the posts created since the earliest new one (``_recent_all``)
    earliest = con.execute("SELECT min(created_at) FROM _new_all").fetchone()[0]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _recent_all AS
        SELECT {POST_COLUMNS} FROM posts
        WHERE reposted_post_id IS NULL AND ?::TIMESTAMPTZ IS NOT NULL AND created_at >= ?
          AND (reply_to_post_id IS NOT NULL OR quoted_post_id IS NOT NULL)""",
                [earliest, earliest])
    # every post a story's relabelling reads, with its negation cue found once
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _rows AS
        SELECT *, coalesce(regexp_extract(text, ?, 1), '') AS neg_cue FROM (
            SELECT * FROM _new_all
            UNION SELECT * FROM _recent_all
            UNION SELECT {POST_COLUMNS} FROM posts SEMI JOIN (
                SELECT platform, reply_to_post_id AS post_id FROM _new_all
                UNION SELECT platform, quoted_post_id FROM _new_all
            ) k USING (platform, post_id))""", [NEG])
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _members_all AS
        SELECT story_id, platform, item_id AS post_id, event_type FROM story_items
        WHERE item_kind = 'post' AND story_id IN (SELECT unnest(?::VARCHAR[]))""",
                [[s.id for s in stories]])
    match_posts(con, stories, source="_new_all", target="_matched_new")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _achanged_all AS
        SELECT url, max(seq) AS load_seq FROM (
            SELECT url, coalesce(load_seq, 0) AS seq FROM articles
            WHERE coalesce(load_seq, 0) > ?
            UNION ALL
            SELECT url, coalesce(load_seq, 0) FROM article_versions
            WHERE coalesce(load_seq, 0) > ?) GROUP BY url""", [low, low])
    match_articles(con, stories, scope="_achanged_all", target="_amatched_new")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _arows AS SELECT *, "
                f"coalesce(regexp_extract({ARTICLE_TEXT}, ?, 1), '') AS den_cue, "
                f"coalesce(regexp_extract({ARTICLE_TEXT}, ?, 1), '') AS reb_cue "
                "FROM articles a SEMI JOIN _achanged_all USING (url)", [DEN, REB])
    con.execute("CREATE OR REPLACE TEMP TABLE _atimes AS SELECT * FROM article_times "
                "SEMI JOIN _achanged_all USING (url)")


def _follow(con: duckdb.DuckDBPyConnection, since, end) -> None:
    """``_recent``: the posts created since ``since`` that answer one; ``_joining``:
    ``_front`` and every recent post that answers one of them, at any depth, less the
    current members."""
    con.execute("CREATE OR REPLACE TEMP TABLE _recent AS SELECT * FROM _recent_all "
                "WHERE created_at >= ? AND created_at < ?", [since, end])
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _joining AS
        WITH RECURSIVE edges AS (
            SELECT platform, post_id AS child, reply_to_post_id AS parent FROM _recent
            WHERE reply_to_post_id IS NOT NULL
            UNION ALL
            SELECT platform, post_id, quoted_post_id FROM _recent
            WHERE quoted_post_id IS NOT NULL
        ), r(platform, post_id) AS (
            SELECT platform, post_id FROM _front
            UNION
            SELECT e.platform, e.child FROM edges e
            JOIN r ON e.platform = r.platform AND e.parent = r.post_id
        )
        SELECT DISTINCT platform, post_id FROM r
        WHERE (platform, post_id) NOT IN (SELECT * FROM _members)""")


def _earliest(a, b):
    return b if a is None else a if b is None else min(a, b)


def relabel(con: duckdb.DuckDBPyConnection, story: StoryConfig, since: int, before: tuple
            ) -> tuple[str, int, str, tuple]:
    """Relabel what the loads after ``since`` touched into ``_out_labels`` and
    ``_out_delete`` (``_out_articles`` when every article is redone). ``before``: the story's
    firsts (labels.firsts) as of its last analysis. Returns (mode, items labelled, why it
    must be analysed in full, the firsts now)."""
    start, end = story.window.start_at, story.window.end_at
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _new AS
        SELECT platform, post_id, created_at, reply_to_post_id, quoted_post_id FROM _new_all
        WHERE coalesce(load_seq, 0) > ? AND created_at >= ? AND created_at < ?""",
                [since, start, end])
    con.execute("CREATE OR REPLACE TEMP TABLE _achanged AS SELECT url FROM _achanged_all "
                "WHERE load_seq > ?", [since])
    articles_changed = _count(con, "SELECT count(*) FROM _achanged") > 0
    if not _count(con, "SELECT count(*) FROM _new") and not articles_changed:
        return "unchanged", 0, "", before
    actors(con, [story])
    con.execute("CREATE OR REPLACE TEMP TABLE _members AS SELECT platform, post_id "
                "FROM _members_all WHERE story_id = ?", [story.id])
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _newseed AS
        SELECT platform, post_id FROM _matched_new WHERE story_id = ?
          AND (platform, post_id) IN (SELECT platform, post_id FROM _new)
        UNION
        SELECT n.platform, n.post_id FROM _new n JOIN _new_all p USING (platform, post_id)
        JOIN _actors a ON a.platform = p.platform AND a.account_id = p.author_id
        WHERE p.poll_id IS NOT NULL""", [story.id])
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
    since_time = con.execute("SELECT min(p.created_at) FROM _front f JOIN _new p "
                             "USING (platform, post_id)").fetchone()[0]
    if since_time is None:                          # nobody joins: no thread to follow
        con.execute("CREATE OR REPLACE TEMP TABLE _joining (platform VARCHAR, "
                    "post_id VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE _recent AS SELECT * FROM _recent_all "
                    "LIMIT 0")
    else:
        _follow(con, since_time, end)
    con.execute("CREATE OR REPLACE TEMP TABLE _thread AS SELECT * FROM _members "
                "UNION SELECT * FROM _joining")
    # members that changed must still belong (matched, an actor's poll, or answering one)
    lost = _count(con, """
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
        SELECT count(*) FROM changed ANTI JOIN held USING (platform, post_id)""")
    if lost:
        return "full", 0, f"{lost} changed post(s) may have left the story", before
    # to label: who joins, members that changed, members whose parent just joined (created
    # after it, so among the recent posts)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _todo AS
        WITH m AS (SELECT r.platform, r.post_id, r.reply_to_post_id, r.quoted_post_id
                   FROM _recent r SEMI JOIN _members USING (platform, post_id))
        SELECT * FROM _joining
        UNION SELECT platform, post_id FROM _new SEMI JOIN _members USING (platform, post_id)
        UNION SELECT m.platform, m.post_id FROM m
              JOIN _joining j ON j.platform = m.platform AND j.post_id = m.reply_to_post_id
        UNION SELECT m.platform, m.post_id FROM m
              JOIN _joining j ON j.platform = m.platform AND j.post_id = m.quoted_post_id""")
    todo = _count(con, "SELECT count(*) FROM _todo")
    if not todo and not articles_changed:
        return "unchanged", 0, "", before           # new posts, none of them this story's
    empty_labels(con)
    after = before
    if todo:
        con.execute("CREATE OR REPLACE TEMP TABLE _trows AS SELECT * FROM _rows "
                    "SEMI JOIN _todo USING (platform, post_id)")
        # the todo posts' parents in the story: every one is new, recent or a parent of new
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _tthread AS
            SELECT * FROM _thread SEMI JOIN (
                SELECT platform, reply_to_post_id AS post_id FROM _trows
                UNION SELECT platform, quoted_post_id FROM _trows) k
            USING (platform, post_id)""")
        # the new posts were matched once for every story; only older ones are matched here
        con.execute("CREATE OR REPLACE TEMP TABLE _told AS SELECT * FROM _trows WHERE "
                    "(platform, post_id) NOT IN (SELECT platform, post_id FROM _new_all)")
        match_posts(con, [story] if _count(con, "SELECT count(*) FROM _told") else [],
                    source="_told")
        con.execute("INSERT INTO _matched SELECT story_id, platform, post_id FROM _matched_new "
                    "WHERE story_id = ? AND (platform, post_id) IN "
                    "(SELECT platform, post_id FROM _trows)", [story.id])
        label_posts(con, [story], todo=tagged("_todo", story), posts="_rows",
                    thread=tagged("_tthread", story), neg="neg_cue")
        con.execute("INSERT INTO _out_delete SELECT ?, 'post', platform, post_id FROM _todo",
                    [story.id])
        was_first = _count(con, "SELECT count(*) FROM _members_all m SEMI JOIN _todo "
                                "USING (platform, post_id) WHERE m.story_id = ? "
                                "AND m.event_type IN ('denial', 'rebuttal', 'claim')",
                           [story.id])
        if was_first:
            # a post that was a first is relabelled: the firsts are read again
            con.execute("""
                CREATE OR REPLACE TEMP TABLE _after AS
                SELECT story_id, item_kind, platform, item_id, event_type FROM story_items
                WHERE story_id = ? AND item_kind = 'post'
                  AND (platform, item_id) NOT IN (SELECT * FROM _todo)
                UNION ALL
                SELECT story_id, item_kind, platform, item_id, event_type FROM _labels""",
                        [story.id])
            after = firsts(con, "_after", story.id)
        else:
            now = firsts(con, "_labels", story.id, posts="_rows")
            after = tuple(_earliest(a, b) for a, b in zip(before, now))
    if after != before:
        # the firsts moved: every article's type may change
        match_articles(con, [story])
        label_articles(con, [story], {story.id: after})
        label_article_updates(con)
        con.execute("INSERT INTO _out_articles VALUES (?)", [story.id])
    elif articles_changed:
        # only the changed articles (and their versions) are labelled again
        con.execute("CREATE OR REPLACE TEMP TABLE _amatched AS SELECT story_id, url "
                    "FROM _amatched_new WHERE story_id = ? AND url IN (SELECT url FROM "
                    "_achanged)", [story.id])
        label_articles(con, [story], {story.id: after}, articles="_arows", times="_atimes",
                       cues=True)
        label_article_updates(con)
        con.execute("""
            INSERT INTO _out_delete
            SELECT story_id, item_kind, platform, item_id FROM story_items
            WHERE story_id = ? AND item_kind IN ('article', 'article_version')
              AND coalesce(parent_item_id, item_id) IN (SELECT url FROM _achanged)""",
                    [story.id])
    n = _count(con, "SELECT count(*) FROM _labels")
    con.execute("INSERT INTO _out_labels SELECT * FROM _labels")
    if not n and not _count(con, "SELECT count(*) FROM _out_delete WHERE story_id = ?",
                            [story.id]):
        return "unchanged", 0, "", after
    return "incremental", n, "", after

"""Incremental analysis: relabel only what the loads since a story's last analysis touched.

:func:`prepare` reads the database once for every story of the run: the posts loaded since the
oldest story's last analysis (``load_seq``) with the posts they answer, the changed articles,
and the stories' members; it matches the new text against every story's query in one pass.
:func:`relabel` then works on small tables, every story at once (each row carries its story):
the new posts that match or answer into a story join it with the stored posts that answer them
(replies come after what they answer, so only posts created since the earliest joining one are
followed), the members whose parent just joined and the replies whose parent changed are
relabelled, changed members are checked to still belong (else the story is analysed in full),
and articles are relabelled one by one when they changed, or all when the story's firsts moved.
The story's firsts are kept in analysis_state, so a run never reads the whole posts table.
The results equal a full analysis (tests/analysis/test_incremental.py).
"""

from __future__ import annotations

import duckdb

from tracker.analysis.article_updates import label_article_updates
from tracker.analysis.labels import (DEN, NEG, REB, actors, all_firsts, empty_labels,
                                     label_articles, label_posts, windows)
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
    the posts they answer), ``_matched_new``, ``_members_all``, ``_kids_all``,
    ``_achanged_all`` (articles whose row or versions changed since), their rows and times
    (``_arows``, ``_atimes``) and ``_amatched_new``."""
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
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _members_all AS
        SELECT story_id, platform, item_id AS post_id, event_type, parent_item_id
        FROM story_items
        WHERE item_kind = 'post' AND story_id IN (SELECT unnest(?::VARCHAR[]))""",
                [[s.id for s in stories]])
    # a reply's stance reads its parent's text: the replies under a changed post are
    # labelled again (``_kids_all``)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _kids_all AS
        SELECT m.story_id, m.platform, m.post_id, m.parent_item_id FROM _members_all m
        SEMI JOIN _new_all n ON n.platform = m.platform AND n.post_id = m.parent_item_id
        WHERE m.event_type = 'reply'""")
    # every post a story's relabelling reads, with its negation cue found once
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _rows AS
        SELECT *, coalesce(regexp_extract(text, ?, 1), '') AS neg_cue FROM (
            SELECT * FROM _new_all
            UNION SELECT * FROM _recent_all
            UNION SELECT {POST_COLUMNS} FROM posts SEMI JOIN (
                SELECT platform, reply_to_post_id AS post_id FROM _new_all
                UNION SELECT platform, quoted_post_id FROM _new_all
                UNION SELECT platform, post_id FROM _kids_all
            ) k USING (platform, post_id))""", [NEG])
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


def _earliest(a, b):
    return b if a is None else a if b is None else min(a, b)


def _ids(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> set[str]:
    return {r[0] for r in con.execute(sql, params or []).fetchall()}


def _tmp(con: duckdb.DuckDBPyConnection, name: str, sql: str, params=None) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}", params or [])


def relabel(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig], since: dict[str, int],
            before: dict[str, tuple]) -> dict[str, tuple[str, int, str, tuple]]:
    """Relabel what the loads after each story's ``since`` touched, every story at once, into
    ``_out_labels`` and ``_out_delete`` (``_out_articles`` for a story whose articles are all
    redone). ``before``: each story's firsts (labels.firsts) as of its last analysis. Returns,
    per story, (mode, items labelled, why it must be analysed in full, the firsts now)."""
    windows(con, stories, since)
    _tmp(con, "_new", """
        SELECT s.story_id, n.platform, n.post_id, n.created_at, n.reply_to_post_id,
               n.quoted_post_id
        FROM _new_all n JOIN _windows s ON coalesce(n.load_seq, 0) > s.since
         AND n.created_at >= s.start_at AND n.created_at < s.end_at""")
    _tmp(con, "_achanged", "SELECT s.story_id, a.url FROM _achanged_all a "
                           "JOIN _windows s ON a.load_seq > s.since")
    with_new = _ids(con, "SELECT DISTINCT story_id FROM _new")
    articles_changed = _ids(con, "SELECT DISTINCT story_id FROM _achanged")
    out = {st.id: ("unchanged", 0, "", before[st.id]) for st in stories}
    live = [st for st in stories if st.id in with_new | articles_changed]
    if not live:
        return out
    actors(con, live)
    _tmp(con, "_newseed", """
        SELECT m.story_id, m.platform, m.post_id FROM _matched_new m
        SEMI JOIN _new n USING (story_id, platform, post_id)
        UNION
        SELECT n.story_id, n.platform, n.post_id FROM _new n
        JOIN _new_all p USING (platform, post_id)
        JOIN _actors a ON a.story_id = n.story_id AND a.platform = p.platform
         AND a.account_id = p.author_id
        WHERE p.poll_id IS NOT NULL""")
    # posts that join now: new seeds, new posts answering a member or a new seed, and every
    # stored post that answers one of those (it may have arrived before its parent)
    answers = " UNION ".join(
        f"SELECT n.story_id, n.platform, n.post_id FROM _new n SEMI JOIN {base} b "
        f"ON b.story_id = n.story_id AND b.platform = n.platform AND b.post_id = n.{col}"
        for base in ("_members_all", "_newseed")
        for col in ("reply_to_post_id", "quoted_post_id"))
    _tmp(con, "_front", f"""
        WITH f AS (SELECT * FROM _newseed UNION {answers})
        SELECT * FROM f ANTI JOIN _members_all m USING (story_id, platform, post_id)""")
    # replies come after what they answer: each story's thread is followed among the posts
    # created since the earliest one that joins it
    _tmp(con, "_recent", """
        WITH st AS (SELECT f.story_id, min(n.created_at) AS since_time FROM _front f
                    JOIN _new n USING (story_id, platform, post_id) GROUP BY f.story_id)
        SELECT st.story_id, r.* FROM _recent_all r JOIN st ON r.created_at >= st.since_time
        JOIN _windows s ON s.story_id = st.story_id AND r.created_at < s.end_at""")
    _tmp(con, "_joining", """
        WITH RECURSIVE edges AS (
            SELECT story_id, platform, post_id AS child, reply_to_post_id AS parent
            FROM _recent WHERE reply_to_post_id IS NOT NULL
            UNION ALL
            SELECT story_id, platform, post_id, quoted_post_id FROM _recent
            WHERE quoted_post_id IS NOT NULL
        ), r(story_id, platform, post_id) AS (
            SELECT story_id, platform, post_id FROM _front
            UNION
            SELECT e.story_id, e.platform, e.child FROM edges e
            JOIN r ON e.story_id = r.story_id AND e.platform = r.platform
             AND e.parent = r.post_id
        )
        SELECT DISTINCT * FROM r
        EXCEPT SELECT story_id, platform, post_id FROM _members_all""")
    con.execute("CREATE OR REPLACE TEMP VIEW _ithread AS SELECT story_id, platform, post_id "
                "FROM _members_all UNION ALL SELECT * FROM _joining")
    # members that changed must still belong (matched, an actor's poll, or answering one)
    lost = dict(con.execute("""
        WITH changed AS (
            SELECT n.* FROM _new n SEMI JOIN _members_all m USING (story_id, platform, post_id)
            WHERE (n.story_id, n.platform, n.post_id) NOT IN (SELECT * FROM _newseed)
        ), held AS (
            SELECT c.story_id, c.platform, c.post_id FROM changed c
            JOIN _ithread t ON t.story_id = c.story_id AND t.platform = c.platform
             AND t.post_id = c.reply_to_post_id
            UNION
            SELECT c.story_id, c.platform, c.post_id FROM changed c
            JOIN _ithread t ON t.story_id = c.story_id AND t.platform = c.platform
             AND t.post_id = c.quoted_post_id
        )
        SELECT story_id, count(*) FROM changed ANTI JOIN held USING (story_id, platform, post_id)
        GROUP BY story_id""").fetchall())
    for sid, n in lost.items():
        out[sid] = ("full", 0, f"{n} changed post(s) may have left the story", before[sid])
    live = [st for st in live if st.id not in lost]
    # to label: who joins, members that changed, members whose parent just joined (created
    # after it, so among the recent posts), replies whose parent changed
    _tmp(con, "_todo", """
        WITH m AS (SELECT r.story_id, r.platform, r.post_id, r.reply_to_post_id,
                          r.quoted_post_id
                   FROM _recent r SEMI JOIN _members_all USING (story_id, platform, post_id))
        SELECT * FROM (
            SELECT * FROM _joining
            UNION SELECT story_id, platform, post_id FROM _new
                  SEMI JOIN _members_all USING (story_id, platform, post_id)
            UNION SELECT m.story_id, m.platform, m.post_id FROM m
                  JOIN _joining j ON j.story_id = m.story_id AND j.platform = m.platform
                   AND j.post_id = m.reply_to_post_id
            UNION SELECT m.story_id, m.platform, m.post_id FROM m
                  JOIN _joining j ON j.story_id = m.story_id AND j.platform = m.platform
                   AND j.post_id = m.quoted_post_id
            UNION SELECT k.story_id, k.platform, k.post_id FROM _kids_all k
                  JOIN _new n ON n.story_id = k.story_id AND n.platform = k.platform
                   AND n.post_id = k.parent_item_id)
        WHERE story_id IN (SELECT unnest(?::VARCHAR[]))""", [[st.id for st in live]])
    with_todo = _ids(con, "SELECT DISTINCT story_id FROM _todo")
    live = [st for st in live if st.id in with_todo | articles_changed]
    if not live:
        return out
    empty_labels(con)
    after = {st.id: before[st.id] for st in live}
    labelled = [st for st in live if st.id in with_todo]
    if labelled:
        _tmp(con, "_trows", "SELECT * FROM _rows SEMI JOIN (SELECT DISTINCT platform, post_id "
                            "FROM _todo) USING (platform, post_id)")
        # the todo posts' parents in the story: every one is new, recent or a parent of new
        _tmp(con, "_tthread", """
            SELECT * FROM _ithread SEMI JOIN (
                SELECT t.story_id, r.platform, r.reply_to_post_id AS post_id FROM _todo t
                JOIN _trows r USING (platform, post_id)
                UNION SELECT t.story_id, r.platform, r.quoted_post_id FROM _todo t
                JOIN _trows r USING (platform, post_id)) k
            USING (story_id, platform, post_id)""")
        # the new posts were matched once for every story; only older ones are matched here
        _tmp(con, "_told", "SELECT * FROM _trows WHERE (platform, post_id) NOT IN "
                           "(SELECT platform, post_id FROM _new_all)")
        match_posts(con, labelled if _count(con, "SELECT count(*) FROM _told") else [],
                    source="_told")
        con.execute("INSERT INTO _matched SELECT story_id, platform, post_id FROM _matched_new "
                    "SEMI JOIN _todo USING (story_id, platform, post_id)")
        label_posts(con, labelled, todo="_todo", posts="_rows", thread="_tthread",
                    neg="neg_cue")
        con.execute("INSERT INTO _out_delete SELECT story_id, 'post', platform, post_id "
                    "FROM _todo")
        was_first = _ids(con, """
            SELECT DISTINCT m.story_id FROM _members_all m
            SEMI JOIN _todo USING (story_id, platform, post_id)
            WHERE m.event_type IN ('denial', 'rebuttal', 'claim')""")
        if was_first:
            # a post that was a first is relabelled: its story's firsts are read again
            _tmp(con, "_after", """
                SELECT story_id, item_kind, platform, item_id, event_type FROM story_items
                WHERE story_id IN (SELECT unnest(?::VARCHAR[])) AND item_kind = 'post'
                  AND (story_id, platform, item_id) NOT IN (SELECT * FROM _todo)
                UNION ALL
                SELECT story_id, item_kind, platform, item_id, event_type FROM _labels
                WHERE story_id IN (SELECT unnest(?::VARCHAR[]))""",
                 [sorted(was_first)] * 2)
            again = [st for st in labelled if st.id in was_first]
            after.update(all_firsts(con, again, "_after"))
        now = all_firsts(con, [st for st in labelled if st.id not in was_first], "_labels",
                         posts="_rows")
        for sid, firsts_now in now.items():
            after[sid] = tuple(_earliest(a, b) for a, b in zip(before[sid], firsts_now))
    # the firsts moved: every article's type may change
    moved = [st for st in live if after[st.id] != before[st.id]]
    if moved:
        match_articles(con, moved)
        label_articles(con, moved, after)
        con.executemany("INSERT INTO _out_articles VALUES (?)", [[st.id] for st in moved])
    # else only the changed articles (and their versions) are labelled again
    redo = [st for st in live if st not in moved and st.id in articles_changed]
    if redo:
        _tmp(con, "_amatched", """
            SELECT story_id, url FROM _amatched_new
            SEMI JOIN _achanged USING (story_id, url)
            WHERE story_id IN (SELECT unnest(?::VARCHAR[]))""", [[st.id for st in redo]])
        label_articles(con, redo, after, articles="_arows", times="_atimes", cues=True)
        con.execute("""
            INSERT INTO _out_delete
            SELECT i.story_id, i.item_kind, i.platform, i.item_id FROM story_items i
            JOIN _achanged c ON c.story_id = i.story_id
             AND c.url = coalesce(i.parent_item_id, i.item_id)
            WHERE i.story_id IN (SELECT unnest(?::VARCHAR[]))
              AND i.item_kind IN ('article', 'article_version')""",
                    [[st.id for st in redo]])
    if moved or redo:
        label_article_updates(con)
    counts = dict(con.execute("SELECT story_id, count(*) FROM _labels GROUP BY ALL").fetchall())
    deleting = _ids(con, "SELECT DISTINCT story_id FROM _out_delete")
    con.execute("INSERT INTO _out_labels SELECT * FROM _labels")
    for st in live:
        n = counts.get(st.id, 0)
        out[st.id] = (("incremental" if n or st.id in deleting else "unchanged"), n, "",
                      after[st.id])
    return out

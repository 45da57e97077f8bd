"""Which posts and articles match which stories' queries: every story in one pass.

Each text in the stories' windows is searched once, by one regex, for the words the queries
look up (``words_holding_sql``: never a split of every text into its words). A query that can
only match a text holding one of some words (``required_words``: its positive terms, as most
queries have) is tried only on the texts that hold one: those words are joined once with the
words every story needs. Each candidate story's whole query (its words, phrases, NOTs and
window, ``to_words_sql``) is then evaluated on those few texts; a query that requires no word
on every text. Twenty stories cost about one scan of the text, not twenty. The matches land
in temp tables the labelling reads: ``_matched(story_id, platform, post_id)`` and
``_amatched(story_id, url)``.
"""

from __future__ import annotations

import duckdb

from tracker.core.config import StoryConfig
from tracker.core.storyquery import (lookup_words, parse_query, required_words, terms,
                                     to_words_sql, words_holding_sql)

ARTICLE_TEXT = "concat_ws(' ', a.title, a.summary, a.text)"


def _match(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig], target: str,
           keys: list[str], rows_sql: str, params: list) -> None:
    """``target``: (story_id, *keys) for every row of ``rows_sql`` (columns: keys, ``txt``
    the text, ``ts`` its time) that a story's query matches inside its window."""
    cols = ", ".join(keys)
    needs, every = [], []
    for i, story in enumerate(stories):
        req = required_words(parse_query(story.query))
        if req is None:
            every.append(i)
        else:
            needs += [(i, w, prefix) for w, prefix in sorted(req)]
    # ``w``: a text's words holding a required word or one a query looks up, found by one
    # regex scan (never a split of every text); only texts with a required word (or every
    # text, for a query that requires none) are kept
    looked = set().union(*(lookup_words(parse_query(s.query)) for s in stories))
    w = words_holding_sql(looked | {w for _, w, _ in needs}, "txt")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _mw AS
        SELECT * FROM (SELECT {cols}, txt, ts, {w} AS w FROM ({rows_sql}))
        {'' if every else 'WHERE len(w) > 0'}""", params)
    # rows are numbered by the temp table's rowid (a window's row_number costs a third more)
    con.execute("CREATE OR REPLACE TEMP TABLE _need (i INTEGER, word VARCHAR, "
                "prefix BOOLEAN)")
    if needs:
        con.executemany("INSERT INTO _need VALUES (?, ?, ?)", needs)
    parts = ["SELECT n.i, t.rid FROM tok t JOIN _need n ON n.word = t.word AND NOT n.prefix"]
    if any(prefix for _, _, prefix in needs):
        parts.append("SELECT n.i, t.rid FROM tok t JOIN _need n ON n.prefix "
                     "AND starts_with(t.word, n.word)")
    if every:
        parts.append("SELECT i, rowid AS rid FROM _mw, (SELECT unnest(?::INTEGER[]) AS i)")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _cand AS
        WITH tok AS (SELECT rowid AS rid, unnest(w) AS word FROM _mw)
        SELECT DISTINCT * FROM ({' UNION ALL '.join(parts)})""", [every] if every else [])
    cases, case_params = [], []
    for i, story in enumerate(stories):
        expr, p = to_words_sql(parse_query(story.query), "m.w", "m.txt",
                               phrases_by_pattern=True)
        cases.append(f"WHEN {i} THEN coalesce(m.ts >= ?::TIMESTAMPTZ AND m.ts < ?::TIMESTAMPTZ "
                     f"AND {expr}, false)")
        case_params += [story.window.start_at, story.window.end_at, *p]
    con.execute("CREATE OR REPLACE TEMP TABLE _story_ids AS SELECT * FROM (VALUES "
                + ", ".join("(?, ?)" for _ in stories) + ") t(i, story_id)",
                [v for i, s in enumerate(stories) for v in (i, s.id)])
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {target} AS
        SELECT s.story_id, {', '.join('m.' + k for k in keys)}
        FROM _cand c JOIN _mw m ON m.rowid = c.rid JOIN _story_ids s ON s.i = c.i
        WHERE CASE c.i {' '.join(cases)} END""", case_params)


def terms_words_sql(stories: list[StoryConfig], text: str) -> str:
    """The words of ``text`` holding one the stories' positive terms look up
    (storyquery.words_holding_sql): what ``matched_terms_sql`` needs of it."""
    return words_holding_sql(set().union(*(lookup_words(t) for s in stories
                                           for t in terms(parse_query(s.query)))), text)


def match_posts(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig],
                source: str = "posts", target: str = "_matched") -> None:
    """``target`` (``_matched``): the posts (not reposts) each story's query finds inside its
    window, as (story_id, platform, post_id).

    ``source``: a relation with the columns of posts to look at instead of every post (the
    incremental analysis's new and changed posts)."""
    if not stories:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {target} (story_id VARCHAR, "
                    "platform VARCHAR, post_id VARCHAR)")
        return
    start = min(s.window.start_at for s in stories)
    end = max(s.window.end_at for s in stories)
    _match(con, stories, target, ["platform", "post_id"],
           f"SELECT p.platform, p.post_id, p.text AS txt, p.created_at AS ts FROM {source} p "
           "WHERE p.reposted_post_id IS NULL AND p.created_at >= ? AND p.created_at < ?",
           [start, end])


def match_articles(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig],
                   scope: str | None = None, target: str = "_amatched") -> None:
    """``target`` (``_amatched``): the articles each story's query finds, placed inside its
    window by their time (article_times), as (story_id, url). ``scope``: a temp table of urls
    to look at instead of all."""
    if not stories:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {target} (story_id VARCHAR, url VARCHAR)")
        return
    start = min(s.window.start_at for s in stories)
    end = max(s.window.end_at for s in stories)
    _match(con, stories, target, ["url"],
           f"SELECT a.url, {ARTICLE_TEXT} AS txt, t.event_at AS ts FROM articles a "
           f"JOIN article_times t USING (url) {f'JOIN {scope} USING (url)' if scope else ''} "
           "WHERE t.event_at >= ? AND t.event_at < ?", [start, end])


def matched_terms_sql(story: StoryConfig, words: str, text: str) -> tuple[str, list]:
    """The terms of the query a row matched, as ``'putin, kremlin'`` (the evidence);
    ``words`` holds at least the row's words its terms look up (``terms_words_sql``)."""
    parts, params = [], []
    for t in terms(parse_query(story.query)):
        expr, p = to_words_sql(t, words, text, phrases_by_pattern=True)
        parts.append(f"CASE WHEN {expr} THEN ? END")
        params += [*p, str(t)]
    if not parts:
        return "''", []
    return "concat_ws(', ', " + ", ".join(parts) + ")", params

"""Which posts and articles match which stories' queries: every story in one pass.

Each text is split into its words once (``WORDS_SQL``); every story's query is then a few
list look-ups on those words (``to_words_sql``), so twenty stories cost about one scan of the
text, not twenty. The matches land in temp tables the labelling reads:
``_matched(story_id, platform, post_id)`` and ``_amatched(story_id, url)``.
"""

from __future__ import annotations

import duckdb

from tracker.core.config import StoryConfig
from tracker.core.storyquery import WORDS_SQL, parse_query, terms, to_words_sql

ARTICLE_TEXT = "concat_ws(' ', a.title, a.summary, a.text)"


def _story_columns(stories: list[StoryConfig], words: str, text: str, time: str
                   ) -> tuple[list[str], list]:
    """One boolean column per story: its window and its query, over one row's words."""
    cols, params = [], []
    for i, story in enumerate(stories):
        expr, p = to_words_sql(parse_query(story.query), words, text)
        cols.append(f"coalesce({time} >= ?::TIMESTAMPTZ AND {time} < ?::TIMESTAMPTZ "
                    f"AND {expr}, false) AS m{i}")
        params += [story.window.start_at, story.window.end_at, *p]
    return cols, params


def _unpivot(con, target: str, stories: list[StoryConfig], inner: str, params: list,
             keys: str) -> None:
    ids = {f"m{i}": s.id for i, s in enumerate(stories)}
    con.execute("CREATE OR REPLACE TEMP TABLE _story_ids AS SELECT * FROM (VALUES "
                + ", ".join("(?, ?)" for _ in ids) + ") t(col, story_id)",
                [v for kv in ids.items() for v in kv])
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {target} AS
        SELECT s.story_id, {keys} FROM (
            UNPIVOT ({inner}) ON {', '.join(ids)} INTO NAME col VALUE hit
        ) u JOIN _story_ids s USING (col) WHERE hit""", params)


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
    cols, params = _story_columns(stories, "w", "p.text", "p.created_at")
    start = min(s.window.start_at for s in stories)
    end = max(s.window.end_at for s in stories)
    inner = (f"SELECT p.platform, p.post_id, {', '.join(cols)} FROM "
             f"(SELECT p.*, {WORDS_SQL.format(text='p.text')} AS w FROM {source} p "
             f"WHERE p.reposted_post_id IS NULL AND p.created_at >= ? AND p.created_at < ?) p")
    _unpivot(con, target, stories, inner, [*params, start, end], "u.platform, u.post_id")


def match_articles(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig],
                   scope: str | None = None, target: str = "_amatched") -> None:
    """``target`` (``_amatched``): the articles each story's query finds, placed inside its
    window by their time (article_times), as (story_id, url). ``scope``: a temp table of urls
    to look at instead of all."""
    if not stories:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {target} (story_id VARCHAR, url VARCHAR)")
        return
    cols, params = _story_columns(stories, "w", "a.txt", "a.event_at")
    start = min(s.window.start_at for s in stories)
    end = max(s.window.end_at for s in stories)
    inner = (f"SELECT a.url, {', '.join(cols)} FROM "
             f"(SELECT a.url, t.event_at, {ARTICLE_TEXT} AS txt, "
             f"{WORDS_SQL.format(text=ARTICLE_TEXT)} AS w FROM articles a "
             f"JOIN article_times t USING (url) {f'JOIN {scope} USING (url)' if scope else ''}"
             f"WHERE t.event_at >= ? AND t.event_at < ?) a")
    _unpivot(con, target, stories, inner, [*params, start, end], "u.url")


def matched_terms_sql(story: StoryConfig, words: str, text: str) -> tuple[str, list]:
    """The terms of the query a row matched, as ``'putin, kremlin'`` (the evidence)."""
    parts, params = [], []
    for t in terms(parse_query(story.query)):
        expr, p = to_words_sql(t, words, text)
        parts.append(f"CASE WHEN {expr} THEN ? END")
        params += [*p, str(t)]
    if not parts:
        return "''", []
    return "concat_ws(', ', " + ", ".join(parts) + ")", params

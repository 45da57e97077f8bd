"""The labelling SQL: posts by role and relation (then cues), articles by what they came after.

Every statement labels any number of stories at once: the relations it reads carry a
``story_id`` column, and what differs per story (the terms its query matched, the evidence)
is a ``CASE story_id`` expression: a run labels all its stories in one statement per kind, on
the whole threads (a full analysis) or on small tables (an incremental one). The engine
prepares:

- ``_windows(story_id, start_at, end_at, since)``: the stories' windows (:func:`windows`);
- ``_actors(story_id, platform, account_id, role)``: the stories' resolved actors (:func:`actors`);
- ``thread(story_id, platform, post_id)``: every post that belongs to a story;
- ``todo(story_id, platform, post_id)``: the posts to label now (a full analysis: all the thread);
- ``_matched(story_id, platform, post_id)``: the posts the stories' queries find (matching.py).

They write ``_labels`` (story_id, item_kind, platform, item_id, event_type, rule, evidence,
confidence, parent_item_id). The rules themselves are described in rules.py.
"""

from __future__ import annotations

import duckdb

from tracker.analysis import rules
from tracker.analysis.matching import ARTICLE_TEXT, matched_terms_sql, terms_words_sql
from tracker.core.config import StoryConfig

NEG = rules.cue_pattern(rules.NEGATION_CUES)
DEN = rules.cue_pattern(rules.DENIAL_COVERAGE_CUES)
REB = rules.cue_pattern(rules.REBUTTAL_COVERAGE_CUES)
C = rules.CONFIDENCE

LABEL_COLUMNS = ("story_id VARCHAR, item_kind VARCHAR, platform VARCHAR, item_id VARCHAR, "
                 "event_type VARCHAR, rule VARCHAR, evidence VARCHAR, confidence DOUBLE, "
                 "parent_item_id VARCHAR")


def literal(value: str) -> str:
    """``value`` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def empty_labels(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE _labels ({LABEL_COLUMNS})")


def windows(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig],
            since: dict[str, int] | None = None) -> None:
    """``_windows``: each story's window and (incremental) the last load its labels include."""
    con.execute("CREATE OR REPLACE TEMP TABLE _windows AS SELECT * FROM (VALUES "
                + ", ".join("(?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?::BIGINT)" for _ in stories)
                + ") t(story_id, start_at, end_at, since)",
                [v for st in stories for v in (st.id, st.window.start_at, st.window.end_at,
                                               (since or {}).get(st.id))])


def actors(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig]) -> None:
    """``_actors``: the resolved actors of ``stories``."""
    con.execute("CREATE OR REPLACE TEMP TABLE _actors AS SELECT story_id, platform, account_id, "
                "role FROM story_actors WHERE story_id IN (SELECT unnest(?::VARCHAR[])) "
                "AND account_id IS NOT NULL", [[s.id for s in stories]])


def _terms_case(stories: list[StoryConfig], words: str, text: str) -> tuple[str, list]:
    """The query terms a row matched (matching.matched_terms_sql), per row's story."""
    parts, params = [], []
    for story in stories:
        expr, p = matched_terms_sql(story, words, text)
        parts.append(f"WHEN {literal(story.id)} THEN {expr}")
        params += p
    return f"CASE story_id {' '.join(parts)} END", params


def label_posts(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig],
                todo: str = "_todo", posts: str = "posts", thread: str = "_thread",
                neg: str | None = None, words: str | None = None) -> None:
    """Append the labels of the ``todo`` posts to ``_labels``. ``posts``: where their rows
    and their parents' are read (a relation holding at least those); ``thread``: the stories'
    posts (at least the parents of the ``todo`` posts); ``neg`` and ``words``: columns of
    ``posts`` holding each text's negation cue (needed of subjects' posts) and its words (those
    the positive terms look up, needed of matched posts), found beforehand (else here)."""
    # a negation cue counts only in a subject's post, matched terms only in a matched post
    neg_sql = (f"p.{neg}" if neg else
               "CASE WHEN a.role = 'subject' THEN coalesce(regexp_extract(p.text, ?, 1), '') "
               "ELSE '' END")
    words_sql = f"p.{words}" if words else terms_words_sql(stories, "p.text")
    mterms, mparams = _terms_case(stories, "words", "text")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _it AS
        WITH i AS MATERIALIZED (          -- each text split once, not once per term
            SELECT t.story_id, p.platform, p.post_id, p.text, p.poll_id, a.role,
                   rp.post_id AS reply_parent, ra.role AS reply_role,
                   qp.post_id AS quote_parent, qa.role AS quote_role,
                   s.post_id IS NOT NULL AS matched,
                   {neg_sql} AS neg_cue,
                   CASE WHEN s.post_id IS NOT NULL THEN {words_sql} END AS words
            FROM {todo} t
            JOIN {posts} p ON p.platform = t.platform AND p.post_id = t.post_id
            LEFT JOIN _matched s ON s.story_id = t.story_id AND s.platform = p.platform
                 AND s.post_id = p.post_id
            LEFT JOIN _actors a ON a.story_id = t.story_id AND a.platform = p.platform
                 AND a.account_id = p.author_id
            LEFT JOIN {thread} tr ON tr.story_id = t.story_id AND tr.platform = p.platform
                 AND tr.post_id = p.reply_to_post_id
            LEFT JOIN {posts} rp ON rp.platform = tr.platform AND rp.post_id = tr.post_id
            LEFT JOIN _actors ra ON ra.story_id = t.story_id AND ra.platform = rp.platform
                 AND ra.account_id = rp.author_id
            LEFT JOIN {thread} tq ON tq.story_id = t.story_id AND tq.platform = p.platform
                 AND tq.post_id = p.quoted_post_id
            LEFT JOIN {posts} qp ON qp.platform = tq.platform AND qp.post_id = tq.post_id
            LEFT JOIN _actors qa ON qa.story_id = t.story_id AND qa.platform = qp.platform
                 AND qa.account_id = qp.author_id
        )
        SELECT * EXCLUDE (words), CASE WHEN matched THEN {mterms} END AS mterms FROM i""",
        [*([] if neg else [NEG]), *mparams])
    cue = ("CASE WHEN neg_cue <> '' THEN '; negation cue ''' || lower(neg_cue) || '''' "
           "ELSE '; no negation cue' END")
    rel = ("CASE WHEN {r} = '{want}' THEN 'reply to' ELSE 'quote of' END || ' the {who}''s "
           "post ' || CASE WHEN {r} = '{want}' THEN reply_parent ELSE quote_parent END")
    denial_rel = rel.format(r="reply_role", want="claimant", who="claimant")
    rebut_rel = rel.format(r="reply_role", want="subject", who="subject")
    con.execute(f"""
        INSERT INTO _labels
        SELECT story_id, 'post' AS item_kind, platform, post_id AS item_id,
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
        FROM _it""")


def all_firsts(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig], source: str,
               posts: str = "posts") -> dict[str, tuple]:
    """Each story's (first denial, first rebuttal, first claim) times among its post labels
    in ``source`` (``_labels`` or story_items), their times read from ``posts``; one
    statement for every story."""
    got = {r[0]: tuple(r[1:]) for r in con.execute(
        "SELECT l.story_id, min(p.created_at) FILTER (WHERE l.event_type = 'denial'), "
        "min(p.created_at) FILTER (WHERE l.event_type = 'rebuttal'), "
        "min(p.created_at) FILTER (WHERE l.event_type = 'claim') "
        f"FROM {source} l JOIN {posts} p ON p.platform = l.platform "
        "AND p.post_id = l.item_id WHERE l.item_kind = 'post' GROUP BY l.story_id").fetchall()}
    return {s.id: got.get(s.id, (None, None, None)) for s in stories}


def label_articles(con: duckdb.DuckDBPyConnection, stories: list[StoryConfig],
                   first: dict[str, tuple], articles: str = "articles",
                   times: str = "article_times", cues: bool = False) -> None:
    """Append the stories' articles (``_amatched``) to ``_labels``, typed by what they came
    after (``first``: each story's first denial, rebuttal and claim) and their cues; their rows
    and times read from ``articles`` and ``times`` (relations holding at least those). Each
    article's text is split and searched for cues once, however many stories hold it."""
    # ``cues``: ``articles`` holds each text's den_cue and reb_cue, found beforehand
    con.execute("CREATE OR REPLACE TEMP TABLE _afirsts (story_id VARCHAR, fd TIMESTAMPTZ, "
                "fr TIMESTAMPTZ, fc TIMESTAMPTZ)")
    con.executemany("INSERT INTO _afirsts VALUES (?, ?, ?, ?)",
                    [[s.id, *first[s.id]] for s in stories])
    cue_cols = "a.den_cue, a.reb_cue" if cues else (
        f"coalesce(regexp_extract({ARTICLE_TEXT}, ?, 1), '') AS den_cue, "
        f"coalesce(regexp_extract({ARTICLE_TEXT}, ?, 1), '') AS reb_cue")
    mterms, mparams = _terms_case(stories, "words", "txt")
    con.execute(f"""
        INSERT INTO _labels
        WITH u AS MATERIALIZED (
            SELECT a.url, t.event_at, t.clock, {ARTICLE_TEXT} AS txt,
                   {terms_words_sql(stories, ARTICLE_TEXT)} AS words, {cue_cols}
            FROM (SELECT DISTINCT url FROM _amatched SEMI JOIN _afirsts USING (story_id)) s
            JOIN {articles} a ON a.url = s.url
            JOIN {times} t ON t.url = a.url
        ), typed AS (
            SELECT s.story_id, u.*, f.fd, CASE
                WHEN f.fr IS NOT NULL AND u.event_at >= f.fr AND u.reb_cue <> ''
                  THEN 'coverage_of_rebuttal'
                WHEN f.fd IS NOT NULL AND u.event_at >= f.fd AND u.den_cue <> ''
                  THEN 'coverage_of_denial'
                WHEN f.fc IS NOT NULL AND u.event_at < f.fc THEN 'mention'
                ELSE 'coverage_of_claim' END AS event_type
            FROM _amatched s JOIN _afirsts f USING (story_id) JOIN u USING (url)
        ), m AS (
            SELECT *, CASE WHEN event_type IN ('mention', 'coverage_of_claim')
                           THEN {mterms} END AS mterms
            FROM typed
        )
        SELECT story_id, 'article', 'web', url, event_type,
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
                      WHEN fd IS NULL OR event_at < fd
                        THEN '; before any denial' ELSE '; no denial cue' END END
               || CASE clock WHEN 'gdelt_seen_at'
                             THEN '; no publication date, GDELT''s first-seen time used'
                             WHEN 'first_seen_at'
                             THEN '; no publication date, first_seen_at used' ELSE '' END,
               CASE WHEN event_type = 'coverage_of_claim' THEN {C['coverage']}
                    WHEN event_type = 'mention' THEN {C['mention']}
                    ELSE {C['coverage+cue']} END,
               NULL
        FROM m""",
        [*([] if cues else [DEN, REB]), *mparams])

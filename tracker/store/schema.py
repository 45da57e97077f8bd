"""DuckDB schema as numbered migrations; each table's DDL says its write rule in a comment.

The rules themselves, typed, are declared in tables.py (the loader merges by them; a test keeps
the declarations and these migrations in step):
- *upsert by key*: a key appears once; reloading the same page changes nothing
  (first_seen_at = min, last_seen_at = max, latest fetch wins for mutable fields).
- *append-only*: rows are only ever inserted (insert-or-ignore on the key), never updated.
- *never delete*: no table is ever deleted from; a vanished post gets deleted_at.
"""

from __future__ import annotations

import duckdb

from tracker.store.datamigrations import apply_data_migrations
from tracker.store.dictionary import apply_comments
from tracker.store.stories import (ANALYSIS_FIRSTS, ARTICLE_VERSIONS, INCREMENTAL_ANALYSIS,
                                   PEOPLE, STORY_ITEMS_BY_PLATFORM, STORY_TABLES,
                                   STORY_VIEWS)
from tracker.store.tx import rollback

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "core tables for X collection", """
-- accounts: upsert by (platform, account_id); latest fetch wins for profile fields; never delete.
CREATE TABLE accounts (
    platform VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    handle VARCHAR,
    name VARCHAR,
    description VARCHAR,
    created_at TIMESTAMPTZ,
    protected BOOLEAN,
    verified BOOLEAN,
    followers_count BIGINT,
    following_count BIGINT,
    post_count BIGINT,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, account_id)
);

-- account_handles: upsert by (platform, account_id, handle); one row per handle an account has used.
CREATE TABLE account_handles (
    platform VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    handle VARCHAR NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, account_id, handle)
);

-- posts: upsert by (platform, post_id); latest fetch wins for text/metrics; deleted_at and
-- unavailable_* are set once and never cleared; never delete.
CREATE TABLE posts (
    platform VARCHAR NOT NULL,
    post_id VARCHAR NOT NULL,
    author_id VARCHAR,
    created_at TIMESTAMPTZ,
    text VARCHAR,
    lang VARCHAR,
    conversation_id VARCHAR,
    reply_to_post_id VARCHAR,
    reply_to_user_id VARCHAR,
    quoted_post_id VARCHAR,
    reposted_post_id VARCHAR,
    poll_id VARCHAR,
    url VARCHAR,
    like_count BIGINT,
    repost_count BIGINT,
    reply_count BIGINT,
    quote_count BIGINT,
    impression_count BIGINT,
    edit_chain_id VARCHAR,
    edit_history JSON,
    entities JSON,
    withheld JSON,
    possibly_sensitive BOOLEAN,
    seen_in VARCHAR,             -- 'data' when returned as a result, 'includes' when only referenced
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,      -- first lookup that answered "Not Found Error", once confirmed
                                 -- by a later run's lookup (migration 4: missing_since)
    unavailable_reason VARCHAR,  -- 'protected' (Authorization Error), 'suspended' (Forbidden), ...
    unavailable_at TIMESTAMPTZ,
    PRIMARY KEY (platform, post_id)
);

-- post_versions: upsert by (platform, version_post_id); one row per text version seen.
-- An edit on X creates a new id; edit_chain_id is the chain's first id, version_index its position.
CREATE TABLE post_versions (
    platform VARCHAR NOT NULL,
    edit_chain_id VARCHAR NOT NULL,
    version_post_id VARCHAR NOT NULL,
    version_index INTEGER,
    text VARCHAR,
    created_at TIMESTAMPTZ,
    first_seen_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, version_post_id)
);

-- polls: upsert by poll_id; latest fetch wins for voting_status; final_snapshot_at is set by the
-- first snapshot that saw the poll closed, after which it is never read again.
CREATE TABLE polls (
    platform VARCHAR NOT NULL,
    poll_id VARCHAR NOT NULL,
    post_id VARCHAR,
    options JSON,
    duration_minutes INTEGER,
    end_at TIMESTAMPTZ,
    voting_status VARCHAR,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    final_snapshot_at TIMESTAMPTZ,
    PRIMARY KEY (platform, poll_id)
);

-- poll_snapshots: append-only; one row per option per capture, keyed by the capture time.
CREATE TABLE poll_snapshots (
    platform VARCHAR NOT NULL,
    poll_id VARCHAR NOT NULL,
    captured_at TIMESTAMPTZ NOT NULL,
    position INTEGER NOT NULL,
    label VARCHAR,
    votes BIGINT,
    voting_status VARCHAR,
    page_id VARCHAR NOT NULL,
    PRIMARY KEY (platform, poll_id, captured_at, position)
);

-- api_errors: append-only; every entry of a response's `errors` array, never dropped.
CREATE TABLE api_errors (
    page_id VARCHAR NOT NULL,
    idx INTEGER NOT NULL,
    source VARCHAR NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL,
    title VARCHAR,
    detail VARCHAR,
    type VARCHAR,
    resource_type VARCHAR,
    resource_id VARCHAR,
    parameter VARCHAR,
    value VARCHAR,
    section VARCHAR,
    PRIMARY KEY (page_id, idx)
);

-- sync_state: upsert by (source, scope); the cursor, written in the same transaction as the page
-- whose rows it covers.
CREATE TABLE sync_state (
    source VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    cursor JSON NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    page_id VARCHAR NOT NULL,
    PRIMARY KEY (source, scope)
);

-- raw_pages: append-only index of the raw archive; one row per archived response.
-- error is set when the page was quarantined (not loaded) and says why.
CREATE TABLE raw_pages (
    page_id VARCHAR PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    source VARCHAR NOT NULL,
    purpose VARCHAR,
    endpoint VARCHAR,
    params JSON,
    scope VARCHAR,
    fetched_at TIMESTAMPTZ NOT NULL,
    http_status INTEGER,
    file VARCHAR NOT NULL,
    line INTEGER NOT NULL,
    items INTEGER,
    error VARCHAR
);

-- runs: upsert by run_id; one row per job run, from the run's own raw file (so rebuild keeps it).
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    job VARCHAR NOT NULL,
    source VARCHAR,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,     -- ok | stopped (rate limit/budget, resumes) | failed | crashed
    stop_reason VARCHAR,
    error VARCHAR,
    requests INTEGER,
    pages INTEGER,
    posts_read INTEGER,
    load_deferred_at TIMESTAMPTZ, -- set when the database was busy and the pages waited in raw
    new_rows BIGINT,
    updated_rows BIGINT
);

-- raw_files: bookkeeping, upsert by path: which raw files are loaded (not rebuilt identically).
-- A file whose load failed has loaded_at NULL and the error; it is skipped until
-- `tracker load --retry-failed`.
CREATE TABLE raw_files (
    path VARCHAR PRIMARY KEY,
    run_id VARCHAR,
    lines INTEGER,
    loaded_at TIMESTAMPTZ,
    error VARCHAR
);
"""),
    (2, "press coverage: articles, their sources, GDELT volume", """
-- articles: upsert by url (the canonical URL: see tracker/sources/press/canonical.py);
-- one row per article whatever the source. first_seen_at = min, last_seen_at = max,
-- published_at = min (the earliest publication time any source gave; NULL when none did:
-- first_seen_at is then the only clock), outlet/domain/language/source_country keep the first
-- value seen, title/summary/text/authors take the latest non-null fetch; never delete.
CREATE TABLE articles (
    url VARCHAR PRIMARY KEY,
    domain VARCHAR NOT NULL,
    outlet VARCHAR,
    title VARCHAR,
    summary VARCHAR,
    text VARCHAR,
    authors JSON,
    language VARCHAR,
    source_country VARCHAR,
    published_at TIMESTAMPTZ,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ            -- always set by the loader
);

-- article_sources: upsert by (url, source_kind, source_name); every source that saw an article
-- (a feed, a GDELT query, a page added by hand). first/last_seen_at = min/max,
-- published_at and gdelt_seen_at = min, page_id keeps the first page loaded; never delete.
CREATE TABLE article_sources (
    url VARCHAR NOT NULL,
    source_kind VARCHAR NOT NULL,    -- 'feed' | 'gdelt' | 'manual'
    source_name VARCHAR NOT NULL,    -- feed name, GDELT query name, 'file' or 'url'
    detail VARCHAR,                  -- feed URL, GDELT query, file path or fetched URL
    source_url VARCHAR,              -- the URL exactly as this source gave it
    title VARCHAR,
    published_at TIMESTAMPTZ,        -- the publication time this source gave (NULL: none)
    gdelt_seen_at TIMESTAMPTZ,       -- GDELT's seendate (when GDELT first saw the article)
    date_note VARCHAR,               -- why published_at is missing or how it was read
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    page_id VARCHAR NOT NULL,
    PRIMARY KEY (url, source_kind, source_name)
);

-- gdelt_volume: upsert by (query_name, resolution, bucket); GDELT timelinevolraw, the number of
-- matching articles per time bucket beside all articles GDELT monitored in it. The latest fetch
-- wins (GDELT keeps indexing late articles); never delete.
CREATE TABLE gdelt_volume (
    query_name VARCHAR NOT NULL,
    resolution VARCHAR NOT NULL,     -- GDELT's date_resolution: '15m', 'hour', 'day', ...
    bucket TIMESTAMPTZ NOT NULL,
    query VARCHAR,
    articles BIGINT,                 -- 'value': matching articles in the bucket
    all_articles BIGINT,             -- 'norm': every article GDELT monitored in the bucket
    fetched_at TIMESTAMPTZ NOT NULL,
    page_id VARCHAR NOT NULL,
    PRIMARY KEY (query_name, resolution, bucket)
);
"""),
    (3, "stories, story items and analyst labels", STORY_TABLES),
    (4, "deletions are confirmed by a second lookup; damaged raw lines are recorded", """
-- posts.missing_since: the first lookup that did not find the post ("Not Found"), and the run
-- that made it; deleted_at (= missing_since) is set once a lookup in a later run confirms it.
-- Cleared if the post is seen again first. deleted_at keeps its meaning: set once, never cleared.
ALTER TABLE posts ADD COLUMN missing_since TIMESTAMPTZ;
ALTER TABLE posts ADD COLUMN missing_run VARCHAR;
-- raw_files.damage: the lines of a loaded file that could not be read (damaged gzip data, a
-- torn write), with where they are; the rest of the file is loaded.
ALTER TABLE raw_files ADD COLUMN damage VARCHAR;
"""),
    (5, "what a run deferred to the next one", """
-- runs.deferred: due work a run left for the next one when its request budget ran out, e.g.
-- {"conversations": 40, "deletion_checks": 250}; NULL when it did everything that was due.
ALTER TABLE runs ADD COLUMN deferred JSON;
"""),
    (6, "story items keyed by platform; the analysis views",
     STORY_ITEMS_BY_PLATFORM + STORY_VIEWS),
    (8, "press: the outlet is the publication; article versions, Wayback captures, outlets",
     ARTICLE_VERSIONS),
    (9, "poll snapshots keep how many voted", """
-- poll_snapshots.voters_count: how many people had voted at that capture (Mastodon tells it
-- beside the votes: a multiple-choice poll's votes add up to more); NULL where the platform
-- does not say or hides it.
ALTER TABLE poll_snapshots ADD COLUMN voters_count BIGINT;
"""),
    (13, "incremental analysis: the load that changed each post and article, each story's "
         "analysis state, cached reply stances", INCREMENTAL_ANALYSIS),
    (15, "the lake: every table a load writes numbers the load that last changed each row; "
         "lake_state", """
-- load_seq (as posts.load_seq, migration 13) on every other table a load writes: the load that
-- last inserted or changed the row; NULL for rows stored before. The lake (storage.lake_dir,
-- tracker/store/lake.py) exports after each load the rows whose load_seq is newer than it holds.
ALTER TABLE accounts ADD COLUMN load_seq BIGINT;
ALTER TABLE account_handles ADD COLUMN load_seq BIGINT;
ALTER TABLE post_versions ADD COLUMN load_seq BIGINT;
ALTER TABLE polls ADD COLUMN load_seq BIGINT;
ALTER TABLE poll_snapshots ADD COLUMN load_seq BIGINT;
ALTER TABLE api_errors ADD COLUMN load_seq BIGINT;
ALTER TABLE article_sources ADD COLUMN load_seq BIGINT;
ALTER TABLE gdelt_volume ADD COLUMN load_seq BIGINT;
ALTER TABLE article_captures ADD COLUMN load_seq BIGINT;
ALTER TABLE analyst_labels ADD COLUMN load_seq BIGINT;
ALTER TABLE sync_state ADD COLUMN load_seq BIGINT;
ALTER TABLE raw_pages ADD COLUMN load_seq BIGINT;
ALTER TABLE runs ADD COLUMN load_seq BIGINT;

-- lake_state: upsert by lake_dir; what the last write of the lake did, and the last failure.
-- Bookkeeping: the lake's own _lake.json says which load it holds (it is what the next write
-- starts from); this row lets `tracker lake status` tell it when the lake cannot be reached.
CREATE TABLE lake_state (
    lake_dir VARCHAR PRIMARY KEY,
    load_seq BIGINT,                 -- the last load the lake holds
    written_at TIMESTAMPTZ,          -- the last successful write
    mode VARCHAR,                    -- full | incremental | unchanged
    files INTEGER,
    rows_written BIGINT,
    bytes BIGINT,
    error VARCHAR,                   -- the last failed write's error; NULL once one succeeds
    failed_at TIMESTAMPTZ,
    failures INTEGER NOT NULL DEFAULT 0   -- failed writes since the last successful one
);
"""),
    (14, "people across platforms: story actors' persons, the person in the timeline, "
         "each statement's first platform and cross-posting lags", PEOPLE),
    (16, "each story's firsts kept with its analysis state", ANALYSIS_FIRSTS),
]


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply pending migrations in order, then the registered data migrations, then the data
    dictionary's comments (dictionary.py) where they are missing or differ; return the schema
    version."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMPTZ DEFAULT now())"
    )
    done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    for version, description, ddl in MIGRATIONS:
        if version in done:
            continue
        con.execute("BEGIN")
        try:
            con.execute(ddl)
            con.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (?, ?)",
                [version, description],
            )
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise
    apply_data_migrations(con)
    apply_comments(con)    # the data dictionary, on whatever lacks it (a new table, a new view)
    return max(v for v, _, _ in MIGRATIONS)

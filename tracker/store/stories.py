"""The stories' tables and views: what the analysis writes and what analysts read.

Migration 3 made the tables; migration 6 keyed story items by platform (a post is
(platform, post_id); an article's platform is ``web``) and (re)made every view, which is
where each view's current text lives.
"""

STORY_TABLES = """-- stories: upsert by story_id from config.yaml at each analysis; a story dropped from the
-- config keeps its row with in_config = false. Never deleted.
CREATE TABLE stories (
    story_id VARCHAR PRIMARY KEY,
    title VARCHAR,
    query VARCHAR,
    window_start TIMESTAMPTZ,
    window_end TIMESTAMPTZ,      -- exclusive
    in_config BOOLEAN
);

-- story_actors: replaced per story at each analysis (config.yaml is the source of truth);
-- account_id is resolved from account_handles when known.
CREATE TABLE story_actors (
    story_id VARCHAR NOT NULL,
    platform VARCHAR NOT NULL,
    handle VARCHAR NOT NULL,
    role VARCHAR NOT NULL,       -- claimant | subject | other
    account_id VARCHAR,
    PRIMARY KEY (story_id, platform, handle)
);

-- story_items: derived automatic labels, rewritten for a story by each analysis (the same data
-- gives the same rows, so `tracker analyze` is idempotent). Analysts' labels live in
-- analyst_labels and are never touched by analysis.
CREATE TABLE story_items (
    story_id VARCHAR NOT NULL,
    item_kind VARCHAR NOT NULL,  -- post | article
    item_id VARCHAR NOT NULL,    -- post_id or canonical article url
    event_type VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    evidence VARCHAR NOT NULL,
    confidence DOUBLE NOT NULL,
    parent_item_id VARCHAR,      -- the post it replies to or quotes, when in the story
    stance VARCHAR,              -- replies: support | deny | query | comment toward the parent
    stance_rule VARCHAR,
    stance_evidence VARCHAR,
    stance_confidence DOUBLE,
    PRIMARY KEY (story_id, item_kind, item_id)
);

-- analyst_labels: append-only history of analysts' decisions, loaded from the raw archive
-- (source 'analyst') so `tracker rebuild` keeps them; the latest action per item wins.
CREATE TABLE analyst_labels (
    label_id VARCHAR PRIMARY KEY,   -- the raw page id
    story_id VARCHAR NOT NULL,
    item_kind VARCHAR NOT NULL,
    item_id VARCHAR NOT NULL,
    action VARCHAR NOT NULL,        -- set | unset
    event_type VARCHAR,
    note VARCHAR,
    analyst VARCHAR,
    labeled_at TIMESTAMPTZ NOT NULL
);
"""

# Every item of a story is (item_kind, platform, item_id). Rows that came before platforms
# took the platform of the stored post with that id; an analyst label recorded before then
# keeps platform NULL and applies to the post with that id on any platform.
STORY_ITEMS_BY_PLATFORM = """
-- story_items: derived automatic labels, rewritten for a story by each analysis (the same data
-- gives the same rows, so `tracker analyze` is idempotent). Analysts' labels live in
-- analyst_labels and are never touched by analysis.
CREATE TABLE story_items_by_platform (
    story_id VARCHAR NOT NULL,
    item_kind VARCHAR NOT NULL,  -- post | article
    platform VARCHAR NOT NULL,   -- the post's platform; 'web' for an article
    item_id VARCHAR NOT NULL,    -- post_id or canonical article url
    event_type VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    evidence VARCHAR NOT NULL,
    confidence DOUBLE NOT NULL,
    parent_item_id VARCHAR,      -- the post it replies to or quotes, when in the story
    stance VARCHAR,              -- replies: support | deny | query | comment toward the parent
    stance_rule VARCHAR,
    stance_evidence VARCHAR,
    stance_confidence DOUBLE,
    PRIMARY KEY (story_id, item_kind, platform, item_id)
);
INSERT INTO story_items_by_platform
SELECT s.story_id, s.item_kind,
       CASE WHEN s.item_kind = 'article' THEN 'web'
            ELSE coalesce((SELECT min(p.platform) FROM posts p WHERE p.post_id = s.item_id),
                          'unknown') END,
       s.item_id, s.event_type, s.rule, s.evidence, s.confidence, s.parent_item_id, s.stance,
       s.stance_rule, s.stance_evidence, s.stance_confidence
FROM story_items s;
DROP VIEW IF EXISTS poll_results;
DROP VIEW IF EXISTS poll_series;
DROP VIEW IF EXISTS reply_stance;
DROP VIEW IF EXISTS press_followup;
DROP VIEW IF EXISTS story_firsts;
DROP VIEW IF EXISTS timeline;
DROP VIEW IF EXISTS article_times;
DROP VIEW IF EXISTS story_labels;
DROP TABLE story_items;
ALTER TABLE story_items_by_platform RENAME TO story_items;
-- analyst_labels.platform: the labelled post's platform ('web' for an article); NULL in labels
-- recorded before items had one (they apply to the post with that id, whatever its platform).
ALTER TABLE analyst_labels ADD COLUMN platform VARCHAR;
UPDATE analyst_labels SET platform = 'web' WHERE item_kind = 'article';
"""

STORY_VIEWS = """
-- story_labels: the effective label of every item: an analyst's latest 'set' wins over the
-- automatic label; 'unset' returns the item to its automatic label (or out of the story).
CREATE OR REPLACE VIEW story_labels AS
WITH latest AS (
    -- one history per item id in a story: a label recorded before items had a platform
    -- (platform NULL) and a later one on the same post are the same decision's history
    SELECT story_id, item_kind, item_id,
           coalesce(arg_max(platform, labeled_at), max(platform)) AS platform,
           arg_max(action, labeled_at) AS action, arg_max(event_type, labeled_at) AS event_type,
           arg_max(note, labeled_at) AS note, arg_max(analyst, labeled_at) AS analyst,
           max(labeled_at) AS labeled_at
    FROM analyst_labels GROUP BY story_id, item_kind, item_id
), analyst AS (SELECT * FROM latest WHERE action = 'set')
SELECT coalesce(a.story_id, s.story_id) AS story_id,
       coalesce(a.item_kind, s.item_kind) AS item_kind,
       coalesce(s.platform, a.platform) AS platform,
       coalesce(a.item_id, s.item_id) AS item_id,
       coalesce(a.event_type, s.event_type) AS event_type,
       CASE WHEN a.story_id IS NOT NULL THEN 'analyst' ELSE s.rule END AS rule,
       CASE WHEN a.story_id IS NOT NULL
            THEN 'analyst ' || coalesce(a.analyst, '?') || coalesce(': ' || a.note, '')
                 || coalesce(' (automatic: ' || s.event_type || ')', '')
            ELSE s.evidence END AS evidence,
       CASE WHEN a.story_id IS NOT NULL THEN 1.0 ELSE s.confidence END AS confidence,
       CASE WHEN a.story_id IS NOT NULL THEN 'analyst' ELSE 'auto' END AS labeled_by,
       s.parent_item_id, s.stance, s.stance_rule, s.stance_evidence, s.stance_confidence
FROM story_items s
FULL OUTER JOIN analyst a
  ON a.story_id = s.story_id AND a.item_kind = s.item_kind AND a.item_id = s.item_id
 AND coalesce(a.platform, s.platform) = s.platform;

-- article_times: the time an article is placed at: the publisher's published_at, else GDELT's
-- seendate (when GDELT first saw it), else our first_seen_at; clock names which.
CREATE OR REPLACE VIEW article_times AS
SELECT a.url, coalesce(a.published_at, s.gdelt_seen_at, a.first_seen_at) AS event_at,
       CASE WHEN a.published_at IS NOT NULL THEN 'published_at'
            WHEN s.gdelt_seen_at IS NOT NULL THEN 'gdelt_seen_at'
            ELSE 'first_seen_at' END AS clock
FROM articles a
LEFT JOIN (SELECT url, min(gdelt_seen_at) AS gdelt_seen_at FROM article_sources GROUP BY url) s
  USING (url);

-- timeline: every labelled item of every story on one axis. `clock` says which time event_at
-- is: created_at (the platform's), published_at (the outlet's), gdelt_seen_at (GDELT's, for an
-- undated article) or first_seen_at (ours).
CREATE OR REPLACE VIEW timeline AS
SELECT l.story_id, p.created_at AS event_at, 'created_at' AS clock, l.event_type, l.stance,
       'post' AS source_kind, p.platform AS platform_or_outlet, a.handle AS actor,
       sa.role, p.text AS text, p.url, l.rule, l.evidence, l.confidence, l.labeled_by,
       l.item_kind, l.item_id, l.parent_item_id, p.deleted_at
FROM story_labels l
JOIN posts p ON l.item_kind = 'post' AND p.platform = coalesce(l.platform, p.platform)
 AND p.post_id = l.item_id
LEFT JOIN accounts a ON a.platform = p.platform AND a.account_id = p.author_id
LEFT JOIN story_actors sa ON sa.story_id = l.story_id AND sa.platform = p.platform
 AND sa.account_id = p.author_id
UNION ALL
SELECT l.story_id, t.event_at, t.clock,
       l.event_type, l.stance, 'article', coalesce(ar.outlet, ar.domain), NULL, 'press', ar.title,
       ar.url, l.rule,
       l.evidence, l.confidence, l.labeled_by, l.item_kind, l.item_id, l.parent_item_id, NULL
FROM story_labels l
JOIN articles ar ON l.item_kind = 'article' AND ar.url = l.item_id
JOIN article_times t ON t.url = ar.url;

-- story_firsts: per story, the first claim, press report of the claim, denial, press report of
-- the denial and rebuttal (each with its item) and the lags between them.
CREATE OR REPLACE VIEW story_firsts AS
WITH f AS (
    SELECT story_id,
        min(event_at) FILTER (WHERE event_type = 'claim') AS first_claim_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'claim') AS first_claim_item,
        min(event_at) FILTER (WHERE event_type = 'coverage_of_claim') AS first_claim_press_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'coverage_of_claim')
            AS first_claim_press_item,
        min(event_at) FILTER (WHERE event_type = 'denial') AS first_denial_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'denial') AS first_denial_item,
        min(event_at) FILTER (WHERE event_type = 'coverage_of_denial') AS first_denial_press_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'coverage_of_denial')
            AS first_denial_press_item,
        min(event_at) FILTER (WHERE event_type = 'rebuttal') AS first_rebuttal_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'rebuttal') AS first_rebuttal_item
    FROM timeline GROUP BY story_id
)
SELECT s.story_id, s.title, f.first_claim_at, f.first_claim_item, f.first_claim_press_at,
       f.first_claim_press_item, f.first_denial_at, f.first_denial_item,
       f.first_denial_press_at, f.first_denial_press_item, f.first_rebuttal_at,
       f.first_rebuttal_item,
       f.first_claim_press_at - f.first_claim_at AS claim_to_press,
       f.first_denial_at - f.first_claim_at AS claim_to_denial,
       f.first_denial_press_at - f.first_denial_at AS denial_to_press,
       f.first_rebuttal_at - f.first_denial_at AS denial_to_rebuttal
FROM stories s LEFT JOIN f USING (story_id);

-- press_followup: outlets that reported the claim, and whether and when each reported the denial.
CREATE OR REPLACE VIEW press_followup AS
SELECT story_id, platform_or_outlet AS outlet,
       min(event_at) FILTER (WHERE event_type = 'coverage_of_claim') AS claim_reported_at,
       min(event_at) FILTER (WHERE event_type = 'coverage_of_denial') AS denial_reported_at,
       min(event_at) FILTER (WHERE event_type = 'coverage_of_denial') IS NOT NULL AS reported_denial,
       min(event_at) FILTER (WHERE event_type = 'coverage_of_denial')
         - min(event_at) FILTER (WHERE event_type = 'coverage_of_claim') AS claim_to_denial_report
FROM timeline WHERE source_kind = 'article'
GROUP BY story_id, platform_or_outlet
HAVING min(event_at) FILTER (WHERE event_type = 'coverage_of_claim') IS NOT NULL;

-- reply_stance: replies per story, hour and stance.
CREATE OR REPLACE VIEW reply_stance AS
SELECT story_id, date_trunc('hour', event_at) AS hour, stance, count(*) AS replies
FROM timeline WHERE event_type = 'reply' AND stance IS NOT NULL
GROUP BY ALL;

-- poll_series: every snapshot of every poll with each option's share.
CREATE OR REPLACE VIEW poll_series AS
SELECT s.poll_id, p.post_id, s.captured_at, s.position, s.label, s.votes, s.voting_status,
       round(s.votes / nullif(sum(s.votes) OVER (PARTITION BY s.platform, s.poll_id,
                                                   s.captured_at), 0), 4) AS share,
       s.platform
FROM poll_snapshots s JOIN polls p USING (platform, poll_id);

-- poll_results: the latest snapshot of each poll (final once closed).
CREATE OR REPLACE VIEW poll_results AS
SELECT * FROM poll_series
QUALIFY captured_at = max(captured_at) OVER (PARTITION BY platform, poll_id);
"""

# Migration 8: an article's outlet is its publication, and articles keep their versions.
# From here on, the current text of timeline, story_firsts and press_followup is this one.
ARTICLE_VERSIONS = """
-- articles.outlet_domain: the registrable domain of the publication (public-suffix aware) of
-- the feed item's source element when it names one, else of the article's URL; KEEP.
-- articles.outlet is now the publication's own name (the feed item's source element, else the
-- page's site name), never the feed's name; NULL when no page or item named it (views then
-- show the domain). Existing rows are re-derived from raw: outlets are cleared and the press
-- raw files are marked for loading again (the next load or run reads them; idempotent).
ALTER TABLE articles ADD COLUMN outlet_domain VARCHAR;
UPDATE articles SET outlet = NULL;
UPDATE raw_files SET loaded_at = NULL WHERE loaded_at IS NOT NULL AND path LIKE 'press/%';

-- article_versions: upsert by (url, content_hash); each distinct extracted version (title,
-- description, main text) of an article, from our fetches and Wayback captures. first/last_seen_at
-- = min/max over every sighting (an unchanged fetch or a 304 only moves last_seen_at);
-- fetched_first_at = our first fetch that saw it; archived_first/last_at = the Wayback captures
-- of it (archive evidence); modified_at/modified_claim = the outlet's own claim of when it last
-- changed the page (dateModified, "Updated …"), recorded as its claim, not our observation.
CREATE TABLE article_versions (
    url VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,   -- sha256 of title, description and text (whitespace tidied)
    title VARCHAR,
    summary VARCHAR,
    text VARCHAR,
    modified_at TIMESTAMPTZ,
    modified_claim VARCHAR,          -- where the page says it, and what it says
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    fetched_first_at TIMESTAMPTZ,
    archived_first_at TIMESTAMPTZ,
    archived_last_at TIMESTAMPTZ,
    wayback_digest VARCHAR,          -- the CDX digest of the capture it was read from
    page_id VARCHAR NOT NULL,
    PRIMARY KEY (url, content_hash)
);

-- article_captures: append-only; every capture the Wayback CDX API listed for an article
-- (archive evidence: redirects, errors and revisits included, as listed).
CREATE TABLE article_captures (
    url VARCHAR NOT NULL,            -- the article (canonical URL) it was asked for
    captured_at TIMESTAMPTZ NOT NULL,
    digest VARCHAR NOT NULL,
    original VARCHAR,                -- the URL as captured
    mimetype VARCHAR,
    status VARCHAR,                  -- the captured HTTP status ('-' for a revisit record)
    length BIGINT,
    page_id VARCHAR NOT NULL,
    PRIMARY KEY (url, captured_at, digest)
);

-- press_outlets: press.outlets of config.yaml, replaced at each analysis (like story_actors):
-- a domain or a name (lower-cased) and the display name it belongs to.
CREATE TABLE press_outlets (
    key_kind VARCHAR NOT NULL,       -- 'domain' | 'name'
    key VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    PRIMARY KEY (key_kind, key)
);
""" + """
-- article_outlets: each article's publication for display and grouping: press.outlets by
-- domain, then by the name the article gave, then the name its domain's articles give most
-- often (and its alias), then that name, then the registrable domain.
CREATE OR REPLACE VIEW article_outlets AS
WITH counts AS (
    SELECT outlet_domain, outlet, count(*) AS n FROM articles
    WHERE outlet IS NOT NULL AND outlet_domain IS NOT NULL GROUP BY ALL
), named AS (
    SELECT outlet_domain, (list(outlet ORDER BY n DESC, outlet))[1] AS seen_name
    FROM counts GROUP BY outlet_domain
)
SELECT a.url, coalesce(a.outlet_domain, a.domain) AS outlet_domain, a.outlet AS given_name,
       coalesce(d.name, g.name, ng.name, n.seen_name, a.outlet, a.outlet_domain,
                a.domain) AS outlet
FROM articles a
LEFT JOIN press_outlets d ON d.key_kind = 'domain' AND d.key = coalesce(a.outlet_domain, a.domain)
LEFT JOIN press_outlets g ON g.key_kind = 'name' AND g.key = lower(a.outlet)
LEFT JOIN named n ON n.outlet_domain = a.outlet_domain
LEFT JOIN press_outlets ng ON ng.key_kind = 'name' AND ng.key = lower(n.seen_name);

-- article_history: an article's versions in the order they were first seen, with when the one
-- before was last seen (a change happened in between) and where each came from.
CREATE OR REPLACE VIEW article_history AS
SELECT v.url, row_number() OVER w AS version, v.content_hash, v.title, v.summary, v.text,
       v.first_seen_at, v.last_seen_at, lag(v.last_seen_at) OVER w AS previous_seen_until,
       CASE WHEN v.archived_first_at IS NOT NULL AND (v.fetched_first_at IS NULL
                 OR v.archived_first_at <= v.fetched_first_at) THEN 'wayback'
            ELSE 'fetch' END AS origin,
       v.modified_at AS outlet_modified_at, v.modified_claim AS outlet_modified_claim,
       v.archived_first_at, v.wayback_digest
FROM article_versions v
WINDOW w AS (PARTITION BY v.url ORDER BY v.first_seen_at, v.content_hash);

-- timeline: as in migration 6, with the publication as the outlet, and article versions
-- (item_kind 'article_version', item_id '<url>#version=<content_hash>') placed at the time
-- the version was first seen (ours, or a Wayback capture's: clock 'archived_at').
CREATE OR REPLACE VIEW timeline AS
SELECT l.story_id, p.created_at AS event_at, 'created_at' AS clock, l.event_type, l.stance,
       'post' AS source_kind, p.platform AS platform_or_outlet, a.handle AS actor,
       sa.role, p.text AS text, p.url, l.rule, l.evidence, l.confidence, l.labeled_by,
       l.item_kind, l.item_id, l.parent_item_id, p.deleted_at
FROM story_labels l
JOIN posts p ON l.item_kind = 'post' AND p.platform = coalesce(l.platform, p.platform)
 AND p.post_id = l.item_id
LEFT JOIN accounts a ON a.platform = p.platform AND a.account_id = p.author_id
LEFT JOIN story_actors sa ON sa.story_id = l.story_id AND sa.platform = p.platform
 AND sa.account_id = p.author_id
UNION ALL
SELECT l.story_id, t.event_at, t.clock,
       l.event_type, l.stance, 'article', o.outlet, NULL, 'press', ar.title,
       ar.url, l.rule,
       l.evidence, l.confidence, l.labeled_by, l.item_kind, l.item_id, l.parent_item_id, NULL
FROM story_labels l
JOIN articles ar ON l.item_kind = 'article' AND ar.url = l.item_id
JOIN article_times t ON t.url = ar.url
JOIN article_outlets o ON o.url = ar.url
UNION ALL
SELECT l.story_id, v.first_seen_at,
       CASE WHEN v.archived_first_at IS NOT NULL AND v.archived_first_at <= v.first_seen_at
            THEN 'archived_at' ELSE 'first_seen_at' END,
       l.event_type, l.stance, 'article', o.outlet, NULL, 'press', coalesce(v.title, ar.title),
       ar.url, l.rule, l.evidence, l.confidence, l.labeled_by, l.item_kind, l.item_id,
       l.parent_item_id, NULL
FROM story_labels l
JOIN article_versions v ON l.item_kind = 'article_version'
 AND v.url = split_part(l.item_id, '#version=', 1)
 AND v.content_hash = split_part(l.item_id, '#version=', 2)
JOIN articles ar ON ar.url = v.url
JOIN article_outlets o ON o.url = ar.url;

-- story_firsts: as in migration 6; the press report of the denial also counts a claim report
-- updated with it (article_updated_with_denial), and each press first names its outlet.
CREATE OR REPLACE VIEW story_firsts AS
WITH f AS (
    SELECT story_id,
        min(event_at) FILTER (WHERE event_type = 'claim') AS first_claim_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'claim') AS first_claim_item,
        min(event_at) FILTER (WHERE event_type = 'coverage_of_claim') AS first_claim_press_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'coverage_of_claim')
            AS first_claim_press_item,
        arg_min(platform_or_outlet, event_at) FILTER (WHERE event_type = 'coverage_of_claim')
            AS first_claim_press_outlet,
        min(event_at) FILTER (WHERE event_type = 'denial') AS first_denial_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'denial') AS first_denial_item,
        min(event_at) FILTER (WHERE event_type IN ('coverage_of_denial',
                                                   'article_updated_with_denial'))
            AS first_denial_press_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type IN ('coverage_of_denial',
                                                                'article_updated_with_denial'))
            AS first_denial_press_item,
        arg_min(platform_or_outlet, event_at) FILTER (WHERE event_type IN (
            'coverage_of_denial', 'article_updated_with_denial')) AS first_denial_press_outlet,
        min(event_at) FILTER (WHERE event_type = 'rebuttal') AS first_rebuttal_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'rebuttal') AS first_rebuttal_item
    FROM timeline GROUP BY story_id
)
SELECT s.story_id, s.title, f.first_claim_at, f.first_claim_item, f.first_claim_press_at,
       f.first_claim_press_item, f.first_denial_at, f.first_denial_item,
       f.first_denial_press_at, f.first_denial_press_item, f.first_rebuttal_at,
       f.first_rebuttal_item,
       f.first_claim_press_at - f.first_claim_at AS claim_to_press,
       f.first_denial_at - f.first_claim_at AS claim_to_denial,
       f.first_denial_press_at - f.first_denial_at AS denial_to_press,
       f.first_rebuttal_at - f.first_denial_at AS denial_to_rebuttal,
       f.first_claim_press_outlet, f.first_denial_press_outlet
FROM stories s LEFT JOIN f USING (story_id);

-- press_followup: per publication that reported the claim, whether and when it carried the
-- denial: in a new article (denial_reported_at) or by updating a claim report
-- (claim_report_denial_at: the first version seen with it; claim_report_denial_after: the last
-- version without it was seen then, so the update came in between).
CREATE OR REPLACE VIEW press_followup AS
WITH upd AS (
    SELECT t.story_id, t.platform_or_outlet AS outlet, t.event_at, h.previous_seen_until,
           t.url
    FROM timeline t
    LEFT JOIN article_history h ON t.item_kind = 'article_version' AND h.url = t.url
     AND h.content_hash = split_part(t.item_id, '#version=', 2)
    WHERE t.event_type = 'article_updated_with_denial'
), updates AS (
    SELECT story_id, outlet, min(event_at) AS claim_report_denial_at,
           arg_min(previous_seen_until, event_at) AS claim_report_denial_after,
           arg_min(url, event_at) AS updated_claim_report
    FROM upd GROUP BY ALL
), per AS (
    SELECT story_id, platform_or_outlet AS outlet,
           min(event_at) FILTER (WHERE event_type = 'coverage_of_claim') AS claim_reported_at,
           min(event_at) FILTER (WHERE event_type = 'coverage_of_denial') AS denial_reported_at
    FROM timeline WHERE source_kind = 'article' AND item_kind = 'article'
    GROUP BY story_id, platform_or_outlet
    HAVING min(event_at) FILTER (WHERE event_type = 'coverage_of_claim') IS NOT NULL
)
SELECT p.story_id, p.outlet, p.claim_reported_at, p.denial_reported_at,
       (p.denial_reported_at IS NOT NULL OR u.claim_report_denial_at IS NOT NULL)
           AS reported_denial,
       least(p.denial_reported_at, u.claim_report_denial_at) - p.claim_reported_at
           AS claim_to_denial_report,
       u.claim_report_denial_at, u.claim_report_denial_after, u.updated_claim_report
FROM per p LEFT JOIN updates u USING (story_id, outlet);
"""

# Incremental analysis (migration 13): which load each row last changed in, how far each
# story was analysed, and reply stances kept by what decides them.
INCREMENTAL_ANALYSIS = """
-- posts / articles / article_versions .load_seq: the load (one raw file's transaction,
-- numbered by the sequence load_seq) that last inserted or changed the row; NULL for rows
-- stored before.
CREATE SEQUENCE IF NOT EXISTS load_seq START 1;
ALTER TABLE posts ADD COLUMN load_seq BIGINT;
ALTER TABLE articles ADD COLUMN load_seq BIGINT;
ALTER TABLE article_versions ADD COLUMN load_seq BIGINT;

-- analysis_state: per story, what its items were computed from: a digest of its configuration
-- and resolved actors, and the last load included. Rewritten by each analysis; derived.
CREATE TABLE analysis_state (
    story_id VARCHAR PRIMARY KEY,
    config_digest VARCHAR NOT NULL,
    load_seq BIGINT NOT NULL,
    analysed_at TIMESTAMPTZ NOT NULL,
    mode VARCHAR NOT NULL              -- full | incremental | unchanged: how the last run did it
);

-- stance_cache: a reply's stance toward its parent, by what decides it: the digest of the
-- reply's text, its parent's text and the stance model's version. Insert only; derived.
CREATE TABLE stance_cache (
    digest VARCHAR PRIMARY KEY,
    model_version VARCHAR NOT NULL,
    stance VARCHAR,
    stance_rule VARCHAR,
    stance_evidence VARCHAR,
    stance_confidence DOUBLE
);
"""

# Migration 14: people who speak on several platforms. A story actor is a person with one or
# more identities (config.yaml); story_actors keeps one row per identity and names its person.
# From here on, the current text of timeline and story_firsts is this one.
PEOPLE = """
-- story_actors.person: the person an identity belongs to: the actor's name in config.yaml,
-- else its (first) handle. A cross-platform actor is one row per identity, all with its person.
ALTER TABLE story_actors ADD COLUMN person VARCHAR;
UPDATE story_actors SET person = handle;

-- timeline: as in migration 8, plus person (the story actor the post's author is, across
-- platforms; NULL for others' posts and for articles).
CREATE OR REPLACE VIEW timeline AS
SELECT l.story_id, p.created_at AS event_at, 'created_at' AS clock, l.event_type, l.stance,
       'post' AS source_kind, p.platform AS platform_or_outlet, a.handle AS actor,
       sa.role, p.text AS text, p.url, l.rule, l.evidence, l.confidence, l.labeled_by,
       l.item_kind, l.item_id, l.parent_item_id, p.deleted_at, sa.person
FROM story_labels l
JOIN posts p ON l.item_kind = 'post' AND p.platform = coalesce(l.platform, p.platform)
 AND p.post_id = l.item_id
LEFT JOIN accounts a ON a.platform = p.platform AND a.account_id = p.author_id
LEFT JOIN story_actors sa ON sa.story_id = l.story_id AND sa.platform = p.platform
 AND sa.account_id = p.author_id
UNION ALL
SELECT l.story_id, t.event_at, t.clock,
       l.event_type, l.stance, 'article', o.outlet, NULL, 'press', ar.title,
       ar.url, l.rule,
       l.evidence, l.confidence, l.labeled_by, l.item_kind, l.item_id, l.parent_item_id, NULL,
       NULL
FROM story_labels l
JOIN articles ar ON l.item_kind = 'article' AND ar.url = l.item_id
JOIN article_times t ON t.url = ar.url
JOIN article_outlets o ON o.url = ar.url
UNION ALL
SELECT l.story_id, v.first_seen_at,
       CASE WHEN v.archived_first_at IS NOT NULL AND v.archived_first_at <= v.first_seen_at
            THEN 'archived_at' ELSE 'first_seen_at' END,
       l.event_type, l.stance, 'article', o.outlet, NULL, 'press', coalesce(v.title, ar.title),
       ar.url, l.rule, l.evidence, l.confidence, l.labeled_by, l.item_kind, l.item_id,
       l.parent_item_id, NULL, NULL
FROM story_labels l
JOIN article_versions v ON l.item_kind = 'article_version'
 AND v.url = split_part(l.item_id, '#version=', 1)
 AND v.content_hash = split_part(l.item_id, '#version=', 2)
JOIN articles ar ON ar.url = v.url
JOIN article_outlets o ON o.url = ar.url;

-- story_firsts: as in migration 8, plus the platform of the first claim, denial and rebuttal.
CREATE OR REPLACE VIEW story_firsts AS
WITH f AS (
    SELECT story_id,
        min(event_at) FILTER (WHERE event_type = 'claim') AS first_claim_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'claim') AS first_claim_item,
        arg_min(platform_or_outlet, event_at) FILTER (WHERE event_type = 'claim')
            AS first_claim_platform,
        min(event_at) FILTER (WHERE event_type = 'coverage_of_claim') AS first_claim_press_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'coverage_of_claim')
            AS first_claim_press_item,
        arg_min(platform_or_outlet, event_at) FILTER (WHERE event_type = 'coverage_of_claim')
            AS first_claim_press_outlet,
        min(event_at) FILTER (WHERE event_type = 'denial') AS first_denial_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'denial') AS first_denial_item,
        arg_min(platform_or_outlet, event_at) FILTER (WHERE event_type = 'denial')
            AS first_denial_platform,
        min(event_at) FILTER (WHERE event_type IN ('coverage_of_denial',
                                                   'article_updated_with_denial'))
            AS first_denial_press_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type IN ('coverage_of_denial',
                                                                'article_updated_with_denial'))
            AS first_denial_press_item,
        arg_min(platform_or_outlet, event_at) FILTER (WHERE event_type IN (
            'coverage_of_denial', 'article_updated_with_denial')) AS first_denial_press_outlet,
        min(event_at) FILTER (WHERE event_type = 'rebuttal') AS first_rebuttal_at,
        arg_min(item_id, event_at) FILTER (WHERE event_type = 'rebuttal') AS first_rebuttal_item,
        arg_min(platform_or_outlet, event_at) FILTER (WHERE event_type = 'rebuttal')
            AS first_rebuttal_platform
    FROM timeline GROUP BY story_id
)
SELECT s.story_id, s.title, f.first_claim_at, f.first_claim_item, f.first_claim_press_at,
       f.first_claim_press_item, f.first_denial_at, f.first_denial_item,
       f.first_denial_press_at, f.first_denial_press_item, f.first_rebuttal_at,
       f.first_rebuttal_item,
       f.first_claim_press_at - f.first_claim_at AS claim_to_press,
       f.first_denial_at - f.first_claim_at AS claim_to_denial,
       f.first_denial_press_at - f.first_denial_at AS denial_to_press,
       f.first_rebuttal_at - f.first_denial_at AS denial_to_rebuttal,
       f.first_claim_press_outlet, f.first_denial_press_outlet,
       f.first_claim_platform, f.first_denial_platform, f.first_rebuttal_platform
FROM stories s LEFT JOIN f USING (story_id);

-- person_firsts: per story, person and statement (claim, denial, rebuttal, poll), the first
-- post of it on each platform the person made it on, which platform came first, and how long
-- after the first each platform carried it (the cross-posting lag).
CREATE OR REPLACE VIEW person_firsts AS
WITH per AS (
    SELECT story_id, person, event_type, platform_or_outlet AS platform,
           min(event_at) AS first_at, arg_min(item_id, event_at) AS first_item,
           arg_min(actor, event_at) AS handle, any_value(role) AS role, count(*) AS items
    FROM timeline
    WHERE source_kind = 'post' AND person IS NOT NULL
      AND event_type IN ('claim', 'denial', 'rebuttal', 'poll')
    GROUP BY story_id, person, event_type, platform_or_outlet
)
SELECT story_id, person, role, event_type, platform, handle, first_at, first_item, items,
       row_number() OVER w AS platform_order,
       first_value(platform) OVER w AS first_platform,
       first_at - first_value(first_at) OVER w AS after_first
FROM per
WINDOW w AS (PARTITION BY story_id, person, event_type ORDER BY first_at, platform);
"""

ANALYSIS_FIRSTS = """
-- analysis_state.first_*: the story's first denial, rebuttal and claim (post times) as of its
-- last analysis; an incremental analysis compares them with what its new labels give. The
-- states written before are dropped: each story is analysed in full once more.
ALTER TABLE analysis_state ADD COLUMN first_denial TIMESTAMPTZ;
ALTER TABLE analysis_state ADD COLUMN first_rebuttal TIMESTAMPTZ;
ALTER TABLE analysis_state ADD COLUMN first_claim TIMESTAMPTZ;
DELETE FROM analysis_state;
"""

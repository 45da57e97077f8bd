"""The data dictionary: what every table, view and column holds, written once.

The same text goes into the database as DuckDB comments (``COMMENT ON``, applied by
``migrate`` to whatever lacks or differs from it, so every database, old or new, carries it) and
into docs/data-dictionary.md (``python -m tracker.store.dictdoc``). A test fails when a table,
view or column of a fresh database has no entry here, naming it, and when the docs differ
from their render. Read it inside DuckDB::

    SELECT table_name, comment FROM duckdb_tables();
    SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'posts';

Each entry: its name, kind, section, what a row is (with its write rule for tables), and
``column: description`` lines in the table's column order (a line starting with spaces
continues the one before).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from tracker.store.tx import rollback

SECTIONS = {
    "collected": "Posts, accounts and polls",
    "press": "Press coverage",
    "stories": "Stories",
    "bookkeeping": "Collection bookkeeping",
    "views": "Views",
}


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str                           # "table" | "view"
    section: str
    summary: str
    columns: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if self.kind not in ("table", "view") or self.section not in SECTIONS:
            raise ValueError(f"dictionary entry {self.name}: kind {self.kind!r} or section "
                             f"{self.section!r} unknown")
        names = [c for c, _ in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"dictionary entry {self.name}: a column is described twice")

    def column(self, name: str) -> str | None:
        return dict(self.columns).get(name)


def _lines(text: str) -> tuple[tuple[str, str], ...]:
    out: list[list[str]] = []
    for line in text.strip("\n").splitlines():
        if line.startswith(" ") and out:
            out[-1][1] += " " + line.strip()
        elif line.strip():
            name, sep, doc = line.partition(": ")
            if not sep or not doc.strip():
                raise ValueError(f"dictionary line {line!r} is not 'column: description'")
            out.append([name.strip(), doc.strip()])
    return tuple((n, d) for n, d in out)


def _entry(kind: str, name: str, section: str, summary: str, columns: str) -> Entry:
    return Entry(name, kind, section, " ".join(summary.split()), _lines(columns))


def table(name: str, section: str, summary: str, columns: str) -> Entry:
    return _entry("table", name, section, summary, columns)


def view(name: str, summary: str, columns: str) -> Entry:
    return _entry("view", name, "views", summary, columns)


# Words used again and again
FIRST = "when the tracker first saw it (our clock; the earliest sighting)"
LAST = "when the tracker last saw it (our clock; the latest sighting)"
PAGE = "the raw page it came from (raw_pages.page_id)"

ENTRIES: tuple[Entry, ...] = (
    table("accounts", "collected", """
        Accounts seen on any platform, one row per (platform, account_id). Upsert by key:
        profile fields take the latest capture, first_seen_at the earliest and last_seen_at the
        latest; never deleted.""", f"""
platform: the platform's name (the source that collected it); with account_id, the key
account_id: the platform's own id of the account (stable when the handle changes)
handle: the account's current handle (every handle it used: account_handles)
name: the display name, as last seen
description: the profile text, as last seen
created_at: when the account was created (the platform's clock)
protected: whether the account's posts are visible to followers only
verified: whether the platform marks the account as verified
followers_count: followers at the latest capture
following_count: accounts it follows, at the latest capture
post_count: posts the platform counts for it, at the latest capture
first_seen_at: {FIRST}
last_seen_at: {LAST}
load_seq: the load that last inserted or changed the row (as posts.load_seq)
"""),
    table("account_handles", "collected", """
        Every handle an account has used. Upsert by (platform, account_id, handle); never
        deleted.""", f"""
platform: the platform's name
account_id: the platform's id of the account
handle: a handle the account used
first_seen_at: {FIRST} under this handle
last_seen_at: {LAST} under this handle
load_seq: the load that last inserted or changed the row (as posts.load_seq)
"""),
    table("posts", "collected", """
        Posts, including posts seen only as referenced ones (seen_in = 'includes'). Upsert by
        (platform, post_id): text and metrics take the latest capture; deleted_at and
        unavailable_* are set once and never cleared; never deleted.""", f"""
platform: the platform's name; with post_id, the key
post_id: the platform's id of the post
author_id: the author's account_id (join accounts on platform and account_id)
created_at: when the post was published (the platform's clock)
text: the post's text, as last seen
lang: the language the platform detected (BCP 47, e.g. en)
conversation_id: the post_id of the thread's root post
reply_to_post_id: the post it replies to (NULL when it is no reply)
reply_to_user_id: the account it replies to
quoted_post_id: the post it quotes
reposted_post_id: the post it reposts (a repost is not a statement of its own)
poll_id: its poll (polls.poll_id), if it has one
url: the post's web address
like_count: likes at the latest capture
repost_count: reposts at the latest capture
reply_count: replies at the latest capture
quote_count: quotes at the latest capture
impression_count: views at the latest capture, where the platform gives them
edit_chain_id: the first post_id of its edit chain, on platforms where an edit makes a new id
edit_history: JSON list of the post ids of its edit chain, oldest first
entities: JSON of the links, mentions, hashtags and media the platform marked in the text (read
  it with JSON functions, e.g. entities->'$.hashtags': its spacing and key order are the source's)
withheld: JSON of where the post is withheld (country_codes, scope), if anywhere
possibly_sensitive: whether the platform flags the post as possibly sensitive
seen_in: 'data' when a request returned the post itself, 'includes' when it came only as a
  referenced post; once 'data', always 'data'
first_seen_at: {FIRST}
last_seen_at: {LAST}
deleted_at: set once, when a lookup in a later run confirms that the post is gone; it is the
  time of the first lookup that missed it (missing_since); never cleared
unavailable_reason: why the platform withholds the post: 'protected', 'suspended', ...; set once
unavailable_at: when the post was first found unavailable
missing_since: the first lookup that did not find the post, waiting for a later run to confirm
  it (then deleted_at); cleared if the post is seen again first
missing_run: the run (runs.run_id) of that lookup
load_seq: the load (one raw file's transaction) that last inserted or changed the row;
  NULL for rows stored before loads were numbered. The incremental analysis reads it
"""),
    table("post_versions", "collected", """
        Every text version of an edited post, one row per version seen. Upsert by (platform,
        version_post_id); never deleted.""", f"""
platform: the platform's name
edit_chain_id: the first post_id of the edit chain (posts.edit_chain_id)
version_post_id: the post id of this version; with platform, the key
version_index: its place in the chain, 0 = the original
text: the text of this version
created_at: when this version was published (the platform's clock)
first_seen_at: {FIRST}
load_seq: the load that last inserted or changed the row (as posts.load_seq)
"""),
    table("polls", "collected", """
        Polls attached to posts. Upsert by (platform, poll_id): voting_status takes the latest
        capture; never deleted. Vote counts are in poll_snapshots.""", f"""
platform: the platform's name
poll_id: the platform's id of the poll; with platform, the key
post_id: the post that carries it
options: JSON list of the options' labels, in order
duration_minutes: how long the poll runs
end_at: when voting closes (the platform's clock)
voting_status: 'open' or 'closed', as last seen
first_seen_at: {FIRST}
last_seen_at: {LAST}
final_snapshot_at: the first capture that saw the poll closed; it is not read after that
load_seq: the load that last inserted or changed the row (as posts.load_seq)
"""),
    table("poll_snapshots", "collected", """
        Vote counts, one row per option per capture. Append-only (a capture is never
        overwritten); key (platform, poll_id, captured_at, position).""", f"""
platform: the platform's name
poll_id: the poll (polls.poll_id)
captured_at: when we read the counts (our clock)
position: the option's place in the poll, from 1
label: the option's label
votes: votes for the option at that capture; NULL where the platform hides the counts (unknown,
  never 0)
voting_status: 'open' or 'closed' at that capture
page_id: {PAGE}
voters_count: how many had voted at that capture (a multiple-choice poll's votes add up to
  more); NULL where the platform does not tell it or hides it until the end
load_seq: the load that inserted the row (as posts.load_seq)
"""),
    table("api_errors", "collected", """
        Every entry of an API answer's list of errors (posts not found, protected accounts...),
        never dropped. Append-only; key (page_id, idx).""", f"""
page_id: {PAGE}
idx: the entry's position in that answer's list
source: the source that made the request (runs.source)
fetched_at: when the answer came (our clock)
title: the error's title, as the API gave it
detail: the error's detail
type: the error's type (often a URL naming the kind of problem)
resource_type: what kind of thing it is about (a post, a user...)
resource_id: the id of that thing
parameter: the request parameter it is about
value: the parameter's value
section: where in the answer it was ('data' or 'includes')
load_seq: the load that inserted the row (as posts.load_seq)
"""),
    table("articles", "press", """
        Press articles, one row per canonical URL whatever the source (feed, GDELT, a page
        added by hand). Upsert by url: published_at and first_seen_at keep the earliest,
        last_seen_at the latest; outlet, outlet_domain, language and source_country keep the
        first value seen; title, summary, text and authors take the latest non-empty one;
        never deleted.""", f"""
url: the canonical URL (AMP unwrapped, tracking parameters dropped: see
  tracker/sources/press/canonical.py); the key
domain: the URL's host without 'www.'
outlet: the publication's own name (the feed item's source, else the page's site name),
  never a feed's name; NULL when none was given (article_outlets then names it)
title: the headline
summary: the description or teaser
text: the main text, from the page or a feed's full content
authors: JSON list of the authors' names
language: ISO 639-1 code (en); the first value seen
source_country: the country GDELT gives for the outlet
published_at: the publisher's time, the earliest any feed or page gave; NULL when none did
  (never GDELT's seendate: see article_times)
first_seen_at: {FIRST}
last_seen_at: {LAST}
outlet_domain: the publication's registrable domain (public-suffix aware), from the feed item's
  source when it names one, else from the URL
load_seq: the load that last inserted or changed the row (as posts.load_seq)
"""),
    table("article_sources", "press", """
        Every source that saw an article: a feed, a GDELT query, a page added by hand. Upsert by
        (url, source_kind, source_name): times keep the earliest (last_seen_at the latest),
        page_id the first page; never deleted.""", f"""
url: the article (articles.url)
source_kind: 'feed', 'gdelt' or 'manual'
source_name: the feed's name, the GDELT query's name, or 'file' / 'url' for pages added by hand
detail: the feed's URL, the GDELT query, the file's path or the fetched URL
source_url: the article's URL exactly as this source gave it
title: the headline as this source gave it
published_at: the publication time this source gave (NULL: none)
gdelt_seen_at: GDELT's seendate: when GDELT first saw the article (not a publication time)
date_note: why published_at is missing or how it was read ('the date has no time zone; read as
  UTC', ...)
first_seen_at: {FIRST} from this source
last_seen_at: {LAST} from this source
page_id: the raw page that first saw it
load_seq: the load that last inserted or changed the row (as posts.load_seq)
"""),
    table("gdelt_volume", "press", """
        GDELT's coverage volume (timelinevolraw): matching articles per time bucket beside every
        article GDELT monitored in it. Upsert by (query_name, resolution, bucket), latest fetch
        wins; never deleted. GDELT picks the resolution from the window's length, so filter on
        one.""", f"""
query_name: the configured query's name (a story's is 'story-<id>')
resolution: GDELT's bucket size: '15m', 'hour', 'day', ...
bucket: the bucket's start (UTC)
query: the GDELT query sent
articles: matching articles in the bucket (GDELT's value)
all_articles: every article GDELT monitored in the bucket (its norm)
fetched_at: when we read it (our clock)
page_id: {PAGE}
load_seq: the load that last inserted or changed the row (as posts.load_seq)
"""),
    table("article_versions", "press", """
        Each distinct extracted version (title, description, main text) of an article, from our
        fetches and Wayback captures. Upsert by (url, content_hash): first/last_seen_at are the
        min/max over every sighting (an unchanged fetch only moves last_seen_at); never
        deleted.""", """
url: the article (articles.url)
content_hash: sha256 of the title, description and text (whitespace tidied); with url, the key
title: the headline of this version
summary: the description of this version
text: the main text of this version
modified_at: the outlet's own claim of when it last changed the page (dateModified, 'Updated
  ...'): its claim, not our observation
modified_claim: where the page says so, and what it says
first_seen_at: when this version was first seen (our fetch or a capture)
last_seen_at: when this version was last seen
fetched_first_at: our first fetch that saw it (NULL: only in the archive)
archived_first_at: the first Wayback capture of it (archive evidence)
archived_last_at: the last Wayback capture of it
wayback_digest: the CDX digest of the capture it was read from
page_id: the raw page that first gave it
load_seq: the load that last inserted or changed the row (as posts.load_seq)
"""),
    table("article_captures", "press", """
        Every capture the Wayback Machine's CDX API listed for an article (redirects, errors
        and revisits included, as listed). Append-only; key (url, captured_at, digest).""", f"""
url: the article (canonical URL) it was asked for
captured_at: when the Wayback Machine captured it (its clock)
digest: the capture's content digest
original: the URL as captured
mimetype: the capture's content type
status: the captured HTTP status ('-' for a revisit record)
length: the capture's size in bytes
page_id: {PAGE}
load_seq: the load that inserted the row (as posts.load_seq)
"""),
    table("press_outlets", "press", """
        press.outlets of config.yaml: which domain or name belongs to which publication.
        Replaced at each analysis (config.yaml is the source of truth).""", """
key_kind: 'domain' or 'name'
key: the domain, or the name lower-cased
name: the publication's display name it belongs to
"""),
    table("stories", "stories", """
        Stories of config.yaml: the question, its query and window. Upsert by story_id at each
        analysis; a story dropped from the config keeps its row with in_config = false; never
        deleted.""", """
story_id: the story's id in config.yaml; the key
title: the question the story asks
query: the words that find it (AND, OR, NOT, "phrases", (), prefix*)
window_start: the window's start (UTC)
window_end: the window's end (UTC, exclusive)
in_config: whether config.yaml still has the story
"""),
    table("story_actors", "stories", """
        Who plays which role in a story, from config.yaml: one row per identity (an actor
        with accounts on several platforms has one row for each, all naming the same person).
        Replaced per story at each analysis; key (story_id, platform, handle).""", """
story_id: the story (stories.story_id)
platform: the identity's platform
handle: the identity's handle there
role: 'claimant', 'subject' or 'other' (the actor's, the same for all its identities)
account_id: the account's id, resolved from account_handles when known
person: the person the identity belongs to: the actor's name in config.yaml, else its first
  handle; group by it to follow one person across platforms
"""),
    table("story_items", "stories", """
        The automatic labels: which posts and articles belong to a story, as what, by which rule
        and on what evidence. Rewritten for a story by each analysis (the same data gives the
        same rows); analysts' labels are in analyst_labels and win (story_labels). Key
        (story_id, item_kind, platform, item_id).""", """
story_id: the story (stories.story_id)
item_kind: 'post', 'article' or 'article_version'
platform: the post's platform; 'web' for an article
item_id: the post_id, the article's canonical URL, or '<url>#version=<content_hash>'
event_type: claim, denial, rebuttal, coverage_of_claim, coverage_of_denial,
  coverage_of_rebuttal, poll, reply, mention, ... (tracker/core/events.py)
rule: the labelling rule that decided (tracker/analysis/rules.py)
evidence: what the rule matched, in words (the cue, the relation, the matched terms)
confidence: the rule's confidence, 0 to 1
parent_item_id: the post it replies to or quotes, when that post is in the story
stance: for replies, toward the parent: 'support', 'deny', 'query' or 'comment'
stance_rule: the rule or model that decided the stance
stance_evidence: what the stance rule matched
stance_confidence: the stance's confidence, 0 to 1
"""),
    table("analyst_labels", "stories", """
        Analysts' decisions (`tracker label` / `tracker unlabel`), kept as history and loaded
        from the raw archive (so a rebuild keeps them). Append-only; key label_id; the latest
        action per item wins.""", """
label_id: the raw page id of the decision; the key
story_id: the story
item_kind: 'post', 'article' or 'article_version'
item_id: the post_id or the article's URL
action: 'set' (this label wins) or 'unset' (back to the automatic label)
event_type: the event the analyst chose (for 'set')
note: the analyst's note
analyst: who decided (the user name)
labeled_at: when (UTC)
platform: the labelled post's platform ('web' for an article); NULL in labels recorded before
  items had one: those apply to the post with that id on any platform
load_seq: the load that inserted the row (as posts.load_seq)
"""),
    table("analysis_state", "stories", """
        Per story, what its labels were last computed from, so that the next analysis looks
        only at what changed since. Rewritten by each analysis; derived (rebuild starts it
        afresh).""", """
story_id: the story
config_digest: a digest of the story's configuration and the accounts its actors resolved
  to; a change means a full analysis
load_seq: the last load (posts, articles and article_versions .load_seq) the labels include
analysed_at: when the analysis ran (UTC)
mode: how it ran: 'full', 'incremental' (only what changed) or 'unchanged' (nothing new)
first_denial: the story's first denial (the post's created_at) as of that analysis
first_rebuttal: the story's first rebuttal as of that analysis
first_claim: the story's first claim as of that analysis
"""),
    table("stance_cache", "stories", """
        Reply stances by what decides them: the reply's text, its parent's text and the model
        version. Insert only; derived (a model change computes new rows, a rebuild refills
        it).""", """
digest: md5 of the reply's text, its parent's text and the model version; the key
model_version: the stance model that decided (tracker.analysis.stance.MODEL_VERSION)
stance: 'support', 'deny', 'query' or 'comment'
stance_rule: the rule or model that decided
stance_evidence: what it matched
stance_confidence: its confidence, 0 to 1
"""),
    table("sync_state", "bookkeeping", """
        Cursors per (source, scope): where the next request starts. Upsert by key, written in
        the same transaction as the rows the cursor covers, and only forward.""", """
source: the source (runs.source)
scope: what the cursor is for: 'timeline:<account_id>', 'replies:<conversation_id>',
  'feed:<url>', 'gdelt:<name>', 'gdelt_volume:<name>', ...
cursor: JSON: the newest id and next token of a timeline or search, a feed's {"etag",
  "last_modified"}, a GDELT query's {"query", "through"}, ...
updated_at: when it last moved (our clock)
page_id: the raw page whose rows it covers
load_seq: the load that last inserted or changed the row (as posts.load_seq)
"""),
    table("raw_pages", "bookkeeping", """
        The index of the raw archive, one row per archived answer. Append-only; key page_id
        ('<run_id>:<seq>').""", """
page_id: '<run_id>:<seq>'; the key
run_id: the run that fetched it (runs.run_id)
seq: its place in the run
source: the source that fetched it
purpose: what it was for: 'users', 'timeline', 'replies', 'reply_parents', 'poll_refresh',
  'deletion_check', 'feed', 'gdelt_artlist', 'gdelt_volume', 'page', 'import', ...
endpoint: the address asked
params: JSON of the request's parameters (for an import: its format, file, first line, sha256)
scope: the cursor's scope it advances (sync_state.scope)
fetched_at: when the answer came (our clock)
http_status: the answer's HTTP status
file: the raw file, relative to storage.raw_dir
line: the line of that file
items: how many items the page held
error: 'quarantined: ...' when the page could not be read and was not loaded, or the items
  skipped from an otherwise good page
load_seq: the load that inserted the row (as posts.load_seq)
"""),
    table("runs", "bookkeeping", """
        Every job run, from the run's own raw file (so a rebuild keeps it). Upsert by run_id.
        Runs the scheduler records itself ('missed', or 'failed' before the job could record its
        own) have source 'scheduler'.""", """
run_id: '<UTC time>-<4 hex>'; the key
job: the job's name (collect_posts, collect_press, analyze, ...)
source: the source the job belongs to ('scheduler', 'analysis', ...)
started_at: when it started (UTC)
finished_at: when it ended (NULL: it crashed)
status: 'ok', 'stopped' (rate limit or budget: it resumes), 'failed', 'crashed' (no end line),
  'missed' (the scheduler could not start it in time or found the lock held)
stop_reason: why it stopped early
error: what went wrong ('Type: message (at file:line in function < ...)' for an unexpected
  exception, innermost frame first)
requests: requests made
pages: pages archived
posts_read: posts read (what a paid API bills)
load_deferred_at: set when the database was busy and its pages waited in raw
new_rows: rows added by its load
updated_rows: rows changed by its load
deferred: JSON of due work its budget left for the next run ({"conversations": 40}); NULL when
  it did everything due
load_seq: the load that last inserted or changed the row (as posts.load_seq)
"""),
    table("raw_files", "bookkeeping", """
        Which raw files are loaded. Upsert by path; bookkeeping only (a rebuild makes it anew).
        A file whose load failed has loaded_at NULL and its error, and is skipped until
        `tracker load --retry-failed`.""", """
path: the raw file, relative to storage.raw_dir; the key
run_id: the run that wrote it
lines: lines loaded
loaded_at: when it was loaded (NULL: not loaded)
error: why it could not be loaded
damage: the lines of a loaded file that could not be read (damaged gzip data, a torn write), with
  where they are; the rest of the file is loaded
"""),
    table("lake_state", "bookkeeping", """
        What the last write of each lake (storage.lake_dir, docs/lake.md) did, and its last
        failure. Upsert by lake_dir; bookkeeping only: the lake's own _lake.json says which
        load it holds, and the next write starts from there.""", """
lake_dir: the lake's folder, as configured; the key
load_seq: the last load the lake holds (rows with a higher load_seq are not in it yet)
written_at: when the lake was last written successfully (UTC)
mode: how: 'full' (every row, a new or replaced lake), 'incremental' (the rows of the loads
  since the last write) or 'unchanged' (nothing new)
files: Parquet files that write added
rows_written: rows that write added
bytes: bytes that write added
error: why the last write failed; NULL once a write succeeds (the loads are in the database
  either way, and the next load writes what the lake lacks)
failed_at: when the last write failed
failures: writes failed since the last successful one
"""),
    table("schema_migrations", "bookkeeping", """
        The schema migrations applied to this database (tracker/store/schema.py).""", """
version: the migration's number; the key
description: what it changed
applied_at: when it was applied (UTC)
"""),
    table("data_migrations", "bookkeeping", """
        The data migrations applied to this database: rewrites of stored values a source
        owns, made once when the form of its rows changed (tracker/store/datamigrations.py).
        The rows they change carry a new load_seq.""", """
name: the migration's name, e.g. 'x: entities as sent'; the key
description: what it changed
applied_at: when it was applied (UTC)
"""),
    view("timeline", """
        Every labelled item of every story on one time axis (the analyst's label over the
        automatic one). clock says which time event_at is.""", """
story_id: the story
event_at: the item's time, on the clock named by clock
clock: 'created_at' for posts (the platform's), 'published_at' for dated articles (the
  outlet's), 'gdelt_seen_at' for undated articles GDELT saw, 'archived_at' for an article version
  first seen in a Wayback capture, else 'first_seen_at' (ours)
event_type: claim, denial, rebuttal, coverage_of_claim, ... (story_items.event_type)
stance: for replies, toward the parent: support, deny, query, comment
source_kind: 'post' or 'article'
platform_or_outlet: the post's platform, or the article's publication (article_outlets.outlet)
actor: the post author's handle
role: the author's role in the story (claimant, subject, other); 'press' for articles
text: the post's text, or the article's title
url: the post's or the article's address
rule: the rule that labelled it ('analyst' for an analyst's label)
evidence: what the rule matched, or the analyst's note
confidence: the label's confidence, 0 to 1 (1 for an analyst's)
labeled_by: 'auto' or 'analyst'
item_kind: 'post', 'article' or 'article_version'
item_id: the post_id, the article's URL, or '<url>#version=<content_hash>'
parent_item_id: the post it replies to or quotes, when in the story
deleted_at: when the post was confirmed deleted (posts.deleted_at)
person: the story actor who wrote the post (story_actors.person), the same on every platform;
  NULL for others' posts and for articles
"""),
    view("story_firsts", """
        Per story: the first claim, press report of the claim, denial, press report of the
        denial (a new article, or a claim report updated with it) and rebuttal, each with its
        item, and the lags between them. A story with no items still has its row.""", """
story_id: the story
title: the story's question
first_claim_at: the first claim's time
first_claim_item: the first claim's item_id
first_claim_press_at: the first press report of the claim
first_claim_press_item: that article's URL
first_denial_at: the first denial's time
first_denial_item: the first denial's item_id
first_denial_press_at: the first press report of the denial (or update of a claim report with it)
first_denial_press_item: that article's URL (or version)
first_rebuttal_at: the first rebuttal's time
first_rebuttal_item: the first rebuttal's item_id
claim_to_press: first_claim_press_at - first_claim_at (an interval)
claim_to_denial: first_denial_at - first_claim_at
denial_to_press: first_denial_press_at - first_denial_at
denial_to_rebuttal: first_rebuttal_at - first_denial_at
first_claim_press_outlet: the publication of the first press report of the claim
first_denial_press_outlet: the publication of the first press report of the denial
first_claim_platform: the platform of the first claim
first_denial_platform: the platform of the first denial
first_rebuttal_platform: the platform of the first rebuttal
"""),
    view("person_firsts", """
        Per story, person and statement (claim, denial, rebuttal, poll): the first post of it
        on each platform where that person made it, the platform that came first and how long
        after it each other platform carried it (cross-posting lags). One row per platform;
        the person's own labelled posts only (timeline.person).""", """
story_id: the story
person: the story actor (story_actors.person)
role: the actor's role in the story
event_type: 'claim', 'denial', 'rebuttal' or 'poll'
platform: the platform of this row
handle: the person's handle there
first_at: the person's first post of this kind on this platform (the platform's clock)
first_item: that post's post_id
items: how many posts of this kind the person made on this platform
platform_order: 1 for the platform that carried it first, 2 for the next, ...
first_platform: the platform that carried it first
after_first: first_at less the first platform's first_at (an interval; 0 on the first)
"""),
    view("story_labels", """
        The effective label of every item of every story: an analyst's latest 'set' wins over
        the automatic label; 'unset' returns the item to its automatic label (or out of the
        story).""", """
story_id: the story
item_kind: 'post', 'article' or 'article_version'
platform: the post's platform; 'web' for an article
item_id: the post_id or the article's URL
event_type: the effective event type
rule: the automatic rule, or 'analyst'
evidence: the automatic evidence, or 'analyst NAME: note (automatic: EVENT)'
confidence: the automatic confidence, or 1 for an analyst's label
labeled_by: 'auto' or 'analyst'
parent_item_id: the post it replies to or quotes, when in the story
stance: for replies: support, deny, query, comment
stance_rule: the rule or model that decided the stance
stance_evidence: what it matched
stance_confidence: the stance's confidence, 0 to 1
"""),
    view("press_followup", """
        Per story and publication that reported the claim: whether and when it carried the
        denial, in a new article or by updating its claim report.""", """
story_id: the story
outlet: the publication (article_outlets.outlet)
claim_reported_at: its first report of the claim
denial_reported_at: its first new article reporting the denial
reported_denial: whether it carried the denial at all (new article or updated report)
claim_to_denial_report: from its claim report to its first carrying of the denial (an interval)
claim_report_denial_at: the first version of a claim report seen with the denial
claim_report_denial_after: the last version without it was seen then: the update came between
updated_claim_report: the URL of the claim report it updated
"""),
    view("reply_stance", """
        Replies per story, hour and stance (tracker.analysis.api.reply_stance zero-fills the
        hours).""", """
story_id: the story
hour: the hour (UTC) the replies were posted in
stance: support, deny, query or comment
replies: how many replies
"""),
    view("poll_series", """
        Every capture of every poll with each option's share of the votes.""", """
poll_id: the poll
post_id: the post carrying it
captured_at: when the counts were read (our clock)
position: the option's place, from 1
label: the option's label
votes: its votes at that capture
voting_status: 'open' or 'closed' at that capture
share: its share of the capture's votes, 0 to 1 (4 decimals; NULL when no votes)
platform: the platform's name
"""),
    view("poll_results", """
        The latest capture of each poll (final, once closed): the columns of poll_series.""", """
poll_id: the poll
post_id: the post carrying it
captured_at: the latest capture's time
position: the option's place, from 1
label: the option's label
votes: its votes at the latest capture
voting_status: 'open' or 'closed' at the latest capture
share: its share of the votes, 0 to 1
platform: the platform's name
"""),
    view("article_times", """
        The time each article is placed at on the timeline, and which clock it is.""", """
url: the article
event_at: the publisher's published_at, else GDELT's seendate, else our first_seen_at
clock: 'published_at', 'gdelt_seen_at' or 'first_seen_at'
"""),
    view("article_outlets", """
        Each article's publication for display and grouping: press.outlets by domain, then by
        the name the article gave, then the name its domain's articles give most often, then
        the registrable domain.""", """
url: the article
outlet_domain: its publication's registrable domain (else the URL's domain)
given_name: the name the article itself gave (articles.outlet)
outlet: the publication's display name
"""),
    view("article_history", """
        An article's versions in the order they were first seen, with when the one before was
        last seen (a change happened in between) and where each came from.""", """
url: the article
version: its number, from 1, in the order first seen
content_hash: the version (article_versions.content_hash)
title: the version's headline
summary: the version's description
text: the version's main text
first_seen_at: when this version was first seen
last_seen_at: when this version was last seen
previous_seen_until: when the version before was last seen (the change came after)
origin: 'fetch' (our fetch saw it first) or 'wayback' (an archive capture did)
outlet_modified_at: the outlet's own claim of when it changed the page
outlet_modified_claim: where the page says so, and what it says
archived_first_at: the first Wayback capture of the version
wayback_digest: the CDX digest of the capture it was read from
"""),
)

BY_NAME: dict[str, Entry] = {e.name: e for e in ENTRIES}
if len(BY_NAME) != len(ENTRIES):
    raise ValueError("the data dictionary describes a table or view twice")


def _catalog(con: duckdb.DuckDBPyConnection) -> tuple[dict, dict]:
    """(objects, columns) of the current database: {name: (kind, comment)} and
    {(name, column): comment}."""
    objects = {n: ("table", c) for n, c in con.execute(
        "SELECT table_name, comment FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = 'main'").fetchall()}
    objects.update({n: ("view", c) for n, c in con.execute(
        "SELECT view_name, comment FROM duckdb_views() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        "AND NOT internal").fetchall()})
    columns = {(t, c): comment for t, c, comment in con.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        "ORDER BY table_name, column_index").fetchall()
        if t in objects}
    return objects, columns


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_statements(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The COMMENT ON statements that bring this database's comments to the dictionary's
    text (only what is missing or differs; objects the dictionary does not know are left)."""
    objects, columns = _catalog(con)
    out = []
    for name, (kind, comment) in sorted(objects.items()):
        entry = BY_NAME.get(name)
        if entry is not None and comment != entry.summary:
            out.append(f"COMMENT ON {kind.upper()} {_ident(name)} IS {_text(entry.summary)}")
    for (name, column), comment in sorted(columns.items()):
        entry = BY_NAME.get(name)
        doc = entry.column(column) if entry else None
        if doc is not None and comment != doc:
            out.append(f"COMMENT ON COLUMN {_ident(name)}.{_ident(column)} IS {_text(doc)}")
    return out


def apply_comments(con: duckdb.DuckDBPyConnection) -> int:
    """Write the dictionary's comments where they are missing or differ, in one transaction;
    return how many were written (0 on an up-to-date database: nothing is written)."""
    statements = comment_statements(con)
    if not statements:
        return 0
    con.execute("BEGIN")
    try:
        for sql in statements:
            con.execute(sql)
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    return len(statements)


def undocumented(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What this database holds that the dictionary does not describe, and what the dictionary
    describes that the database lacks, one line each, naming the entry to fix."""
    objects, columns = _catalog(con)
    out = []
    for name, (kind, _) in sorted(objects.items()):
        entry = BY_NAME.get(name)
        if entry is None:
            out.append(f"{kind} {name}: no entry in tracker/store/dictionary.py (add "
                       f"{kind}({name!r}, ...) to ENTRIES)")
            continue
        if entry.kind != kind:
            out.append(f"{kind} {name}: described as a {entry.kind}")
        have = [c for (t, c) in columns if t == name]
        described = [c for c, _ in entry.columns]
        wrong = [f"column {name}.{c}: not described in the {name!r} entry"
                 for c in have if c not in described]
        wrong += [f"column {name}.{c}: described, but {name} has no such column"
                  for c in described if c not in have]
        if not wrong and described != have:
            wrong.append(f"{kind} {name}: describe its columns in the database's order: "
                         f"{', '.join(have)}")
        out += wrong
    for name, entry in BY_NAME.items():
        if name not in objects:
            out.append(f"{entry.kind} {name}: described, but the database has no such {entry.kind}")
    return out

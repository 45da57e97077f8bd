"""The vectorized path for twarc2 API pages: DuckDB's JSON reader does what
``tracker.sources.x.normalize`` does, for a whole chunk of lines at once.

It must give the very rows the Python path gives (tests/sources/imports/test_import_fast.py
compares them over the whole corpus and over lines of every odd shape), so it only takes lines
whose every field has the type the API sends (ids and texts as strings, counts as integers, …).
A line with anything else (invalid JSON, an item without an id, a quoted count, a flattened
tweet, …) goes through the Python path, which reports what it skips; a chunk DuckDB refuses as a
whole goes through Python whole. JSON columns (entities, withheld) are DuckDB's own compact
text of the value, which is the X normalizer's ``as_sent`` byte for byte except where
``NOT_AS_SENT`` matches (an escaped character, a number in exponent form or beyond 64 bits): such
a line goes through Python, as does one whose entities nest deeper than Python reads. The
known differences: in an object with a duplicate key DuckDB keeps the first value of a typed
field and both keys in a JSON column, Python the last value (the API never sends one).
Polls and errors (a handful per page) are built by the X normalizer itself.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

import duckdb
import numpy as np
import pyarrow as pa

from tracker.core.timeutil import iso
from tracker.sources.x.migrations import NOT_AS_SENT
from tracker.sources.x.normalize import PLATFORM
from tracker.sources.x.normalize import normalize as x_normalize
from tracker.store.tables import SPECS

if TYPE_CHECKING:
    from tracker.sources.x.imports.normalize import _Chunk

# idle private connections, reused by whichever thread normalizes next (a worker thread
# lives for one file; a connection made per file would cost ~0.1 s each time)
_idle: list[duckdb.DuckDBPyConnection] = []
_idle_lock = threading.Lock()
BATCH_LINES = int(os.environ.get("TRACKER_IMPORT_BATCH_LINES", "4"))
FAST_THREADS = int(os.environ.get("TRACKER_IMPORT_THREADS", "1"))   # per worker thread
FAST_MEMORY = "384MB"                   # per worker thread

# A JSON scalar's raw text as _s() would print it: strings, and integers (no floats, bools).
_INT = r"(0|-?[1-9][0-9]*)"
_INT64 = r"(0|-?[1-9][0-9]{0,17})"
_ISO = (r"(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3])"
        r":[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?")
_SAFE_ID = r"[^\x00-\x1f\"\\]*"        # needs no escaping inside a JSON string

# opening brackets in a JSON column's text above which the per-page path takes the line (the
# JSON reader there refuses values nested about 1,000 deep; real entities hold a few dozen)
MAX_BRACKETS = 512

MACROS = f"""
CREATE OR REPLACE MACRO k(v) AS left(v::VARCHAR, 1);
CREATE OR REPLACE MACRO js_ok(v) AS v IS NULL OR k(v) = '"' OR regexp_full_match(v, '{_INT}');
CREATE OR REPLACE MACRO js(v) AS CASE WHEN k(v) = '"' THEN v->>'$' ELSE v::VARCHAR END;
CREATE OR REPLACE MACRO ji_ok(v) AS v IS NULL OR regexp_full_match(v, '{_INT64}');
CREATE OR REPLACE MACRO ji(v) AS TRY_CAST(v AS BIGINT);
CREATE OR REPLACE MACRO jb(v) AS CASE v::VARCHAR WHEN 'true' THEN true WHEN 'false' THEN false END;
CREATE OR REPLACE MACRO jt_ok(v) AS v IS NULL OR k(v) <> '"'
    OR regexp_full_match(v->>'$', '{_ISO}');
CREATE OR REPLACE MACRO jt(v) AS CASE WHEN k(v) = '"' THEN v->>'$' END;
CREATE OR REPLACE MACRO jobj_ok(v) AS v IS NULL OR k(v) = '{{';
CREATE OR REPLACE MACRO jarr_ok(v) AS v IS NULL OR k(v) = '[';
-- DuckDB's text of the value is as_sent's, and it nests less deep than Python reads
CREATE OR REPLACE MACRO as_sent_ok(v) AS v IS NULL OR (NOT regexp_matches(v, '{NOT_AS_SENT}')
    AND length(v) - length(replace(replace(v, '{{', ''), '[', '')) < {MAX_BRACKETS});
"""

TWEET = ('{"id":"JSON","text":"JSON","author_id":"JSON","created_at":"JSON","lang":"JSON",'
         '"conversation_id":"JSON","in_reply_to_user_id":"JSON","referenced_tweets":"JSON",'
         '"public_metrics":"JSON","attachments":"JSON","edit_history_tweet_ids":"JSON",'
         '"entities":"JSON","withheld":"JSON","possibly_sensitive":"JSON"}')
USER = ('{"id":"JSON","username":"JSON","name":"JSON","description":"JSON",'
        '"created_at":"JSON","protected":"JSON","verified":"JSON","public_metrics":"JSON"}')
ITEM = TWEET[:-1] + ',"username":"JSON","name":"JSON","description":"JSON",' \
    '"protected":"JSON","verified":"JSON"}'          # a result: a tweet, or a user (lookups)
# every list is read as ITEM, so that results, users and tweets unnest into one table
PAGE = ('{"data":[' + ITEM + '],"includes":{"users":[' + ITEM + '],"tweets":[' + ITEM + '],'
        '"polls":"JSON"},"errors":"JSON","meta":"JSON","id":"JSON",'
        '"__twarc":{"retrieved_at":"JSON"}}')
PAGE_ONE = '{"data":' + ITEM + '}'                  # a filtered-stream line: data is one tweet
TWEET_PM = ('{"like_count":"JSON","retweet_count":"JSON","reply_count":"JSON",'
            '"quote_count":"JSON","impression_count":"JSON"}')
USER_PM = '{"followers_count":"JSON","following_count":"JSON","tweet_count":"JSON"}'
REF = '{"type":"JSON","id":"JSON"}'

# 1. one typed parse of each line. from_json turns a value of another shape into NULL without
#    a word, so where a list came out NULL, json_type says what was there.
SQL_PAGES = f"""
CREATE OR REPLACE TEMP TABLE _p0 AS
SELECT line, CASE WHEN ltrim(left(j, 64))[1] = '{{' THEN from_json(j, '{PAGE}') END AS s
FROM _lines;
CREATE OR REPLACE TEMP TABLE _p1 AS
SELECT line, json_type(j, '$.data') AS dt, json_type(j, '$.includes.users') AS ut,
       json_type(j, '$.includes.tweets') AS tt,
       CASE WHEN json_type(j, '$.data') = 'OBJECT' THEN from_json(j, '{PAGE_ONE}').data END
           AS one
FROM _p0 JOIN _lines USING (line)
WHERE s IS NOT NULL AND (s.data IS NULL OR s.includes.users IS NULL
                         OR s.includes.tweets IS NULL);
CREATE OR REPLACE TEMP TABLE _pg AS
SELECT line,
       -- an API page (a flattened tweet has an id and none of these), every list readable
       s IS NOT NULL AND (s.data IS NOT NULL OR dt IS NOT NULL OR s.includes IS NOT NULL
                          OR s.errors IS NOT NULL OR s.meta IS NOT NULL OR s.id IS NULL)
       AND coalesce(dt, 'NULL') IN ('NULL', 'ARRAY', 'OBJECT')
       AND coalesce(ut, 'NULL') IN ('NULL', 'ARRAY')
       AND coalesce(tt, 'NULL') IN ('NULL', 'ARRAY')
       AND jarr_ok(s.errors) AND jarr_ok(s.includes.polls)
       AND jt_ok(s.__twarc.retrieved_at) AS ok,
       CASE WHEN k(s.__twarc.retrieved_at) = '"'
            THEN TRY_CAST(s.__twarc.retrieved_at->>'$' AS TIMESTAMPTZ) END AS seen,
       CASE WHEN dt = 'OBJECT' THEN [one] ELSE s.data END AS data,
       s.includes.users AS users, s.includes.tweets AS tweets,
       s.includes.polls AS polls, s.errors AS errors
FROM _p0 LEFT JOIN _p1 USING (line)
"""

# 2. every item of the pages taken: group (0 data, 1 includes.users, 2 includes.tweets) and
#    position. A result is a user when it has "username" and no "text" key: a NULL text could
#    be either, so those few are looked at in the line's text.
SQL_ITEMS = """
CREATE OR REPLACE TEMP TABLE _amb AS
WITH lines AS (
    SELECT line FROM _pg
    WHERE ok AND list_bool_or(list_transform(data, lambda x: x.id IS NOT NULL AND x.text IS NULL))
), items AS (
    SELECT l.line, unnest(CASE WHEN json_type(j, '$.data') = 'OBJECT'
                               THEN [json_extract(j, '$.data')]
                               ELSE from_json(j, '{"data":["JSON"]}').data END) AS x,
           generate_subscripts(CASE WHEN json_type(j, '$.data') = 'OBJECT'
                               THEN [json_extract(j, '$.data')]
                               ELSE from_json(j, '{"data":["JSON"]}').data END, 1) AS idx
    FROM lines l JOIN _lines USING (line))
SELECT line, idx, json_exists(x, '$.username') AND NOT json_exists(x, '$.text') AS is_user
FROM items;
CREATE OR REPLACE TEMP TABLE _it AS
SELECT line, seen, grp, idx, e,
       e IS NOT NULL AND e.id IS NOT NULL AND e.id::VARCHAR <> '""' AS valid, is_user
FROM (
    SELECT d.*, coalesce(a.is_user, false) AS is_user
    FROM (SELECT line, seen, 0 AS grp, unnest(data) AS e, generate_subscripts(data, 1) AS idx
          FROM _pg WHERE ok AND data IS NOT NULL) d
    LEFT JOIN _amb a USING (line, idx)
    UNION ALL
    SELECT line, seen, 1, unnest(users),
        generate_subscripts(users, 1), false
    FROM _pg WHERE ok AND users IS NOT NULL
    UNION ALL
    SELECT line, seen, 2, unnest(tweets),
        generate_subscripts(tweets, 1), false
    FROM _pg WHERE ok AND tweets IS NOT NULL
)
"""

SQL_TWEETS = f"""
CREATE OR REPLACE TEMP TABLE _tw AS
WITH f AS (
    SELECT line, seen, grp, idx, e AS t,
           CASE WHEN k(e.public_metrics) = '{{' THEN from_json(e.public_metrics, '{TWEET_PM}')
                END AS pm,
           CASE WHEN k(e.referenced_tweets) = '[' THEN
                list_transform(from_json(e.referenced_tweets, '["JSON"]'),
                               lambda r: CASE WHEN k(r) = '{{' THEN from_json(r, '{REF}') END)
                END AS refs,
           CASE WHEN k(e.attachments) = '{{' THEN
                from_json(e.attachments, '{{"poll_ids":"JSON"}}').poll_ids END AS pj,
           CASE WHEN k(e.edit_history_tweet_ids) = '[' THEN
                from_json(e.edit_history_tweet_ids, '["JSON"]') END AS hj
    FROM _it WHERE valid AND NOT is_user AND grp IN (0, 2)
), g AS (
    SELECT *,
           CASE WHEN k(pj) = '[' THEN from_json(pj, '["JSON"]') END AS polls,
           list_transform(list_filter(refs, lambda r: k(r.type) = '"' AND k(r.id) = '"'
                                          AND r.type::VARCHAR <> '""'
                                          AND r.id::VARCHAR <> '""'),
                          lambda r: {{'t': r.type->>'$', 'i': r.id->>'$'}}) AS rs,
           list_transform(hj, lambda x: js(x)) AS hist
    FROM f
)
SELECT line, seen, grp, idx,
       -- every value has the type the API sends, else the Python path takes the line
       js_ok(t.id) AND js_ok(t.author_id) AND js_ok(t.text) AND js_ok(t.lang)
       AND js_ok(t.conversation_id) AND js_ok(t.in_reply_to_user_id) AND jt_ok(t.created_at)
       AND jarr_ok(t.referenced_tweets) AND jobj_ok(t.public_metrics)
       AND jobj_ok(t.attachments) AND jarr_ok(t.edit_history_tweet_ids)
       AND (pm IS NULL OR (ji_ok(pm.like_count) AND ji_ok(pm.retweet_count)
            AND ji_ok(pm.reply_count) AND ji_ok(pm.quote_count)
            AND ji_ok(pm.impression_count)))
       AND (refs IS NULL OR coalesce(list_bool_and(list_transform(refs, lambda r: r IS NULL OR (
            (r.type IS NULL OR k(r.type) = '"') AND (r.id IS NULL OR k(r.id) = '"')))), true))
       AND (pj IS NULL OR (k(pj) = '[' AND coalesce(list_bool_and(list_transform(polls,
            lambda x: x IS NOT NULL AND x::VARCHAR <> '""'
                      AND (k(x) = '"' OR regexp_full_match(x, '{_INT}')))),
            true)))
       AND (hj IS NULL OR coalesce(list_bool_and(list_transform(hj,
            lambda x: x IS NOT NULL AND x::VARCHAR <> '""'
                      AND (k(x) = '"' OR regexp_full_match(x, '{_INT}')))), true))
       AND (hj IS NULL OR coalesce(list_bool_and(list_transform(hist,
            lambda x: regexp_full_match(x, '{_SAFE_ID}'))), true))
       AND regexp_full_match(js(t.id), '{_SAFE_ID}')
       -- entities and withheld are stored as DuckDB writes them where that is as_sent's text
       AND as_sent_ok(t.entities::VARCHAR) AND as_sent_ok(t.withheld::VARCHAR) AS ok,
       js(t.id) AS post_id, js(t.author_id) AS author_id,
       TRY_CAST(jt(t.created_at) AS TIMESTAMPTZ) AS created_at,
       js(t.text) AS text, js(t.lang) AS lang, js(t.conversation_id) AS conversation_id,
       list_filter(rs, lambda r: r.t = 'replied_to')[1].i AS reply_to_post_id,
       js(t.in_reply_to_user_id) AS reply_to_user_id,
       list_filter(rs, lambda r: r.t = 'quoted')[1].i AS quoted_post_id,
       list_filter(rs, lambda r: r.t = 'retweeted')[1].i AS reposted_post_id,
       js(polls[1]) AS poll_id,
       list_transform(polls, lambda x: js(x)) AS poll_ids,
       ji(pm.like_count) AS like_count, ji(pm.retweet_count) AS repost_count,
       ji(pm.reply_count) AS reply_count, ji(pm.quote_count) AS quote_count,
       ji(pm.impression_count) AS impression_count,
       CASE WHEN len(hist) > 0 THEN hist END AS hist,
       t.entities::VARCHAR AS entities, t.withheld::VARCHAR AS withheld,
       jb(t.possibly_sensitive) AS possibly_sensitive
FROM g
"""

SQL_USERS = f"""
CREATE OR REPLACE TEMP TABLE _us AS
WITH u AS (
    SELECT line, seen, grp, idx, e AS u,
           CASE WHEN k(e.public_metrics) = '{{' THEN from_json(e.public_metrics, '{USER_PM}')
                END AS pm
    FROM _it WHERE valid AND (grp = 1 OR is_user)
)
SELECT line, seen, grp, idx,
       js_ok(u.id) AND js_ok(u.name) AND js_ok(u.description) AND jt_ok(u.created_at)
       AND (u.username IS NULL OR k(u.username) = '"') AND jobj_ok(u.public_metrics)
       AND (pm IS NULL OR (ji_ok(pm.followers_count) AND ji_ok(pm.following_count)
            AND ji_ok(pm.tweet_count))) AS ok,
       js(u.id) AS account_id, js(u.username) AS handle, js(u.name) AS name,
       js(u.description) AS description, TRY_CAST(jt(u.created_at) AS TIMESTAMPTZ) AS created_at,
       jb(u.protected) AS protected, jb(u.verified) AS verified,
       ji(pm.followers_count) AS followers_count, ji(pm.following_count) AS following_count,
       ji(pm.tweet_count) AS post_count
FROM u
"""

# lines the vectorized path gives up on (the Python path takes them whole)
SQL_BAD_LINES = """
SELECT line FROM _pg WHERE NOT ok
UNION SELECT line FROM _it WHERE NOT valid
UNION SELECT line FROM _tw WHERE NOT ok
UNION SELECT line FROM _us WHERE NOT ok
"""

SQL_POSTS = f"""
SELECT t.line AS _line, t.grp AS _grp, t.idx AS _idx,
       '{PLATFORM}' AS platform, post_id, author_id, created_at, text, lang, conversation_id,
       reply_to_post_id, reply_to_user_id, quoted_post_id, reposted_post_id, poll_id,
       CASE WHEN h.handle IS NOT NULL THEN 'https://x.com/' || h.handle || '/status/' || post_id
            ELSE 'https://x.com/i/web/status/' || post_id END AS url,
       like_count, repost_count, reply_count, quote_count, impression_count,
       coalesce(hist[1], post_id) AS edit_chain_id,
       '["' || array_to_string(coalesce(hist, [post_id]), '", "') || '"]' AS edit_history,
       entities, withheld, possibly_sensitive,
       CASE WHEN t.grp = 0 THEN 'data' ELSE 'includes' END AS seen_in,
       t.seen AS first_seen_at, t.seen AS last_seen_at,
       NULL::TIMESTAMPTZ AS deleted_at, NULL::VARCHAR AS unavailable_reason,
       NULL::TIMESTAMPTZ AS unavailable_at,
       coalesce(list_position(hist, post_id) - 1, len(hist) - 1, 0) AS _vidx
FROM _tw t
LEFT JOIN (SELECT line, account_id, arg_max(handle, (grp = 0, idx)) AS handle FROM _us
           WHERE handle <> '' GROUP BY ALL) h     -- the last one wins: includes, then data
       ON h.line = t.line AND h.account_id = t.author_id
WHERE t.line IN (SELECT line FROM _good)
ORDER BY t.line, t.grp, t.idx
"""

SQL_ACCOUNTS = f"""
SELECT line AS _line, grp AS _grp, idx AS _idx, '{PLATFORM}' AS platform, account_id, handle,
       name, description, created_at, protected, verified, followers_count, following_count,
       post_count, seen AS first_seen_at, seen AS last_seen_at
FROM _us WHERE line IN (SELECT line FROM _good)
ORDER BY line, grp = 0, idx                        -- includes.users, then users in data
"""

SQL_POLL_OWNERS = """
SELECT line, list(struct_pack(pid := pid, owner := owner) ORDER BY grp, idx, pos) AS pairs
FROM (SELECT line, grp, idx, unnest(poll_ids) AS pid, generate_subscripts(poll_ids, 1) AS pos,
             coalesce(reposted_post_id, post_id) AS owner
      FROM _tw WHERE poll_ids IS NOT NULL AND line IN (SELECT line FROM _good))
GROUP BY line
"""

SQL_EXTRAS = """
SELECT line, seen, polls, errors FROM _pg
WHERE ok AND line IN (SELECT line FROM _good)
  AND ((polls IS NOT NULL AND polls::VARCHAR <> '[]') OR (errors IS NOT NULL AND errors::VARCHAR <> '[]'))
ORDER BY line
"""

# the columns the SQL above gives, in the declared order (tracker/store/tables.py)
POST_COLS = SPECS["posts"].columns
ACCOUNT_COLS = SPECS["accounts"].columns


@contextmanager
def _con() -> Iterator[duckdb.DuckDBPyConnection]:
    """A private in-memory DuckDB for the JSON work, this caller's alone until it is done."""
    with _idle_lock:
        con = _idle.pop() if _idle else None
    if con is None:
        con = duckdb.connect(config={"memory_limit": FAST_MEMORY, "threads": FAST_THREADS})
        con.execute("SET TimeZone = 'UTC'")
        con.execute(MACROS)
    try:
        yield con
    except BaseException:
        con.close()                 # whatever went wrong stays with it
        raise
    with _idle_lock:
        _idle.append(con)


def _slice(table: pa.Table, lines: np.ndarray, lo: int, hi: int) -> pa.Table:
    """The rows of lines lo..hi (the table is sorted by line)."""
    a = int(np.searchsorted(lines, lo, side="left"))
    b = int(np.searchsorted(lines, hi, side="right"))
    return table.slice(a, b - a)


_SPACE = np.zeros(256, dtype=bool)
_SPACE[[ord(c) for c in " \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f"]] = True


def split_lines(data: bytes | str, first: int):
    """The chunk's lines as an Arrow table (line, j) without copying the bytes, the text of
    each line on demand, and the numbers of the non-blank lines (as the Python path sees
    them: ``str.split("\\n")``, blank = only whitespace)."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    buf = np.frombuffer(raw, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], nl + 1)).astype(np.int64)
    ends = np.concatenate((nl, [len(raw)])).astype(np.int64)
    if len(starts) > 1 and starts[-1] == len(raw):     # after the last newline: nothing
        starts, ends = starts[:-1], ends[:-1]
    numbers = first + np.arange(len(starts), dtype=np.int64)

    def text(i: int) -> str:
        return raw[starts[i]:ends[i]].decode("utf-8", errors="replace")

    # a line is blank when it is empty or, starting with whitespace, holds nothing else
    keep = ends > starts
    maybe = np.flatnonzero(keep & _SPACE[buf[np.minimum(starts, max(len(raw) - 1, 0))]]
                           if len(raw) else keep)
    for i in maybe:
        if not text(int(i)).strip():
            keep[i] = False
    offsets = np.concatenate((starts, [ends[-1] if len(ends) else 0])).astype(
        np.int32 if len(raw) < 2**31 else np.int64)
    kind = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    arr = pa.Array.from_buffers(kind, len(starts), [None, pa.py_buffer(offsets),
                                                    pa.py_buffer(raw)])
    try:
        arr.validate(full=True)              # valid UTF-8, or the Python path's decoding
    except pa.ArrowInvalid:
        arr = pa.array([text(i) for i in range(len(starts))], pa.string())
    table = pa.table({"line": numbers, "j": arr})
    if not keep.all():
        table = table.filter(pa.array(keep))
    return table, text, numbers[keep]


def vectorized(ch: "_Chunk", data: bytes | str, first: int, at: str) -> None:
    """The rows of a chunk's lines into ``ch``: through ``ch.add_tables`` (runs of lines taken
    here, or one line at a time when ``ch.per_line``), ``ch.add`` (polls, errors) and
    ``ch.python_line`` (the lines left to Python)."""
    lines, line_text, numbered = split_lines(data, first)
    if not len(numbered):
        return
    with _con() as con:
        # small record batches: DuckDB reads an Arrow table batch by batch, one thread each
        lines = pa.Table.from_batches(lines.to_batches(max_chunksize=BATCH_LINES))
        con.register("_lines", lines)
        try:
            try:
                con.execute(SQL_PAGES)
            except duckdb.Error:    # a line is not JSON: read each line on its own (slower)
                con.execute(SQL_PAGES.replace("THEN from_json(j, ", "THEN try(from_json(j, ", 1)
                            .replace("') END AS s\nFROM _lines", "')) END AS s\nFROM _lines",
                                     1))
            con.execute(SQL_ITEMS)
            con.execute(SQL_TWEETS)
            con.execute(SQL_USERS)
            bad = {r[0] for r in con.execute(SQL_BAD_LINES).fetchall()}
            con.execute("CREATE OR REPLACE TEMP TABLE _good AS SELECT line FROM _lines "
                        "WHERE line NOT IN (SELECT line FROM (" + SQL_BAD_LINES + "))")
            # rows for the lines taken here, in the Python path's order
            con.execute("UPDATE _tw SET seen = $1::TIMESTAMPTZ WHERE seen IS NULL", [at])
            con.execute("UPDATE _us SET seen = $1::TIMESTAMPTZ WHERE seen IS NULL", [at])
            posts = con.sql(SQL_POSTS).to_arrow_table()
            accounts = con.sql(SQL_ACCOUNTS).to_arrow_table()
            owners = {line: pairs for line, pairs in con.execute(SQL_POLL_OWNERS).fetchall()}
            extras = con.execute(SQL_EXTRAS).fetchall()
        finally:
            con.unregister("_lines")
            con.execute("DROP TABLE IF EXISTS _pg")
            for t in ("_p0", "_p1", "_it", "_amb", "_tw", "_us", "_good"):
                con.execute(f"DROP TABLE IF EXISTS {t}")

    # from here on nothing can fail in DuckDB: rows go into ch
    versions = pa.table({
        "platform": posts.column("platform"), "edit_chain_id": posts.column("edit_chain_id"),
        "version_post_id": posts.column("post_id"),
        "version_index": posts.column("_vidx").cast(pa.int32()),
        "text": posts.column("text"), "created_at": posts.column("created_at"),
        "first_seen_at": posts.column("first_seen_at")})
    handles = accounts.filter(pa.compute.and_(
        pa.compute.is_valid(accounts.column("handle")),
        pa.compute.not_equal(accounts.column("handle"), "")))
    handles = handles.select(["platform", "account_id", "handle", "first_seen_at",
                              "last_seen_at"])
    tables = {
        "posts": (posts.select(list(POST_COLS)), posts.column("_line")),
        "post_versions": (versions, posts.column("_line")),
        "accounts": (accounts.select(list(ACCOUNT_COLS)), accounts.column("_line")),
        "account_handles": (handles, handles_lines(accounts)),
    }
    line_idx = {name: np.asarray(col.to_numpy()) for name, (_, col) in tables.items()}
    extras_by_line = {e[0]: e for e in extras}
    page_id = ch.record.get("page_id") or f"{ch.record.get('run_id')}:{ch.record.get('seq')}"

    per_line = getattr(ch, "per_line", False)
    items = _items_by_line(posts, accounts)

    def emit(lo: int, hi: int) -> None:
        """The vectorized rows of lines lo..hi (all taken here)."""
        ch.add_tables(lo, hi, {name: _slice(table, line_idx[name], lo, hi)
                               for name, (table, _) in tables.items()},
                      sum(n for ln, n in items.items() if lo <= ln <= hi))

    # walk the lines in order: runs of vectorized lines, and the rest through Python
    run_lo = run_hi = None
    for ln in numbered.tolist():
        if ln in bad:
            if run_lo is not None:
                emit(run_lo, run_hi)
                run_lo = None
            ch.python_line(ln, line_text(ln - first), at)
            continue
        if per_line:
            emit(ln, ln)
        else:
            if run_lo is None:
                run_lo = ln
            run_hi = ln
        extra = extras_by_line.get(ln)
        if extra or ln in owners:
            _polls_and_errors(ch, ln, extra, owners.get(ln) or [], at, page_id)
    if run_lo is not None:
        emit(run_lo, run_hi)


def _items_by_line(posts: pa.Table, accounts: pa.Table) -> dict[int, int]:
    """Result items per line: posts seen in ``data`` and users in ``data`` (lookups)."""
    out: dict[int, int] = {}
    for table, mask in ((posts, pa.compute.equal(posts.column("seen_in"), "data")),
                        (accounts, pa.compute.equal(accounts.column("_grp"), 0))):
        lines = table.column("_line").filter(mask).to_numpy()
        if len(lines):
            values, counts = np.unique(lines, return_counts=True)
            for ln, n in zip(values.tolist(), counts.tolist()):
                out[ln] = out.get(ln, 0) + n
    return out


def handles_lines(accounts: pa.Table) -> pa.ChunkedArray:
    mask = pa.compute.and_(pa.compute.is_valid(accounts.column("handle")),
                           pa.compute.not_equal(accounts.column("handle"), ""))
    return accounts.column("_line").filter(mask)


def _polls_and_errors(ch: "_Chunk", line: int, extra, pairs: list, default_at: str,
                      page_id: str) -> None:
    """Polls (with their owners) and errors of one page, by the X normalizer itself."""
    if extra is None:          # poll ids, but no polls in includes: nothing to add
        return
    at = iso(extra[1]) if extra[1] is not None else default_at
    body = {"data": [{"id": p["owner"], "attachments": {"poll_ids": [p["pid"]]}}
                     for p in pairs if p["owner"] is not None],
            "includes": {"polls": json.loads(extra[2]) if extra and extra[2] else []},
            "errors": json.loads(extra[3]) if extra and extra[3] else []}
    sub = {**ch.record, "body": body, "fetched_at": at, "status": 200, "page_id": page_id}
    sub.pop("body_ref", None)
    rows = x_normalize(sub)
    for t in ("posts", "post_versions"):
        rows.tables.pop(t, None)
    rows.items = 0
    rows.skipped = [s for s in rows.skipped if not s.startswith("data:")]
    ch.add(rows, line)

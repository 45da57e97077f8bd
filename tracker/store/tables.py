"""The tables sources write, declared once: columns, their types and their write rules.

Every list of a table's columns elsewhere is derived from here: the loader's merge, the
vectorized normalizers' column lists, the tests that keep the migrations' DDL in step with these
declarations (tests/store/test_tables.py compares them with the database's own catalogue).

Write rules:

- ``Rule.LATEST``: the latest capture wins (by the table's ``order_by`` time, then load order);
  an older capture (an import, a late file) only fills what is missing;
- ``Rule.MIN`` / ``Rule.MAX``: the smallest / largest value seen (first_seen_at, last_seen_at);
- ``Rule.KEEP``: the first non-null value is kept (deleted_at, created_at);
- ``append_only`` tables are only ever inserted into (insert-or-ignore on the key).

Nothing is ever deleted from any table. A rule that is not a ``Rule`` is an error when this
module is imported, not a silent "latest".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Rule(str, Enum):
    LATEST = "latest"
    MIN = "min"
    MAX = "max"
    KEEP = "keep"


@dataclass(frozen=True)
class Column:
    name: str
    type: str                       # the DuckDB type
    rule: Rule = Rule.LATEST
    merged: bool = True             # False: set by the loader's own steps, never by a row

    def __post_init__(self) -> None:
        if not isinstance(self.rule, Rule):
            raise TypeError(f"column {self.name}: write rule {self.rule!r} is not a Rule")


def col(name: str, type_: str, rule: Rule = Rule.LATEST, merged: bool = True) -> Column:
    return Column(name, type_, rule, merged)


@dataclass(frozen=True)
class TableSpec:
    """How the loader merges a batch into a table (the write rule, in code)."""

    name: str
    key: tuple[str, ...]
    declared: tuple[Column, ...]
    append_only: bool = False
    order_by: str = "last_seen_at"
    # a column the merge sets to the load's sequence number on every row it inserts or
    # changes (None: none)
    stamp: str | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.declared]
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name}: a column is declared twice")
        missing = [k for k in self.key if k not in names]
        if missing:
            raise ValueError(f"table {self.name}: key column {missing[0]} is not declared")
        if not self.append_only and self.order_by not in names:
            raise ValueError(f"table {self.name}: order_by {self.order_by} is not declared")
        if self.stamp is not None and self.stamp not in names:
            raise ValueError(f"table {self.name}: stamp {self.stamp} is not declared")

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns rows carry and the merge writes."""
        return tuple(c.name for c in self.declared if c.merged)

    @property
    def types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.declared}

    def rule(self, column: str) -> Rule:
        for c in self.declared:
            if c.name == column:
                return c.rule
        raise KeyError(f"table {self.name} has no column {column}")


TS = "TIMESTAMPTZ"
V = "VARCHAR"
B = "BIGINT"

# The load that last inserted or changed the row (migration 13 on posts, articles and
# article_versions; migration 15 on every other table a load writes, for the lake)
LOAD_SEQ = col("load_seq", B, merged=False)

SPECS: dict[str, TableSpec] = {spec.name: spec for spec in (
    TableSpec("accounts", ("platform", "account_id"), (
        col("platform", V), col("account_id", V), col("handle", V), col("name", V),
        col("description", V), col("created_at", TS, Rule.KEEP), col("protected", "BOOLEAN"),
        col("verified", "BOOLEAN"), col("followers_count", B), col("following_count", B),
        col("post_count", B), col("first_seen_at", TS, Rule.MIN),
        col("last_seen_at", TS, Rule.MAX), LOAD_SEQ), stamp="load_seq"),
    TableSpec("account_handles", ("platform", "account_id", "handle"), (
        col("platform", V), col("account_id", V), col("handle", V),
        col("first_seen_at", TS, Rule.MIN), col("last_seen_at", TS, Rule.MAX), LOAD_SEQ),
        stamp="load_seq"),
    TableSpec("posts", ("platform", "post_id"), (
        col("platform", V), col("post_id", V), col("author_id", V),
        col("created_at", TS, Rule.KEEP), col("text", V), col("lang", V),
        col("conversation_id", V), col("reply_to_post_id", V), col("reply_to_user_id", V),
        col("quoted_post_id", V), col("reposted_post_id", V), col("poll_id", V), col("url", V),
        col("like_count", B), col("repost_count", B), col("reply_count", B),
        col("quote_count", B), col("impression_count", B), col("edit_chain_id", V),
        col("edit_history", "JSON"), col("entities", "JSON"), col("withheld", "JSON"),
        col("possibly_sensitive", "BOOLEAN"),
        # 'data' < 'includes': once seen as a result, a post stays 'data'
        col("seen_in", V, Rule.MIN),
        col("first_seen_at", TS, Rule.MIN), col("last_seen_at", TS, Rule.MAX),
        col("deleted_at", TS, Rule.KEEP), col("unavailable_reason", V, Rule.KEEP),
        col("unavailable_at", TS, Rule.KEEP),
        # a lookup's "not found", waiting for a later run to confirm it (loader.py)
        col("missing_since", TS, merged=False), col("missing_run", V, merged=False),
        # the load that last inserted or changed the row (migration 13; incremental analysis)
        col("load_seq", B, merged=False)), stamp="load_seq"),
    TableSpec("post_versions", ("platform", "version_post_id"), (
        col("platform", V), col("edit_chain_id", V), col("version_post_id", V),
        col("version_index", "INTEGER"), col("text", V), col("created_at", TS),
        col("first_seen_at", TS, Rule.MIN), LOAD_SEQ), order_by="first_seen_at",
        stamp="load_seq"),
    TableSpec("polls", ("platform", "poll_id"), (
        col("platform", V), col("poll_id", V), col("post_id", V, Rule.KEEP),
        col("options", "JSON"), col("duration_minutes", "INTEGER"), col("end_at", TS),
        col("voting_status", V), col("first_seen_at", TS, Rule.MIN),
        col("last_seen_at", TS, Rule.MAX), col("final_snapshot_at", TS, Rule.MIN), LOAD_SEQ),
        stamp="load_seq"),
    TableSpec("poll_snapshots", ("platform", "poll_id", "captured_at", "position"), (
        col("platform", V), col("poll_id", V), col("captured_at", TS),
        col("position", "INTEGER"), col("label", V), col("votes", B), col("voting_status", V),
        col("page_id", V), col("voters_count", B), LOAD_SEQ), append_only=True,
        stamp="load_seq"),
    TableSpec("api_errors", ("page_id", "idx"), (
        col("page_id", V), col("idx", "INTEGER"), col("source", V), col("fetched_at", TS),
        col("title", V), col("detail", V), col("type", V), col("resource_type", V),
        col("resource_id", V), col("parameter", V), col("value", V), col("section", V),
        LOAD_SEQ), append_only=True, stamp="load_seq"),
    # press (migration 2)
    TableSpec("articles", ("url",), (
        col("url", V), col("domain", V, Rule.KEEP), col("outlet", V, Rule.KEEP),
        col("title", V), col("summary", V), col("text", V), col("authors", "JSON"),
        col("language", V, Rule.KEEP), col("source_country", V, Rule.KEEP),
        col("published_at", TS, Rule.MIN), col("first_seen_at", TS, Rule.MIN),
        col("last_seen_at", TS, Rule.MAX),
        col("outlet_domain", V, Rule.KEEP),           # migration 8
        col("load_seq", B, merged=False)), stamp="load_seq"),     # migration 13
    TableSpec("article_sources", ("url", "source_kind", "source_name"), (
        col("url", V), col("source_kind", V), col("source_name", V), col("detail", V),
        col("source_url", V), col("title", V), col("published_at", TS, Rule.MIN),
        col("gdelt_seen_at", TS, Rule.MIN), col("date_note", V),
        col("first_seen_at", TS, Rule.MIN), col("last_seen_at", TS, Rule.MAX),
        col("page_id", V, Rule.KEEP), LOAD_SEQ), stamp="load_seq"),
    TableSpec("gdelt_volume", ("query_name", "resolution", "bucket"), (
        col("query_name", V), col("resolution", V), col("bucket", TS), col("query", V),
        col("articles", B), col("all_articles", B), col("fetched_at", TS), col("page_id", V),
        LOAD_SEQ), order_by="fetched_at", stamp="load_seq"),
    # article versions and Wayback captures (migration 8)
    TableSpec("article_versions", ("url", "content_hash"), (
        col("url", V), col("content_hash", V), col("title", V, Rule.KEEP),
        col("summary", V, Rule.KEEP), col("text", V, Rule.KEEP),
        col("modified_at", TS, Rule.KEEP), col("modified_claim", V, Rule.KEEP),
        col("first_seen_at", TS, Rule.MIN), col("last_seen_at", TS, Rule.MAX),
        col("fetched_first_at", TS, Rule.MIN), col("archived_first_at", TS, Rule.MIN),
        col("archived_last_at", TS, Rule.MAX), col("wayback_digest", V, Rule.KEEP),
        col("page_id", V, Rule.KEEP), col("load_seq", B, merged=False)),
        stamp="load_seq"),                                            # migration 13
    TableSpec("article_captures", ("url", "captured_at", "digest"), (
        col("url", V), col("captured_at", TS), col("digest", V), col("original", V),
        col("mimetype", V), col("status", V), col("length", B), col("page_id", V), LOAD_SEQ),
        append_only=True, stamp="load_seq"),
    # analysts' labels (migration 3), written through the raw archive
    TableSpec("analyst_labels", ("label_id",), (
        col("label_id", V), col("story_id", V), col("item_kind", V), col("item_id", V),
        col("action", V), col("event_type", V), col("note", V), col("analyst", V),
        col("labeled_at", TS), col("platform", V), LOAD_SEQ), append_only=True,
        stamp="load_seq"),
)}

# Tables whose content is a pure function of the raw archive (compared by the rebuild test).
REBUILT_TABLES = ("accounts", "account_handles", "posts", "post_versions", "polls",
                  "poll_snapshots", "api_errors", "sync_state", "raw_pages", "runs",
                  "articles", "article_sources", "gdelt_volume", "analyst_labels",
                  "article_versions", "article_captures")

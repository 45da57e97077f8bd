"""Edits of a story's articles as timeline events: the version that added the denial.

For each article the story holds (its ``article`` labels), consecutive versions
(article_history) are compared. A version is labelled, item_kind ``article_version``, platform
``web``, item_id ``<url>#version=<content_hash>``, parent the article's URL:

  article_updated_with_denial    it carries a denial cue the version before did not (rule
                                 ``update-adds-denial``, or ``headline-flipped-to-denial`` when
                                 the headline is where it appeared)
  article_updated_with_rebuttal  likewise for a rebuttal cue
  article_headline_changed       the headline changed, without such a cue

The evidence quotes the added sentence (a sentence diff, tracker/core/textdiff.py), the
interval in which the change appeared (after the last sighting of the version before, up to
the first sighting of this one) and the outlet's own "updated" claim beside it. Cues are the
press rules' (rules.py), matched in DuckDB as the article labels match them.
"""

from __future__ import annotations

import duckdb

from tracker.analysis import rules
from tracker.core.textdiff import added_passages

DEN = rules.cue_pattern(rules.DENIAL_COVERAGE_CUES)
REB = rules.cue_pattern(rules.REBUTTAL_COVERAGE_CUES)
C = rules.CONFIDENCE
ITEM_KIND = "article_version"

_VERSIONS = """
WITH arts AS (SELECT DISTINCT item_id AS url FROM _labels WHERE item_kind = 'article'),
h AS (
    SELECT h.*, concat_ws(' ', h.title, h.summary, h.text) AS words,
           lag(h.title) OVER w AS prev_title, lag(h.summary) OVER w AS prev_summary,
           lag(h.text) OVER w AS prev_text,
           lag(concat_ws(' ', h.title, h.summary, h.text)) OVER w AS prev_words
    FROM article_history h JOIN arts USING (url)
    WINDOW w AS (PARTITION BY h.url ORDER BY h.version)
)
SELECT url, content_hash, title, prev_title, summary, prev_summary, text, prev_text,
       first_seen_at, previous_seen_until, origin, outlet_modified_claim,
       coalesce(regexp_extract(words, $den, 1), '') AS den,
       coalesce(regexp_extract(prev_words, $den, 1), '') AS prev_den,
       coalesce(regexp_extract(words, $reb, 1), '') AS reb,
       coalesce(regexp_extract(prev_words, $reb, 1), '') AS prev_reb,
       coalesce(regexp_extract(title, $den, 1), '') AS title_den,
       coalesce(regexp_extract(title, $reb, 1), '') AS title_reb
FROM h WHERE version > 1 ORDER BY url, version
"""


def _has(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables "
                            "WHERE table_name = ?", [name]).fetchone()[0])


def _when(dt) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%SZ") if dt is not None else "?"


def _quote(text: str, n: int = 240) -> str:
    text = " ".join((text or "").split())
    return "'" + (text[:n] + "…" if len(text) > n else text) + "'"


def _sentence_with(con, sentences: list[str], pattern: str) -> str | None:
    if not sentences:
        return None
    got = con.execute("SELECT s FROM (SELECT unnest(?::VARCHAR[]) AS s, "
                      "generate_subscripts(?::VARCHAR[], 1) AS i) "
                      "WHERE regexp_matches(s, ?) ORDER BY i LIMIT 1",
                      [sentences, sentences, pattern]).fetchone()
    return got[0] if got else None


def _label(con, r: dict) -> tuple[str, str, str, float] | None:
    """(event_type, rule, evidence, confidence) of one version, or None."""
    seen = ("seen in a Wayback capture" if r["origin"] == "wayback" else "first seen")
    interval = (f"appeared between {_when(r['previous_seen_until'])} (last seen without) and "
                f"{_when(r['first_seen_at'])} ({seen} with)")
    claim = (f"; the outlet's claim: {r['outlet_modified_claim']}"
             if r["outlet_modified_claim"] else "")
    for kind, cue, prev_cue, title_cue, pattern in (
            ("denial", r["den"], r["prev_den"], r["title_den"], DEN),
            ("rebuttal", r["reb"], r["prev_reb"], r["title_reb"], REB)):
        if not cue or prev_cue:
            continue
        if title_cue and r["title"] != r["prev_title"]:
            return (f"article_updated_with_{kind}", f"headline-flipped-to-{kind}",
                    f"headline {_quote(r['prev_title'])} became {_quote(r['title'])}; cue "
                    f"'{title_cue.lower()}'; {interval}{claim}", C["coverage+cue"])
        added = (added_passages(r["prev_text"], r["text"])
                 + added_passages(r["prev_summary"], r["summary"]))
        sentence = _sentence_with(con, added, pattern)
        what = (f"added {_quote(sentence)}" if sentence
                else f"now carries cue '{cue.lower()}'")
        return (f"article_updated_with_{kind}", f"update-adds-{kind}",
                f"{what}; cue '{cue.lower()}'; {interval}{claim}", C["coverage+cue"])
    if r["title"] and r["prev_title"] and r["title"] != r["prev_title"]:
        return ("article_headline_changed", "headline-changed",
                f"headline {_quote(r['prev_title'])} became {_quote(r['title'])}; "
                f"{interval}{claim}", C["mention"])
    return None


def label_article_updates(con: duckdb.DuckDBPyConnection) -> None:
    """Append the labelled versions of the articles in ``_labels`` to ``_labels``, for every
    story holding them (see the module); each article's versions are compared once."""
    if not _has(con, "article_versions"):
        return
    if not con.execute("SELECT count(*) FROM article_versions WHERE url IN (SELECT item_id "
                       "FROM _labels WHERE item_kind = 'article')").fetchone()[0]:
        return                                      # none of these articles has versions
    cur = con.execute(_VERSIONS, {"den": DEN, "reb": REB})
    names = [d[0] for d in cur.description]
    found = []
    for row in cur.fetchall():
        r = dict(zip(names, row))
        label = _label(con, r)
        if label is not None:
            found.append((f"{r['url']}#version={r['content_hash']}", *label, r["url"]))
    if not found:
        return
    con.execute("CREATE OR REPLACE TEMP TABLE _vlabels (item_id VARCHAR, event_type VARCHAR, "
                "rule VARCHAR, evidence VARCHAR, confidence DOUBLE, url VARCHAR)")
    con.executemany("INSERT INTO _vlabels VALUES (?, ?, ?, ?, ?, ?)", found)
    con.execute(f"""
        INSERT INTO _labels (story_id, item_kind, platform, item_id, event_type, rule,
                             evidence, confidence, parent_item_id)
        SELECT s.story_id, '{ITEM_KIND}', 'web', v.item_id, v.event_type, v.rule, v.evidence,
               v.confidence, v.url
        FROM (SELECT DISTINCT story_id, item_id AS url FROM _labels
              WHERE item_kind = 'article') s
        JOIN _vlabels v USING (url)""")

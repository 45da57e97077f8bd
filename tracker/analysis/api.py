"""Python API for notebooks: each view as a pandas DataFrame, plus resampled series.

    import duckdb
    from tracker.analysis import api
    con = duckdb.connect("data/tracker.read.duckdb", read_only=True)
    api.timeline(con, "musk-putin-call")
"""

from __future__ import annotations

import duckdb
import pandas as pd


def timeline(con: duckdb.DuckDBPyConnection, story_id: str) -> pd.DataFrame:
    """Every labelled item of a story in time order."""
    return con.execute('SELECT * FROM timeline WHERE story_id = ? ORDER BY event_at, item_id',
                       [story_id]).df()


def story_firsts(con: duckdb.DuckDBPyConnection, story_id: str | None = None) -> pd.DataFrame:
    """First claim / press report / denial / press report of the denial / rebuttal, and lags."""
    return con.execute("SELECT * FROM story_firsts WHERE ? IS NULL OR story_id = ? "
                       "ORDER BY story_id", [story_id, story_id]).df()


def person_firsts(con: duckdb.DuckDBPyConnection, story_id: str | None = None) -> pd.DataFrame:
    """Per person and statement (claim, denial, rebuttal, poll): the first post on each
    platform, the platform that came first and each platform's lag behind it."""
    if not con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = "
                       "'person_firsts'").fetchone()[0]:
        return pd.DataFrame(columns=PERSON_FIRSTS_COLUMNS)   # not yet migrated (read-only)
    return con.execute("SELECT * EXCLUDE (k) FROM (SELECT *, min(first_at) OVER (PARTITION BY "
                       "story_id, person, event_type) AS k FROM person_firsts WHERE ? IS NULL "
                       "OR story_id = ?) ORDER BY story_id, k, person, event_type, "
                       "platform_order", [story_id, story_id]).df()


PERSON_FIRSTS_COLUMNS = ["story_id", "person", "role", "event_type", "platform", "handle",
                         "first_at", "first_item", "items", "platform_order", "first_platform",
                         "after_first"]


def press_followup(con: duckdb.DuckDBPyConnection, story_id: str) -> pd.DataFrame:
    """Outlets that reported the claim, and whether and when each reported the denial."""
    return con.execute("SELECT * FROM press_followup WHERE story_id = ? "
                       "ORDER BY claim_reported_at, outlet", [story_id]).df()


def reply_stance(con: duckdb.DuckDBPyConnection, story_id: str, freq: str = "1h") -> pd.DataFrame:
    """Replies per time bin by stance: one column per stance, zero-filled bins."""
    df = con.execute('SELECT event_at, stance FROM timeline WHERE story_id = ? AND event_type = '
                     "'reply' AND stance IS NOT NULL", [story_id]).df()
    cols = ["support", "deny", "query", "comment"]
    if df.empty:
        return pd.DataFrame(columns=cols, dtype="int64")
    out = (df.assign(n=1)
           .pivot_table(index="event_at", columns="stance", values="n", aggfunc="sum")
           .resample(freq).sum())
    return out.reindex(columns=cols, fill_value=0).fillna(0).astype("int64")


def poll_series(con: duckdb.DuckDBPyConnection, poll_id: str,
                freq: str | None = None, platform: str | None = None) -> pd.DataFrame:
    """A poll's option shares over time (one column per option); resampled if freq is given,
    carrying the last capture forward. ``platform`` narrows a poll id several platforms use."""
    df = con.execute("SELECT captured_at, label, share FROM poll_series WHERE poll_id = ? "
                     "AND platform = coalesce(?, platform) ORDER BY captured_at, position",
                     [poll_id, platform]).df()
    if df.empty:
        return df
    wide = df.pivot(index="captured_at", columns="label", values="share")
    return wide.resample(freq).last().ffill() if freq else wide


def poll_results(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The latest (final, once closed) snapshot of every poll."""
    return con.execute("SELECT * FROM poll_results ORDER BY platform, poll_id, position").df()

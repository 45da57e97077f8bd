"""`tracker status`: last runs, cursors, pending raw files, open polls, table sizes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pandas as pd

from tracker.core.errors import DatabaseUnavailable, TrackerError
from tracker.core.timeutil import utcnow
from tracker.sources.registry import REGISTRY
from tracker.store.db import damaged, open_db
from tracker.store.loader import damaged_files, failed_files, pending_files
from tracker.store.raw import list_raw_files

COUNTED = ("accounts", "posts", "post_versions", "polls", "poll_snapshots", "articles",
           "article_sources", "story_items", "api_errors",
           "runs", "raw_pages")


@dataclass
class Status:
    read_from: str
    counts: dict[str, int] = field(default_factory=dict)
    runs: pd.DataFrame | None = None
    cursors: pd.DataFrame | None = None
    open_polls: pd.DataFrame | None = None
    pending: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    damaged: list[tuple[str, str]] = field(default_factory=list)
    # the database: "ok", "missing", "busy: …" or "damaged: …" (then status reads the replica)
    database: str = "ok"
    # source -> its due work now (conversations, deletion checks, how long the oldest waited)
    backlog: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Everything, JSON-ready (times as ISO 8601 UTC strings)."""
        def records(df):
            if df is None:
                return []
            return json.loads(df.to_json(orient="records", date_format="iso", date_unit="us"))

        return {"database": self.database, "read_from": self.read_from, "counts": self.counts,
                "runs": records(self.runs), "cursors": records(self.cursors),
                "open_polls": records(self.open_polls), "backlog": self.backlog,
                "pending_raw_files": self.pending,
                "failed_raw_files": [{"path": p, "error": e} for p, e in self.failed],
                "damaged_raw_files": [{"path": p, "damage": d} for p, d in self.damaged]}


def collect_status(cfg, limit: int = 10, now: datetime | None = None) -> Status:
    """Read status from the database, or from the replica while the database is busy or
    cannot be read (``Status.database`` says which); the backlog is what is due at ``now``
    (default: the current time)."""
    state = "ok" if cfg.database.exists() else "missing"
    for path, label in ((cfg.database, "database"), (cfg.replica, "read-only replica")):
        if not path.exists():
            continue
        try:
            con = open_db(path, read_only=True)
        except DatabaseUnavailable as exc:
            if path == cfg.database:
                state = f"{exc.reason}: {exc}"
            continue
        except TrackerError as exc:
            if path == cfg.database:
                state = f"unreadable: {exc}"
            continue
        try:
            return _read(cfg, con, f"{label} {path}", state, limit, now or utcnow())
        except (duckdb.Error, OSError) as exc:
            broken = damaged(path, exc)
            if broken is None:
                raise
            if path == cfg.database:
                state = f"{broken.reason}: {broken}"
        finally:
            con.close()
    return Status("nothing yet", pending=list_raw_files(cfg.raw_dir), database=state)


def _read(cfg, con, source: str, state: str, limit: int, now: datetime) -> Status:
    st = Status(source, database=state)
    for t in COUNTED:
        st.counts[t] = con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    st.runs = con.execute(
        "SELECT started_at, job, source, status, requests, posts_read, new_rows, updated_rows, "
        "coalesce(stop_reason, error) AS reason, deferred, load_deferred_at, run_id "
        "FROM runs ORDER BY started_at DESC LIMIT ?", [limit]).df()
    for source in REGISTRY.sources:
        if source.plan is None or (source.active is not None and not source.active(cfg)):
            continue
        backlog = getattr(source.plan(con, cfg, now, {}), "backlog", None)
        if backlog is not None:
            st.backlog[source.name] = backlog.as_dict()
    st.cursors = con.execute(
        "SELECT source, scope, cursor, updated_at FROM sync_state ORDER BY source, scope"
    ).df()
    st.open_polls = con.execute(
        "SELECT p.poll_id, p.post_id, p.voting_status, p.end_at, count(DISTINCT s.captured_at) "
        "AS snapshots, max(s.captured_at) AS last_snapshot FROM polls p LEFT JOIN "
        "poll_snapshots s USING (platform, poll_id) WHERE p.final_snapshot_at IS NULL "
        "GROUP BY ALL ORDER BY p.poll_id").df()
    st.pending = pending_files(con, cfg.raw_dir)
    st.failed = failed_files(con)
    st.damaged = damaged_files(con)
    return st

"""What raw pages that are not loaded yet say (used when the database is busy): the cursors
they carry, and the polls they saw open or closed."""

from __future__ import annotations

from pathlib import Path

from tracker.store.raw import read_raw_file


def pending_cursors(raw_dir: Path, files: list[str]) -> dict[tuple[str, str], dict]:
    """(source, scope) -> newest cursor found in the given raw files, in run order."""
    from tracker.store.loader import page_cursors

    out: dict[tuple[str, str], dict] = {}
    for rel in files:
        for rl in read_raw_file(Path(raw_dir) / rel):
            rec = rl.record
            if rec and rec.get("type") == "page":
                for scope, cursor in page_cursors(rec).items():
                    out[(rec.get("source"), scope)] = cursor
    return out


def pending_polls(raw_dir: Path, files: list[str]) -> dict[str, tuple[str | None, bool]]:
    """poll_id -> (its post's id, closed?) as the given X raw files last saw it, in run order.

    So that a poll first seen while the database is busy is refreshed on schedule, and one seen
    closed is not read again, before the pages are loaded.
    """
    from tracker.core.errors import MalformedPage
    from tracker.sources.x.normalize import normalize

    out: dict[str, tuple[str | None, bool]] = {}
    for rel in files:
        for rl in read_raw_file(Path(raw_dir) / rel):
            rec = rl.record
            if not (rec and rec.get("type") == "page" and rec.get("source") == "x"):
                continue
            try:
                rows = normalize(rec)
            except MalformedPage:
                continue
            for p in rows.tables.get("polls", []):
                post, closed = out.get(p["poll_id"], (None, False))
                out[p["poll_id"]] = (post or p["post_id"],
                                     closed or p["voting_status"] == "closed")
    return out

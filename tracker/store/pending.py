"""What raw pages that are not loaded yet say (used when the database cannot be written): the
cursors they carry. (A source reads more of them for its plan: see Source.plan_pending.)"""

from __future__ import annotations

from pathlib import Path

from tracker.store.loader import page_cursors
from tracker.store.raw import read_raw_file


def pending_cursors(raw_dir: Path, files: list[str]) -> dict[tuple[str, str], dict]:
    """(source, scope) -> newest cursor found in the given raw files, in run order."""
    out: dict[tuple[str, str], dict] = {}
    for rel in files:
        for rl in read_raw_file(Path(raw_dir) / rel):
            rec = rl.record
            if rec and rec.get("type") == "page":
                for scope, cursor in page_cursors(rec).items():
                    out[(rec.get("source"), scope)] = cursor
    return out

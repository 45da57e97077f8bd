"""Cursors carried by raw pages that are not loaded yet (used when the database is busy)."""

from __future__ import annotations

from pathlib import Path

from .raw import read_raw_file


def pending_cursors(raw_dir: Path, files: list[str]) -> dict[tuple[str, str], dict]:
    """(source, scope) -> newest cursor found in the given raw files, in run order."""
    out: dict[tuple[str, str], dict] = {}
    for rel in files:
        for rl in read_raw_file(Path(raw_dir) / rel):
            rec = rl.record
            if (rec and rec.get("type") == "page" and rec.get("scope")
                    and rec.get("cursor_after") is not None):
                out[(rec.get("source"), rec["scope"])] = rec["cursor_after"]
    return out

"""Story reports: one self-contained HTML file per story (chart + tables), and a PNG of it.

    from tracker.report import write_report
    write_report(cfg, "musk-putin-call", "report.html")           # a Config,
    write_report(con, "musk-putin-call", "report.html", tz="Europe/Paris")   # a connection,
    write_report("data/tracker.read.duckdb", "musk-putin-call", "r.html", png="r.png")  # a file
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..config import Config
from .data import ReportData, gather
from .html import render_html

__all__ = ["ReportResult", "ReportData", "gather", "render_html", "write_report"]


@dataclass
class ReportResult:
    path: Path
    png: Path | None
    items: int
    story_id: str


def _connect(source) -> tuple[duckdb.DuckDBPyConnection, bool]:
    """(connection, whether we opened it)."""
    if isinstance(source, duckdb.DuckDBPyConnection):
        return source, False
    if isinstance(source, Config):
        from ..analysis.run import read_connection

        return read_connection(source), True
    from ..store.db import open_db

    return open_db(Path(source), read_only=True), True


def slide_height_estimate(data: ReportData) -> int:
    """Roughly how tall the slide view is (used only if the page cannot be measured)."""
    lanes = max(3, len(data.actors) + 2)
    height = 520 + lanes * 54 + (226 if len(data.replies) else 0) + (226 if data.polls else 0)
    return min(height, 2400)


def write_report(source: Config | duckdb.DuckDBPyConnection | str | os.PathLike,
                 story_id: str, path: str | os.PathLike, *, tz: str = "UTC",
                 png: str | os.PathLike | None = None) -> ReportResult:
    """Write STORY's report to PATH (one HTML file, no network needed to view it), and a PNG of
    its header and chart when `png` is given. `source` is a Config (reads the database, or its
    replica while a run holds it), an open DuckDB connection, or a database file path."""
    con, opened = _connect(source)
    try:
        data = gather(con, story_id)
    finally:
        if opened:
            con.close()
    text = render_html(data, tz=tz)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    png_path = None
    if png is not None:
        from .png import screenshot

        png_path = screenshot(path, Path(png), fallback_height=slide_height_estimate(data))
    return ReportResult(path.resolve(), png_path, len(data.timeline), data.story_id)

"""Story reports: one self-contained HTML file per story (chart + tables), and a PNG of it.

    from tracker.report import write_report, write_all
    write_report(cfg, "musk-putin-call", "report.html")           # a Config,
    write_report(con, "musk-putin-call", "report.html", tz="Europe/Paris")   # a connection,
    write_report("data/tracker.read.duckdb", "musk-putin-call", "r.html", png="r.png")  # a file
    write_all(cfg, "reports/")       # every configured story, and reports/index.html
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tracker.core.config import BaseConfig
from tracker.core.errors import TrackerError
from tracker.core.outputs import check_output_dir, check_output_file
from tracker.report.data import ReportData, gather, last_collected
from tracker.report.html import render_html
from tracker.report.png import screenshot
from tracker.store.db import open_db, read_connection
from tracker.report.index import (SECTIONS, Section, StoryEntry, entry, latest_denials,
                                  render_index, short_window)
from tracker.report.timefmt import TimeFormat

__all__ = ["IndexResult", "ReportResult", "ReportData", "Section", "SECTIONS", "StoryEntry",
           "gather", "render_html", "render_index", "report_file_name", "write_all",
           "write_report"]


@dataclass
class ReportResult:
    path: Path
    png: Path | None
    items: int
    story_id: str


@dataclass
class IndexResult:
    path: Path                         # DIR/index.html
    reports: list[ReportResult]
    stories: list[StoryEntry]          # every configured story, with or without a report

    @property
    def missing(self) -> list[StoryEntry]:
        return [s for s in self.stories if s.file is None]


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def report_file_name(story_id: str) -> str:
    """A story's report in a folder of reports: STORY.html (a story named "index" gets
    index.story.html: story ids have no dots, so no other story's name can clash)."""
    return "index.story.html" if story_id == "index" else f"{story_id}.html"


def _connect(source) -> tuple[duckdb.DuckDBPyConnection, bool]:
    """(connection, whether we opened it)."""
    if isinstance(source, duckdb.DuckDBPyConnection):
        return source, False
    if isinstance(source, BaseConfig):
        return read_connection(source), True
    return open_db(Path(source), read_only=True), True


def slide_height_estimate(data: ReportData) -> int:
    """Roughly how tall the slide view is (used only if the page cannot be measured)."""
    lanes = max(3, len(data.people) + 2)
    height = 520 + lanes * 54 + (226 if len(data.replies) else 0) + (226 if data.polls else 0)
    return min(height, 2400)


def write_report(source: BaseConfig | duckdb.DuckDBPyConnection | str | os.PathLike,
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
    if isinstance(source, BaseConfig):
        check_output_file(source, path)
        if png is not None:
            check_output_file(source, png, "--png")
    _write_text(path, text)
    png_path = None
    if png is not None:
        png_path = screenshot(path, Path(png), fallback_height=slide_height_estimate(data))
    return ReportResult(path.resolve(), png_path, len(data.timeline), data.story_id)


def write_all(cfg: BaseConfig, directory: str | os.PathLike, *, tz: str = "UTC") -> IndexResult:
    """Write a report for every story in the config into DIRECTORY (report_file_name) and
    DIRECTORY/index.html listing them all with their firsts, and the tracked accounts' latest
    denials (found without a story). A configured story that was not analysed yet is listed,
    without a link, and gets no report. With tracked accounts but no story, the index alone."""
    if not cfg.stories and not cfg.accounts:
        raise TrackerError("no stories in the config: add one under `stories:` (see "
                           "config.yaml), then run `tracker analyze`")
    tf = TimeFormat(tz)
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise TrackerError(f"--all writes into a folder and {directory} is a file")
    check_output_dir(cfg, directory, option="-o")
    for story in cfg.stories:
        check_output_file(cfg, directory / report_file_name(story.id), "-o")
    check_output_file(cfg, directory / "index.html", "-o")
    con, opened = _connect(cfg)
    try:
        gathered: list[tuple] = []
        for story in cfg.stories:
            try:
                gathered.append((story, gather(con, story.id), None))
            except TrackerError:
                gathered.append((story, None, "not analysed yet (run: tracker analyze "
                                              f"{story.id})"))
        collected = last_collected(con)
        denials = latest_denials(con, cfg.accounts)
    finally:
        if opened:
            con.close()
    reports, stories = [], []
    for story, data, note in gathered:
        window = short_window(story.window.start_at, story.window.end_at)
        file = None
        if data is not None:
            file = report_file_name(story.id)
            _write_text(directory / file, render_html(data, tz=tz))
            reports.append(ReportResult((directory / file).resolve(), None, len(data.timeline),
                                        story.id))
        stories.append(entry(story.id, story.title, window, file, data, tf, note))
    index = directory / "index.html"
    _write_text(index, render_index(stories, tf, last_collected=collected, denials=denials))
    return IndexResult(index.resolve(), reports, stories)

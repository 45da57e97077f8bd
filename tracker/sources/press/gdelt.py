"""GDELT DOC 2.0 API: article lists split until nothing is truncated, and coverage volume.

``mode=artlist`` returns at most 250 articles a call. A window whose answer reaches the cap is
split in two, recursively, until every answer is under it (or the window is down to
``press.gdelt.min_window_minutes``, which is then reported as possibly truncated). Windows are
read in time order and the last page of a query carries its cursor ``{"through": end}`` (scope
``gdelt:<name>``), so the next run starts there (minus ``press.gdelt.overlap_minutes``, for
articles GDELT indexes late). ``mode=timelinevolraw`` gives the volume per time bucket (scope
``gdelt_volume:<name>``). GDELT asks for at most one request every 5 seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tracker.sources.press.config import GdeltConfig, PressQueryConfig
from tracker.core.errors import MalformedPage, SourceError
from tracker.core.timeutil import iso, parse_iso
from tracker.sources.press.http import PressFetcher
from tracker.sources.press.normalize import gdelt_count, gdelt_json

log = logging.getLogger("tracker.press")
FMT = "%Y%m%d%H%M%S"


class GdeltError(SourceError):
    """GDELT answered a query with an error (or not at all)."""


@dataclass
class QueryOutcome:
    name: str
    windows: int = 0              # artlist calls whose answer was kept (under the cap)
    splits: int = 0               # windows split because their answer reached the cap
    articles: int = 0             # articles in the kept answers (before de-duplication)
    volume_points: int = 0
    skipped: bool = False         # the window was already complete
    truncated: list[str] = field(default_factory=list)


def _window(q: PressQueryConfig, cursor: dict | None, now: datetime,
            overlap: timedelta) -> tuple[datetime, datetime, bool]:
    """(start, end, complete) of what to read now."""
    end = min(q.end_at or now, now)
    start = q.start_at
    if cursor and cursor.get("query") == q.query and cursor.get("through"):
        through = parse_iso(cursor["through"])
        from_ = parse_iso(cursor.get("start")) if cursor.get("start") else None
        if from_ is not None and from_ <= start:
            if q.end_at is not None and through >= q.end_at:
                return start, end, True
            start = max(start, through - overlap)
    return start, end, start >= end


def _params(q: PressQueryConfig, mode: str, start: datetime, end: datetime, **extra) -> dict:
    return {"query": q.query, "mode": mode, "format": "json",
            "startdatetime": start.strftime(FMT), "enddatetime": end.strftime(FMT), **extra}


def collect_query(f: PressFetcher, g: GdeltConfig, q: PressQueryConfig, cursor: dict | None,
                  volume_cursor: dict | None, now: datetime) -> QueryOutcome:
    """Article lists (split under the cap), then the volume timeline, for one query."""
    out = QueryOutcome(q.name)
    start, end, done = _window(q, cursor, now, timedelta(minutes=g.overlap_minutes))
    min_window = timedelta(minutes=g.min_window_minutes)
    pace = ("gdelt", g.min_interval_seconds)
    if not done:
        cursor_after = {"query": q.query, "start": iso(q.start_at), "through": iso(end)}
        todo: list[tuple[datetime, datetime]] = [(start, end)]     # a stack, earliest on top
        while todo:
            a, b = todo.pop()
            can_split = b - a > min_window

            def judge(status, text, headers, _last=not todo, _split=can_split):
                try:
                    n = gdelt_count(text, headers)
                except MalformedPage:
                    return None, None
                complete = n < g.max_records or not _split
                return (cursor_after if complete and _last else None), n

            got = f.get(g.api_base_url, purpose="gdelt_artlist", scope=f"gdelt:{q.name}",
                        params=_params(q, "artlist", a, b, maxrecords=str(g.max_records),
                                       sort="DateAsc"), pace=pace, cursor_fn=judge)
            n = got.extra
            if n is None:
                try:
                    gdelt_json(got.text, got.headers)
                except MalformedPage as exc:
                    raise GdeltError(f"{a:%Y-%m-%d %H:%M}–{b:%Y-%m-%d %H:%M}: {exc}") from None
                n = 0
            if n >= g.max_records and can_split:
                mid = a + (b - a) / 2
                mid = mid.replace(microsecond=0)
                out.splits += 1
                log.info("gdelt %s: %d articles (the cap) in %s–%s; splitting", q.name, n,
                         iso(a), iso(b))
                todo.append((mid, b))
                todo.append((a, mid))
                continue
            if n >= g.max_records:
                out.truncated.append(
                    f"{a:%Y-%m-%d %H:%M}–{b:%Y-%m-%d %H:%M} still has {n} articles (the cap) "
                    f"at press.gdelt.min_window_minutes={g.min_window_minutes}; "
                    "some may be missing")
            out.windows += 1
            out.articles += n
    else:
        out.skipped = True
    if g.volume:
        vstart, vend, vdone = q.start_at, end, False
        if volume_cursor and volume_cursor.get("query") == q.query and q.end_at is not None:
            through = parse_iso(volume_cursor.get("through"))
            vdone = through is not None and through >= q.end_at
        if not vdone and vstart < vend:
            def vjudge(status, text, headers):
                try:
                    gdelt_json(text, headers)
                except MalformedPage:
                    return None, False
                return {"query": q.query, "through": iso(vend)}, True

            got = f.get(g.api_base_url, purpose="gdelt_volume", scope=f"gdelt_volume:{q.name}",
                        params=_params(q, "timelinevolraw", vstart, vend), pace=pace,
                        cursor_fn=vjudge)
            try:
                data = gdelt_json(got.text, got.headers)
            except MalformedPage as exc:
                raise GdeltError(f"volume: {exc}") from None
            for series in (data.get("timeline") or [])[:1]:
                out.volume_points += len(series.get("data") or [])
    return out

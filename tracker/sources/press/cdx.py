"""The Wayback Machine's CDX search answers (plain-text format), pure.

One capture a line, space-separated: ``urlkey timestamp original mimetype statuscode digest
length``; with ``showResumeKey=true`` a blank line and the URL-encoded resume key close a page
that has more. ``resolveRevisits=true`` gives a revisit record (mimetype ``warc/revisit``,
status ``-``) the digest of the capture it repeats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from tracker.core.errors import MalformedPage
from tracker.core.timeutil import iso
from tracker.store.rows import Rows

FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")


@dataclass(frozen=True)
class Capture:
    captured_at: datetime
    timestamp: str          # the 14 digits, as the memento URL wants them
    original: str
    mimetype: str
    status: str
    digest: str
    length: int | None

    @property
    def content(self) -> bool:
        """A capture of a page's content: a 200, or a revisit of one (same digest)."""
        return self.status == "200" or (self.mimetype == "warc/revisit" and self.status == "-")


def capture_time(ts: str) -> datetime | None:
    digits = (ts or "").strip()
    if not digits.isdigit() or not 8 <= len(digits) <= 14:
        return None
    digits = (digits + "000000")[:14]
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def parse_cdx(text: str | None) -> tuple[list[Capture], str | None, list[str]]:
    """(captures in order, resume key or None, lines that could not be read)."""
    captures: list[Capture] = []
    bad: list[str] = []
    resume = None
    lines = (text or "").split("\n")
    for i, line in enumerate(lines):
        line = line.strip()
        if not line:
            rest = [ln.strip() for ln in lines[i + 1:] if ln.strip()]
            if rest:
                resume = rest[0]
                break
            continue
        parts = line.split(" ")
        at = capture_time(parts[1]) if len(parts) == len(FIELDS) else None
        if at is None:
            bad.append(f"line {i + 1}: {line[:120]!r}")
            continue
        length = int(parts[6]) if parts[6].isdigit() else None
        captures.append(Capture(at, parts[1], parts[2], parts[3], parts[4], parts[5], length))
    return captures, resume, bad


def versions_to_read(captures: list[Capture], limit: int) -> list[tuple[Capture, list[Capture]]]:
    """One capture to read per distinct digest of content captures (the digest's first), with
    every capture of that digest; the first ``limit`` digests in time order."""
    by_digest: dict[str, list[Capture]] = {}
    for c in sorted(captures, key=lambda c: (c.captured_at, c.digest)):
        if c.content and c.digest and c.digest != "-":
            by_digest.setdefault(c.digest, []).append(c)
    firsts = sorted(by_digest.values(), key=lambda cs: cs[0].captured_at)[:limit]
    return [(cs[0], cs) for cs in firsts]


def cdx_rows(record: dict, rows: Rows) -> None:
    """article_captures rows of an archived CDX answer (params ``url``: the article)."""
    url = (record.get("params") or {}).get("article")
    if not url:
        raise MalformedPage("CDX page without the article it was asked for (params.article)")
    captures, _resume, bad = parse_cdx(record.get("body"))
    page_id = record.get("page_id") or f"{record.get('run_id')}:{record.get('seq')}"
    rows.items = len(captures)
    rows.skipped.extend(bad)
    for c in captures:
        rows.add("article_captures", {
            "url": url, "captured_at": iso(c.captured_at), "digest": c.digest,
            "original": c.original, "mimetype": c.mimetype, "status": c.status,
            "length": c.length, "page_id": page_id})

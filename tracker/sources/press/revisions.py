"""Article versions from archived pages, pure: what a fetch or a Wayback memento says.

A version is the extracted title, description and main text; ``content_hash`` tells versions
apart (whitespace tidied, so a re-rendered page with the same words is the same version). The
page's own claim of when it last changed (``dateModified`` and the like, or an "Updated …"
line) is kept beside it as the outlet's claim.

Purposes: ``article`` (a scheduled re-fetch: 200 → the article's fields and a version; 304 →
a sighting of the version whose hash the request validated; 404/410 → nothing) and
``wayback_memento`` (a capture → a version at the capture times, marked archive evidence).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from tracker.core.errors import MalformedPage
from tracker.core.jsonload import loads
from tracker.core.timeutil import iso
from tracker.sources.press.cdx import capture_time
from tracker.sources.press.http import FINAL_URL
from tracker.sources.press.normalize import PageInfo, _j, extract_page, parse_date
from tracker.sources.press.outlets import registrable_domain
from tracker.store.rows import Rows

MODIFIED_META = ("article:modified_time", "og:article:modified_time", "og:updated_time",
                 "datemodified", "dc.date.modified", "dcterms.modified", "last-modified",
                 "lastmod", "parsely-updated", "sailthru.updated")
_UPDATED_LINE = re.compile(
    r"^\W{0,3}((?:last\s+)?updated|update|aktualisiert|mis\s+à\s+jour|actualizado)\b[:,]?\s*"
    r"(.{0,80})$", re.I | re.M)


def _tidy(value: str | None) -> str:
    return re.sub(r"\s+", " ", value or "").strip()


def content_hash(title: str | None, summary: str | None, text: str | None) -> str:
    """sha256 of the version's words (title, description, main text), whitespace tidied."""
    joined = "\x1f".join(_tidy(v) for v in (title, summary, text))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def _jsonld_modified(node) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("dateModified"), str):
            out.append(node["dateModified"])
        for v in node.values():
            if isinstance(v, (dict, list)):
                out.extend(_jsonld_modified(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_jsonld_modified(v))
    return out


def modified_claim(html: str, text: str | None) -> tuple[datetime | None, str | None]:
    """(time, what and where) of the page's own "last modified" claim, or (None, None).

    Markup first (meta tags, JSON-LD ``dateModified``, ``<time itemprop=dateModified>``); else
    an "Updated …" line of the main text, kept as written (its time is not guessed).
    """
    import lxml.html  # heavy; loaded by the pages that need it

    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        tree = None
    if tree is not None:
        metas: dict[str, str] = {}
        for m in tree.iter("meta"):
            key = (m.get("property") or m.get("name") or m.get("itemprop") or "").strip().lower()
            if key and m.get("content") and key not in metas:
                metas[key] = m.get("content").strip()
        found = [(f"meta {k}", metas[k]) for k in MODIFIED_META if k in metas]
        for script in tree.iter("script"):
            if (script.get("type") or "").lower() == "application/ld+json" and script.text:
                try:
                    found += [("JSON-LD dateModified", d)
                              for d in _jsonld_modified(loads(script.text, strict=False))]
                except ValueError:
                    continue
        for t in tree.iter("time"):
            if t.get("datetime") and (t.get("itemprop") or "").lower() == "datemodified":
                found.append(("<time itemprop=dateModified>", t.get("datetime")))
        for where, raw in found:
            dt, _note = parse_date(raw)
            if dt is not None:
                return dt, f"{where}: {raw}"[:300]
    m = _UPDATED_LINE.search(text or "")
    if m:
        return None, f"text: {_tidy(m.group(0))}"[:300]
    return None, None


def version_row(info: PageInfo, html: str, page_id: str, **times) -> dict:
    """One article_versions row; ``times`` sets first/last_seen_at and the origin's columns."""
    modified_at, claim = modified_claim(html, info.text)
    return {"url": info.url, "content_hash": content_hash(info.title, info.summary, info.text),
            "title": info.title, "summary": info.summary, "text": info.text,
            "modified_at": iso(modified_at) if modified_at else None, "modified_claim": claim,
            "fetched_first_at": None, "archived_first_at": None, "archived_last_at": None,
            "wayback_digest": None, "page_id": page_id, **times}


def _page_id(record: dict) -> str:
    return record.get("page_id") or f"{record.get('run_id')}:{record.get('seq')}"


def article_rows(record: dict, rows: Rows) -> None:
    """A scheduled re-fetch of one article (params ``url``: the article; ``hash``: the version
    a conditional request validated)."""
    params = record.get("params") or {}
    status = record.get("status")
    at, page_id = record.get("fetched_at"), _page_id(record)
    url = params.get("url")
    if not url or not at:
        raise MalformedPage("article page without its article (params.url) or fetched_at")
    if status == 304:
        if params.get("hash"):
            rows.add("article_versions", {
                "url": url, "content_hash": params["hash"], "title": None, "summary": None,
                "text": None, "modified_at": None, "modified_claim": None,
                "first_seen_at": at, "last_seen_at": at, "fetched_first_at": None,
                "archived_first_at": None, "archived_last_at": None, "wayback_digest": None,
                "page_id": page_id})
        return
    if status is None or not 200 <= int(status) < 300 or record.get("body") is None:
        return                      # gone (404/410) or an error: archived, no rows
    html = record["body"]
    headers = record.get("headers") or {}
    info = extract_page(html, given_url=url, fetched_url=headers.get(FINAL_URL))
    rows.items = 1
    rows.add("articles", {
        "url": info.url, "domain": info.domain, "outlet": info.outlet,
        "outlet_domain": registrable_domain(info.url), "title": info.title,
        "summary": info.summary, "text": info.text, "authors": _j(info.authors),
        "language": info.language, "source_country": None,
        "published_at": iso(info.published_at) if info.published_at else None,
        "first_seen_at": at, "last_seen_at": at})
    rows.add("article_versions", version_row(info, html, page_id, first_seen_at=at,
                                             last_seen_at=at, fetched_first_at=at))


def page_version(record: dict, rows: Rows) -> None:
    """The version a page added by URL (`tracker press add URL`) shows, beside its rows."""
    arts = rows.tables.get("articles") or []
    params = record.get("params") or {}
    if not arts or "sha256" in params:
        return                      # a saved file: when it was saved is not known
    a = arts[0]
    info = PageInfo(a["url"], a["url"], a["domain"], a["outlet"], a["title"], a["summary"],
                    a["text"], None, a["language"], None, None)
    at = record["fetched_at"]
    rows.add("article_versions", version_row(info, record.get("body") or "", _page_id(record),
                                             first_seen_at=at, last_seen_at=at,
                                             fetched_first_at=at))


def memento_rows(record: dict, rows: Rows) -> None:
    """A Wayback capture of an article (params ``article``, ``digest``, ``captures``: the
    14-digit times of every capture with that digest)."""
    params = record.get("params") or {}
    status = record.get("status")
    if status is None or not 200 <= int(status) < 300 or record.get("body") is None:
        return
    url = params.get("article")
    if not url:
        raise MalformedPage("memento page without its article (params.article)")
    headers = record.get("headers") or {}
    if not headers.get("memento-datetime"):
        raise MalformedPage("not a memento (no Memento-Datetime): the Wayback Machine "
                            "answered with its own page (blocked or excluded)")
    served, _ = parse_date(headers["memento-datetime"])
    times = [t for t in (capture_time(ts) for ts in params.get("captures") or []) if t]
    asked = capture_time(params.get("timestamp") or "")
    if served is None or (asked is not None and served != asked) or not times:
        times = [served] if served else times      # the Wayback Machine served another capture
    if not times:
        raise MalformedPage("memento without a capture time")
    info = extract_page(record["body"], given_url=url, fetched_url=None)
    first, last = iso(min(times)), iso(max(times))
    rows.items = 1
    rows.add("article_versions", version_row(
        info, record["body"], _page_id(record), first_seen_at=first, last_seen_at=last,
        archived_first_at=first, archived_last_at=last, wayback_digest=params.get("digest")))

"""Pure normalization of archived press pages (feeds, GDELT answers, saved pages) into rows.

No I/O and no clock: a page's rows depend only on the page, so `tracker rebuild` gives the same
tables. The collectors call the same functions to decide, at fetch time, whether a feed is a feed.

Purposes: ``feed`` (RSS/Atom), ``gdelt_artlist``, ``gdelt_volume``, ``page`` (one article).
"""

from __future__ import annotations

import email.utils
import html as htmllib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tracker.core.errors import MalformedPage
from tracker.core.jsonload import loads
from tracker.core.timeutil import iso
from tracker.store.rows import Rows
from tracker.sources.press.canonical import BadURL, canonical_url, domain_of
from tracker.sources.press.http import FINAL_URL, body_encoding
from tracker.sources.press.outlets import entry_source, registrable_domain

FEED_NO_DATE = "no date in the feed entry; first_seen_at (our clock) is the only time"
PAGE_NO_DATE = "no publication date on the page; first_seen_at (our clock) is the only time"
NO_TZ = "the date has no time zone; read as UTC"
UPDATED_ONLY = "the feed gives only the entry's updated time"
GDELT_NOTE = "GDELT gives when it first saw the article (gdelt_seen_at), not when it was published"


# ---- small helpers ------------------------------------------------------------------------

def _j(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


_BLOCK = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/tr|/blockquote)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
_DROP = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)


def html_to_text(value: str | None) -> str | None:
    """Plain text of a feed's HTML fragment (summary, content), whitespace tidied."""
    if not value:
        return None
    text = _DROP.sub(" ", value)
    text = _BLOCK.sub("\n", text)
    text = htmllib.unescape(_TAG.sub(" ", text))
    lines = [re.sub(r"[ \t\r\f\v\xa0]+", " ", ln).strip() for ln in text.split("\n")]
    text = "\n".join(ln for ln in lines if ln)
    return text or None


# GDELT names languages in English; feeds and pages use BCP 47 tags. Both become ISO 639-1.
LANGUAGE_NAMES = {
    "english": "en", "german": "de", "french": "fr", "spanish": "es", "italian": "it",
    "portuguese": "pt", "russian": "ru", "ukrainian": "uk", "polish": "pl", "dutch": "nl",
    "turkish": "tr", "arabic": "ar", "chinese": "zh", "japanese": "ja", "korean": "ko",
    "hebrew": "he", "persian": "fa", "hindi": "hi", "swedish": "sv", "norwegian": "no",
    "danish": "da", "finnish": "fi", "czech": "cs", "slovak": "sk", "hungarian": "hu",
    "romanian": "ro", "bulgarian": "bg", "greek": "el", "serbian": "sr", "croatian": "hr",
    "lithuanian": "lt", "latvian": "lv", "estonian": "et", "belarusian": "be",
    "georgian": "ka", "armenian": "hy", "indonesian": "id", "vietnamese": "vi", "thai": "th",
}


def language_code(value: Any) -> str | None:
    """``en-US`` → ``en``, ``English`` → ``en``; an unknown name is kept as given."""
    text = _clean(value)
    if not text:
        return None
    low = text.lower()
    if low in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[low]
    m = re.fullmatch(r"([a-z]{2,3})(?:[-_][a-z0-9]+)*", low)
    return m.group(1) if m else text


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = re.sub(r"\s+", " ", str(value)).strip()
    return text or None


_TZ_AT_END = re.compile(r"(?:[zZ]|[+-]\d{2}:?\d{2}|\b(?:GMT|UTC|UT|[ECMP][SD]T|[A-IK-Z]))\s*$")


def parse_date(raw: str | None, parsed=None) -> tuple[datetime | None, str | None]:
    """A publisher's date string → (UTC datetime, note). Never guesses an ambiguous format.

    RFC 822 (RSS) and ISO 8601 (Atom) with or without a zone; a missing zone is read as UTC and
    said so. ``parsed`` is feedparser's UTC struct_time, used for the formats it knows and we
    do not. Anything else gives (None, note quoting the value).
    """
    if not raw or not str(raw).strip():
        return None, None
    raw = str(raw).strip()
    dt = None
    try:
        dt = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            dt = None
    if dt is None and parsed is not None:
        try:
            dt = datetime(*tuple(parsed)[:6], tzinfo=timezone.utc)
        except (TypeError, ValueError):
            dt = None
        if dt is not None:
            note = None if _TZ_AT_END.search(raw) else NO_TZ
            return dt, note
    if dt is None:
        return None, f"date {raw[:60]!r} not understood; first_seen_at (our clock) is the only time"
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc), NO_TZ
    return dt.astimezone(timezone.utc), None


def _note(*parts: str | None) -> str | None:
    parts = [p for p in parts if p]
    return "; ".join(parts) if parts else None


def _page_id(record: dict) -> str:
    return record.get("page_id") or f"{record.get('run_id')}:{record.get('seq')}"


def _scope_name(record: dict, prefix: str) -> str:
    scope = record.get("scope") or ""
    if not scope.startswith(prefix):
        raise MalformedPage(f"page scope {scope!r} does not start with {prefix!r}")
    return scope[len(prefix):]


def _ok(record: dict) -> bool:
    """True when the page has a body to read (a 2xx answer or a saved file)."""
    status = record.get("status")
    if status is not None and not (200 <= int(status) < 300):
        return False            # 304 Not Modified, errors: archived, no rows
    return record.get("body") is not None


# ---- feeds --------------------------------------------------------------------------------

@dataclass
class ParsedFeed:
    parsed: Any = None
    entries: list = field(default_factory=list)
    error: str | None = None     # not a feed at all: the page is quarantined, the feed failed
    bozo: str | None = None      # malformed, but what could be read is kept

    @property
    def usable(self) -> bool:
        return self.error is None


_LOOKS_HTML = re.compile(r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.I | re.S)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_ALT_FEED = re.compile(r"<link\b[^>]*>", re.I)


def _feed_link_in(html: str) -> str | None:
    for tag in _ALT_FEED.findall(html[:200_000]):
        if re.search(r"""rel\s*=\s*["']?alternate""", tag, re.I) and re.search(
                r"""type\s*=\s*["']?application/(?:rss|atom)\+xml""", tag, re.I):
            m = re.search(r"""href\s*=\s*["']([^"']+)""", tag, re.I)
            if m:
                return htmllib.unescape(m.group(1))
    return None


def parse_feed(text: str | None, headers: dict | None, base_url: str | None) -> ParsedFeed:
    """Parse a feed body with feedparser, from the bytes it was received as."""
    import feedparser  # heavy; loaded by the pages that need it

    headers = dict(headers or {})
    text = text or ""
    ctype = headers.get("content-type")
    enc = body_encoding(text[:512].encode("ascii", "ignore"), ctype)
    data = text.encode(enc, errors="replace")
    resp_headers = {"content-type": ctype or "application/xml"}
    if base_url:
        resp_headers["content-location"] = headers.get(FINAL_URL) or base_url
    d = feedparser.parse(io.BytesIO(data), response_headers=resp_headers)
    out = ParsedFeed(d, list(d.entries))
    bozo = None
    if d.get("bozo"):
        exc = d.get("bozo_exception")
        bozo = f"{type(exc).__name__}: {exc}" if exc is not None else "bozo"
    if not d.get("version") and not out.entries:
        if _LOOKS_HTML.match(text) or "html" in (ctype or "").lower():
            m = _HTML_TITLE.search(text)
            title = _clean(htmllib.unescape(m.group(1))) if m else None
            msg = "not a feed: the URL returned an HTML page"
            if title:
                msg += f" titled {title[:80]!r}"
            alt = _feed_link_in(text)
            if alt:
                msg += f"; the page names its feed: {alt}"
            out.error = msg
        elif not text.strip():
            out.error = "not a feed: empty body"
        else:
            out.error = "not a feed: no RSS or Atom document could be read" + (
                f" ({bozo})" if bozo else "")
        return out
    out.bozo = bozo
    return out


def _entry_link(e) -> str | None:
    for key in ("feedburner_origlink", "link"):
        v = e.get(key)
        if v:
            return str(v).strip()
    for link in e.get("links") or []:
        if link.get("href") and link.get("rel", "alternate") == "alternate":
            return str(link["href"]).strip()
    guid = e.get("id")
    if guid and re.match(r"^https?://", str(guid)) and e.get("guidislink", True):
        return str(guid).strip()
    return None


def _entry_date(e) -> tuple[datetime | None, str | None]:
    if e.get("published"):
        return parse_date(e.get("published"), e.get("published_parsed"))
    if e.get("updated"):
        dt, note = parse_date(e.get("updated"), e.get("updated_parsed"))
        return dt, _note(UPDATED_ONLY, note)
    return None, FEED_NO_DATE


def _authors(e, feed: dict | None = None) -> list[str] | None:
    """The entry's authors; an Atom entry without any inherits the feed's (RFC 4287 4.2.1)."""
    people = e.get("authors") or []
    if not people and not e.get("author") and feed:
        people = feed.get("authors") or []
    names = [_clean(a.get("name")) for a in people if isinstance(a, dict)]
    names = [n for n in names if n]
    if not names and e.get("author"):
        names = [_clean(e.get("author"))]
    seen: list[str] = []
    for n in names:
        if n and n not in seen:
            seen.append(n)
    return seen or None


def _feed_rows(record: dict, rows: Rows) -> None:
    params = record.get("params") or {}
    feed_name = params.get("feed") or _scope_name(record, "feed:")
    feed_url = record.get("endpoint")
    pf = parse_feed(record.get("body"), record.get("headers"), feed_url)
    if pf.error:
        raise MalformedPage(pf.error)
    at, page_id = record["fetched_at"], _page_id(record)
    feed_meta = pf.parsed.get("feed") or {}
    feed_lang = feed_meta.get("language")
    inherit = feed_meta if str(pf.parsed.get("version") or "").startswith("atom") else None
    rows.items = len(pf.entries)
    for i, e in enumerate(pf.entries, 1):
        link = _entry_link(e)
        title = _clean(html_to_text(e.get("title")))
        if not link:
            rows.skipped.append(f"entry {i} ({title or 'untitled'!r}): no link")
            continue
        try:
            url = canonical_url(link)
        except BadURL as exc:
            rows.skipped.append(f"entry {i}: {exc}")
            continue
        published, note = _entry_date(e)
        summary = html_to_text(e.get("summary"))
        content = [c.get("value") for c in e.get("content") or [] if c.get("value")]
        text = html_to_text(content[0]) if content else None
        lang = ((e.get("title_detail") or {}).get("language") or e.get("language")
                or feed_lang)
        # the publication: the item's own source element (an aggregator's), never the feed
        outlet, outlet_url = entry_source(e)
        rows.add("articles", {
            "url": url, "domain": domain_of(url), "outlet": outlet,
            "outlet_domain": registrable_domain(outlet_url or url), "title": title,
            "summary": summary, "text": text if text and text != summary else None,
            "authors": _j(_authors(e, inherit)), "language": language_code(lang),
            "source_country": None,
            "published_at": iso(published) if published else None,
            "first_seen_at": at, "last_seen_at": at})
        rows.add("article_sources", {
            "url": url, "source_kind": "feed", "source_name": feed_name, "detail": feed_url,
            "source_url": link, "title": title,
            "published_at": iso(published) if published else None, "gdelt_seen_at": None,
            "date_note": note, "first_seen_at": at, "last_seen_at": at, "page_id": page_id})
    if pf.bozo:
        rows.skipped.append(f"whatever the malformed feed hid (bozo: {pf.bozo}); "
                            f"{len(pf.entries)} entries read")


# ---- GDELT --------------------------------------------------------------------------------

def gdelt_json(text: str | None, headers: dict | None) -> dict:
    """A GDELT DOC answer as JSON, or MalformedPage quoting GDELT's error text.

    GDELT reports a bad query with status 200 and a short text/html message instead of JSON.
    Its JSON may hold raw control characters inside strings, which ``strict=False`` accepts.
    """
    text = text or ""
    stripped = text.strip()
    if not stripped:
        return {}          # GDELT answers an empty body when nothing matches
    if not stripped.startswith("{"):
        raise MalformedPage(f"GDELT answered with an error instead of JSON: "
                            f"{_clean(_TAG.sub(' ', stripped))[:300]!r}")
    try:
        data = loads(stripped, strict=False)
    except ValueError as exc:
        raise MalformedPage(f"GDELT answer is not valid JSON ({len(text)} bytes): {exc}") from None
    if not isinstance(data, dict):
        raise MalformedPage(f"GDELT answer is a JSON {type(data).__name__}, expected an object")
    return data


def gdelt_time(value: Any) -> datetime | None:
    """GDELT's ``20221011T143000Z`` (or ``20221011143000``) as UTC."""
    if not isinstance(value, str):
        return None
    digits = re.sub(r"[^0-9]", "", value)
    if len(digits) < 8:
        return None
    digits = (digits + "000000")[:14]
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _gdelt_rows(record: dict, rows: Rows) -> None:
    name = _scope_name(record, "gdelt:")
    params = record.get("params") or {}
    data = gdelt_json(record.get("body"), record.get("headers"))
    arts = data.get("articles") or []
    if not isinstance(arts, list):
        raise MalformedPage("GDELT 'articles' is not a list")
    at, page_id = record["fetched_at"], _page_id(record)
    rows.items = len(arts)
    for i, a in enumerate(arts, 1):
        if not isinstance(a, dict) or not a.get("url"):
            rows.skipped.append(f"article {i}: no url")
            continue
        try:
            url = canonical_url(a["url"])
        except BadURL as exc:
            rows.skipped.append(f"article {i}: {exc}")
            continue
        seen = gdelt_time(a.get("seendate"))
        title = _clean(htmllib.unescape(str(a["title"]))) if a.get("title") else None
        rows.add("articles", {
            "url": url, "domain": domain_of(url), "outlet": None,
            "outlet_domain": registrable_domain(url), "title": title,
            "summary": None, "text": None, "authors": None,
            "language": language_code(a.get("language")),
            "source_country": _clean(a.get("sourcecountry")),
            "published_at": None, "first_seen_at": at, "last_seen_at": at})
        rows.add("article_sources", {
            "url": url, "source_kind": "gdelt", "source_name": name,
            "detail": params.get("query"), "source_url": a["url"], "title": title,
            "published_at": None, "gdelt_seen_at": iso(seen) if seen else None,
            "date_note": GDELT_NOTE, "first_seen_at": at, "last_seen_at": at,
            "page_id": page_id})


def _count(value: Any) -> int | None:
    """A GDELT count as a BIGINT, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        n = int(value)
    except (ValueError, OverflowError):
        return None
    return n if -2 ** 63 <= n < 2 ** 63 else None


def gdelt_count(text: str | None, headers: dict | None) -> int:
    """How many articles a GDELT artlist answer holds (MalformedPage for an error body)."""
    arts = gdelt_json(text, headers).get("articles") or []
    return len(arts) if isinstance(arts, list) else 0


def _volume_rows(record: dict, rows: Rows) -> None:
    name = _scope_name(record, "gdelt_volume:")
    params = record.get("params") or {}
    data = gdelt_json(record.get("body"), record.get("headers"))
    details = data.get("query_details")
    resolution = str((details if isinstance(details, dict) else {}).get("date_resolution")
                     or "unknown")
    at, page_id = record["fetched_at"], _page_id(record)
    timeline = data.get("timeline") or []
    if not isinstance(timeline, list):
        raise MalformedPage("GDELT 'timeline' is not a list")
    for series in timeline[:1]:            # timelinevolraw has one series, "Article Count"
        points = series.get("data") if isinstance(series, dict) else None
        for i, point in enumerate(points if isinstance(points, list) else [], 1):
            bucket = gdelt_time(point.get("date")) if isinstance(point, dict) else None
            if bucket is None:
                rows.skipped.append(f"timeline point {i}: no readable date")
                continue
            rows.items += 1
            rows.add("gdelt_volume", {
                "query_name": name, "resolution": resolution, "bucket": iso(bucket),
                "query": params.get("query"), "articles": _count(point.get("value")),
                "all_articles": _count(point.get("norm")), "fetched_at": at,
                "page_id": page_id})


# ---- pages --------------------------------------------------------------------------------

@dataclass
class PageInfo:
    url: str
    source_url: str
    domain: str
    outlet: str | None
    title: str | None
    summary: str | None
    text: str | None
    authors: list[str] | None
    language: str | None
    published_at: datetime | None
    date_note: str | None


# Where a page states its publication time, most specific first. Only markup counts: a date in
# the text or the URL is a guess (and htmldate, trafilatura's date finder, prefers the URL's day
# over a meta tag's exact time, so the tracker reads these itself).
DATE_META = ("article:published_time", "og:article:published_time", "og:published_time",
             "datepublished", "publishdate", "publish-date", "publish_date", "pubdate",
             "parsely-pub-date", "sailthru.date", "dc.date.issued", "dcterms.issued",
             "dc.date", "dcterms.date", "dcterms.created", "date", "citation_publication_date",
             "article.published", "cxenseparse:recs:publishtime")


def _jsonld_dates(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("datePublished"), str):
            out.append(node["datePublished"])
        for v in node.values():
            if isinstance(v, (dict, list)):
                out.extend(_jsonld_dates(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_jsonld_dates(v))
    return out


def page_date(html: str) -> tuple[datetime | None, str | None, str | None]:
    """(UTC time, note, where) of the page's own publication-date markup, or Nones."""
    import lxml.html  # heavy; loaded by the pages that need it

    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return None, None, None
    metas: dict[str, str] = {}
    for m in tree.iter("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or "").strip().lower()
        if key and m.get("content") and key not in metas:
            metas[key] = m.get("content").strip()
    candidates: list[tuple[str, str]] = [(f"meta {k}", metas[k]) for k in DATE_META if k in metas]
    for script in tree.iter("script"):
        if (script.get("type") or "").lower() == "application/ld+json" and script.text:
            try:
                data = loads(script.text, strict=False)
            except ValueError:
                continue
            candidates += [("JSON-LD datePublished", d) for d in _jsonld_dates(data)]
    for t in tree.iter("time"):
        if t.get("datetime") and (t.get("pubdate") is not None
                                  or (t.get("itemprop") or "").lower() == "datepublished"):
            candidates.append(("<time pubdate>", t.get("datetime")))
    for where, raw in candidates:
        dt, note = parse_date(raw)
        if dt is None:
            continue
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
            note = "the page gives a day without a time; read as 00:00 UTC"
        return dt, note, where
    return None, None, None


_HTML_LANG = re.compile(r"<html\b[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*)", re.I)


def extract_page(html: str, *, given_url: str | None, fetched_url: str | None) -> PageInfo:
    """Title, date, authors and main text of one article page, with trafilatura.

    The date comes only from the page's markup (meta tags, JSON-LD, <time pubdate>), never
    guessed from the text or the URL; a page without one says so.
    """
    import trafilatura  # heavy (seconds); loaded by the pages that need it

    if not html or not html.strip():
        raise MalformedPage("empty page")
    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False)
    meta = (doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)) if doc else {}
    source_url = given_url or meta.get("url") or fetched_url
    if not source_url:
        raise MalformedPage("no URL for this page: it has no <link rel=canonical> or og:url "
                            "(pass --url)")
    try:
        url = canonical_url(source_url)
    except BadURL as exc:
        raise MalformedPage(f"page URL: {exc}") from None
    published, note, _where = page_date(html)
    if published is None:
        note = PAGE_NO_DATE
    authors = [a.strip() for a in re.split(r";", meta.get("author") or "") if a.strip()]
    lang = meta.get("language")
    if not lang:
        m = _HTML_LANG.search(html[:5000])
        lang = m.group(1) if m else None
    text = meta.get("text")
    return PageInfo(url=url, source_url=source_url, domain=domain_of(url),
                    outlet=_clean(meta.get("sitename")), title=_clean(meta.get("title")),
                    summary=_clean(meta.get("description")), text=text.strip() if text else None,
                    authors=authors or None, language=language_code(lang), published_at=published,
                    date_note=note)


def _page_rows(record: dict, rows: Rows) -> None:
    params = record.get("params") or {}
    headers = record.get("headers") or {}
    endpoint = record.get("endpoint") or ""
    from_file = "sha256" in params
    fetched_url = None if from_file else (headers.get(FINAL_URL) or endpoint)
    info = extract_page(record.get("body") or "", given_url=params.get("url"),
                        fetched_url=fetched_url)
    at, page_id = record["fetched_at"], _page_id(record)
    published = iso(info.published_at) if info.published_at else None
    rows.items = 1
    rows.add("articles", {
        "url": info.url, "domain": info.domain, "outlet": info.outlet,
        "outlet_domain": registrable_domain(info.url), "title": info.title,
        "summary": info.summary, "text": info.text, "authors": _j(info.authors),
        "language": info.language, "source_country": None, "published_at": published,
        "first_seen_at": at, "last_seen_at": at})
    rows.add("article_sources", {
        "url": info.url, "source_kind": "manual", "source_name": "file" if from_file else "url",
        "detail": params.get("path") if from_file else endpoint, "source_url": info.source_url,
        "title": info.title, "published_at": published, "gdelt_seen_at": None,
        "date_note": info.date_note, "first_seen_at": at, "last_seen_at": at,
        "page_id": page_id})


# ---- entry point --------------------------------------------------------------------------

_BY_PURPOSE = {"feed": _feed_rows, "gdelt_artlist": _gdelt_rows,
               "gdelt_volume": _volume_rows, "page": _page_rows}


def normalize(record: dict) -> Rows:
    """Turn one archived press page into rows. Raises MalformedPage for an unreadable page.

    304 Not Modified, error answers and connection failures give no rows (they stay in raw and
    raw_pages). Entries that cannot be used are listed in ``Rows.skipped``; the rest is kept.
    """
    rows = Rows()
    if not _ok(record):
        return rows
    if not record.get("fetched_at"):
        raise MalformedPage("page has no fetched_at")
    purpose = record.get("purpose")
    fn = _BY_PURPOSE.get(purpose)
    if fn is None:
        raise MalformedPage(f"unknown press page purpose {purpose!r}")
    fn(record, rows)
    return rows

"""Which publication an article belongs to: its outlet (pure; no I/O, no network).

Rules, first that applies (docs/press.md, "Outlets"):
1. the feed item's own source element (RSS ``<source url=…>Name</source>``, Atom ``<source>``
   with its ``<title>``): the publication an aggregator took the item from;
2. the page's site name (``og:site_name`` and the like, as trafilatura reads them), when the
   page itself was fetched;
3. otherwise no name: views show the registrable domain.

``outlet_domain`` is the registrable domain (public-suffix aware) of the source element's URL
when an item names one, else of the article's URL: ``www.bbc.co.uk`` and ``bbc.co.uk`` are one
domain; ``feeds.bbci.co.uk`` is another, which ``press.outlets`` can merge into the same
outlet. The public suffix list is the snapshot bundled with the ``tld`` package (already
trafilatura's dependency through courlan): it reads its own file and never fetches a newer list
unless ``tld.update_tld_names()`` is called, which the tracker never does.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit


def registrable_domain(url_or_host: str | None) -> str | None:
    """``https://feeds.bbci.co.uk/x`` → ``bbci.co.uk``; an IP address or a host under no public
    suffix (``localhost``) is kept as the host (without ``www.``), with its port if any."""
    from tld import get_fld  # reads the bundled public suffix list once

    text = (url_or_host or "").strip()
    if not text:
        return None
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    fld = None if is_ip else get_fld(host, fix_protocol=True, fail_silently=True)
    if fld:
        return fld
    try:
        port = parts.port
    except ValueError:
        port = None
    host = host[4:] if host.startswith("www.") else host
    return f"{host}:{port}" if port and port not in (80, 443) else host


def _clean(value) -> str | None:
    if value is None:
        return None
    text = re.sub(r"\s+", " ", str(value)).strip()
    return text or None


def entry_source(entry) -> tuple[str | None, str | None]:
    """(name, url) of a feedparser entry's own source element, or (None, None).

    feedparser gives RSS ``<source url>`` as ``{"title", "href"}`` and Atom ``<source>`` as
    ``{"title", "links", "id", …}``.
    """
    src = entry.get("source") if hasattr(entry, "get") else None
    if not src:
        return None, None
    name = _clean(src.get("title"))
    url = src.get("href") or src.get("link")
    if not url:
        for link in src.get("links") or []:
            if link.get("href") and link.get("rel", "alternate") in ("alternate", "self"):
                url = link["href"]
                break
    url = _clean(url)
    if url and not re.match(r"^https?://", url, re.I):
        url = None
    return name, url


def outlet_keys(outlets) -> list[tuple[str, str, str]]:
    """press.outlets as press_outlets rows: (key_kind, key, display name); the display name
    is a key of itself, so an item naming the publication that way joins it."""
    out: dict[tuple[str, str], str] = {}
    for o in outlets:
        out[("name", o.name.lower())] = o.name
        for alias in o.aliases:
            out[("name", alias.lower())] = o.name
        for domain in o.domains:
            out[("domain", domain)] = o.name
    return [(kind, key, name) for (kind, key), name in sorted(out.items())]


def sync_outlets(con, outlets) -> int:
    """Replace press_outlets with press.outlets of the configuration (in one transaction, like
    the stories' actors: config.yaml is the source of truth). Returns the rows written."""
    from tracker.store.tx import rollback

    rows = outlet_keys(outlets)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM press_outlets")
        if rows:
            con.executemany("INSERT INTO press_outlets VALUES (?, ?, ?)", rows)
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    return len(rows)

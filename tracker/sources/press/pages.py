"""Single articles: a URL fetched once, or a saved HTML file read offline.

The page goes into the raw archive verbatim (a saved file: its text, with its path and sha256 in
``params``); trafilatura extracts title, date, authors and main text in the normalizer.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tracker.core.errors import MalformedPage, SourceError
from tracker.store.raw import RawWriter
from tracker.sources.press.http import FINAL_URL, PressFetcher, decode
from tracker.sources.press.normalize import PageInfo, extract_page

ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


class PageError(SourceError):
    """A page could not be read or has nothing usable."""


def is_url(target: str) -> bool:
    return bool(re.match(r"^https?://", target.strip(), re.I))


def add_page(f: PressFetcher, raw: RawWriter, target: str, *, url: str | None,
             clock) -> PageInfo:
    """Archive one page (URL or saved file), then extract it for the report."""
    if is_url(target):
        archive = {"url": url} if url else None
        try:
            got = f.get(target.strip(), purpose="page", headers={"Accept": ACCEPT},
                        archive_params=archive)
        except SourceError as exc:
            raise PageError(str(exc)) from None
        if got.status != 200:
            raise PageError(f"{target}: HTTP {got.status}: no page to read")
        html, fetched_url = got.text, got.headers.get(FINAL_URL) or target.strip()
    else:
        path = Path(target).expanduser()
        if not path.is_file():
            raise PageError(f"{target}: no such file (give a saved .html file or an http(s) URL)")
        data = path.read_bytes()
        html = decode(data, None)
        params = {"path": str(path.resolve()), "sha256": hashlib.sha256(data).hexdigest()}
        if url:
            params["url"] = url
        f.stats.pages += 1
        at = clock()
        raw.page(purpose="page", endpoint=path.resolve().as_uri(), params=params, scope=None,
                 fetched_at=at, status=None, headers={}, body=html)
        fetched_url = None
    try:
        return extract_page(html, given_url=url, fetched_url=fetched_url)
    except MalformedPage as exc:
        raise PageError(f"{target}: {exc}") from None

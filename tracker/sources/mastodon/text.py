"""A status's HTML ``content`` as the plain text people read (what stories match on).

Paragraphs become blank lines, ``<br>`` a line break, entities are decoded, and links keep
their full text (Mastodon hides ``https://`` and a long URL's tail in ``invisible`` spans: the
text keeps them, so a URL reads whole). Pure: the standard library's HTML parser, no I/O.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = {"p", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag, attrs) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data) -> None:
        self.parts.append(data)


def html_text(content: str | None) -> str | None:
    """Plain text of a status's HTML content; None stays None."""
    if content is None:
        return None
    if "<" not in content and "&" not in content:
        return content.strip()
    parser = _Text()
    parser.feed(content)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()

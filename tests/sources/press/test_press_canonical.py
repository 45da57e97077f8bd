"""Canonical article URLs: one spelling per article, whatever the source gave."""

from __future__ import annotations

import pytest

from tracker.sources.press.canonical import BadURL, canonical_url, domain_of

BI = "https://www.businessinsider.com/elon-musk-putin-2022-10"


@pytest.mark.parametrize("given,expected", [
    (BI, BI),
    ("HTTP://WWW.BusinessInsider.com/elon-musk-putin-2022-10/", BI),
    (BI + "?utm_source=twitter&utm_medium=social&utm_campaign=x#comments", BI),
    (BI + "?fbclid=IwAR0abc&gclid=x&mc_cid=1&mc_eid=2&ref=homepage", BI),
    (BI + "/amp", BI),
    (BI + "/amp/", BI),
    (BI + "?amp", BI),
    (BI + "?amp=1", BI),
    (BI + "?outputType=amp", BI),
    ("https://www-businessinsider-com.cdn.ampproject.org/c/s/www.businessinsider.com/"
     "elon-musk-putin-2022-10?amp", BI),
    ("https://www.google.com/amp/s/www.businessinsider.com/elon-musk-putin-2022-10/amp", BI),
    ("https://www.businessinsider.com:443/elon-musk-putin-2022-10", BI),
    ("http://www.businessinsider.com:80/elon-musk-putin-2022-10", BI),
    ("https://www.vice.com/amp/en/article/abc/title", "https://www.vice.com/en/article/abc/title"),
    ("https://www.example.com/news/story.amp.html", "https://www.example.com/news/story.html"),
    ("https://example.com/a?b=2&a=1&utm_term=z", "https://example.com/a?a=1&b=2"),
    ("https://example.com/search?q=", "https://example.com/search?q="),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/", "https://example.com/"),
    ("https://example.com./a", "https://example.com/a"),
    ("http://127.0.0.1:8080/page/", "http://127.0.0.1:8080/page"),
])
def test_canonical_url(given, expected):
    assert canonical_url(given) == expected


def test_canonical_url_is_idempotent():
    for u in (BI + "/amp/?utm_source=x", "https://example.com/a?b=2&a=1"):
        assert canonical_url(canonical_url(u)) == canonical_url(u)


@pytest.mark.parametrize("bad", ["", "not a url", "ftp://example.com/a", "/relative/path",
                                 "mailto:a@example.com", "https://"])
def test_not_an_article_url(bad):
    with pytest.raises(BadURL):
        canonical_url(bad)


def test_domain_of():
    assert domain_of(BI) == "businessinsider.com"
    assert domain_of("https://kyivindependent.com/x") == "kyivindependent.com"
    assert domain_of("https://edition.cnn.com/x") == "edition.cnn.com"

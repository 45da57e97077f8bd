"""Canonical article URLs: one spelling per article, whichever source gave it.

Rules, in order (docs/press.md, "Canonical URLs"):
1. AMP cache addresses are unwrapped (``*.cdn.ampproject.org/c/s/HOST/PATH``,
   ``www.google.com/amp/s/HOST/PATH``).
2. The scheme becomes ``https`` (news sites serve the same article on both), except on a
   non-default port.
3. The host is lower-cased, without a trailing dot, user info or default port.
4. AMP variants point at the article: a trailing ``/amp`` segment, a leading ``/amp/`` segment,
   ``.amp.html`` / ``.amp`` and the ``amp``, ``amp=1``, ``outputType=amp`` parameters are dropped.
5. Tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``mc_cid``, … see ``TRACKING``) are
   dropped, the others are kept, sorted.
6. The fragment is dropped; trailing slashes are dropped (the root stays ``/``).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "igshid", "mc_cid",
    "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ocid", "cmpid", "icid", "ito",
    "ncid", "sr_share", "smid", "smtyp", "s_cid", "xtor", "ref", "ref_src", "ref_url",
    "referrer", "soc_src", "soc_trk", "guccounter", "guce_referrer", "guce_referrer_sig",
    "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4",
    "ns_campaign", "ns_mchannel", "ns_source", "ns_linkname", "ns_fee", "rss", "feed",
    "cmp", "CMP", "src", "spm", "share", "trk", "trkcampaign", "__twitter_impression",
    "vero_id", "wt_mc", "wt.mc_id", "oly_enc_id", "oly_anon_id", "rb_clickid", "s_kwcid",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_", "ga_")
AMP_PARAMS = {"amp", "outputtype", "amp_js_v", "amp_gsa", "usqp"}

_AMP_CACHE = re.compile(r"^/[cvi]/(?:s/)?(.+)$")
_GOOGLE_AMP = re.compile(r"^/amp/(?:s/)?(.+)$")


class BadURL(ValueError):
    """Not an absolute http(s) URL."""


def _unwrap_amp_cache(host: str, path: str, query: str) -> str | None:
    if host.endswith(".cdn.ampproject.org"):
        m = _AMP_CACHE.match(path)
    elif re.fullmatch(r"(www\.)?google\.[a-z.]+", host):
        m = _GOOGLE_AMP.match(path)
    else:
        return None
    if not m:
        return None
    inner = "https://" + m.group(1)
    return inner + ("?" + query if query else "")


def _tracking(name: str) -> bool:
    low = name.lower()
    return (name in TRACKING or low in TRACKING or low.startswith(TRACKING_PREFIXES)
            or low in AMP_PARAMS)


def _amp_path(path: str) -> str:
    path = re.sub(r"\.amp\.html?$", ".html", path, flags=re.I)
    path = re.sub(r"\.amp$", "", path, flags=re.I)
    path = re.sub(r"/amp/?$", "/", path, flags=re.I)
    if re.match(r"^/amp/.+", path, flags=re.I):
        path = path[4:]
    return path


def canonical_url(url: str) -> str:
    """The canonical form of an article URL. Raises BadURL for anything but absolute http(s)."""
    if url is not None and not isinstance(url, str):
        raise BadURL(f"not a URL: a JSON {type(url).__name__}")
    raw = (url or "").strip()
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadURL(f"not an absolute http(s) URL: {raw[:200]!r}")
    host = parts.hostname.lower().rstrip(".")
    unwrapped = _unwrap_amp_cache(host, parts.path, parts.query)
    if unwrapped and unwrapped != raw:
        return canonical_url(unwrapped)
    try:
        port = parts.port
    except ValueError:
        raise BadURL(f"bad port in {raw[:200]!r}") from None
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = _amp_path(parts.path)
    path = re.sub(r"/+$", "", path) or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _tracking(k)]
    query.sort()
    # https for both schemes, except on a non-default port (a specific server, kept as given)
    scheme = "https" if port in (None, 80, 443) else parts.scheme.lower()
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def domain_of(url: str) -> str:
    """The host without a leading ``www.`` (``businessinsider.com``)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host

"""Pure conversion of v1.1 tweet objects (API v1.1, research datasets, account archives) into
the shape of an API v2 page, so the one X normalizer makes the rows: the same tweet gives the same
row whichever format it came in. No I/O, no clock.

What v1.1 has and v2 calls otherwise: ``id_str`` → ``id``; ``full_text``/``extended_tweet``/
``text`` → ``text``; ``user`` → ``author_id`` + a user in ``includes.users``;
``in_reply_to_status_id_str`` / ``quoted_status(_id_str)`` / ``retweeted_status`` →
``referenced_tweets`` (the embedded tweets go to ``includes.tweets``); ``created_at``
``Wed Oct 10 20:19:24 +0000 2018`` → ``2018-10-10T20:19:24.000Z``; ``favorite_count`` →
``like_count``; entities (hashtags, user_mentions, urls, symbols, media) → v2 entities
(hashtags, mentions, urls, cashtags); ``withheld_in_countries``/``withheld_scope`` →
``withheld``; ``edit_history``/archive ``edit_info`` → ``edit_history_tweet_ids``; a poll card →
``attachments.poll_ids`` + ``includes.polls``.

v1.1 has no conversation id: a tweet that replies to nothing is its own conversation (as in v2);
a reply gets its conversation's root when the caller knows it (a thread), otherwise none.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_V1_TIME = re.compile(r"^[A-Z][a-z]{2} ([A-Z][a-z]{2}) (\d{1,2}) (\d{2}):(\d{2}):(\d{2}) "
                      r"([+-])(\d{2})(\d{2}) (\d{4})$")
_ISO_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6})\d*)?"
                       r"(Z|[+-]\d{2}:?\d{2})?$")
# media types -> the prefix of a v2 media_key
MEDIA_KEY_PREFIX = {"photo": "3", "video": "7", "animated_gif": "16"}


def v1_time(value: Any) -> str | None:
    """'Wed Oct 10 20:19:24 +0000 2018' (or an ISO time) → '2018-10-10T20:19:24.000Z' (UTC)."""
    if not isinstance(value, str):
        return None
    m = _V1_TIME.match(value.strip())
    if m:
        mon, day, hh, mm, ss, sign, oh, om, year = m.groups()
        if mon not in MONTHS:
            return None
        try:
            dt = datetime(int(year), MONTHS[mon], int(day), int(hh), int(mm), int(ss),
                          tzinfo=timezone.utc)
        except ValueError:
            return None
        offset = timedelta(hours=int(oh), minutes=int(om))
        dt = dt - offset if sign == "+" else dt + offset
        return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    m = _ISO_TIME.match(value.strip())
    if m:
        y, mo, d, hh, mm, ss, frac, tz = m.groups()
        try:
            dt = datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss),
                          int((frac or "0").ljust(6, "0")), tzinfo=timezone.utc)
        except ValueError:
            return None
        if tz and tz != "Z":
            sign = 1 if tz[0] == "+" else -1
            digits = tz[1:].replace(":", "")
            dt -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return None


def _id(obj: dict, key: str = "id") -> str | None:
    """``<key>_str`` if present, else ``<key>`` as a string (archives quote every number)."""
    v = obj.get(f"{key}_str")
    if v is None:
        v = obj.get(key)
    if v is None or isinstance(v, (dict, list, bool)):
        return None
    return str(v)


def _count(value: Any) -> int | None:
    """A count: int, or a numeric string (archives)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _pair(indices: Any) -> tuple[int, int] | None:
    if isinstance(indices, (list, tuple)) and len(indices) >= 2:
        a, b = _count(indices[0]), _count(indices[1])
        if a is not None and b is not None:
            return a, b
    return None


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def v1_user(u: dict) -> dict | None:
    """A v1.1 user object (or an archive's account) as a v2 user."""
    if not isinstance(u, dict):
        return None
    uid = _id(u)
    if uid is None:
        return None
    metrics = _drop_none({
        "followers_count": _count(u.get("followers_count")),
        "following_count": _count(u.get("friends_count")),
        "tweet_count": _count(u.get("statuses_count")),
        "listed_count": _count(u.get("listed_count")),
    })
    withheld = u.get("withheld_in_countries")
    return _drop_none({
        "id": uid, "username": u.get("screen_name"), "name": u.get("name"),
        "description": u.get("description"), "created_at": v1_time(u.get("created_at")),
        "protected": u.get("protected") if isinstance(u.get("protected"), bool) else None,
        "verified": u.get("verified") if isinstance(u.get("verified"), bool) else None,
        "location": u.get("location"), "url": u.get("url"),
        "profile_image_url": u.get("profile_image_url_https") or u.get("profile_image_url"),
        "public_metrics": metrics or None,
        "withheld": {"country_codes": withheld} if withheld else None,
    })


def v1_entities(ent: Any, extended: Any = None) -> dict | None:
    """v1.1 entities (+ extended_entities for media) → v2 entities; None when empty."""
    if not isinstance(ent, dict):
        return None
    out: dict[str, list] = {}

    def span(e: dict) -> dict | None:
        p = _pair(e.get("indices"))
        return {"start": p[0], "end": p[1]} if p else None

    for src, dst, field in (("hashtags", "hashtags", "text"), ("symbols", "cashtags", "text")):
        for e in ent.get(src) or []:
            s = span(e) if isinstance(e, dict) else None
            if s is not None and e.get(field) is not None:
                out.setdefault(dst, []).append({**s, "tag": e[field]})
    for e in ent.get("user_mentions") or []:
        s = span(e) if isinstance(e, dict) else None
        if s is not None and e.get("screen_name") is not None:
            out.setdefault("mentions", []).append(
                _drop_none({**s, "username": e["screen_name"], "id": _id(e)}))
    for e in ent.get("urls") or []:
        s = span(e) if isinstance(e, dict) else None
        if s is not None and e.get("url"):
            out.setdefault("urls", []).append(_drop_none({
                **s, "url": e["url"], "expanded_url": e.get("expanded_url"),
                "display_url": e.get("display_url")}))
    media = (extended or {}).get("media") if isinstance(extended, dict) else None
    media = media or ent.get("media") or []
    seen_urls = set()
    for e in media:
        s = span(e) if isinstance(e, dict) else None
        if s is None or not e.get("url"):
            continue
        mid = _id(e)
        key = (f"{MEDIA_KEY_PREFIX[e['type']]}_{mid}"
               if mid and e.get("type") in MEDIA_KEY_PREFIX else None)
        if (e["url"], key) in seen_urls:
            continue
        seen_urls.add((e["url"], key))
        out.setdefault("urls", []).append(_drop_none({
            **s, "url": e["url"], "expanded_url": e.get("expanded_url"),
            "display_url": e.get("display_url"), "media_key": key}))
    if "urls" in out:
        out["urls"].sort(key=lambda x: x["start"])
    return out or None


def _edit_ids(t: dict) -> list[str] | None:
    """Edit history from v1.1 (``edit_history``) or an archive (``edit_info``)."""
    eh = t.get("edit_history")
    if isinstance(eh, dict) and isinstance(eh.get("edit_tweet_ids"), list):
        return [str(i) for i in eh["edit_tweet_ids"]]
    info = t.get("edit_info")
    if isinstance(info, dict):
        initial = info.get("initial")
        if isinstance(initial, dict) and isinstance(initial.get("editTweetIds"), list):
            return [str(i) for i in initial["editTweetIds"]]
        edit = info.get("edit")
        if isinstance(edit, dict):
            ctl = edit.get("editControlInitial")
            if isinstance(ctl, dict) and isinstance(ctl.get("editTweetIds"), list):
                return [str(i) for i in ctl["editTweetIds"]]
    return None


def _poll(card: Any) -> dict | None:
    """A v1.1 poll card (``poll2choice_text_only`` …) → a v2 poll."""
    if not isinstance(card, dict) or not re.match(r"^poll\dchoice", str(card.get("name", ""))):
        return None
    url = str(card.get("url") or "")
    pid = url.rsplit("/", 1)[-1] if url.startswith("card://") else None
    values = card.get("binding_values") or {}
    if isinstance(values, list):       # some dumps keep the API's list of {key, value}
        values = {v.get("key"): v.get("value") for v in values if isinstance(v, dict)}

    def val(key: str):
        v = values.get(key)
        if not isinstance(v, dict):
            return None
        return v.get("string_value", v.get("boolean_value"))

    if not pid:
        return None
    options = []
    for i in range(1, 5):
        label = val(f"choice{i}_label")
        if label is None:
            break
        options.append(_drop_none({"position": i, "label": label,
                                   "votes": _count(val(f"choice{i}_count"))}))
    final = val("counts_are_final")
    return _drop_none({
        "id": pid, "options": options, "duration_minutes": _count(val("duration_minutes")),
        "end_datetime": v1_time(val("end_datetime_utc")),
        "voting_status": "closed" if final is True or final == "true" else "open",
    })


class _Page:
    """Accumulates a v2 page: data, and includes deduplicated by id. v1.1 embeds the author in
    every tweet, as it was when that tweet was read: the snapshot kept is the one that came
    with the newest tweet (whatever the order of the input)."""

    def __init__(self) -> None:
        self.data: list[dict] = []
        self.users: dict[str, dict] = {}
        self.user_rank: dict[str, tuple] = {}
        self.tweets: dict[str, dict] = {}
        self.polls: dict[str, dict] = {}

    def user(self, u: dict | None, rank: tuple = ()) -> None:
        if u and (u["id"] not in self.users or rank > self.user_rank[u["id"]]):
            self.users[u["id"]] = u
            self.user_rank[u["id"]] = rank

    def as_dict(self) -> dict:
        includes = {k: list(v.values()) for k, v in
                    (("users", self.users), ("tweets", self.tweets), ("polls", self.polls)) if v}
        return {"data": self.data, "includes": includes} if includes else {"data": self.data}


def _convert(t: dict, page: _Page, conversation_id: str | None, author: dict | None) -> dict:
    tid = _id(t)
    user = v1_user(t.get("user")) if isinstance(t.get("user"), dict) else author
    created = v1_time(t.get("created_at"))
    page.user(user, (created or "", len(tid or ""), tid or ""))
    out: dict[str, Any] = {"id": tid}
    ext = t.get("extended_tweet") if isinstance(t.get("extended_tweet"), dict) else {}
    out["text"] = ext.get("full_text") or t.get("full_text") or t.get("text")
    out["created_at"] = created
    if user:
        out["author_id"] = user["id"]
    if isinstance(t.get("lang"), str):
        out["lang"] = t["lang"]

    refs = []
    rt = t.get("retweeted_status")
    reply_to = _id(t, "in_reply_to_status_id")
    if isinstance(rt, dict) and _id(rt):
        refs.append({"type": "retweeted", "id": _id(rt)})
        if _id(rt) not in page.tweets:
            page.tweets[_id(rt)] = _convert(rt, page, None, None)
    else:
        quoted = t.get("quoted_status")
        qid = _id(t, "quoted_status_id") or (_id(quoted) if isinstance(quoted, dict) else None)
        if qid:
            refs.append({"type": "quoted", "id": qid})
            if isinstance(quoted, dict) and _id(quoted) and qid not in page.tweets:
                page.tweets[qid] = _convert(quoted, page, None, None)
        if reply_to:
            refs.append({"type": "replied_to", "id": reply_to})
    if refs:
        out["referenced_tweets"] = refs
    if reply_to:
        out["in_reply_to_user_id"] = _id(t, "in_reply_to_user_id")
        if conversation_id:
            out["conversation_id"] = conversation_id
    elif tid:
        out["conversation_id"] = tid

    metrics = _drop_none({
        "retweet_count": _count(t.get("retweet_count")),
        "reply_count": _count(t.get("reply_count")),
        "like_count": _count(t.get("favorite_count")),
        "quote_count": _count(t.get("quote_count")),
    })
    if metrics:
        out["public_metrics"] = metrics
    ents = v1_entities(ext.get("entities") or t.get("entities"),
                       ext.get("extended_entities") or t.get("extended_entities"))
    if ents:
        out["entities"] = ents
    countries = t.get("withheld_in_countries")
    if countries or t.get("withheld_copyright"):
        scope = t.get("withheld_scope")
        out["withheld"] = _drop_none({
            "copyright": t.get("withheld_copyright"), "country_codes": countries or [],
            "scope": {"status": "tweet"}.get(scope, scope)})
    if isinstance(t.get("possibly_sensitive"), bool):
        out["possibly_sensitive"] = t["possibly_sensitive"]
    history = _edit_ids(t)
    if history:
        out["edit_history_tweet_ids"] = history
    poll = _poll(t.get("card"))
    if poll:
        out["attachments"] = {"poll_ids": [poll["id"]]}
        page.polls.setdefault(poll["id"], poll)
    return _drop_none(out)


def is_v1_tweet(obj: Any) -> bool:
    return (isinstance(obj, dict) and _id(obj) is not None
            and any(k in obj for k in ("full_text", "text", "extended_tweet")))


def conversation_roots(tweets: Iterable[dict]) -> dict[str, str]:
    """id → the id of its conversation's root, for every tweet whose chain of replies reaches
    a tweet replying to nothing within ``tweets`` (a thread)."""
    parent = {}
    for t in tweets:
        tid = _id(t)
        if tid is not None:
            parent[tid] = _id(t, "in_reply_to_status_id")
    roots: dict[str, str] = {}
    for tid in parent:
        chain, cur = [], tid
        while cur is not None and cur not in roots and cur in parent and len(chain) <= len(parent):
            chain.append(cur)
            if parent[cur] is None:
                roots[cur] = cur
                break
            cur = parent[cur]
        root = roots.get(cur) if cur is not None else None
        for c in chain:
            if root is not None:
                roots[c] = root
    return roots


def v1_page(tweets: list[dict], *, author: dict | None = None,
            roots: dict[str, str] | None = None) -> dict:
    """v1.1 tweets → one API v2 page (``data`` in input order, ``includes`` deduplicated).

    ``author``: a v2 user for tweets without a ``user`` (account archives). ``roots``: known
    conversation roots (see conversation_roots).
    """
    page = _Page()
    page.user(author)
    roots = roots or {}
    for t in tweets:
        tid = _id(t)
        page.data.append(_convert(t, page, roots.get(tid) if tid else None, author))
    return page.as_dict()


def thread_tweets(obj: dict) -> list[dict] | None:
    """The tweets of a RumourEval-style thread line (``source`` + ``replies``), or None."""
    if isinstance(obj, dict) and isinstance(obj.get("source"), dict) and "replies" in obj:
        replies = obj.get("replies")
        if isinstance(replies, dict):
            replies = list(replies.values())
        return [obj["source"]] + [r for r in replies or [] if isinstance(r, dict)]
    return None

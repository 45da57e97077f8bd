"""Pure helpers for twarc2 files: telling an API page from a flattened tweet, and turning a
flattened tweet back into the API page it came from. No I/O, no clock.

twarc2 writes either the API's pages verbatim, one a line (``data``, ``includes``, ``meta``,
``errors``, plus ``__twarc`` = {url, version, retrieved_at}), or, after ``twarc2 flatten``, one
tweet a line with its expansions inlined: ``author``, ``in_reply_to_user``, the full objects in
``referenced_tweets``, user fields merged into ``entities.mentions``, ``attachments.media`` and
``attachments.poll``, and ``__twarc`` per tweet. ``unflatten`` undoes exactly that.
"""

from __future__ import annotations

from typing import Any

PAGE_KEYS = ("data", "includes", "errors", "meta")
MENTION_KEYS = ("start", "end", "username", "id")
INLINED_TWEET_KEYS = ("author", "in_reply_to_user", "__twarc", "matching_rules")


def is_page(obj: dict) -> bool:
    """An API page (possibly empty), as opposed to a flattened tweet (which has an ``id``)."""
    return any(obj.get(k) is not None for k in PAGE_KEYS) or obj.get("id") is None


def retrieved_at(obj: dict) -> Any:
    tw = obj.get("__twarc")
    return tw.get("retrieved_at") if isinstance(tw, dict) else None


# API v2 added `id` to entities.mentions in mid-2021 (the corpus: none in pages retrieved up
# to 2021-05-01, every one from 2021-09-22 on)
MENTION_IDS_SINCE = "2021-07-01"


def _mentions(obj: Any) -> list[dict]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "mentions" and isinstance(v, list):
                out += [m for m in v if isinstance(m, dict)]
            else:
                out += _mentions(v)
    elif isinstance(obj, list):
        for v in obj:
            out += _mentions(v)
    return out


def mentions_had_ids(tweet: dict) -> bool:
    """Did the API's mentions carry ``id`` when this tweet was collected?

    twarc builds ``{**mention, **user}``: the mention's own keys first, then the user's. A
    user's ``id`` placed after another user key proves the mention had none; an ``id`` right
    after start/end/username is either the mention's or a user whose first key is ``id``,
    and then the retrieval date decides.
    """
    for m in _mentions(tweet.get("entities")) + _mentions(tweet.get("referenced_tweets")):
        keys = [k for k in m if k not in ("start", "end", "username")]
        if "id" in keys and keys[0] != "id":
            return False
    at = retrieved_at(tweet)
    return not (isinstance(at, str) and at[:10] < MENTION_IDS_SINCE)


def _mention(m: dict, with_id: bool = True) -> tuple[dict, dict | None]:
    """A mention as the API sent it, and the user twarc merged into it (if any): the leading
    run of start/end/username(/id) keys is the original mention."""
    own = {}
    keys = MENTION_KEYS if with_id else MENTION_KEYS[:3]
    for k, v in m.items():
        if k not in keys:
            break
        own[k] = v
    merged = any(k not in MENTION_KEYS for k in m) and m.get("id") is not None
    user = {k: v for k, v in m.items() if k not in ("start", "end")} if merged else None
    return own, user


class _Includes:
    def __init__(self) -> None:
        self.users: dict[str, dict] = {}
        self.tweets: dict[str, dict] = {}
        self.polls: dict[str, dict] = {}

    def user(self, u: Any) -> None:
        if isinstance(u, dict) and u.get("id") is not None:
            self.users.setdefault(str(u["id"]), {k: v for k, v in u.items()
                                                 if k != "pinned_tweet"})


def _strip(t: dict, inc: _Includes, with_id: bool = True) -> dict:
    """A flattened tweet as the API sent it; what twarc inlined goes to ``inc``."""
    out = {}
    for k, v in t.items():
        if k in INLINED_TWEET_KEYS:
            if k in ("author", "in_reply_to_user"):
                inc.user(v)
            continue
        if k == "referenced_tweets" and isinstance(v, list):
            refs = []
            for r in v:
                if not isinstance(r, dict):
                    refs.append(r)
                    continue
                refs.append({kk: r[kk] for kk in ("type", "id") if kk in r})
                full = {kk: vv for kk, vv in r.items() if kk != "type"}
                if len(full) > 1 and full.get("id") is not None:
                    inc.tweets.setdefault(str(full["id"]), _strip(full, inc, with_id))
            out[k] = refs
        elif k == "entities" and isinstance(v, dict) and isinstance(v.get("mentions"), list):
            mentions = []
            for m in v["mentions"]:
                if isinstance(m, dict):
                    own, user = _mention(m, with_id)
                    mentions.append(own)
                    inc.user(user)
                else:
                    mentions.append(m)
            out[k] = {**v, "mentions": mentions}
        elif k == "attachments" and isinstance(v, dict):
            poll = v.get("poll")
            if isinstance(poll, dict) and poll.get("id") is not None:
                inc.polls.setdefault(str(poll["id"]), poll)
            out[k] = {kk: vv for kk, vv in v.items() if kk not in ("poll", "media")}
        else:
            out[k] = v
    return out


def unflatten(tweet: dict) -> dict:
    """One flattened tweet → the API page holding it: ``data`` = [the tweet as sent],
    ``includes`` = the users, tweets and polls twarc had inlined."""
    inc = _Includes()
    data = _strip(tweet, inc, mentions_had_ids(tweet))
    includes = {k: list(v.values()) for k, v in
                (("users", inc.users), ("tweets", inc.tweets), ("polls", inc.polls)) if v}
    page: dict = {"data": [data]}
    if includes:
        page["includes"] = includes
    return page

"""Bad input: property-based tests of every normalizer, the loader behind them, and the config.

- Every ``normalize`` (X pages, press feeds / GDELT answers / article pages, analysts' labels)
  fed malformed pages either returns rows or raises the tracker's typed ``MalformedPage``;
  nothing else escapes, and the well-formed items of a partly bad page are kept.
- The loader, fed the same pages in a raw file, loads the good items and never fails the file
  (one strange item must not hold a run's other pages back).
- ``parse_config`` fed a valid config with one part broken raises exactly one ``ConfigError``
  whose message names the broken path (or a parent of it); nothing else escapes.

Hypothesis runs derandomized (the same examples on every run, as CI needs) and keeps no example
database.
"""

from __future__ import annotations

import copy
import itertools
import json
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tracker.config import parse_config
from tracker.core.errors import ConfigError, MalformedPage
from tracker.sources.x.normalize import normalize as x_normalize

FUZZ = settings(derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
AT = "2022-10-12T12:00:00.000000Z"
_ids = itertools.count(1_000_000)

# ---- values -------------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "\x00", "a\ud800b", "\udfff", "'; DROP TABLE posts; --", "NaN",
                     "2022-10-03", "20221003", "0001-01-01T00:00:00+01:00", "9" * 40]))
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=2 ** 63),
                   st.floats(allow_nan=True, allow_infinity=True), odd_text)
junk = st.recursive(scalar, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=6), kids, max_size=3)),
    max_leaves=8)

TWEET_FIELDS = ("text", "author_id", "created_at", "lang", "conversation_id",
                "in_reply_to_user_id", "referenced_tweets", "public_metrics", "attachments",
                "edit_history_tweet_ids", "entities", "withheld", "possibly_sensitive")


def good_tweet(i: int) -> dict:
    return {"id": str(i), "text": f"good post {i}", "author_id": "7", "lang": "en",
            "created_at": "2022-10-11T13:00:00.000Z", "conversation_id": str(i),
            "edit_history_tweet_ids": [str(i)],
            "public_metrics": {"like_count": 1, "retweet_count": 2, "reply_count": 3,
                               "quote_count": 4},
            "referenced_tweets": [{"type": "quoted", "id": "5"}],
            "attachments": {"poll_ids": ["77"]}, "entities": {"hashtags": []}}


@st.composite
def mutated_tweet(draw) -> dict:
    """A tweet with a valid id whose other fields are replaced by anything JSON can hold."""
    t = good_tweet(next(_ids))
    for f in draw(st.lists(st.sampled_from(TWEET_FIELDS), max_size=5, unique=True)):
        t[f] = draw(junk)
    return t


@st.composite
def x_page(draw) -> tuple[dict, set[str]]:
    """An API page mixing good tweets, mutated tweets and junk; returns it and the good ids."""
    good = [good_tweet(next(_ids)) for _ in range(draw(st.integers(0, 3)))]
    items = good + draw(st.lists(st.one_of(mutated_tweet(), junk), max_size=4))
    items = draw(st.permutations(items))
    body: dict = {"data": items}
    if draw(st.booleans()):
        body["includes"] = draw(st.one_of(junk, st.fixed_dictionaries({
            "users": st.lists(st.one_of(junk, st.fixed_dictionaries(
                {"id": st.one_of(st.just("7"), junk), "username": junk, "name": junk,
                 "public_metrics": junk, "created_at": junk})), max_size=3),
            "tweets": st.lists(st.one_of(mutated_tweet(), junk), max_size=3),
            "polls": st.lists(st.one_of(junk, st.fixed_dictionaries(
                {"id": st.one_of(st.just("77"), junk), "options": junk,
                 "voting_status": junk, "end_datetime": junk,
                 "duration_minutes": junk})), max_size=2)})))
    if draw(st.booleans()):
        body["errors"] = draw(st.one_of(junk, st.lists(st.one_of(junk, st.fixed_dictionaries(
            {"resource_type": st.sampled_from(["tweet", "user"]), "resource_id": junk,
             "title": st.sampled_from(["Not Found Error", "Forbidden", "Authorization Error"]),
             "detail": junk})), max_size=3)))
    if draw(st.booleans()):
        body["meta"] = draw(junk)
    return body, {t["id"] for t in good}


def x_record(body: str, status: int = 200, seq: int = 1, run_id: str = "fuzz") -> dict:
    return {"type": "page", "run_id": run_id, "seq": seq, "source": "x",
            "purpose": "timeline", "endpoint": "GET /2/users/:id/tweets", "params": {},
            "scope": None, "fetched_at": AT, "status": status, "headers": {}, "body": body,
            "cursor_after": None, "error": None, "tool": "fuzz"}


# ---- X -------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=250)
@given(x_page())
def test_x_normalize_keeps_the_good_items_of_any_page(page):
    body, good = page
    rows = x_normalize(x_record(json.dumps(body)))      # a JSON object: never MalformedPage
    posts = {r["post_id"]: r for r in rows.tables.get("posts", [])}
    assert good <= set(posts)
    for i in good:
        assert posts[i]["text"] == f"good post {i}" and posts[i]["like_count"] == 1
    for table in rows.tables.values():                  # every row is storable as is
        for row in table:
            for v in row.values():
                if isinstance(v, str):
                    v.encode("utf-8")
                elif isinstance(v, int) and not isinstance(v, bool):
                    assert -2 ** 63 <= v < 2 ** 63


@settings(FUZZ, max_examples=300)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=100).map(
    lambda b: b.decode("latin-1")), x_page().map(lambda p: json.dumps(p[0])[:-7]),
    junk.map(json.dumps)), st.sampled_from([200, 200, 404, 429, 500, 503]))
@example('{"data": [{"id": "1", "te', 200)
@example("<html><body>Over capacity</body></html>", 200)
@example('{"data": [{"id": "1", "text": "\\ud800"}]}', 200)
def test_x_normalize_raises_only_its_typed_error_on_any_body(body, status):
    try:
        x_normalize(x_record(body, status))
    except MalformedPage:
        pass


# ---- the loader behind it -------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_db(tmp_path_factory):
    from tracker.store.db import open_db

    d = tmp_path_factory.mktemp("fuzzdb")
    con = open_db(d / "fuzz.duckdb")
    yield con, d
    con.close()


@settings(FUZZ, max_examples=60)
@given(st.lists(x_page(), min_size=1, max_size=3))
def test_loader_keeps_every_good_item_of_a_file_of_bad_pages(fuzz_db, pages):
    from tracker.sources.registry import REGISTRY
    from tracker.store.loader import load_pending
    from tracker.store.raw import RawWriter

    con, d = fuzz_db
    run = f"fuzz{next(_ids)}"
    raw = RawWriter(d / "raw", "x", run)
    raw.append({"type": "run_start", "job": "collect_posts", "started_at": AT})
    good: set[str] = set()
    for body, ids in pages:
        rec = x_record(json.dumps(body))
        for k in ("seq", "run_id", "source"):       # the writer numbers the pages itself
            del rec[k]
        raw.append(rec)
        good |= ids
    raw.append({"type": "run_end", "status": "ok"})
    result = load_pending(con, d / "raw", REGISTRY)
    assert [f.error for f in result.files] == [None]
    if good:
        stored = {r[0] for r in con.execute(
            "SELECT post_id FROM posts WHERE post_id IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(good)]).fetchall()}
        assert stored == good
    assert con.execute("SELECT count(*) FROM raw_pages WHERE run_id = ?", [run]
                       ).fetchone()[0] == len(pages)


# ---- analysts' labels ------------------------------------------------------------------------


@settings(FUZZ, max_examples=200)
@given(st.one_of(st.text(max_size=50), junk.map(json.dumps), st.fixed_dictionaries(
    {"story_id": junk, "item_kind": junk, "item_id": junk,
     "action": st.sampled_from(["set", "unset", "other"]), "event_type": junk,
     "note": junk, "analyst": junk}).map(json.dumps)))
def test_label_normalize_raises_only_its_typed_error(body):
    from tracker.sources.analyst.normalize import normalize

    try:
        rows = normalize({"type": "page", "run_id": "r", "seq": 1, "source": "analyst",
                          "fetched_at": AT, "status": 200, "body": body})
    except MalformedPage:
        return
    (row,) = rows.tables["analyst_labels"]
    assert all(isinstance(row[k], str) and row[k] for k in ("story_id", "item_kind", "item_id"))


# ---- press -----------------------------------------------------------------------------------

press = pytest.importorskip("tracker.sources.press.normalize",
                            reason="press coverage is not in this checkout")


def rss(items: list[tuple]) -> str:
    out = ['<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>']
    for title, link, date in items:
        out.append(f"<item><title>{title}</title><link>{link}</link>"
                   f"<pubDate>{date}</pubDate></item>")
    return "".join(out) + "</channel></rss>"


xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30).map(
    lambda s: s.replace("&", "&amp;").replace("<", "&lt;"))


@st.composite
def feed_body(draw) -> tuple[str, set[str]]:
    good = [(f"Good {i}", f"https://news.example/{next(_ids)}", "Tue, 11 Oct 2022 16:05:00 GMT")
            for i in range(draw(st.integers(0, 3)))]
    bad = draw(st.lists(st.tuples(xml_text, xml_text, xml_text), max_size=3))
    body = rss(draw(st.permutations(good + bad)))
    return body, {link for _, link, _ in good}


def press_record(purpose: str, body, scope: str) -> dict:
    return {"type": "page", "run_id": "r", "seq": 1, "source": "press", "purpose": purpose,
            "endpoint": "https://news.example/rss", "params": {"feed": "News", "query": "q"},
            "scope": scope, "fetched_at": AT, "status": 200, "headers": {}, "body": body}


@settings(FUZZ, max_examples=150)
@given(feed_body())
def test_press_feed_normalize_keeps_the_good_entries(feed):
    body, good = feed
    try:
        rows = press.normalize(press_record("feed", body, "feed:https://news.example/rss"))
    except MalformedPage:
        assert not good
        return
    urls = {r["source_url"] for r in rows.tables.get("article_sources", [])}
    assert good <= urls


@settings(FUZZ, max_examples=300)
@given(st.sampled_from(["feed", "gdelt_artlist", "gdelt_volume", "page"]),
       st.one_of(st.text(max_size=300), junk.map(json.dumps),
                 st.fixed_dictionaries({"articles": junk, "timeline": junk,
                                        "query_details": junk}).map(json.dumps),
                 st.lists(st.fixed_dictionaries({"url": st.one_of(
                     junk, st.just("https://news.example/a?utm_source=x")), "title": junk,
                                                 "seendate": junk, "language": junk,
                                                 "sourcecountry": junk}), max_size=3).map(
                     lambda a: json.dumps({"articles": a})),
                 st.lists(st.fixed_dictionaries({"data": st.lists(st.fixed_dictionaries(
                     {"date": junk, "value": junk, "norm": junk}), max_size=3)}),
                     max_size=2).map(lambda t: json.dumps({"timeline": t}))))
@example("page", "<html><head><title>x</title></head><body><p>no url</p></body></html>")
@example("gdelt_artlist", json.dumps({"articles": [{
    "url": "https://news.example/a", "title": 5, "seendate": [1], "language": {"a": 1},
    "sourcecountry": [2]}]}))
@example("gdelt_volume", json.dumps({"query_details": True, "timeline": [
    {"data": [{"date": "20221011T143000Z", "value": "many", "norm": 1e300}]}, 7]}))
def test_press_normalize_raises_only_its_typed_error(purpose, body):
    scope = {"feed": "feed:https://news.example/rss", "gdelt_artlist": "gdelt:q",
             "gdelt_volume": "gdelt_volume:q", "page": "page:https://news.example/a"}[purpose]
    try:
        rows = press.normalize(press_record(purpose, body, scope))
    except MalformedPage:
        return
    for table in rows.tables.values():
        for row in table:
            for v in row.values():
                if isinstance(v, str):
                    v.encode("utf-8")


# ---- config ----------------------------------------------------------------------------------

VALID = {
    "storage": {"database": "data/tracker.duckdb", "raw_dir": "data/raw"},
    "x": {"api_base_url": "https://api.x.com", "bearer_token_env": "X_BEARER_TOKEN",
          "max_requests_per_run": 100, "page_size": 100, "timeout_seconds": 30},
    "accounts": [{"platform": "x", "handle": "elonmusk"}, {"platform": "x", "handle": "ian"}],
    "stories": [{"id": "musk-putin-call", "title": "A call?", "query": "Putin AND Musk",
                 "window": {"start": "2022-10-01", "end": "2022-10-31"},
                 "actors": [{"platform": "x", "handle": "ian", "role": "claimant"}]}],
    "schedule": {"timezone": "UTC", "jobs": {"collect_posts": {"cron": "*/15 * * * *"}}},
}


def _leaf_paths(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaf_paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaf_paths(v, path + (i,))
    yield path


def _fmt(path) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", p):
            out += ("." if out else "") + p
        else:
            out += f"[{p!r}]"
    return out


PATHS = [p for p in _leaf_paths(VALID) if p]


@st.composite
def broken_config(draw):
    cfg = copy.deepcopy(VALID)
    path = draw(st.sampled_from(PATHS))
    parent = cfg
    for p in path[:-1]:
        parent = parent[p]
    how = draw(st.sampled_from(["replace", "unknown key", "delete"]))
    if how == "replace":
        parent[path[-1]] = draw(junk)
    elif how == "unknown key" and isinstance(parent, dict):
        key = f"zz_{draw(st.text('abc', min_size=1, max_size=4))}"
        parent[key] = draw(junk)
        return cfg, path[:-1] + (key,)
    elif isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(junk)
    return cfg, path


def test_the_valid_config_parses():
    parse_config(copy.deepcopy(VALID))


@settings(FUZZ, max_examples=400)
@given(broken_config())
@example((dict(VALID, schedule={"jobs": {"collect_posts": {"cron": "*/² * * * *"}}}),
          ("schedule", "jobs", "collect_posts", "cron")))
@example((dict(VALID, x={"page_size": float("nan")}), ("x", "page_size")))
def test_a_broken_config_gives_one_error_naming_its_path(case):
    cfg, path = case
    try:
        parse_config(cfg, source="config.yaml")
    except ConfigError as exc:
        msg = str(exc)
        assert msg.startswith("config.yaml: ") and "\n" not in msg and "Traceback" not in msg
        # the message names the broken path, one of its parents (a list item, a section) or,
        # when a whole part was replaced, what is missing in it
        broken = _fmt(path)
        ancestors = {_fmt(path[:i]) for i in range(1, len(path) + 1)}
        parts = msg[len("config.yaml: "):].split("; ")
        assert any(any(seg.startswith(a + ": ") for a in ancestors)
                   or seg.startswith(broken + ".") or seg.startswith(broken + "[")
                   for seg in parts), (msg, path)

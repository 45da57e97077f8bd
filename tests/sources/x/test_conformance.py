"""Conformance: every real recorded X API v2 page in ../shared/corpus/x-api-v2 normalizes
without loss.

The corpus (see its SOURCES.md) is read in place, never copied. Every expected number here is
computed from the raw JSON by this file, independently of tracker.sources.x.normalize; the
small literal tables pin what the corpus itself holds, so an empty or altered file cannot pass.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from tests.conftest import corpus_dir
from tracker.core.errors import MalformedPage
from tracker.store.rows import Rows
from tracker.sources.x.normalize import normalize

FETCHED_AT = "2022-10-03T18:00:00.000000Z"

# file -> (pages, items in `data` over all pages, entries in `errors` over all pages)
API_PAGE_FILES = {
    "brexit.jsonl": (1, 100, 0),
    "counts.jsonl": (1, 169, 0),
    "edited.jsonl": (1, 1, 0),
    "edited_after.jsonl": (1, 1, 0),
    "edited_before.jsonl": (1, 1, 0),
    "entities_test.jsonl": (1, 474, 11),
    "noflat.jsonl": (1, 100, 1),
    "quoted_edit.jsonl": (1, 1, 0),
    "users.jsonl": (1, 96, 8),
    "withheld.jsonl": (5, 215, 5),
}

# tweepy vcrpy cassette -> items in `data` of its one recorded response
CASSETTES = {
    "test_client_get_home_timeline.yaml": 98,
    "test_client_get_quote_tweets.yaml": 9,
    "test_client_get_recent_tweets_count.yaml": 169,
    "test_client_get_tweet.yaml": 1,
    "test_client_get_tweets.yaml": 2,
    "test_client_get_user.yaml": 1,
    "test_client_get_users.yaml": 2,
    "test_client_get_users_mentions.yaml": 10,
    "test_client_get_users_tweets.yaml": 2,
    "test_client_search_all_tweets.yaml": 10,
    "test_client_search_recent_tweets.yaml": 10,
}

# What an error about a tweet says about it (schema.py: posts.deleted_at / unavailable_reason).
TWEET_ERROR_STATUS = {"Not Found Error": "not_found", "Authorization Error": "protected",
                      "Forbidden": "suspended"}
TIMESTAMP_FIELDS = ("created_at", "first_seen_at", "last_seen_at", "captured_at", "end_at",
                    "fetched_at", "final_snapshot_at", "deleted_at", "unavailable_at")
USERS_ENDPOINT = re.compile(r"/2/users(/by(/username/[^/]+)?|/\d+)?")


# ---------------------------------------------------------------- reading the corpus

@pytest.fixture(scope="module")
def corpus() -> Path:
    return corpus_dir("x-api-v2")


@lru_cache(maxsize=None)
def lines_of(path: Path) -> tuple[str, ...]:
    """The file's non-empty lines, verbatim (a trailing newline is not a line)."""
    return tuple(line for line in path.read_text(encoding="utf-8").split("\n") if line.strip())


@lru_cache(maxsize=None)
def cassette_pages(path: Path) -> tuple[tuple[str, int, str], ...]:
    """(request uri, status, body text) of every interaction; gzip bodies are decompressed."""
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)  # !!binary -> bytes
    out = []
    for it in doc["interactions"]:
        resp = it["response"]
        headers = {k.lower(): v for k, v in resp["headers"].items()}
        body = resp["body"]["string"]
        if "gzip" in (headers.get("content-encoding") or []):
            body = gzip.decompress(body)
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        out.append((it["request"]["uri"], resp["status"]["code"], body))
    return tuple(out)


def record(body: str, seq: int = 1, status: int = 200) -> dict:
    return {"type": "page", "run_id": "r1", "seq": seq, "source": "x", "status": status,
            "fetched_at": FETCHED_AT, "body": body}


def endpoint_kind(url: str) -> str:
    """'counts', 'users' (a user lookup: `data` holds users) or 'tweets', from the request URL."""
    path = urlparse(url).path
    if "/counts/" in path:
        return "counts"
    return "users" if USERS_ENDPOINT.fullmatch(path) else "tweets"


# ---------------------------------------------------------------- independent expectations

def as_list(value) -> list:
    return [] if value is None else value if isinstance(value, list) else [value]


def ids(items) -> set[str]:
    return {str(x["id"]) for x in items}


def column(rows: Rows, table: str, key: str) -> set:
    return {r[key] for r in rows.tables.get(table, [])}


def tweets_in(page: dict, kind: str) -> list[dict]:
    """Every tweet object of a page: results (tweet endpoints) then includes.tweets."""
    data = as_list(page.get("data")) if kind == "tweets" else []
    return data + as_list(page.get("includes", {}).get("tweets"))


def expected_status(page: dict) -> set[tuple[str, str, str, str]]:
    return {("x", str(e["resource_id"]), TWEET_ERROR_STATUS[e["title"]], FETCHED_AT)
            for e in as_list(page.get("errors"))
            if e.get("resource_type") == "tweet" and e.get("title") in TWEET_ERROR_STATUS}


def assert_page_conforms(page: dict, rows: Rows, kind: str, where: str) -> None:
    """Counts in == counts out for one API page, plus field fidelity on the results."""
    data = as_list(page.get("data"))
    includes = page.get("includes", {})
    data_tweets = data if kind == "tweets" else []
    data_users = data if kind == "users" else []

    # tweets: distinct ids in data + includes.tweets == distinct posts; results stay 'data'
    assert column(rows, "posts", "post_id") == ids(tweets_in(page, kind)), where
    assert {p["post_id"] for p in rows.tables.get("posts", []) if p["seen_in"] == "data"} \
        == ids(data_tweets), where
    # users: distinct ids in data (user lookups) + includes.users == distinct accounts
    users = data_users + as_list(includes.get("users"))
    assert column(rows, "accounts", "account_id") == ids(users), where
    assert column(rows, "account_handles", "handle") == {u["username"] for u in users}, where
    # polls and one snapshot per option
    polls = as_list(includes.get("polls"))
    assert rows.count("polls") == len(polls), where
    assert column(rows, "polls", "poll_id") == ids(polls), where
    assert rows.count("poll_snapshots") == sum(len(p["options"]) for p in polls), where
    # every `errors` entry, in order; tweet errors become post status findings
    errors = as_list(page.get("errors"))
    assert rows.count("api_errors") == len(errors), where
    assert [(r["idx"], r["title"], r["resource_id"]) for r in rows.tables.get("api_errors", [])] \
        == [(i, e.get("title"), e.get("resource_id")) for i, e in enumerate(errors)], where
    assert set(rows.post_status) == expected_status(page), where
    # every tweet with an edit history has its version row, at the right place in the chain
    versions = {(v["version_post_id"], v["edit_chain_id"], v["version_index"])
                for v in rows.tables.get("post_versions", [])}
    for t in tweets_in(page, kind):
        history = t.get("edit_history_tweet_ids")
        if history:
            assert (t["id"], history[0], history.index(t["id"])) in versions, f"{where} {t['id']}"
    # result items: kept (rows.items) or reported (rows.skipped), never silently dropped
    with_id = [d for d in data if isinstance(d, dict) and d.get("id") is not None]
    assert rows.items == len(with_id), where
    assert len(rows.skipped) == len(data) - len(with_id), where
    assert_results_faithful(data_tweets, rows, where)
    assert_row_shapes(rows, where)


def assert_results_faithful(data_tweets: list[dict], rows: Rows, where: str) -> None:
    """The row of each result tweet carries the tweet's own fields."""
    posts = {p["post_id"]: p for p in rows.tables.get("posts", []) if p["seen_in"] == "data"}
    for t in data_tweets:
        p = posts[t["id"]]
        refs = {}
        for r in t.get("referenced_tweets") or []:
            refs.setdefault(r["type"], r["id"])
        got = (p["text"], p["author_id"], p["created_at"], p["conversation_id"],
               p["reply_to_post_id"], p["quoted_post_id"], p["reposted_post_id"],
               p["withheld"] and json.loads(p["withheld"]))
        want = (t["text"], t.get("author_id"), t.get("created_at"), t.get("conversation_id"),
                refs.get("replied_to"), refs.get("quoted"), refs.get("retweeted"),
                t.get("withheld"))
        assert got == want, f"{where} {t['id']}"


def assert_iso_z(value, where: str) -> None:
    assert isinstance(value, str) and value.endswith("Z"), f"{where}: {value!r}"
    assert datetime.fromisoformat(value).tzinfo is not None, f"{where}: {value!r}"


def assert_row_shapes(rows: Rows, where: str) -> None:
    for table, trows in rows.tables.items():
        for r in trows:
            for f in TIMESTAMP_FIELDS:
                if r.get(f) is not None:
                    assert_iso_z(r[f], f"{where} {table}.{f}")
    for p in rows.tables.get("posts", []):
        assert p["platform"] == "x", where
        assert p["post_id"].isascii() and p["post_id"].isdigit(), f"{where}: {p['post_id']!r}"
        assert p["url"].startswith("https://x.com/") and p["url"].endswith(p["post_id"]), where
    for a in rows.tables.get("accounts", []):
        assert a["platform"] == "x" and a["account_id"].isdigit(), where


def normalize_line(path: Path, index: int) -> tuple[dict, Rows]:
    line = lines_of(path)[index]
    return json.loads(line), normalize(record(line, seq=index + 1))


# ---------------------------------------------------------------- 1. twarc JSONL API pages

PAGES = [pytest.param(name, i, id=f"{name}:{i}")
         for name, (pages, _, _) in API_PAGE_FILES.items() for i in range(pages)]


@pytest.mark.parametrize("name,index", PAGES)
def test_page_normalizes_without_loss(corpus, name, index):
    page, rows = normalize_line(corpus / name, index)
    assert "__twarc" in page
    assert_page_conforms(page, rows, endpoint_kind(page["__twarc"]["url"]), f"{name}:{index}")


@pytest.mark.parametrize("name", API_PAGE_FILES)
def test_file_totals(corpus, name):
    """The file holds what SOURCES.md says, and every result item was kept."""
    n_pages, n_data, n_errors = API_PAGE_FILES[name]
    lines = lines_of(corpus / name)
    assert len(lines) == n_pages
    pages = [json.loads(line) for line in lines]
    assert sum(len(as_list(p.get("data"))) for p in pages) == n_data
    assert sum(len(as_list(p.get("errors"))) for p in pages) == n_errors
    results = [normalize(record(line, seq=i + 1)) for i, line in enumerate(lines)]
    kinds = {endpoint_kind(p["__twarc"]["url"]) for p in pages}
    assert sum(r.items for r in results) == (0 if kinds == {"counts"} else n_data)
    assert sum(r.count("api_errors") for r in results) == n_errors


def test_brexit_poll(corpus):
    page, rows = normalize_line(corpus / "brexit.jsonl", 0)
    (raw,) = page["includes"]["polls"]
    assert raw["id"] == "1440382209790132235"
    # The poll is attached to a retweet (in data) and to its original (in includes); a retweet
    # carries the original's attachments, so the poll belongs to the original post.
    holders = [t for t in tweets_in(page, "tweets")
               if raw["id"] in (t.get("attachments") or {}).get("poll_ids", [])]
    authored = {t["id"] for t in holders
                if not any(r["type"] == "retweeted" for r in t.get("referenced_tweets") or [])}
    assert len(holders) >= 2 and authored == {"1440382212159930371"}

    (poll,) = rows.tables["polls"]
    assert poll["poll_id"] == raw["id"]
    assert poll["post_id"] == "1440382212159930371"
    assert poll["voting_status"] == "open" and poll["final_snapshot_at"] is None
    assert poll["duration_minutes"] == 1440 and poll["end_at"] == "2021-09-22T18:27:34.000Z"
    assert json.loads(poll["options"]) == ["Yes I do", "No I don’t", "Don’t know"]
    snaps = [(s["position"], s["label"], s["votes"], s["voting_status"])
             for s in rows.tables["poll_snapshots"]]
    assert snaps == [(1, "Yes I do", 60, "open"), (2, "No I don’t", 185, "open"),
                     (3, "Don’t know", 24, "open")]
    assert snaps == [(o["position"], o["label"], o["votes"], "open") for o in raw["options"]]
    by_id = {p["post_id"]: p for p in rows.tables["posts"]}
    assert {t["id"] for t in holders} <= {i for i, p in by_id.items() if p["poll_id"] == raw["id"]}


EDIT_CHAIN = ("1576994746135764992", "1576994789110992896")


@pytest.mark.parametrize("name", ["edited.jsonl", "edited_before.jsonl", "edited_after.jsonl",
                                  "quoted_edit.jsonl"])
def test_edit_chain(corpus, name):
    _, rows = normalize_line(corpus / name, 0)
    versions = {v["version_post_id"]: (v["edit_chain_id"], v["version_index"])
                for v in rows.tables["post_versions"]}
    assert versions[EDIT_CHAIN[0]] == (EDIT_CHAIN[0], 0)
    assert versions[EDIT_CHAIN[1]] == (EDIT_CHAIN[0], 1)
    posts = {p["post_id"]: p for p in rows.tables["posts"]}
    for pid in EDIT_CHAIN:
        assert posts[pid]["edit_chain_id"] == EDIT_CHAIN[0]
        assert json.loads(posts[pid]["edit_history"]) == list(EDIT_CHAIN)
    if name == "quoted_edit.jsonl":
        q = posts["1576995594388000768"]
        assert (q["quoted_post_id"], q["reply_to_post_id"]) == EDIT_CHAIN


def test_withheld(corpus):
    path = corpus / "withheld.jsonl"
    withheld = {}
    for i in range(len(lines_of(path))):
        _, rows = normalize_line(path, i)
        withheld.update({p["post_id"]: json.loads(p["withheld"]) for p in rows.tables["posts"]
                         if p["seen_in"] == "data" and p["withheld"] is not None})
    assert len(withheld) == 13
    assert all(w.get("country_codes") for w in withheld.values())


@pytest.mark.parametrize("name", ["entities_test.jsonl", "users.jsonl"])
def test_error_entries_become_post_status(corpus, name):
    page, rows = normalize_line(corpus / name, 0)
    errors = page["errors"]

    def resource_ids(title, resource_type):
        return {e["resource_id"] for e in errors
                if e["title"] == title and e["resource_type"] == resource_type}

    status = {(pid, state) for _, pid, state, _ in rows.post_status}
    assert {p for p, s in status if s == "protected"} \
        == resource_ids("Authorization Error", "tweet") != set()
    assert {p for p, s in status if s == "not_found"} == resource_ids("Not Found Error", "tweet")
    # errors about users (suspended mentions, unknown user ids) say nothing about a post
    user_ids = {e["resource_id"] for e in errors if e["resource_type"] == "user"}
    assert user_ids and not user_ids & {p for p, _ in status}
    assert len(status) == sum(e["resource_type"] == "tweet" for e in errors)


# ---------------------------------------------------------------- 2. twarc flattened form

def test_flat_matches_noflat(corpus):
    """flat.jsonl is one tweet per line, not an API page: wrapped as a page it yields the same
    posts as the 100 results of noflat.jsonl."""
    noflat_page, noflat_rows = normalize_line(corpus / "noflat.jsonl", 0)
    noflat = {p["post_id"]: p for p in noflat_rows.tables["posts"] if p["seen_in"] == "data"}
    compared = ("author_id", "created_at", "text", "lang", "conversation_id", "reply_to_post_id",
                "quoted_post_id", "reposted_post_id", "like_count", "repost_count")
    flat_ids = []
    for i, line in enumerate(lines_of(corpus / "flat.jsonl")):
        tweet = json.loads(line)
        rows = normalize(record(json.dumps({"data": [tweet]}), seq=i + 1))
        (post,) = rows.tables["posts"]
        assert post["post_id"] == tweet["id"]
        assert_row_shapes(rows, f"flat.jsonl:{i}")
        assert {k: post[k] for k in compared} == {k: noflat[post["post_id"]][k] for k in compared}
        flat_ids.append(post["post_id"])
    assert len(flat_ids) == 100 == len(set(flat_ids))
    assert set(flat_ids) == ids(noflat_page["data"]) == set(noflat)


# ---------------------------------------------------------------- 3. filtered stream with a bad line

def test_stream_lines(corpus):
    """Each valid stream line is one result tweet; the truncated last line is reported as
    MalformedPage and does not stop the lines around it."""
    good, bad = [], []
    for i, line in enumerate(lines_of(corpus / "streaming_output_with_error.jsonl")):
        try:
            rows = normalize(record(line, seq=i + 1))
        except MalformedPage as exc:
            bad.append((i, str(exc)))
            continue
        page = json.loads(line)
        assert isinstance(page["data"], dict) and "matching_rules" in page
        assert [p["post_id"] for p in rows.tables["posts"] if p["seen_in"] == "data"] \
            == [page["data"]["id"]]
        assert_page_conforms(page, rows, "tweets", f"stream:{i}")
        good.append(i)
    assert good == [0, 1, 2, 3, 4, 5, 6]
    assert len(bad) == 1 and bad[0][0] == 7
    assert "invalid JSON" in bad[0][1]


# ---------------------------------------------------------------- 4. tweepy cassettes

@pytest.mark.parametrize("name", CASSETTES)
def test_cassette_normalizes_without_loss(corpus, name):
    pages = cassette_pages(corpus / name)
    assert pages
    for seq, (uri, status, body) in enumerate(pages, start=1):
        assert status == 200
        page = json.loads(body)
        kind = endpoint_kind(uri)
        assert len(as_list(page.get("data"))) == CASSETTES[name]
        rows = normalize(record(body, seq=seq, status=status))
        assert_page_conforms(page, rows, kind, f"{name}#{seq}")
        if kind == "counts":
            assert rows.count("posts") == 0 and rows.items == 0 and not rows.tables
        else:
            assert rows.items == CASSETTES[name]


# ---------------------------------------------------------------- odd but readable bodies

TWEET = {"id": "1500000000000000001", "text": "ok", "author_id": "12",
         "created_at": "2022-03-05T10:00:00.000Z"}


def test_list_body_is_a_malformed_page():
    """A JSON list is not an API page: it is refused with MalformedPage (quarantined by the
    loader), never a TypeError or AttributeError."""
    with pytest.raises(MalformedPage, match="list"):
        normalize(record(json.dumps([TWEET])))


def test_bad_items_are_skipped_and_the_rest_kept():
    body = {
        "data": [TWEET, "junk", 7, None, {"text": "no id"}, {"id": None, "text": "null id"}],
        "includes": {"users": [{"id": "12", "username": "alice", "name": "A"}, ["x"],
                               {"username": "no_id"}],
                     "tweets": [{"id": "1500000000000000002", "text": "ref"}, "junk"],
                     "polls": [{"options": [{"position": 1, "label": "a", "votes": 1}]}]},
        "errors": ["a bare string", {"title": "Not Found Error", "resource_type": "tweet",
                                     "resource_id": "1500000000000000003"}],
    }
    rows = normalize(record(json.dumps(body)))
    assert column(rows, "posts", "post_id") == {"1500000000000000001", "1500000000000000002"}
    assert column(rows, "accounts", "account_id") == {"12"}
    assert rows.items == 1 and rows.count("polls") == 0
    assert rows.count("api_errors") == 2
    assert rows.post_status == [("x", "1500000000000000003", "not_found", FETCHED_AT)]
    where = [s.split(":")[0] for s in rows.skipped]
    assert where == ["data"] * 5 + ["includes.users"] * 2 + ["includes.tweets"] \
        + ["includes.polls"]
    assert rows.tables["posts"][0]["url"] == f"https://x.com/alice/status/{TWEET['id']}"
    assert_row_shapes(rows, "bad items")


def test_single_result_without_id_is_skipped():
    rows = normalize(record(json.dumps({"data": {"text": "no id"}})))
    assert rows.items == 0 and not rows.tables and len(rows.skipped) == 1

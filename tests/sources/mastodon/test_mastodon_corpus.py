"""Conformance over real recorded Mastodon answers (../shared/corpus/mastodon, read in place):
every status, account, poll and edit version that comes in comes out as exactly one row; and
a recorded account-statuses pagination collected by mastodon-py through the local server."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import duckdb
import pytest
import yaml

from mastodon_helpers import api, clock, make_cfg, q, run, world  # noqa: F401
from tests.conftest import corpus_dir
from tracker.sources.mastodon.normalize import (CONTEXT, HISTORY, LOOKUP, POLL, STATUS,
                                                STATUSES, normalize)
from tracker.sources.registry import REGISTRY
from tracker.store.db import open_db
from tracker.store.loader import load_pending
from tracker.store.raw import RawWriter

AT = datetime(2026, 8, 2, tzinfo=timezone.utc)

# the recorded GETs and the endpoint whose answer has the same shape (an account by id and
# the credentials are Accounts like a lookup's; the home timeline a list like an account's)
ROUTES = [
    (r"/api/v1/accounts/lookup", LOOKUP),
    (r"/api/v1/accounts/verify_credentials", LOOKUP),
    (r"/api/v1/accounts/(?P<id>\d+)/statuses", STATUSES),
    (r"/api/v1/accounts/(?P<id>\d+)", LOOKUP),
    (r"/api/v1/timelines/home", STATUSES),
    (r"/api/v1/statuses/(?P<id>\d+)/context", CONTEXT),
    (r"/api/v1/statuses/(?P<id>\d+)/history", HISTORY),
    (r"/api/v1/statuses/(?P<id>\d+)", STATUS),
    (r"/api/v1/polls/(?P<id>\d+)", POLL),
]
DOCS = {  # documentation examples (strict JSON only; the .jsonc ones are elided)
    "entities/Status.json": (STATUS, 200), "entities/Account.json": (LOOKUP, 200),
    "entities/Poll.json": (POLL, 200), "methods/statuses_get_200.json": (STATUS, 200),
    "methods/statuses_get_404.json": (STATUS, 404), "methods/polls_get_200.json": (POLL, 200),
    "methods/accounts_get_200_local.json": (LOOKUP, 200),
    "methods/accounts_get_200_remote.json": (LOOKUP, 200),
    "methods/accounts_get_200_suspended.json": (LOOKUP, 200),
    "methods/statuses_history_404.json": (HISTORY, 404),
    "methods/statuses_context_404.json": (CONTEXT, 404),
}


def corpus_records(root: Path) -> list[dict]:
    """Every recorded GET the tracker reads (or reads the shape of), as raw page records."""
    out: list[dict] = []
    for f in sorted((root / "cassettes").glob("*.yaml")):
        for n, it in enumerate(yaml.safe_load(f.read_text())["interactions"]):
            req, resp = it["request"], it["response"]
            if req["method"] != "GET" or resp["status"]["code"] not in (200, 404):
                continue
            url = urlsplit(req["uri"])
            for pattern, endpoint in ROUTES:
                m = re.fullmatch(pattern, url.path)
                if m:
                    break
            else:
                continue                      # the instance documents: not read
            params = {"instance": url.netloc, **dict(parse_qsl(url.query)), **m.groupdict()}
            out.append({"type": "page", "source": "mastodon", "endpoint": endpoint,
                        "params": params, "status": resp["status"]["code"],
                        "body": resp["body"]["string"], "fetched_at": "2026-08-02T00:00:00Z",
                        "run_id": f.stem, "seq": n, "what": f"{f.name}#{n}"})
    for name, (endpoint, status) in DOCS.items():
        body = (root / name).read_text()
        params = {"instance": "mastodon.social"}
        if endpoint in (STATUS, HISTORY, CONTEXT, POLL):
            params["id"] = "103270115826048975" if status == 404 else \
                str(json.loads(body).get("id"))
        out.append({"type": "page", "source": "mastodon", "endpoint": endpoint,
                    "params": params, "status": status, "body": body,
                    "fetched_at": "2026-08-02T00:00:00Z", "run_id": "docs", "seq": len(out),
                    "what": name})
    return out


def counted_in(rec: dict) -> dict[str, set]:
    """What an answer holds, counted from the JSON itself: statuses (with boosted and quoted
    ones), accounts, polls, poll options, edit versions, statuses not found."""
    inst = rec["params"]["instance"]
    got = {k: set() for k in ("posts", "accounts", "polls", "options", "versions", "gone")}
    body = json.loads(rec["body"])

    def handle(a: dict) -> str:
        user, _, domain = a["acct"].partition("@")
        return f"{user}@{domain or inst}".lower()

    def status(s: dict) -> None:
        got["posts"].add(f"{inst}:{s['id']}")
        got["accounts"].add(handle(s["account"]))
        for inner in (s.get("reblog"), (s.get("quote") or {}).get("quoted_status")):
            if inner:
                status(inner)
        if s.get("poll"):
            poll(s["poll"])

    def poll(p: dict) -> None:
        got["polls"].add(f"{inst}:{p['id']}")
        got["options"] |= {(f"{inst}:{p['id']}", i) for i in range(len(p["options"]))}

    if rec["status"] == 404:
        if rec["endpoint"] in (STATUS, CONTEXT, HISTORY):
            got["gone"].add(f"{inst}:{rec['params']['id']}")
    elif rec["endpoint"] == LOOKUP:
        got["accounts"].add(handle(body))
    elif rec["endpoint"] in (STATUSES, STATUS):
        for s in body if isinstance(body, list) else [body]:
            status(s)
    elif rec["endpoint"] == CONTEXT:
        for s in body["ancestors"] + body["descendants"]:
            status(s)
    elif rec["endpoint"] == HISTORY:
        got["versions"] |= {(rec["params"]["id"], v["created_at"]) for v in body}
    elif rec["endpoint"] == POLL:
        poll(body)
    return got


def counted_out(rows) -> dict[str, set]:
    t = rows.tables
    return {"posts": {r["post_id"] for r in t.get("posts", [])},
            "accounts": {r["account_id"] for r in t.get("accounts", [])},
            "polls": {r["poll_id"] for r in t.get("polls", [])},
            "options": {(r["poll_id"], r["position"] - 1) for r in t.get("poll_snapshots", [])},
            "versions": {r["version_post_id"] for r in t.get("post_versions", [])
                         if r["version_index"] is not None or r["edit_chain_id"] is None},
            "gone": {p[1] for p in rows.post_status if p[2] == "not_found"}}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return corpus_records(corpus_dir("mastodon"))


def test_the_corpus_is_what_these_tests_expect(records):
    kinds = [(r["endpoint"], r["status"]) for r in records]
    assert kinds.count((STATUSES, 200)) == 7           # 3 account pages, 4 home timeline windows
    assert kinds.count((HISTORY, 200)) == 4
    assert kinds.count((POLL, 200)) == 4               # 2 recorded, 2 documentation examples
    assert (STATUS, 404) in kinds and (LOOKUP, 404) in kinds and (CONTEXT, 200) in kinds


def test_every_answer_in_gives_the_same_count_of_rows_out(records):
    for rec in records:
        rows = normalize(rec)
        assert rows.skipped == [], rec["what"]
        want, got = counted_in(rec), counted_out(rows)
        assert {k: len(v) for k, v in got.items() if k != "versions"} == \
            {k: len(v) for k, v in want.items() if k != "versions"}, rec["what"]
        if rec["endpoint"] == HISTORY and rec["status"] == 200:
            assert len(rows.tables["post_versions"]) == len(want["versions"]), rec["what"]
            assert [r["version_index"] for r in rows.tables["post_versions"]] == \
                list(range(len(want["versions"])))


def test_recorded_edits_polls_boosts_and_gone_statuses_read_right(records):
    by = {r["what"]: normalize(r) for r in records}
    # the real mastodon.social poll: expired, multiple choice, 64 votes from 47 voters
    poll = by["test_entity_poll.yaml#0"]
    assert [(s["label"], s["votes"], s["voters_count"], s["voting_status"])
            for s in poll.tables["poll_snapshots"]][0][2:] == (47, "closed")
    assert sum(s["votes"] for s in poll.tables["poll_snapshots"]) == 64
    assert poll.tables["polls"][0]["final_snapshot_at"] == "2026-08-02T00:00:00.000000Z"
    # the documentation's single-choice poll does not say how many voted: NULL, not 0
    assert {s["voters_count"] for s in by["entities/Poll.json"].tables["poll_snapshots"]} == \
        {None}
    # an edited status: its current text is a version whose place the history gives
    status = by["test_entity_status.yaml#0"].tables
    (current,) = status["post_versions"]
    history = by["test_entity_statusedit.yaml#0"].tables["post_versions"]
    assert current["version_index"] is None
    assert current["version_post_id"] == history[-1]["version_post_id"]
    assert (history[-1]["version_index"], history[-1]["text"]) == (1, current["text"])
    assert history[0]["created_at"] == status["posts"][0]["created_at"]
    # the status text is read from its HTML: mention, hashtag and custom emoji kept as text
    assert current["text"].startswith("@halcy you're a doo-doo head\n\nedit: editing this")
    # a quote post that is a reply too
    (quote_post,) = [p for p in by["test_entity_quote.yaml#0"].tables["posts"]
                     if p["seen_in"] == "data"]
    assert quote_post["quoted_post_id"] and quote_post["reply_to_post_id"]
    # a 404 for a status id: a not-found sighting and its error
    gone = by["test_status_missing.yaml#0"]
    assert gone.post_status == [("mastodon", "localhost:3000:0", "not_found",
                                 "2026-08-02T00:00:00.000000Z")]
    assert gone.tables["api_errors"][0]["title"] == "Not Found"
    # the local server's account pages: remote and local handles qualified alike
    handles = {r["handle"] for rec, rows in by.items() for r in
               rows.tables.get("account_handles", [])}
    assert "mastodonpy_test@localhost:3000" in handles and "halcy@icosahedron.website" in handles


def test_the_corpus_loads_into_duckdb_row_for_row(records, tmp_path):
    raw_dir = tmp_path / "raw"
    for run_id in sorted({r["run_id"] for r in records}):
        w = RawWriter(raw_dir, "mastodon", f"20260802T000000000000Z-{run_id[:20]}", started=AT)
        for rec in (r for r in records if r["run_id"] == run_id):
            w.page(purpose="corpus", endpoint=rec["endpoint"], params=rec["params"],
                   scope=None, fetched_at=AT, status=rec["status"], headers={},
                   body=rec["body"])
    con = open_db(tmp_path / "t.duckdb")
    try:
        result = load_pending(con, raw_dir, REGISTRY)
        assert result.failed == [] and result.quarantined == 0
        want = {k: set() for k in ("posts", "accounts", "polls", "options", "versions")}
        for rec in records:
            for k, v in counted_in(rec).items():
                if k in want:
                    want[k] |= v
        got = con.execute(
            "SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM accounts), "
            "(SELECT count(*) FROM polls), (SELECT count(DISTINCT (poll_id, position)) "
            "FROM poll_snapshots)").fetchone()
        assert got == (len(want["posts"]), len(want["accounts"]), len(want["polls"]),
                       len(want["options"]))
        # every status's text is stored, none is HTML
        assert con.execute("SELECT count(*) FROM posts WHERE text LIKE '%<p>%'").fetchone() \
            == (0,)
    finally:
        con.close()


def test_a_recorded_pagination_is_collected_by_the_real_client(world, make_cfg, clock, api):
    """The local server answers with the recorded pages of an account's statuses (limit=5,
    then max_id from the Link header); mastodon-py reads them into exact rows."""
    root = corpus_dir("mastodon")
    inter = yaml.safe_load((root / "cassettes" / "test_fetch_next_previous.yaml").read_text())
    local = world.instance("localhost:3000")
    lookup = yaml.safe_load((root / "cassettes" / "test_account_lookup.yaml").read_text())
    found = next(i for i in lookup["interactions"]
                 if i["request"]["uri"].endswith("acct=mastodonpy_test"))
    local.can("/api/v1/accounts/lookup", {"acct": "mastodonpy_test"}, 200,
              found["response"]["body"]["string"])
    gets = [i for i in inter["interactions"] if "/statuses?" in i["request"]["uri"]]
    for it in gets[:2]:
        url = urlsplit(it["request"]["uri"])
        local.can(url.path, dict(parse_qsl(url.query)), 200, it["response"]["body"]["string"],
                  {"Link": it["response"]["headers"]["link"][0]})
    account = json.loads(found["response"]["body"]["string"])["id"]
    local.can(f"/api/v1/accounts/{account}/statuses",
              {"limit": "5", "max_id": "117020580452511285"}, 200, "[]")
    cfg = make_cfg(handles=("mastodonpy_test@localhost:3000",), page_size=5,
                   backfill_max_posts=20, base_urls={"localhost:3000": f"{api}/localhost:3000"})
    r = run(cfg, "collect_posts", clock)
    # the lookup, the two recorded pages, and an empty one past the account's first status
    assert (r.status, r.requests, r.posts_read) == ("ok", 4, 10)
    recorded = sorted(s["id"] for it in gets[:2]
                      for s in json.loads(it["response"]["body"]["string"]))
    assert q("SELECT post_id FROM posts ORDER BY post_id", cfg) == [
        (f"localhost:3000:{i}",) for i in recorded]
    assert q("SELECT text FROM posts ORDER BY post_id", cfg)[:2] == [("Toot number 0!",),
                                                                     ("Toot number 1!",)]
    (cursor,) = q("SELECT cursor FROM sync_state", cfg)[0]
    assert json.loads(cursor) == {"newest_id": recorded[-1], "older_than": None, "read": 10,
                                  "account": account}

"""The pure conversions: v1.1 tweets → API v2 pages, flattened twarc tweets → the page."""

from __future__ import annotations

import json

from tests.conftest import corpus_dir
from tracker.sources.x.imports import twarc, v1
from tracker.sources.x.normalize import normalize

AT = "2024-05-01T00:00:00.000000Z"


def rows_of(page: dict):
    return normalize({"run_id": "r", "seq": 1, "fetched_at": AT, "status": 200, "body": page})


def user(uid="42", name="alice"):
    return {"id": int(uid), "id_str": uid, "screen_name": name, "name": name.title(),
            "created_at": "Wed Mar 18 12:57:11 +0000 2009", "followers_count": 10,
            "friends_count": 3, "statuses_count": 99, "listed_count": 1, "protected": False,
            "verified": True, "description": "bio"}


def tweet(tid, text="hello", **extra):
    return {"id": int(tid), "id_str": tid, "text": text, "user": user(),
            "created_at": "Wed Jan 07 11:07:51 +0000 2015", "lang": "en",
            "favorite_count": 4, "retweet_count": 2, "entities": {}, **extra}


def test_v1_time():
    assert v1.v1_time("Wed Oct 10 20:19:24 +0000 2018") == "2018-10-10T20:19:24.000Z"
    assert v1.v1_time("Wed Oct 10 20:19:24 +0200 2018") == "2018-10-10T18:19:24.000Z"
    assert v1.v1_time("2012-03-05T10:15:20.000Z") == "2012-03-05T10:15:20.000Z"
    assert v1.v1_time("2012-03-05T10:15:20+01:00") == "2012-03-05T09:15:20.000Z"
    assert v1.v1_time("yesterday") is None and v1.v1_time(None) is None


def test_v1_tweet_fields_and_author():
    page = v1.v1_page([tweet("552783667052167168", entities={
        "hashtags": [{"text": "CharlieHebdo", "indices": [74, 87]}],
        "user_mentions": [{"screen_name": "bob", "id_str": "7", "indices": [0, 4]}],
        "urls": [{"url": "http://t.co/x", "expanded_url": "http://e.org", "display_url": "e.org",
                  "indices": [90, 112]}], "symbols": [{"text": "TSLA", "indices": [5, 10]}]},
        possibly_sensitive=False, withheld_in_countries=["DE", "FR"])])
    (t,) = page["data"]
    assert t["id"] == "552783667052167168" and t["author_id"] == "42"
    assert t["created_at"] == "2015-01-07T11:07:51.000Z"
    assert t["conversation_id"] == t["id"]               # replies to nothing: its own
    assert t["public_metrics"] == {"retweet_count": 2, "like_count": 4}
    assert t["entities"] == {
        "hashtags": [{"start": 74, "end": 87, "tag": "CharlieHebdo"}],
        "cashtags": [{"start": 5, "end": 10, "tag": "TSLA"}],
        "mentions": [{"start": 0, "end": 4, "username": "bob", "id": "7"}],
        "urls": [{"start": 90, "end": 112, "url": "http://t.co/x", "expanded_url": "http://e.org",
                  "display_url": "e.org"}]}
    assert t["withheld"] == {"country_codes": ["DE", "FR"]}
    (u,) = page["includes"]["users"]
    assert u == {"id": "42", "username": "alice", "name": "Alice", "description": "bio",
                 "created_at": "2009-03-18T12:57:11.000Z", "protected": False, "verified": True,
                 "public_metrics": {"followers_count": 10, "following_count": 3,
                                    "tweet_count": 99, "listed_count": 1}}
    rows = rows_of(page)
    (post,) = rows.tables["posts"]
    assert post["url"] == "https://x.com/alice/status/552783667052167168"
    assert (post["like_count"], post["repost_count"], post["reply_count"]) == (4, 2, None)


def test_v1_reply_quote_retweet_become_references():
    original = tweet("100", "the claim")
    quote = tweet("101", "look", quoted_status=tweet("99", "quoted one"),
                  quoted_status_id_str="99", is_quote_status=True)
    reply = tweet("102", "@alice no", in_reply_to_status_id_str="100",
                  in_reply_to_user_id_str="42", in_reply_to_screen_name="alice")
    rt = tweet("103", "RT @alice: the claim", retweeted_status=original)
    page = v1.v1_page([quote, reply, rt], roots={"102": "100"})
    by_id = {t["id"]: t for t in page["data"]}
    assert by_id["101"]["referenced_tweets"] == [{"type": "quoted", "id": "99"}]
    assert by_id["102"]["referenced_tweets"] == [{"type": "replied_to", "id": "100"}]
    assert by_id["102"]["conversation_id"] == "100"
    assert by_id["102"]["in_reply_to_user_id"] == "42"
    assert by_id["103"]["referenced_tweets"] == [{"type": "retweeted", "id": "100"}]
    assert {t["id"] for t in page["includes"]["tweets"]} == {"99", "100"}
    rows = rows_of(page)
    posts = {p["post_id"]: p for p in rows.tables["posts"]}
    assert posts["103"]["reposted_post_id"] == "100" and posts["100"]["seen_in"] == "includes"
    assert posts["101"]["quoted_post_id"] == "99" and posts["102"]["reply_to_post_id"] == "100"
    # a reply whose root is unknown gets no conversation (a collector's value is kept)
    (alone,) = v1.v1_page([reply])["data"]
    assert "conversation_id" not in alone


def test_v1_extended_text_edits_and_poll_card():
    t = tweet("200", "short…", truncated=True,
              extended_tweet={"full_text": "the whole long text", "entities": {}},
              edit_history={"initial_tweet_id": "199", "edit_tweet_ids": ["199", "200"]},
              card={"name": "poll3choice_text_only", "url": "card://1440382209790132235",
                    "binding_values": {
                        "choice1_label": {"type": "STRING", "string_value": "Yes"},
                        "choice1_count": {"type": "STRING", "string_value": "60"},
                        "choice2_label": {"type": "STRING", "string_value": "No"},
                        "choice2_count": {"type": "STRING", "string_value": "185"},
                        "choice3_label": {"type": "STRING", "string_value": "Maybe"},
                        "choice3_count": {"type": "STRING", "string_value": "24"},
                        "end_datetime_utc": {"type": "STRING",
                                             "string_value": "2021-09-22T18:27:34Z"},
                        "counts_are_final": {"type": "BOOLEAN", "boolean_value": False},
                        "duration_minutes": {"type": "STRING", "string_value": "1440"}}})
    page = v1.v1_page([t])
    (d,) = page["data"]
    assert d["text"] == "the whole long text"
    assert d["edit_history_tweet_ids"] == ["199", "200"]
    assert d["attachments"] == {"poll_ids": ["1440382209790132235"]}
    (poll,) = page["includes"]["polls"]
    assert poll == {"id": "1440382209790132235", "duration_minutes": 1440,
                    "end_datetime": "2021-09-22T18:27:34.000Z", "voting_status": "open",
                    "options": [{"position": 1, "label": "Yes", "votes": 60},
                                {"position": 2, "label": "No", "votes": 185},
                                {"position": 3, "label": "Maybe", "votes": 24}]}
    rows = rows_of(page)
    assert rows.tables["polls"][0]["post_id"] == "200"
    assert [s["votes"] for s in rows.tables["poll_snapshots"]] == [60, 185, 24]
    assert {(v["version_post_id"], v["version_index"]) for v in rows.tables["post_versions"]} \
        == {("200", 1)}


def test_conversation_roots():
    tweets = [{"id_str": "1"}, {"id_str": "2", "in_reply_to_status_id_str": "1"},
              {"id_str": "3", "in_reply_to_status_id_str": "2"},
              {"id_str": "4", "in_reply_to_status_id_str": "999"},    # parent not here
              {"id_str": "5", "in_reply_to_status_id_str": "4"}]
    assert v1.conversation_roots(tweets) == {"1": "1", "2": "1", "3": "1"}


def test_unflatten_gives_back_the_page():
    flat = {"id": "2", "text": "@bob RT-less reply", "author_id": "10",
            "in_reply_to_user_id": "11",
            "author": {"id": "10", "username": "al", "name": "Al", "pinned_tweet": {"id": "1"}},
            "in_reply_to_user": {"id": "11", "username": "bob", "name": "Bob"},
            "entities": {"mentions": [{"start": 0, "end": 4, "username": "bob", "id": "11",
                                       "name": "Bob"}]},
            "referenced_tweets": [{"type": "replied_to", "id": "1", "text": "first",
                                   "author_id": "11",
                                   "author": {"id": "11", "username": "bob", "name": "Bob"}}],
            "attachments": {"poll_ids": ["7"], "poll": {"id": "7", "options": []},
                            "media_keys": ["3_1"], "media": [{"media_key": "3_1"}]},
            "__twarc": {"retrieved_at": "2022-10-03T18:02:28+00:00"}}
    page = twarc.unflatten(flat)
    (d,) = page["data"]
    assert "author" not in d and "in_reply_to_user" not in d and "__twarc" not in d
    assert d["referenced_tweets"] == [{"type": "replied_to", "id": "1"}]
    assert d["entities"] == {"mentions": [{"start": 0, "end": 4, "username": "bob", "id": "11"}]}
    assert d["attachments"] == {"poll_ids": ["7"], "media_keys": ["3_1"]}
    assert page["includes"]["tweets"] == [{"id": "1", "text": "first", "author_id": "11"}]
    assert {u["id"] for u in page["includes"]["users"]} == {"10", "11"}
    assert all("pinned_tweet" not in u for u in page["includes"]["users"])
    assert page["includes"]["polls"] == [{"id": "7", "options": []}]
    assert twarc.is_page(page) and not twarc.is_page(flat)
    # before mid-2021 mentions had no id: the one twarc merged in is the user's
    old = {**flat, "__twarc": {"retrieved_at": "2021-04-08T19:34:32+00:00"}}
    assert twarc.unflatten(old)["data"][0]["entities"] == {
        "mentions": [{"start": 0, "end": 4, "username": "bob"}]}


def test_flattened_lines_give_the_rows_of_their_page():
    """flat.jsonl is noflat.jsonl flattened by twarc: every row of every post, account and
    handle it yields is the row the API page yields."""
    corpus = corpus_dir("x-api-v2")
    page = json.loads((corpus / "noflat.jsonl").read_text().splitlines()[0])
    want = rows_of(page)
    got: dict[str, dict] = {"posts": {}, "accounts": {}, "account_handles": {}}
    for line in (corpus / "flat.jsonl").read_text().splitlines():
        if line.strip():
            rows = rows_of(twarc.unflatten(json.loads(line)))
            for t, key in (("posts", "post_id"), ("accounts", "account_id"),
                           ("account_handles", "handle")):
                for r in rows.tables.get(t, []):
                    if t == "posts" and got[t].get(r[key], {}).get("seen_in") == "data":
                        continue                 # a result stays 'data' (seen_in: min)
                    got[t][r[key]] = r
    for t, key in (("posts", "post_id"), ("accounts", "account_id"),
                   ("account_handles", "handle")):
        expect = {}
        for r in want.tables[t]:
            if not (t == "posts" and expect.get(r[key], {}).get("seen_in") == "data"):
                expect[r[key]] = r
        assert got[t] == expect, t
    assert (len(got["posts"]), len(got["accounts"])) == (164, 178)

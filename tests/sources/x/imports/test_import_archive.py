"""`tracker import x-archive` on tests/fixtures/x_archive (the download's format)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import Clock

from .helpers import config, query, run_import, tables

ARCHIVE = Path(__file__).resolve().parents[3] / "fixtures" / "x_archive"
ACCOUNT = "1234567890"
T = ["1576994744955830279", "1576996938576822279", "1576998557578166279", "1577199338910646279",
     "1577225146463158279", "1577629674501046279", "1577630806963126279", "1578124182942646279"]
GENERATED = "2022-10-12 08:30:00"


@pytest.fixture
def imported(tmp_path):
    cfg = config(tmp_path)
    result = run_import(cfg, "x-archive", ARCHIVE)
    return cfg, result


def test_every_tweet_with_its_author_edits_replies_and_deletion(imported):
    cfg, result = imported
    got = {r[0]: r[1:] for r in query(cfg, """
        SELECT post_id, author_id, strftime(created_at, '%Y-%m-%d %H:%M:%S'), text, lang,
               reply_to_post_id, reply_to_user_id, conversation_id, reposted_post_id,
               like_count, repost_count, edit_chain_id, deleted_at IS NOT NULL, url
        FROM posts""")}
    assert sorted(got) == T
    assert {v[0] for v in got.values()} == {ACCOUNT}
    assert got[T[0]][1:4] == ("2022-10-03 17:57:01", "Peace plan poll: the results are in "
                              "&amp; they are close. #poll https://t.co/Ab12Cd34Ef", "en")
    assert got[T[0]][8:11] == (12, 3, T[0]) and got[T[1]][8:11] == (40, 9, T[0])
    # a reply to the account's own post: its conversation is that post's
    assert got[T[2]][4:7] == (T[1], ACCOUNT, T[1])
    # a reply to someone else's post: parent and user known, conversation not
    assert got[T[3]][4:7] == ("1577190000000000001", "44196397", None)
    # a retweet: archives keep only its text
    assert got[T[4]][2].startswith("RT @ianbremmer:") and got[T[4]][7] is None
    assert got[T[5]][3] == "de" and "🙂" in got[T[5]][2]
    assert [pid for pid, v in got.items() if v[11]] == [T[7]]
    assert got[T[0]][12] == f"https://x.com/pollwatcher/status/{T[0]}"
    assert query(cfg, "SELECT deleted_at FROM posts WHERE post_id = ?", [T[7]])[0][0] == \
        datetime(2022, 10, 7, 8, 0, tzinfo=timezone.utc)
    assert query(cfg, "SELECT version_post_id, version_index FROM post_versions "
                      "WHERE edit_chain_id = ? ORDER BY 2", [T[0]]) == [(T[0], 0), (T[1], 1)]
    assert result.details["stats"].items == 8 + 1         # 8 tweets, the account
    assert not result.details["stats"].bad


def test_entities_in_v2_shape(imported):
    cfg, _ = imported
    ents = {pid: json.loads(e) for pid, e in query(
        cfg, "SELECT post_id, entities FROM posts WHERE entities IS NOT NULL")}
    assert set(ents) == set(T) - {T[7]}
    assert ents[T[0]] == {
        "hashtags": [{"start": 59, "end": 64, "tag": "poll"}],
        "urls": [{"start": 65, "end": 88, "url": "https://t.co/Ab12Cd34Ef",
                  "expanded_url": "https://example.org/poll-2022-10",
                  "display_url": "example.org/poll-2022-10"}]}
    assert ents[T[3]] == {"mentions": [{"start": 0, "end": 9, "username": "elonmusk",
                                        "id": "44196397"}]}
    assert ents[T[5]]["urls"][0]["media_key"] == "3_1577629670302367745"


def test_the_account_and_first_seen(imported):
    cfg, result = imported
    assert query(cfg, "SELECT account_id, handle, name, description, "
                      "strftime(created_at, '%Y-%m-%d'), strftime(first_seen_at, '%Y-%m-%d %H:%M:%S') "
                      "FROM accounts"
                 ) == [(ACCOUNT, "pollwatcher", "Poll Watcher",
                        "Polls, claims and denials, timed.", "2012-03-05", GENERATED)]
    assert query(cfg, "SELECT DISTINCT strftime(first_seen_at, '%Y-%m-%d %H:%M:%S') "
                      "FROM posts") == [(GENERATED,)]
    assert {i["first_seen"] for i in result.details["inputs"]} == {"archive_generated"}
    assert {i["shape"] for i in result.details["inputs"]} == {"account", "tweets", "deleted"}


def test_without_manifest_first_seen_is_the_import_time(tmp_path):
    copy = tmp_path / "archive"
    shutil.copytree(ARCHIVE, copy)
    (copy / "data" / "manifest.js").unlink()
    cfg = config(tmp_path)
    clock = Clock(datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc))
    result = run_import(cfg, "x-archive", copy / "data" / "tweets.js", clock=clock)
    assert {i["first_seen"] for i in result.details["inputs"]} == {"import_time"}
    (started,) = query(cfg, "SELECT started_at FROM runs")[0]
    assert query(cfg, "SELECT DISTINCT first_seen_at FROM posts") == [(started,)]
    assert started.year == 2024
    # a single tweets.js: its account.js beside it is read, deleted-tweets.js is not
    assert query(cfg, "SELECT count(*), count(DISTINCT author_id) FROM posts") == [(7, 1)]


def test_import_twice_changes_nothing(imported):
    cfg, _ = imported
    before = tables(cfg)
    again = run_import(cfg, "x-archive", ARCHIVE)
    assert (again.pages, again.new_rows, again.updated_rows) == (0, 0, 0)
    after = tables(cfg)
    assert len(after.pop("runs")) == len(before.pop("runs")) + 1
    assert after == before


def test_a_broken_archive_file_is_reported_and_the_rest_imported(tmp_path):
    copy = tmp_path / "archive"
    shutil.copytree(ARCHIVE, copy)
    text = (copy / "data" / "deleted-tweets.js").read_text()
    (copy / "data" / "deleted-tweets.js").write_text(text[: len(text) // 2])
    cfg = config(tmp_path)
    result = run_import(cfg, "x-archive", copy)
    (err,) = result.details["input_errors"]
    assert "deleted-tweets.js:" in err and "cannot be read" in err
    assert query(cfg, "SELECT count(*) FROM posts") == [(7,)]

"""People who speak on several platforms: a story actor's identities, the person in the
timeline, each statement's first platform and the cross-posting lags (person_firsts), and the
report's one lane per person."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tracker.analysis import api
from tracker.analysis.engine import analyze
from tracker.cli.analysis import person_lines
from tracker.config import parse_config
from tracker.report.data import gather
from tracker.report.timefmt import TimeFormat
from tracker.report.view import lanes_and_items, person_rows
from tracker.store import schema
from tracker.store.db import open_db

IAN_X, ELON_X, RANDO_M = "60783724", "44196397", "rando@mastodon.example"
ELON_M = "elonmusk@mastodon.example"
ELON_B = "did:plc:elonsample000000000000"
ELON_B_HANDLE = "elonmusk-sample.bsky.social"

STORY = {
    "id": "call", "title": "Did he discuss Ukraine with Putin?",
    "query": '(Putin OR Kremlin) AND (Musk OR "Elon")',
    "window": {"start": "2022-10-01", "end": "2022-10-31"},
    "actors": [
        {"platform": "x", "handle": "ianbremmer", "role": "claimant"},
        {"name": "Elon Musk", "role": "subject", "identities": [
            {"platform": "x", "handle": "@elonmusk"},
            {"platform": "mastodon", "handle": "@elonmusk@Mastodon.example"},
            {"platform": "bluesky", "handle": ELON_B_HANDLE}]},
    ],
}
DENIAL = "I have spoken to Putin only once and that was about 18 months ago."
SIGNED = DENIAL + " (Elon Musk, cross-posted from X)"


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc)


class World:
    """Rows as the three platforms' collectors store them: X ids, Mastodon's full handles,
    Bluesky's DIDs."""

    def __init__(self, con):
        self.con = con
        for platform, aid, handle in (("x", IAN_X, "ianbremmer"), ("x", ELON_X, "elonmusk"),
                                      ("mastodon", ELON_M, ELON_M),
                                      ("mastodon", RANDO_M, RANDO_M),
                                      ("bluesky", ELON_B, ELON_B_HANDLE)):
            con.execute("INSERT INTO accounts (platform, account_id, handle, first_seen_at, "
                        "last_seen_at) VALUES (?, ?, ?, now(), now())", [platform, aid, handle])
            con.execute("INSERT INTO account_handles (platform, account_id, handle, "
                        "first_seen_at, last_seen_at) VALUES (?, ?, ?, now(), now())",
                        [platform, aid, handle])

    def post(self, platform, pid, author, when, text, reply_to=None):
        self.con.execute(
            "INSERT INTO posts (platform, post_id, author_id, created_at, text, "
            "reply_to_post_id, url, seen_in, first_seen_at, last_seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'data', now(), now())",
            [platform, pid, author, at(when), text, reply_to, f"https://{platform}.example/{pid}"])
        return pid


@pytest.fixture
def con(tmp_path):
    c = open_db(tmp_path / "people.duckdb")
    yield c
    c.close()


@pytest.fixture
def episode(con):
    """The claim on X; the denial on Bluesky first, then X (answering the claim), then
    Mastodon; someone's reply on Mastodon; a second denial on X only."""
    w = World(con)
    w.post("x", "1001", IAN_X, "2022-10-11T12:10:00",
           "Elon Musk told me he had spoken with Putin and the Kremlin about Ukraine")
    w.post("bluesky", f"at://{ELON_B}/app.bsky.feed.post/3jdenial", ELON_B,
           "2022-10-11T13:36:00", SIGNED)
    w.post("x", "1002", ELON_X, "2022-10-11T13:40:00", DENIAL, reply_to="1001")
    w.post("mastodon", "mastodon.example:109", ELON_M, "2022-10-11T13:44:00", SIGNED)
    w.post("mastodon", "mastodon.example:110", RANDO_M, "2022-10-11T13:50:00",
           "So who is telling the truth?", reply_to="mastodon.example:109")
    w.post("x", "1003", IAN_X, "2022-10-11T14:25:00",
           "@elonmusk you told me you had spoken with putin", reply_to="1002")
    w.post("x", "1004", ELON_X, "2022-10-11T17:05:00", "No one should believe Bremmer.",
           reply_to="1003")
    analyze(con, parse_config({"stories": [STORY]}).stories)
    return con


def test_config_keeps_one_row_per_identity_naming_the_person(episode):
    assert episode.execute("SELECT platform, handle, role, account_id, person FROM story_actors "
                           "ORDER BY role, platform").fetchall() == [
        ("x", "ianbremmer", "claimant", IAN_X, "ianbremmer"),
        ("bluesky", ELON_B_HANDLE, "subject", ELON_B, "Elon Musk"),
        ("mastodon", ELON_M, "subject", ELON_M, "Elon Musk"),
        ("x", "elonmusk", "subject", ELON_X, "Elon Musk"),
    ]


def test_the_timeline_names_the_person_on_every_platform(episode):
    assert episode.execute(
        "SELECT strftime(event_at, '%H:%M'), platform_or_outlet, actor, person, role, "
        "event_type, rule FROM timeline WHERE story_id = 'call' ORDER BY event_at").fetchall() \
        == [
        ("12:10", "x", "ianbremmer", "ianbremmer", "claimant", "claim", "claimant-post"),
        ("13:36", "bluesky", ELON_B_HANDLE, "Elon Musk", "subject", "denial",
         "subject-negation-cue"),
        ("13:40", "x", "elonmusk", "Elon Musk", "subject", "denial", "subject-answers-claimant"),
        ("13:44", "mastodon", ELON_M, "Elon Musk", "subject", "denial", "subject-negation-cue"),
        ("13:50", "mastodon", RANDO_M, None, None, "reply", "reply-in-thread"),
        ("14:25", "x", "ianbremmer", "ianbremmer", "claimant", "rebuttal",
         "claimant-answers-subject"),
        ("17:05", "x", "elonmusk", "Elon Musk", "subject", "denial", "subject-answers-claimant"),
    ]


def test_story_firsts_say_which_platform_came_first(episode):
    assert episode.execute(
        "SELECT first_claim_platform, first_denial_platform, first_rebuttal_platform, "
        "first_denial_item, first_denial_at, claim_to_denial, denial_to_rebuttal "
        "FROM story_firsts").fetchone() == (
        "x", "bluesky", "x", f"at://{ELON_B}/app.bsky.feed.post/3jdenial",
        at("2022-10-11T13:36:00"), timedelta(minutes=86), timedelta(minutes=49))


def test_person_firsts_give_each_platform_and_the_lags_behind_the_first(episode):
    rows = episode.execute(
        "SELECT person, role, event_type, platform, handle, strftime(first_at, '%H:%M'), "
        "first_item, items, platform_order, first_platform, after_first FROM person_firsts "
        "ORDER BY person, event_type, platform_order").fetchall()
    assert rows == [
        ("Elon Musk", "subject", "denial", "bluesky", ELON_B_HANDLE, "13:36",
         f"at://{ELON_B}/app.bsky.feed.post/3jdenial", 1, 1, "bluesky", timedelta(0)),
        ("Elon Musk", "subject", "denial", "x", "elonmusk", "13:40", "1002", 2, 2, "bluesky",
         timedelta(minutes=4)),
        ("Elon Musk", "subject", "denial", "mastodon", ELON_M, "13:44", "mastodon.example:109",
         1, 3, "bluesky", timedelta(minutes=8)),
        ("ianbremmer", "claimant", "claim", "x", "ianbremmer", "12:10", "1001", 1, 1, "x",
         timedelta(0)),
        ("ianbremmer", "claimant", "rebuttal", "x", "ianbremmer", "14:25", "1003", 1, 1, "x",
         timedelta(0)),
    ]


def test_tracker_stories_lines_name_the_first_platform_and_the_lags(episode):
    assert person_lines(api.person_firsts(episode, "call")) == [
        "ianbremmer (claimant) · claim: x 2022-10-11 12:10Z",
        "Elon Musk (subject) · denial: bluesky 2022-10-11 13:36Z first, then x +4 min, "
        "mastodon +8 min",
        "ianbremmer (claimant) · rebuttal: x 2022-10-11 14:25Z",
    ]


def test_the_report_has_one_lane_per_person_and_the_cross_platform_table(episode):
    data = gather(episode, "call")
    assert [(p.person, p.role, p.platforms) for p in data.people] == [
        ("ianbremmer", "claimant", ["x"]),
        ("Elon Musk", "subject", ["bluesky", "mastodon", "x"])]
    lanes, items = lanes_and_items(data, TimeFormat())
    assert lanes.names == ["@ianbremmer · claimant", "Elon Musk · subject · bluesky, mastodon, x",
                           "others (replies, mentions)", "press"]
    assert [(i["lane"], i["source"]) for i in items if i["event"] == "denial"] == [
        ("Elon Musk · subject · bluesky, mastodon, x", "post on bluesky"),
        ("Elon Musk · subject · bluesky, mastodon, x", "post on x"),
        ("Elon Musk · subject · bluesky, mastodon, x", "post on mastodon"),
        ("Elon Musk · subject · bluesky, mastodon, x", "post on x")]
    rows = person_rows(data, items, TimeFormat())
    assert [(r["person"], r["event"], r["first_platform"]) for r in rows] == [
        ("Elon Musk", "denial", "bluesky")]
    assert [(q["platform"], q["time"], q["after"], q["item"]["item_id"])
            for q in rows[0]["platforms"]] == [
        ("bluesky", "2022-10-11 13:36 UTC", "first",
         f"at://{ELON_B}/app.bsky.feed.post/3jdenial"),
        ("x", "2022-10-11 13:40 UTC", "4 min", "1002"),
        ("mastodon", "2022-10-11 13:44 UTC", "8 min", "mastodon.example:109")]


def test_the_single_identity_form_is_one_person_and_keeps_its_lane(con):
    World(con).post("x", "1001", IAN_X, "2022-10-11T12:10:00", "Elon Musk spoke with Putin")
    analyze(con, parse_config({"stories": [{**STORY, "actors": [
        {"platform": "x", "handle": "ianbremmer", "role": "claimant"},
        {"name": "Elon Musk", "platform": "x", "handle": "elonmusk", "role": "subject"}]}]}
    ).stories)
    assert con.execute("SELECT platform, handle, person FROM story_actors ORDER BY role"
                       ).fetchall() == [("x", "ianbremmer", "ianbremmer"),
                                        ("x", "elonmusk", "Elon Musk")]
    lanes, _ = lanes_and_items(gather(con, "call"), TimeFormat())
    assert lanes.names[:2] == ["@ianbremmer · claimant", "Elon Musk · subject · x"]


def test_a_database_from_before_people_gets_each_actor_as_its_own_person(tmp_path,
                                                                          monkeypatch):
    path = tmp_path / "old.duckdb"
    monkeypatch.setattr(schema, "MIGRATIONS", [m for m in schema.MIGRATIONS if m[0] < 14])
    con = open_db(path)
    con.execute("INSERT INTO story_actors VALUES ('call', 'x', 'elonmusk', 'subject', '44')")
    con.close()
    monkeypatch.undo()
    con = open_db(path)
    try:
        assert con.execute("SELECT platform, handle, role, account_id, person FROM story_actors"
                           ).fetchall() == [("x", "elonmusk", "subject", "44", "elonmusk")]
        assert "person" in [r[0] for r in con.execute("DESCRIBE timeline").fetchall()]
    finally:
        con.close()


def test_a_database_not_yet_migrated_still_reads_and_reports(tmp_path, monkeypatch):
    """Read-only connections do not migrate: `tracker stories` and the report read a database
    from before people as it is (each identity its own person, no cross-platform rows)."""
    path = tmp_path / "old.duckdb"
    monkeypatch.setattr(schema, "MIGRATIONS", [m for m in schema.MIGRATIONS if m[0] < 14])
    con = open_db(path)
    World(con).post("x", "1001", IAN_X, "2022-10-11T12:10:00", "Elon Musk spoke with Putin")
    con.execute("INSERT INTO stories VALUES ('call', 'Did he?', 'Putin', "
                "'2022-10-01 00:00Z', '2022-11-01 00:00Z', true)")
    con.execute("INSERT INTO story_actors VALUES ('call', 'x', 'ianbremmer', 'claimant', ?)",
                [IAN_X])
    con.execute("INSERT INTO story_items (story_id, item_kind, platform, item_id, event_type, "
                "rule, evidence, confidence) VALUES ('call', 'post', 'x', '1001', 'claim', "
                "'claimant-post', 'matched Putin', 0.8)")
    con.close()
    monkeypatch.undo()
    con = open_db(path, read_only=True)
    try:
        assert api.person_firsts(con, "call").empty
        data = gather(con, "call")
        assert [(a.handle, a.person) for a in data.actors] == [("ianbremmer", "ianbremmer")]
        lanes, items = lanes_and_items(data, TimeFormat())
        assert lanes.names[0] == "@ianbremmer · claimant"
        assert [i["lane"] for i in items] == ["@ianbremmer · claimant"]
    finally:
        con.close()

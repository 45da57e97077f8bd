"""Story analysis: membership, labels with rules and evidence, firsts, analyst labels."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tracker.analysis.engine import analyze
from tracker.config import parse_config
from tracker.store.db import open_db
from tracker.core.timeutil import snowflake_at

CLAIMANT, SUBJECT, OTHER = "60783724", "44196397", "777"
LABELS = ("(label_id, story_id, item_kind, item_id, action, event_type, note, analyst, "
          "labeled_at, platform)")


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).astimezone(timezone.utc)


class World:
    """Rows written straight into the tables the collectors fill."""

    def __init__(self, con):
        self.con = con
        self.seq = 0
        for uid, handle in ((CLAIMANT, "ianbremmer"), (SUBJECT, "elonmusk"), (OTHER, "rando")):
            con.execute("INSERT INTO accounts (platform, account_id, handle, first_seen_at, "
                        "last_seen_at) VALUES ('x', ?, ?, now(), now())", [uid, handle])
            con.execute("INSERT INTO account_handles (platform, account_id, handle, "
                        "first_seen_at, last_seen_at) VALUES ('x', ?, ?, now(), now())",
                        [uid, handle])

    def post(self, author, when, text, reply_to=None, quote=None, poll=None, repost=None):
        self.seq += 1
        pid = str(snowflake_at(at(when), self.seq))
        self.con.execute(
            "INSERT INTO posts (platform, post_id, author_id, created_at, text, reply_to_post_id,"
            " quoted_post_id, poll_id, reposted_post_id, url, seen_in, first_seen_at, "
            "last_seen_at) VALUES ('x', ?, ?, ?, ?, ?, ?, ?, ?, ?, 'data', now(), now())",
            [pid, author, at(when), text, reply_to, quote, poll, repost,
             f"https://x.com/i/web/status/{pid}"])
        return pid

    def article(self, url, domain, title, published=None, seen="2022-10-20T00:00:00+00:00",
                summary=None):
        self.con.execute(
            "INSERT INTO articles (url, domain, title, summary, published_at, first_seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [url, domain, title, summary, at(published) if published else None, at(seen)])
        return url


STORY = {
    "id": "call", "title": "Did he discuss Ukraine with Putin?",
    "query": '(Putin OR Kremlin) AND (Musk OR "Elon")',
    "window": {"start": "2022-10-01", "end": "2022-10-31"},
    "actors": [{"handle": "ianbremmer", "role": "claimant"},
               {"handle": "elonmusk", "role": "subject"}],
}


@pytest.fixture
def con(tmp_path):
    c = open_db(tmp_path / "a.duckdb")
    yield c
    c.close()


@pytest.fixture
def world(con):
    return World(con)


def stories(*extra):
    return parse_config({"stories": [STORY, *extra]}).stories


def labels(con, story="call"):
    return con.execute("SELECT item_id, event_type, rule, evidence, confidence, stance "
                       "FROM story_labels WHERE story_id = ? ORDER BY item_id", [story]).fetchall()


def test_the_episode_in_order_with_rules_and_evidence(con, world):
    poll = world.post(SUBJECT, "2022-10-03T15:58:00+00:00", "Ukraine-Russia Peace: ...",
                      poll="p1")
    world.post(CLAIMANT, "2022-10-02T09:00:00+00:00", "The week ahead: energy, OPEC+")
    claim = world.post(CLAIMANT, "2022-10-11T12:10:00+00:00",
                       "Elon Musk told me he had spoken with Putin and the Kremlin")
    denial = world.post(SUBJECT, "2022-10-11T13:40:00+00:00",
                        "I have spoken to Putin only once", reply_to=claim)
    reply = world.post(OTHER, "2022-10-11T13:55:00+00:00", "Is this true?", reply_to=denial)
    rebuttal = world.post(CLAIMANT, "2022-10-11T14:25:00+00:00",
                          "you told me you had spoken with putin", reply_to=denial)
    second = world.post(SUBJECT, "2022-10-11T17:05:00+00:00", "Bremmer is not to be believed",
                        reply_to=rebuttal)
    early = world.article("https://vice.com/a", "vice.com", "Elon Musk spoke to Putin, "
                          "Bremmer says", published="2022-10-11T12:40:00+00:00")
    later = world.article("https://bi.com/b", "businessinsider.com",
                          "Elon Musk denies speaking to Putin about Ukraine",
                          published="2022-10-11T16:00:00+02:00")   # 14:00 UTC
    world.article("https://x.org/c", "x.org", "Kremlin weather report",
                  published="2022-10-11T12:00:00+00:00")           # in window, no match
    analyze(con, stories())
    got = {row[0]: row[1:] for row in labels(con)}
    assert set(got) == {poll, claim, denial, reply, rebuttal, second, early, later}
    assert got[poll][:3] == ("poll", "actor-poll", "subject's post with poll p1")
    assert got[claim][:3] == ("claim", "claimant-post",
                              "claimant's post; matched Putin, Kremlin, Musk, Elon")
    assert got[denial][:4] == ("denial", "subject-answers-claimant",
                               f"subject's reply to the claimant's post {claim}; "
                               "negation cue 'only once'", 0.9)
    assert got[rebuttal][:2] == ("rebuttal", "claimant-answers-subject")
    assert got[second][:2] == ("denial", "subject-answers-claimant")
    assert got[reply][:2] == ("reply", "reply-in-thread")
    assert got[reply][4] in ("support", "deny", "query", "comment")
    assert got[early][:2] == ("coverage_of_claim", "matches-query")
    assert got[later][:3] == ("coverage_of_denial", "after-denial+cue",
                              "published after the first denial; cue 'denies'")
    order = con.execute("SELECT event_type FROM timeline WHERE story_id = 'call' AND "
                        "event_type <> 'reply' ORDER BY event_at").fetchall()
    assert [o[0] for o in order] == ["poll", "claim", "coverage_of_claim", "denial",
                                     "coverage_of_denial", "rebuttal", "denial"]
    firsts = con.execute("SELECT first_claim_at, first_claim_press_at, first_denial_at, "
                         "first_denial_press_at, first_rebuttal_at, claim_to_press, "
                         "denial_to_rebuttal FROM story_firsts").fetchone()
    assert firsts == (at("2022-10-11T12:10:00+00:00"), at("2022-10-11T12:40:00+00:00"),
                      at("2022-10-11T13:40:00+00:00"), at("2022-10-11T14:00:00+00:00"),
                      at("2022-10-11T14:25:00+00:00"), timedelta(minutes=30),
                      timedelta(minutes=45))
    assert con.execute("SELECT outlet, reported_denial FROM press_followup ORDER BY outlet"
                       ).fetchall() == [("vice.com", False)]


def test_reply_and_quote_at_once_and_a_denial_without_negation_words(con, world):
    claim = world.post(CLAIMANT, "2022-10-11T12:10:00+00:00", "Musk talked to Putin")
    question = world.post(OTHER, "2022-10-11T12:30:00+00:00", "@elonmusk did you?")
    answer = world.post(SUBJECT, "2022-10-11T13:00:00+00:00", "He must be confused.",
                        reply_to=question, quote=claim)
    analyze(con, stories())
    got = {row[0]: row[1:] for row in labels(con)}
    assert got[answer][:4] == ("denial", "subject-answers-claimant",
                               f"subject's quote of the claimant's post {claim}; "
                               "no negation cue", 0.75)
    assert question not in got      # a non-matching post outside the story's threads


def test_window_bounds_and_time_zones(con, world):
    inside = world.post(CLAIMANT, "2022-10-31T22:30:00-01:00", "Musk and Putin")  # 23:30Z
    world.post(CLAIMANT, "2022-10-31T23:30:00-05:00", "Musk and Putin again")  # Nov 1 04:30Z
    world.post(CLAIMANT, "2022-09-30T23:59:00+00:00", "Musk and Putin before")
    undated = world.article("https://u.com/x", "u.com", "Musk, Putin", published=None,
                            seen="2022-10-15T10:00:00+00:00")
    analyze(con, stories())
    got = {row[0]: row[1:] for row in labels(con)}
    assert set(got) == {inside, undated}
    row = con.execute("SELECT event_at, clock FROM timeline WHERE item_id = ?", [undated]).fetchone()
    assert row == (at("2022-10-15T10:00:00+00:00"), "first_seen_at")
    assert got[undated][2].endswith("; no publication date, first_seen_at used")


def test_reposts_do_not_count_as_statements(con, world):
    claim = world.post(CLAIMANT, "2022-10-11T12:10:00+00:00", "Musk talked to Putin")
    rt = world.post(OTHER, "2022-10-11T12:20:00+00:00", "RT @ianbremmer: Musk talked to Putin",
                    repost=claim)
    analyze(con, stories())
    assert rt not in {row[0] for row in labels(con)}


def test_analyst_label_wins_and_survives_reanalysis_and_analyze_is_idempotent(con, world):
    claim = world.post(CLAIMANT, "2022-10-11T12:10:00+00:00", "Musk talked to Putin")
    analyze(con, stories())
    con.execute(f"INSERT INTO analyst_labels {LABELS} "
                "VALUES ('r:1', 'call', 'post', ?, 'set', "
                "'mention', 'a joke, not a claim', 'ana', '2022-10-12T00:00:00Z', 'x')", [claim])
    before = con.execute("SELECT * FROM story_items ORDER BY ALL").fetchall()
    analyze(con, stories())
    assert con.execute("SELECT * FROM story_items ORDER BY ALL").fetchall() == before
    assert labels(con)[0][:4] == (claim, "mention", "analyst",
                                  "analyst ana: a joke, not a claim (automatic: claim)")
    con.execute(f"INSERT INTO analyst_labels {LABELS} "
                "VALUES ('r:2', 'call', 'post', ?, 'unset', NULL, "
                "NULL, 'ana', '2022-10-13T00:00:00Z', 'x')", [claim])
    assert labels(con)[0][1] == "claim"
    # a label recorded before items had a platform (NULL) applies to the post with that id
    con.execute(f"INSERT INTO analyst_labels {LABELS} "
                "VALUES ('r:3', 'call', 'post', ?, 'set', "
                "'denial', NULL, 'ana', '2022-10-14T00:00:00Z', NULL)", [claim])
    assert labels(con)[0][:3] == (claim, "denial", "analyst")
    assert con.execute("SELECT count(*) FROM timeline WHERE item_id = ?", [claim]).fetchone() == (1,)
    con.execute(f"INSERT INTO analyst_labels {LABELS} "
                "VALUES ('r:4', 'call', 'post', ?, 'unset', NULL, "
                "NULL, 'ana', '2022-10-15T00:00:00Z', 'x')", [claim])
    assert labels(con)[0][1] == "claim"            # one history, whatever each row's platform


def test_empty_story_still_has_a_firsts_row(con, world):
    analyze(con, stories({**STORY, "id": "empty", "query": "nothing_matches_this"}))
    assert con.execute("SELECT story_id, first_claim_at, claim_to_denial FROM story_firsts "
                       "WHERE story_id = 'empty'").fetchall() == [("empty", None, None)]
    assert labels(con, "empty") == []


def test_article_before_the_first_claim_is_background_not_coverage(con, world):
    world.article("https://vice.com/plan", "vice.com", "Elon Musk's peace plan pleases Putin",
                  published="2022-10-04T09:00:00+00:00")
    world.post(CLAIMANT, "2022-10-11T12:10:00+00:00", "Musk talked to Putin")
    after = world.article("https://vice.com/claim", "vice.com", "Musk spoke to Putin, "
                          "Bremmer says", published="2022-10-11T12:40:00+00:00")
    analyze(con, stories())
    got = {row[0]: row[1:] for row in labels(con)}
    assert got["https://vice.com/plan"][:3] == (
        "mention", "before-claim", "matched Putin, Musk, Elon; published before the claimant's "
        "first claim (background)")
    assert got[after][0] == "coverage_of_claim"
    assert con.execute("SELECT claim_to_press FROM story_firsts").fetchone() == (
        timedelta(minutes=30),)

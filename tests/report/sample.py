"""The sample story (data/sample's October 2022 episode) as database rows, analysed.

Built straight into the tables the collectors fill (like tests/analysis/test_engine.py), with
the press coverage the X sample lacks, a poll with snapshots, replies, an analyst's label, and
one hostile reply whose text is markup (it must show as text and never run).
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from datetime import datetime, timezone

from tracker.analysis.engine import analyze
from tracker.config import parse_config
from tracker.store.db import open_db
from tracker.core.timeutil import snowflake_at

CLAIMANT, SUBJECT = "60783724", "44196397"
OTHERS = {"901": "kyiv_observer", "902": "reader_anna", "903": "space_fan_42",
          "904": "policy_watch", "905": "mallory"}
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
POLL_ID = "1576969255420280833"
STORY_ID = "musk-putin-call"

STORY = {
    "id": STORY_ID,
    "title": "Did the billionaire discuss Ukraine with the Russian president?",
    "query": '(Putin OR Kremlin) AND (Musk OR "Elon")',
    "window": {"start": "2022-10-01", "end": "2022-10-31"},
    "actors": [{"handle": "ianbremmer", "role": "claimant"},
               {"handle": "elonmusk", "role": "subject"}],
}
NO_POLL_STORY = {**STORY, "id": "no-poll", "actors": [{"handle": "ianbremmer",
                                                       "role": "claimant"}]}
EMPTY_STORY = {**STORY, "id": "empty", "title": "Nothing happened in this window",
               "window": {"start": "2021-01-01", "end": "2021-01-31"}}


@dataclass
class Stance:
    label: str
    confidence: float
    rule: str
    evidence: str


def fixed_stance(replies, parents, depths=None, **kw):
    """The sample's stances, fixed (the report shows whatever the stance model says; these
    tests are about the report, so they do not depend on the model)."""
    out = []
    for text in replies:
        low = text.lower()
        if "?" in text:
            label = "query"
        elif any(w in low for w in ("false", "not a denial", "rewards the invasion")):
            label = "deny"
        elif any(w in low for w in ("exactly", "voted yes", "explain")):
            label = "support"
        else:
            label = "comment"
        out.append(Stance(label, 0.8, "sample-fixed", f"fixed by the test sample: {label}"))
    return out


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).astimezone(timezone.utc)


class World:
    def __init__(self, con):
        self.con, self.seq, self.ids = con, 0, {}
        for uid, handle in ((CLAIMANT, "ianbremmer"), (SUBJECT, "elonmusk"), *OTHERS.items()):
            con.execute("INSERT INTO accounts (platform, account_id, handle, first_seen_at, "
                        "last_seen_at) VALUES ('x', ?, ?, ?, ?)",
                        [uid, handle, at("2022-10-03T17:30:00+00:00"),
                         at("2022-10-12T08:00:00+00:00")])
            con.execute("INSERT INTO account_handles (platform, account_id, handle, "
                        "first_seen_at, last_seen_at) VALUES ('x', ?, ?, ?, ?)",
                        [uid, handle, at("2022-10-03T17:30:00+00:00"),
                         at("2022-10-12T08:00:00+00:00")])

    def post(self, key, author, when, text, reply_to=None, poll=None, deleted=None):
        self.seq += 1
        pid = str(snowflake_at(at(when), self.seq))
        self.con.execute(
            "INSERT INTO posts (platform, post_id, author_id, created_at, text, reply_to_post_id,"
            " poll_id, url, seen_in, first_seen_at, last_seen_at, deleted_at) "
            "VALUES ('x', ?, ?, ?, ?, ?, ?, ?, 'data', ?, ?, ?)",
            [pid, author, at(when), text, self.ids.get(reply_to), poll,
             f"https://x.com/i/web/status/{pid}", at(when), at("2022-10-12T08:00:00+00:00"),
             at(deleted) if deleted else None])
        self.ids[key] = pid
        return pid

    def article(self, key, url, domain, title, published):
        self.con.execute(
            "INSERT INTO articles (url, domain, outlet, title, published_at, first_seen_at, "
            "last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [url, domain, domain, title, at(published) if published else None,
             at("2022-10-12T08:00:00+00:00"), at("2022-10-12T08:00:00+00:00")])
        self.ids[key] = url
        return url


def build(con) -> dict[str, str]:
    """Write the sample story's rows and analyse it; return the items' ids by name."""
    w = World(con)
    o = {v: k for k, v in OTHERS.items()}
    w.post("week", CLAIMANT, "2022-10-02T09:15:00+00:00",
           "The week ahead: energy prices, Ukraine's counteroffensive, and the OPEC+ meeting.")
    w.post("poll", SUBJECT, "2022-10-03T15:58:00+00:00",
           "Ukraine-Russia Peace:\n\n- Redo elections of annexed regions under UN supervision. "
           "Russia leaves if that is will of the people.\n\n- Crimea formally part of Russia."
           "\n\n- Water supply to Crimea assured.\n\n- Ukraine remains neutral.", poll=POLL_ID)
    w.post("r1", o["kyiv_observer"], "2022-10-03T16:40:00+00:00",
           "@elonmusk The people of Ukraine already voted. This plan rewards the invasion.",
           reply_to="poll")
    w.post("r2", o["reader_anna"], "2022-10-03T17:05:00+00:00",
           "@elonmusk Who drafted these terms? They read like Moscow's list.", reply_to="poll")
    w.post("r3", o["space_fan_42"], "2022-10-03T20:10:00+00:00",
           "@elonmusk Voted yes. Anything that ends the killing sooner.", reply_to="poll")
    w.post("claim", CLAIMANT, "2022-10-11T12:10:00+00:00",
           "As I wrote to our clients: Elon Musk told me he had spoken with Putin and the "
           "Kremlin directly about Ukraine before he floated his peace plan.")
    w.post("r4", o["policy_watch"], "2022-10-11T12:40:00+00:00",
           "@ianbremmer That would explain the poll. Big if true.", reply_to="claim")
    w.post("denial", SUBJECT, "2022-10-11T13:40:00+00:00",
           "I have spoken to Putin only once and that was about 18 months ago. The subject "
           "matter was space.", reply_to="claim")
    w.post("r5", o["space_fan_42"], "2022-10-11T13:55:00+00:00",
           "@elonmusk Exactly, this report is false.", reply_to="denial")
    w.post("r6", o["reader_anna"], "2022-10-11T14:05:00+00:00",
           "@elonmusk So who is telling the truth here? Bremmer & Musk can't both "
           "be right.", reply_to="denial")
    w.post("hostile", o["mallory"], "2022-10-11T14:10:00+00:00", HOSTILE, reply_to="denial")
    w.post("rebuttal0", CLAIMANT, "2022-10-11T14:25:00+00:00",
           "@elonmusk you told me that you had spoken with putin and the kremlin directly about "
           "ukraine. you also told me what the kremin's red lines were.", reply_to="denial",
           deleted="2022-10-11T18:00:00+00:00")
    w.post("rebuttal", CLAIMANT, "2022-10-11T14:33:00+00:00",
           "@elonmusk you told me that you had spoken with putin and the kremlin directly about "
           "ukraine. you also told me what the kremlin's red lines were.", reply_to="denial")
    w.post("second_denial", SUBJECT, "2022-10-11T17:05:00+00:00",
           "No one should believe Bremmer.", reply_to="rebuttal")
    w.post("r7", o["kyiv_observer"], "2022-10-11T17:30:00+00:00",
           "@elonmusk @ianbremmer Not a denial of the red lines, though.",
           reply_to="second_denial")
    w.post("r8", o["policy_watch"], "2022-10-12T07:45:00+00:00",
           "@elonmusk Do you deny discussing Ukraine with anyone in the Kremlin?",
           reply_to="second_denial")

    w.article("vice", "https://www.vice.com/en/article/musk-putin-bremmer", "vice.com",
              "Elon Musk spoke to Putin before tweeting his Ukraine peace plan, Ian Bremmer says",
              "2022-10-11T13:05:00+00:00")
    w.article("bi_claim", "https://www.businessinsider.com/musk-putin-call-bremmer",
              "businessinsider.com", "Elon Musk talked with Putin about Ukraine, says Bremmer",
              "2022-10-11T13:20:00+00:00")
    w.article("bi_denial", "https://www.businessinsider.com/musk-denies-putin-call",
              "businessinsider.com", "Elon Musk denies speaking to Putin about Ukraine",
              "2022-10-11T15:30:00+00:00")
    w.article("wapo", "https://www.washingtonpost.com/musk-putin-bremmer-stands-by",
              "washingtonpost.com", "Bremmer stands by report that Musk spoke to Putin",
              "2022-10-12T09:00:00+00:00")

    for captured, yes, no, status in (("2022-10-03T17:30:00+00:00", 412031, 598288, "open"),
                                      ("2022-10-03T23:30:00+00:00", 861204, 1236518, "open"),
                                      ("2022-10-04T18:00:00+00:00", 1064010, 1542321, "closed")):
        for pos, label, votes in ((1, "Yes", yes), (2, "No", no)):
            con.execute("INSERT INTO poll_snapshots (platform, poll_id, captured_at, position, "
                        "label, votes, voting_status, page_id) VALUES ('x', ?, ?, ?, ?, ?, ?, "
                        "'test:1')", [POLL_ID, at(captured), pos, label, votes, status])
    con.execute("INSERT INTO polls (platform, poll_id, post_id, options, duration_minutes, "
                "end_at, voting_status, first_seen_at, last_seen_at) VALUES ('x', ?, ?, "
                "'[\"Yes\", \"No\"]', 1440, ?, 'closed', ?, ?)",
                [POLL_ID, w.ids["poll"], at("2022-10-04T15:58:00+00:00"),
                 at("2022-10-03T17:30:00+00:00"), at("2022-10-04T18:00:00+00:00")])

    stories = parse_config({"stories": [STORY, NO_POLL_STORY, EMPTY_STORY]}).stories
    fake = types.ModuleType("tracker.analysis.stance")
    fake.predict_stance = fixed_stance
    fake.MODEL_VERSION = "sample-fixed"
    name = "tracker.analysis.stance"
    before = sys.modules.get(name)
    sys.modules[name] = fake    # only this key: patch.dict would drop every module imported
    try:                        # meanwhile (pandas' lazy submodules) and break their classes
        analyze(con, stories)
    finally:
        if before is None:
            del sys.modules[name]
        else:
            sys.modules[name] = before
    # An analyst's decision (it wins over the automatic label and shows ✎); its note is markup.
    con.execute("INSERT INTO analyst_labels (label_id, story_id, item_kind, item_id, action, "
                "event_type, note, analyst, labeled_at, platform) "
                "VALUES ('analyst:1', ?, 'post', ?, 'set', "
                "'mention', 'a remark, not a reply <b>to</b> the claim', 'ana', ?, 'x')",
                [STORY_ID, w.ids["r4"], at("2022-10-12T10:00:00+00:00")])
    return w.ids


def sample_db(path):
    """A database file holding the analysed sample story; returns (path, ids)."""
    con = open_db(path)
    try:
        ids = build(con)
    finally:
        con.close()
    return path, ids

"""Builds x_world.json, the demo's reconstruction of the October 2022 episode, and
cross_posts.json, the subject's denial cross-posted to Mastodon and Bluesky.

Run: python data/sample/build_x_world.py  (rewrites both files in data/sample)
Post ids are X snowflakes computed from each post's time, so ids and dates agree.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from tracker.core.timeutil import snowflake_at

HERE = Path(__file__).parent


def t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


USERS = [
    {"id": "44196397", "username": "elonmusk", "name": "Elon Musk",
     "created_at": "2009-06-02T20:12:29.000Z", "protected": False},
    {"id": "60783724", "username": "ianbremmer", "name": "ian bremmer",
     "created_at": "2009-07-28T02:05:21.000Z", "protected": False},
    {"id": "1000000001", "username": "reader_anna", "name": "Anna (sample)"},
    {"id": "1000000002", "username": "policy_watch", "name": "Policy Watch (sample)"},
    {"id": "1000000003", "username": "kyiv_observer", "name": "Kyiv Observer (sample)"},
    {"id": "1000000004", "username": "space_fan_42", "name": "Space Fan (sample)"},
]

PHASES = [
    {"name": "poll posted", "at": "2022-10-03T17:30:00Z"},
    {"name": "poll running", "at": "2022-10-03T23:30:00Z"},
    {"name": "poll closed", "at": "2022-10-04T18:00:00Z"},
    {"name": "claim and denial", "at": "2022-10-11T14:28:00Z"},
    {"name": "rebuttal edited, answer, a deletion", "at": "2022-10-11T18:00:00Z"},
    {"name": "the day after", "at": "2022-10-12T09:00:00Z"},
]

_seq = 0


def post(key, when, author, text, phase, *, reply_to=None, quote=None, poll=None, conv=None):
    global _seq
    _seq += 1
    tid = str(snowflake_at(t(when), _seq))
    return {"_key": key, "_phase": phase, "_reply_to": reply_to, "_quote": quote,
            "_conv": conv, "_poll": poll, "id": tid, "author_id": author, "text": text,
            "created_at": t(when).strftime("%Y-%m-%dT%H:%M:%S.000Z"), "lang": "en"}


MUSK, BREMMER = "44196397", "60783724"
ANNA, WATCH, KYIV, SPACE = "1000000001", "1000000002", "1000000003", "1000000004"

POSTS = [
    post("bremmer_week", "2022-10-02T09:15:00Z", BREMMER,
         "The week ahead: energy prices, Ukraine's counteroffensive, and the OPEC+ meeting.", 0),
    post("poll", "2022-10-03T15:58:00Z", MUSK,
         "Ukraine-Russia Peace:\n\n- Redo elections of annexed regions under UN supervision. "
         "Russia leaves if that is will of the people.\n\n- Crimea formally part of Russia, as "
         "it has been since 1783 (until Khrushchev's mistake).\n\n- Water supply to Crimea "
         "assured.\n\n- Ukraine remains neutral.", 0, poll="poll1"),
    post("musk_outcome", "2022-10-03T16:20:00Z", MUSK,
         "This is highly likely to be the outcome in the end - just a question of how many die "
         "before then", 0, reply_to="poll"),
    post("r_poll_1", "2022-10-03T16:40:00Z", KYIV,
         "@elonmusk The people of Ukraine already voted. This plan rewards the invasion.", 0,
         reply_to="poll"),
    post("r_poll_2", "2022-10-03T17:05:00Z", ANNA,
         "@elonmusk Who drafted these terms? They read like Moscow's list.", 0, reply_to="poll"),
    post("r_poll_3", "2022-10-03T20:10:00Z", SPACE,
         "@elonmusk Voted yes. Anything that ends the killing sooner.", 1, reply_to="poll"),
    post("r_poll_4", "2022-10-03T22:45:00Z", WATCH,
         "@elonmusk Is this poll meant to influence negotiations?", 1, reply_to="poll"),
    post("claim", "2022-10-11T12:10:00Z", BREMMER,
         "As I wrote to our clients: Elon Musk told me he had spoken with Putin and the Kremlin "
         "directly about Ukraine before he floated his peace plan.", 3),
    post("r_claim_1", "2022-10-11T12:40:00Z", WATCH,
         "@ianbremmer That would explain the poll. Big if true.", 3, reply_to="claim"),
    post("denial", "2022-10-11T13:40:00Z", MUSK,
         "I have spoken to Putin only once and that was about 18 months ago. The subject matter "
         "was space.", 3, reply_to="claim"),
    post("r_denial_1", "2022-10-11T13:55:00Z", SPACE,
         "@elonmusk Exactly, this report is false.", 3, reply_to="denial"),
    post("r_denial_2", "2022-10-11T14:05:00Z", ANNA,
         "@elonmusk So who is telling the truth here?", 3, reply_to="denial"),
    post("wrong_thread", "2022-10-11T14:15:00Z", BREMMER, "(wrong thread, ignore)", 3),
    post("rebuttal", "2022-10-11T14:25:00Z", BREMMER,
         "@elonmusk you told me that you had spoken with putin and the kremlin directly about "
         "ukraine. you also told me what the kremin's red lines were.", 3, reply_to="denial"),
    post("rebuttal_v2", "2022-10-11T14:33:00Z", BREMMER,
         "@elonmusk you told me that you had spoken with putin and the kremlin directly about "
         "ukraine. you also told me what the kremlin's red lines were.", 4, reply_to="denial"),
    post("answer", "2022-10-11T17:05:00Z", MUSK, "No one should believe Bremmer.", 4,
         reply_to="rebuttal_v2"),
    post("r_answer_1", "2022-10-11T17:30:00Z", KYIV,
         "@elonmusk @ianbremmer Not a denial of the red lines, though.", 4, reply_to="answer"),
    post("r_answer_2", "2022-10-12T07:45:00Z", WATCH,
         "@elonmusk Do you deny discussing Ukraine with anyone in the Kremlin?", 5,
         reply_to="answer"),
]

POLLS = [{
    "_key": "poll1", "id": "1576969255420280833", "options": ["Yes", "No"],
    "duration_minutes": 1440, "end_datetime": "2022-10-04T15:58:00.000Z",
    "by_phase": {"0": {"votes": [412031, 598288], "voting_status": "open"},
                 "1": {"votes": [861204, 1236518], "voting_status": "open"},
                 "2": {"votes": [1064010, 1542321], "voting_status": "closed"}},
}]

EDITS = [{"of": "rebuttal", "new": "rebuttal_v2"}]
DELETIONS = [{"key": "wrong_thread", "_phase": 4}]


def build() -> dict:
    by_key = {p["_key"]: p for p in POSTS}
    poll_ids = {p["_key"]: p["id"] for p in POLLS}
    tweets = []
    for p in POSTS:
        tw = {k: v for k, v in p.items() if not k.startswith("_") or k == "_phase"}
        refs = []
        if p["_reply_to"]:
            parent = by_key[p["_reply_to"]]
            refs.append({"type": "replied_to", "id": parent["id"]})
            tw["in_reply_to_user_id"] = parent["author_id"]
            root = parent
            while root["_reply_to"]:
                root = by_key[root["_reply_to"]]
            tw["conversation_id"] = root["id"]
        else:
            tw["conversation_id"] = p["id"]
        if p["_quote"]:
            refs.append({"type": "quoted", "id": by_key[p["_quote"]]["id"]})
        if refs:
            tw["referenced_tweets"] = refs
        if p["_poll"]:
            tw["attachments"] = {"poll_ids": [poll_ids[p["_poll"]]]}
        tw["public_metrics"] = {"retweet_count": 0, "reply_count": 0, "like_count": 0,
                                "quote_count": 0}
        tweets.append(tw)
    edits = [{"of": by_key[e["of"]]["id"], "new": by_key[e["new"]]["id"]} for e in EDITS]
    deletions = [{"id": by_key[d["key"]]["id"], "_phase": d["_phase"]} for d in DELETIONS]
    polls = [{k: v for k, v in p.items() if k != "_key"} for p in POLLS]
    return {
        "about": "A reconstruction of the public October 2022 episode for the tracker demo; "
                 "see data/sample/README.md. Texts are paraphrased or quoted from press "
                 "reports; replies, the edit and the deletion are invented to exercise the "
                 "pipeline.",
        "users": USERS, "phases": PHASES, "tweets": tweets, "polls": polls,
        "edits": edits, "deletions": deletions,
    }


# The subject's denial, cross-posted minutes after X to Mastodon and Bluesky the way a
# cross-posting tool does it: the same words, signed. Invented for the sample (accounts,
# instance, times): it gives the demo one person speaking on three platforms.
SIGNED = " (Elon Musk, cross-posted from X)"
DENIAL = next(p["text"] for p in POSTS if p["_key"] == "denial")

CROSS_POSTS = {
    "about": "The subject's denial cross-posted to Mastodon and Bluesky minutes after X, "
             "invented for the tracker demo (see data/sample/README.md). The accounts, the "
             "instance and the times are not real.",
    "mastodon": {
        "instance": "mastodon.example",
        "accounts": [{"username": "elonmusk", "display_name": "Elon Musk (sample)",
                      "created_at": "2022-04-28T00:00:00Z"}],
        "statuses": [{"account": "elonmusk", "created_at": "2022-10-11T13:44:00Z",
                      "phase": 3, "text": DENIAL + SIGNED}],
    },
    "bluesky": {
        "accounts": [{"handle": "elonmusk-sample.bsky.social",
                      "display_name": "Elon Musk (sample)",
                      "created_at": "2022-10-01T00:00:00.000Z"}],
        "posts": [{"actor": "elonmusk-sample.bsky.social", "created_at": "2022-10-11T13:46:00Z",
                   "phase": 3, "text": DENIAL + SIGNED}],
    },
}


if __name__ == "__main__":
    (HERE / "x_world.json").write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n")
    print("wrote", HERE / "x_world.json")
    (HERE / "cross_posts.json").write_text(
        json.dumps(CROSS_POSTS, indent=1, ensure_ascii=False) + "\n")
    print("wrote", HERE / "cross_posts.json")

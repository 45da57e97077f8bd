"""Denials found without a story (tracker/analysis/denials.py).

Two worlds: a small one written straight into the tables, with the stance model replaced by
fixed answers, so that each rule (reply, quote, mention targets; the three ways to be a denial;
latest versions, reposts, own threads, untracked accounts, the time range; the replies' stances
and the press naming both parties) is checked row by row; and the demo's sample with every story
removed, read with the packaged stance model: the subject's denial of the claim is found.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from tests.denials_demo import (CLAIM, DENIAL, REBUTTAL, SECOND_DENIAL, demo_database)
from tracker.analysis import denials as dn
from tracker.analysis.denials import Stance
from tracker.core.errors import InvalidArgument, TrackerError
from tracker.store.db import open_db


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc)


SEEN = at("2024-03-06T00:00")
ACCOUNTS = {"1": ("alice", "Alice Martin"), "2": ("bob", "Bob Stone"),
            "3": ("carol", "Carol Diaz"), "4": ("dave", "Dave Wu"), "5": ("erin", "Erin Ode")}
TRACKED = [("x", "alice"), ("x", "bob")]

# post id -> (author, created_at, text, reply_to, quoted, reposted, edit_chain)
POSTS = {
    "100": ("3", "2023-12-31T09:00", "Alice Martin will run for mayor.", None, None, None, None),
    "101": ("3", "2024-03-01T09:00", "Alice Martin told me the merger with Globex was agreed "
            "in Geneva last week.", None, None, None, None),
    # alice answers carol's claim (reply)
    "201": ("1", "2024-03-01T10:30", "@carol That never happened. No merger was agreed.",
            "101", None, None, None),
    # replies to that denial: others' count, alice's own does not
    "202": ("4", "2024-03-01T11:00", "@alice So who is lying here?", "201", None, None, None),
    "203": ("5", "2024-03-01T11:30", "@alice Exactly, fake story.", "201", None, None, None),
    "204": ("1", "2024-03-01T12:00", "And the merger talk is fake.", "201", None, None, None),
    # dave's claim about bob, quoted by bob
    "301": ("4", "2024-03-02T08:00", "Bob Stone is leaving the senate race in April.", None,
            None, None, None),
    "302": ("2", "2024-03-02T09:00", "Not true, I'm running.", None, "301", None, None),
    # erin's posts; alice names her (a mention, not a reply)
    "401": ("5", "2024-02-20T07:00", "Geneva merger Globex papers signed sources", None, None,
            None, None),                                          # more than 7 days before
    "402": ("5", "2024-03-02T07:00", "Lovely weather today", None, None, None, None),
    "403": ("5", "2024-03-03T07:00", "The Geneva merger papers were signed, sources say", None,
            None, None, None),
    "404": ("1", "2024-03-03T12:00", "What @erin wrote about the Geneva merger papers is made "
            "up.", None, None, None, None),
    "405": ("1", "2024-03-03T13:00", "@nobodyknown is wrong about everything", None, None,
            None, None),                                          # not a known account
    "406": ("1", "2024-03-03T14:00", "Thanks @dave for the lunch", None, None, None, None),
    # bob: a repost, an edited reply (two versions), a friendly reply
    "501": ("2", "2024-03-04T09:00", "RT Alice Martin told me the merger", None, None, "101",
            None),
    "502": ("2", "2024-03-04T10:00", "This is wrong", "101", None, None, "502"),
    "503": ("2", "2024-03-04T10:05", "This is wrong, Carol.", "101", None, None, "502"),
    "504": ("2", "2024-03-04T11:00", "Congratulations to both companies", "101", None, None,
            None),
    # an untracked account's denial; a tracked account's denial before the range
    "601": ("4", "2024-03-01T13:00", "@carol False, all of it.", "101", None, None, None),
    "602": ("1", "2024-01-01T08:00", "@carol That's a lie.", "100", None, None, None),
}

# text -> (label, p(deny), rule): the stance model's answers in this world
STANCES = {
    "@carol That never happened. No merger was agreed.": ("deny", 0.9, "stance-model v2"),
    "And the merger talk is fake.": ("deny", 0.95, "stance-model v2"),
    "Not true, I'm running.": ("deny", 0.4, "cue:explicit-denial"),
    "What @erin wrote about the Geneva merger papers is made up.": ("comment", 0.3,
                                                                    "stance-model v2"),
    "@nobodyknown is wrong about everything": ("deny", 0.9, "stance-model v2"),
    "Thanks @dave for the lunch": ("comment", 0.1, "stance-model v2"),
    "This is wrong": ("deny", 0.9, "stance-model v2"),
    "This is wrong, Carol.": ("deny", 0.7, "stance-model v2"),
    "Congratulations to both companies": ("support", 0.05, "stance-model v2"),
    "@carol False, all of it.": ("deny", 0.99, "stance-model v2"),
    "@carol That's a lie.": ("deny", 0.9, "stance-model v2"),
    "@alice So who is lying here?": ("query", 0.2, "stance-model v2"),
    "@alice Exactly, fake story.": ("support", 0.3, "stance-model v2"),
}

# url -> (title, published_at or None, first_seen_at)
ARTICLES = {
    "https://news.example/martin-denies": ("Alice Martin denies Geneva merger report by Carol "
                                           "Diaz", "2024-03-01T15:00", "2024-03-01T15:05"),
    "https://news.example/later": ("Martin and Diaz, four days on", "2024-03-05T10:00",
                                   "2024-03-05T10:00"),
    "https://news.example/one-party": ("Alice Martin at the summit", "2024-03-01T16:00",
                                       "2024-03-01T16:00"),
    "https://news.example/before": ("Diaz says Martin agreed the merger", "2024-03-01T09:30",
                                    "2024-03-01T09:30"),
    "https://other.example/stone": ("Stone rejects Wu's claim he quits", None,
                                    "2024-03-02T09:30"),
}

CALLS: list[tuple[list[str], list[str]]] = []


def fixed_stances(replies, parents, model=None):
    CALLS.append((list(replies), list(parents)))
    out = []
    for text in replies:
        label, p, rule = STANCES.get(text, ("comment", 0.05, "stance-model v2"))
        out.append(Stance(label, 0.8, rule, f"fixed: {label}", p))
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("denials") / "world.duckdb"
    con = open_db(path)
    for aid, (handle, name) in ACCOUNTS.items():
        con.execute("INSERT INTO accounts (platform, account_id, handle, name, first_seen_at, "
                    "last_seen_at) VALUES ('x', ?, ?, ?, ?, ?)", [aid, handle, name, SEEN, SEEN])
        con.execute("INSERT INTO account_handles (platform, account_id, handle, "
                    "first_seen_at, last_seen_at) VALUES ('x', ?, ?, ?, ?)",
                    [aid, handle, SEEN, SEEN])
    for pid, (author, when, text, reply, quoted, repost, chain) in POSTS.items():
        con.execute(
            "INSERT INTO posts (platform, post_id, author_id, created_at, text, "
            "reply_to_post_id, quoted_post_id, reposted_post_id, edit_chain_id, url, seen_in, "
            "first_seen_at, last_seen_at) VALUES ('x', ?, ?, ?, ?, ?, ?, ?, ?, ?, 'data', ?, ?)",
            [pid, author, at(when), text, reply, quoted, repost, chain,
             f"https://x.com/{ACCOUNTS[author][0]}/status/{pid}", SEEN, SEEN])
    # the same id on another platform (for PLATFORM:ID)
    con.execute("INSERT INTO posts (platform, post_id, author_id, created_at, text, seen_in, "
                "first_seen_at, last_seen_at) VALUES ('mastodon', '101', 'm1', ?, 'hello', "
                "'data', ?, ?)", [at("2024-03-01T09:00"), SEEN, SEEN])
    for url, (title, published, seen) in ARTICLES.items():
        con.execute("INSERT INTO articles (url, domain, outlet, title, published_at, "
                    "first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [url, url.split("/")[2], url.split("/")[2].split(".")[0].title(), title,
                     at(published) if published else None, at(seen), at(seen)])
    con.close()
    return path


@pytest.fixture
def con(world, monkeypatch):
    monkeypatch.setattr(dn, "stances", fixed_stances)
    CALLS.clear()
    c = open_db(world, read_only=True)
    yield c
    c.close()


def row(d: dn.Denial) -> tuple:
    return (d.post_id, d.account, d.relation, d.denied_account, d.denied_post_id, d.rule, d.cue,
            d.score, d.lag)


def test_each_target_and_rule_row_by_row(con):
    found = dn.find_denials(con, TRACKED, since=at("2024-02-25T00:00"))
    assert [row(d) for d in found] == [
        # the edited reply: its latest version only
        ("503", "bob", "reply", "carol", "101", "stance-model", "wrong", 0.7,
         timedelta(days=3, hours=1, minutes=5)),
        # a mention: erin's post of the 7 days before with most words in common
        ("404", "alice", "mention", "erin", "403", "negation-cue+stance", "made up", 0.3,
         timedelta(hours=5)),
        # a quote denied by the stance model's transparent rule
        ("302", "bob", "quote", "dave", "301", "stance-rule", "not true", 0.4,
         timedelta(hours=1)),
        ("201", "alice", "reply", "carol", "101", "stance-model", "never", 0.9,
         timedelta(hours=1, minutes=30)),
    ]
    d = found[-1]
    assert (d.platform, d.created_at, d.account_name, d.denied_name, d.denied_at) == (
        "x", at("2024-03-01T10:30"), "Alice Martin", "Carol Diaz", at("2024-03-01T09:00"))
    assert d.denied_text.startswith("Alice Martin told me the merger")
    assert (d.url, d.denied_url) == ("https://x.com/alice/status/201",
                                     "https://x.com/carol/status/101")
    assert d.evidence == ("reply to @carol's post 101; negation cue 'never'; p(deny)=0.90 >= "
                          "0.5; stance deny (stance-model v2)")
    assert found[1].evidence == ("mentions @erin, whose post 403 it shares words with; "
                                 "negation cue 'made up'; p(deny)=0.30 >= 0.25 with the cue; "
                                 "stance comment (stance-model v2)")
    assert found[2].evidence == "quote of @dave's post 301; stance rule cue:explicit-denial: " \
                                "fixed: deny"
    # The model is asked once for every candidate (toward its target), once for the replies.
    texts, parents = CALLS[0]
    # (not 204: alice's reply in her own thread; not 405: @nobodyknown is no known account)
    assert sorted(texts) == sorted(POSTS[p][2] for p in ("201", "302", "404", "406", "503",
                                                         "504"))
    assert parents[texts.index("Thanks @dave for the lunch")] == ""     # no related post
    assert parents[texts.index("Not true, I'm running.")] == POSTS["301"][2]
    assert len(CALLS) == 2


def test_replies_by_stance_and_press_naming_both(con):
    found = {d.post_id: d for d in dn.find_denials(con, TRACKED, since=at("2024-02-25"))}
    # 202 (query) and 203 (support) answer alice's denial; her own 204 is not counted
    assert found["201"].replies == {"support": 1, "deny": 0, "query": 1, "comment": 0}
    assert found["302"].replies == {"support": 0, "deny": 0, "query": 0, "comment": 0}
    # press naming both parties (surname or handle) within 3 days after the denial, at the
    # article's time: not before it, not 4 days on, not one party only
    assert [(p.url, p.at, p.clock, p.outlet) for p in found["201"].press] == [
        ("https://news.example/martin-denies", at("2024-03-01T15:00"), "published_at",
         "News")]
    assert [(p.url, p.at, p.clock) for p in found["302"].press] == [
        ("https://other.example/stone", at("2024-03-02T09:30"), "first_seen_at")]
    assert found["404"].press == [] and found["503"].press == []


def test_since_until_account_and_limit(con):
    def ids(**kw):
        return [d.post_id for d in dn.find_denials(con, TRACKED, **kw)]

    assert ids(since=at("2024-03-02T00:00")) == ["503", "404", "302"]
    assert ids(since=at("2024-03-02T00:00"), until=at("2024-03-04T00:00")) == ["404", "302"]
    assert ids(since=at("2023-12-01")) == ["503", "404", "302", "201", "602"]
    assert ids(since=at("2024-02-25"), account="bob") == ["503", "302"]
    assert ids(since=at("2024-02-25"), account="X:@Alice") == ["404", "201"]
    assert ids(since=at("2024-02-25"), limit=1) == ["503"]
    # default: the 7 days up to the newest stored post (2024-03-04 11:00)
    assert dn.default_since(con) == at("2024-02-26T11:00")
    assert ids() == ["503", "404", "302", "201"]
    assert dn.find_denials(con, [], since=at("2024-01-01")) == []
    with pytest.raises(InvalidArgument, match="--account carol: not a tracked account "
                                              r"\(config.yaml accounts: x:alice, x:bob\)"):
        dn.find_denials(con, TRACKED, account="carol")
    with pytest.raises(InvalidArgument):
        dn.find_denials(con, TRACKED, account="mastodon:alice")


def test_decide_at_the_thresholds():
    def st(p, label="comment", rule="stance-model v2"):
        return Stance(label, 0.5, rule, "", p)

    assert (dn.DENY_THRESHOLD, dn.CUE_THRESHOLD) == (0.5, 0.25)
    assert dn.decide(st(0.5), None) == "stance-model"
    assert dn.decide(st(0.4999), None) is None
    assert dn.decide(st(0.25), "never") == "negation-cue+stance"
    assert dn.decide(st(0.2499), "never") is None
    assert dn.decide(st(0.01, "deny", "cue:explicit-denial"), None) == "stance-rule"
    assert dn.decide(st(0.9, "query", "cue:is-it-true"), None) == "stance-model"


def test_one_post_as_a_candidate(con):
    d = dn.candidate(con, TRACKED, "201")
    assert (d.key, d.rule, d.denied_post_id) == ("x:201", "stance-model", "101")
    d = dn.candidate(con, TRACKED, "x:406")             # named, not flagged: still a candidate
    assert (d.rule, d.relation, d.denied_account, d.denied_post_id, d.denied_at) == (
        "not flagged", "mention", "dave", None, None)
    for ref, msg in (("999", "post 999 is not in the database"),
                     ("x:999", "post x:999 is not in the database"),
                     ("101", r"post 101 is on several platforms \(mastodon, x\): give "
                             "PLATFORM:101"),
                     ("x:101", "post x:101 is not a tracked account's latest post"),
                     ("x:502", "post x:502 is not a tracked account's latest post"),
                     ("x:204", "post x:204 is not a tracked account's latest post"),
                     ("x:501", "post x:501 is not a tracked account's latest post")):
        with pytest.raises(TrackerError, match=msg):
            dn.candidate(con, TRACKED, ref)
    with pytest.raises(InvalidArgument):
        dn.parse_post_ref("two words")


def test_a_story_stanza_from_a_denial(con):
    d = dn.candidate(con, TRACKED, "201")
    assert dn.story_stanza(d) == {
        "id": "alice-denies-carol-2024-03-01",
        "title": "Did @carol say it, as @alice denies? “Alice Martin told me the merger with "
                 "Globex was agreed in Geneva last week.”",
        "query": "(Globex OR Geneva) AND (Diaz OR carol OR Martin OR alice)",
        "window": {"start": date(2024, 2, 23), "end": date(2024, 3, 15)},
        "actors": [{"platform": "x", "handle": "carol", "role": "claimant"},
                   {"platform": "x", "handle": "alice", "role": "subject"}]}
    assert dn.story_stanza(d, "my-id")["id"] == "my-id"
    with pytest.raises(TrackerError, match="whom it denies is not known"):
        dn.story_stanza(dn.Denial(**{**d.__dict__, "denied_account": None}))


def test_party_terms():
    def names(name, handle):
        return [str(t) for t in dn.party_terms(name, handle)]

    assert names("Dave Wu", "dave") == ["Wu", "dave"]
    assert names("Martin Luther King Jr.", "mlk") == ["King", "mlk"]
    assert names("Alice Martin (parody) 🚀", "alice") == ["Martin", "alice"]
    assert names("NASA", "nasa") == ["NASA"]
    assert names(None, "bob") == ["bob"]


def test_salient_words():
    assert dn.salient_words("Musk told me he had spoken with Putin and the Kremlin about "
                            "Ukraine.", "I have spoken to Putin only once. The subject was "
                            "space.", exclude={"Musk"}) == ["Putin", "Kremlin", "Ukraine"]
    # no proper noun: the words both posts use, then long ones; handles and links ignored
    assert dn.salient_words("@bob the pipeline leaked https://t.co/x", "no leak, the pipeline "
                            "is fine") == ["pipeline"]
    # nothing that strong: the best of what is left, at most three
    assert dn.salient_words("the deal leaked", "deal is off, nothing leaked yet") == [
        "deal", "leaked"]
    assert dn.salient_words("", "") == []


def test_frame_has_every_column(con):
    df = dn.denials_frame(dn.find_denials(con, TRACKED, since=at("2024-02-25")))
    assert list(df.columns) == list(dn.COLUMNS)
    assert df["post_id"].tolist() == ["503", "404", "302", "201"]
    assert df.loc[3, ["replies", "support", "query", "press", "press_outlets"]].tolist() == [
        2, 1, 1, 1, "News"]
    assert df.loc[3, "press_urls"] == ["https://news.example/martin-denies"]
    assert str(df["created_at"].dtype) == "datetime64[us, UTC]" or \
        str(df["created_at"].dtype).endswith(", UTC]")
    assert df.loc[3, "lag"] == timedelta(hours=1, minutes=30)
    assert dn.denials_frame([]).columns.tolist() == list(dn.COLUMNS)


# --- the demo's sample, no story configured, the packaged stance model -----------------------

DEMO_ACCOUNTS = [("x", "elonmusk"), ("x", "ianbremmer")]


@pytest.fixture(scope="module")
def demo_con(tmp_path_factory):
    c = open_db(demo_database(tmp_path_factory), read_only=True)
    yield c
    c.close()


def test_the_demo_subjects_denial_of_the_claim_is_found_without_a_story(demo_con):
    assert demo_con.execute("SELECT (SELECT count(*) FROM stories) + (SELECT count(*) FROM "
                            "story_items)").fetchall() == [(0,)]
    found = dn.find_denials(demo_con, DEMO_ACCOUNTS)
    assert dn.default_since(demo_con) == at("2022-10-05T07:45")
    assert [(d.post_id, d.account, d.relation, d.denied_account, d.denied_post_id,
             d.denied_at, d.lag, d.cue) for d in found] == [
        (SECOND_DENIAL, "elonmusk", "reply", "ianbremmer", REBUTTAL, at("2022-10-11T14:33"),
         timedelta(hours=2, minutes=32), "no one should"),
        (DENIAL, "elonmusk", "reply", "ianbremmer", CLAIM, at("2022-10-11T12:10"),
         timedelta(hours=1, minutes=30), "only once"),
    ]
    for d in found:       # the rule the score calls for (the scores are the model's)
        assert d.rule == ("stance-model" if d.score >= dn.DENY_THRESHOLD else
                          "negation-cue+stance"), (d.rule, d.score)
        assert d.score >= dn.CUE_THRESHOLD
    denial = found[1]
    assert denial.text == ("I have spoken to Putin only once and that was about 18 months "
                           "ago. The subject matter was space.")
    assert denial.denied_text.startswith("As I wrote to our clients: Elon Musk told me")
    # its replies: "Exactly, this report is false." (a denial by the stance rule), "So who is
    # telling the truth here?" and the claimant's rebuttal (its edited version only)
    assert sum(denial.replies.values()) == 3 and denial.replies["deny"] >= 1
    assert [(p.at, p.outlet) for p in denial.press] == [
        (at("2022-10-11T14:20"), "Business Insider"),
        (at("2022-10-11T15:15"), "newsweek.com"),
        (at("2022-10-11T16:30"), "VICE News"),
        (at("2022-10-11T17:45"), "Business Insider"),
        (at("2022-10-12T07:30"), "politico.eu")]
    # (the titles that name Musk but not Bremmer, such as The Hill's, are not listed)
    # the claimant posted no denial
    assert dn.find_denials(demo_con, DEMO_ACCOUNTS, account="ianbremmer") == []

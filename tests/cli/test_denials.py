"""`tracker denials` and `tracker story new --from-denial` on the demo's sample with no story
configured: the output formats, --since and --account, the stanza written into config.yaml (every
other byte kept), what is refused, and the exit codes (usage errors 2, the tracker's errors 1)."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from tests.denials_demo import CLAIM, CONFIG, DENIAL, REBUTTAL, SECOND_DENIAL, demo_config
from tracker.analysis.denials import COLUMNS
from tracker.cli import cli
from tracker.store.db import open_db


def invoke(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], obj={})


@pytest.fixture
def cfg(tmp_path, tmp_path_factory):
    return demo_config(tmp_path, tmp_path_factory)


def test_the_table(cfg):
    res = invoke(cfg, "denials")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("2 denials since 2022-10-05 07:45Z — times in UTC; replies "
                               "support/deny/query/comment")
    rows = [[c.strip() for c in ln.split("│")[1:-1]] for ln in lines if ln.startswith("│")]
    assert [r[:6] for r in rows] == [
        ["2022-10-11 17:05Z", SECOND_DENIAL, "elonmusk", "ianbremmer", "2 h 32 min", "reply"],
        ["2022-10-11 13:40Z", DENIAL, "elonmusk", "ianbremmer", "1 h 30 min", "reply"]]
    assert [r[8] for r in rows] == ["2", "5"]                       # press naming both


def test_csv_and_json_give_every_column(cfg):
    res = invoke(cfg, "denials", "--format", "csv")
    assert res.exit_code == 0, res.output
    df = pd.read_csv(io.StringIO(res.output), dtype=str)
    assert list(df.columns) == list(COLUMNS)
    assert df[["post_id", "denied_post_id", "created_at", "denied_at", "lag", "relation",
               "cue"]].values.tolist() == [
        [SECOND_DENIAL, REBUTTAL, "2022-10-11T17:05:00.000000+00:00",
         "2022-10-11T14:33:00.000000+00:00", "P0DT2H32M0S", "reply", "no one should"],
        [DENIAL, CLAIM, "2022-10-11T13:40:00.000000+00:00", "2022-10-11T12:10:00.000000+00:00",
         "P0DT1H30M0S", "reply", "only once"]]
    assert df.loc[0, "press_urls"] == (
        "https://www.businessinsider.com/ian-bremmer-stands-by-musk-putin-account-2022-10 "
        "https://www.politico.eu/article/sample-musk-bremmer-putin-ukraine-who-to-believe")
    assert df.loc[1, "press_outlets"] == "Business Insider, newsweek.com, VICE News, politico.eu"
    assert df.loc[1, "url"] == f"https://x.com/elonmusk/status/{DENIAL}"

    res = invoke(cfg, "denials", "--format", "json")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines()]
    assert [(r["post_id"], r["account"], r["denied_account"], r["press"], r["replies"])
            for r in rows] == [(SECOND_DENIAL, "elonmusk", "ianbremmer", 2, 2),
                               (DENIAL, "elonmusk", "ianbremmer", 5, 3)]
    assert list(rows[0]) == list(COLUMNS)
    assert rows[1]["press_urls"][0] == ("https://www.businessinsider.com/elon-musk-denies-putin"
                                        "-talks-ukraine-ian-bremmer-2022-10")
    assert rows[1]["denied_text"].startswith("As I wrote to our clients")


def test_since_and_account(cfg):
    def posts(*args):
        res = invoke(cfg, "denials", "--format", "csv", *args)
        assert res.exit_code == 0, res.output
        return pd.read_csv(io.StringIO(res.output), dtype=str)["post_id"].tolist()

    assert posts("--since", "2022-10-11T15:00Z") == [SECOND_DENIAL]
    assert posts("--since", "2022-10-11") == [SECOND_DENIAL, DENIAL]
    assert posts("--since", "2022-10-12") == []
    assert posts("--since", "1d") == []                  # a day back from now: nothing as new
    assert posts("--account", "elonmusk") == [SECOND_DENIAL, DENIAL]
    assert posts("--account", "x:ElonMusk", "--since", "2022-10-11T17:00Z") == [SECOND_DENIAL]
    assert posts("--account", "ianbremmer") == []
    res = invoke(cfg, "denials", "--account", "ianbremmer")
    assert res.exit_code == 0 and res.output.strip() == \
        "no denials by @ianbremmer since 2022-10-05 07:45Z"


@pytest.mark.parametrize("args, msg", [
    (("--account", "nobody"), "error: --account nobody: not a tracked account (config.yaml "
                              "accounts: x:elonmusk, x:ianbremmer)"),
    (("--since", "yesterday"), "error: --since 'yesterday': give a date (2022-10-11), an ISO "
                               "time (2022-10-11T14:00Z) or a duration back from now"),
    (("--format", "xml"), "Invalid value for '--format'"),
])
def test_usage_errors_exit_2(cfg, args, msg):
    res = invoke(cfg, "denials", *args)
    assert res.exit_code == 2 and msg in res.output, res.output


def test_no_tracked_accounts(tmp_path, tmp_path_factory):
    cfg = demo_config(tmp_path, tmp_path_factory,
                      CONFIG.replace("  - {{platform: x, handle: elonmusk}}\n", "")
                      .replace("  - {{platform: x, handle: ianbremmer}}\n", "")
                      .replace("accounts:\n", "accounts: []\n"))
    res = invoke(cfg, "denials")
    assert res.exit_code == 0
    assert res.output.strip() == "no tracked accounts: list them under `accounts:` in config.yaml"


# --- story new --from-denial ----------------------------------------------------------------

STANZA = f"""\
  # from the denial x:{DENIAL} by @elonmusk (tracker story new --from-denial): refine the title, query and window
  - id: elonmusk-denies-ianbremmer-2022-10-11
    title: 'Did @ianbremmer say it, as @elonmusk denies? “As I wrote to our clients: Elon Musk told me he had spoken with Putin and the K…”'
    query: '(Putin OR Kremlin OR Ukraine) AND (bremmer OR ianbremmer OR Musk OR elonmusk)'
    window: {{start: 2022-10-04, end: 2022-10-25}}
    actors:
      - {{platform: x, handle: ianbremmer, role: claimant}}
      - {{platform: x, handle: elonmusk, role: subject}}
"""

HAND_WRITTEN = """\
# The analyst's own file: comments, blank lines, quoting and alignment must all survive.
storage:
  database:   {db}      # aligned by hand
  raw_dir:    raw

accounts:
  - {{platform: x, handle: elonmusk}}     # the subject
  - {{platform: x, handle: ianbremmer}}   # the claimant

stories:
  - id: older
    title: "An older story"   # keep this comment
    query: 'Mars OR "Starship"'
    window: {{start: "2022-09-01", end: "2022-09-30"}}
    actors:
      - {{platform: x, handle: elonmusk, role: subject}}
  # - id: an-idea   (commented out; stays below the new story)

x:
  replies_window_days: 7
"""


def test_story_new_writes_the_stanza_and_keeps_every_other_byte(tmp_path, tmp_path_factory):
    cfg = demo_config(tmp_path, tmp_path_factory, HAND_WRITTEN)
    before = cfg.read_text(encoding="utf-8")
    res = invoke(cfg, "story", "new", "--from-denial", DENIAL)
    assert res.exit_code == 0, res.output
    after = cfg.read_text(encoding="utf-8")
    cut = before.index("  # - id: an-idea")
    assert after == before[:cut] + STANZA + before[cut:]
    assert res.output.splitlines()[:2] == [
        f"added story elonmusk-denies-ianbremmer-2022-10-11 to {cfg}",
        f"from x:{DENIAL} by @elonmusk, answering @ianbremmer"]
    assert res.output.splitlines()[-1] == ("refine the title, query and window, then run: "
                                           "tracker analyze elonmusk-denies-ianbremmer-2022-10-11")
    assert not list(tmp_path.glob(".config.yaml.*"))              # no temporary file left

    # the same id again: refused, nothing written
    res = invoke(cfg, "story", "new", "--from-denial", f"x:{DENIAL}")
    assert res.exit_code == 1
    assert "error: story 'elonmusk-denies-ianbremmer-2022-10-11' is already in" in res.output
    assert cfg.read_text(encoding="utf-8") == after
    # an id of a story written by hand: refused too
    res = invoke(cfg, "story", "new", "--from-denial", SECOND_DENIAL, "--id", "older")
    assert res.exit_code == 1 and "story 'older' is already in" in res.output
    # another id: a second stanza after the first
    res = invoke(cfg, "story", "new", "--from-denial", SECOND_DENIAL, "--id", "who-to-believe")
    assert res.exit_code == 0, res.output
    doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    assert [s["id"] for s in doc["stories"]] == [
        "older", "elonmusk-denies-ianbremmer-2022-10-11", "who-to-believe"]
    assert doc["stories"][2]["actors"] == [
        {"platform": "x", "handle": "ianbremmer", "role": "claimant"},
        {"platform": "x", "handle": "elonmusk", "role": "subject"}]
    assert doc["x"] == {"replies_window_days": 7}


@pytest.mark.parametrize("args, code, msg", [
    (("--from-denial", "999"), 1, "error: post 999 is not in the database"),
    (("--from-denial", CLAIM), 1, f"error: post x:{CLAIM} is not a tracked account's latest "
                                  "post that replies to, quotes or mentions another account"),
    (("--from-denial", "1579814068024246281"), 1, "is not a tracked account's latest post"),
    (("--from-denial", "two words"), 2, "error: post 'two words': give a post id or "
                                        "PLATFORM:ID"),
    (("--from-denial", DENIAL, "--id", "Bad Id"), 2, "Invalid value for '--id': use lower-case"),
    ((), 2, "Missing option '--from-denial'"),
])
def test_story_new_refuses(cfg, args, code, msg):
    before = cfg.read_bytes()
    res = invoke(cfg, "story", "new", *args)
    assert res.exit_code == code and msg in res.output, res.output
    assert cfg.read_bytes() == before


def test_a_flow_list_of_stories_is_left_to_the_analyst(tmp_path, tmp_path_factory):
    # `stories: [{...}]` cannot take a block item without rewriting the line: refused
    cfg = demo_config(tmp_path, tmp_path_factory, CONFIG.replace(
        "stories: []", "stories: [{{id: a, title: A, query: x, window: {{start: '2022-10-01', "
                       "end: '2022-10-02'}}}}]"))
    before = cfg.read_bytes()
    res = invoke(cfg, "story", "new", "--from-denial", DENIAL)
    assert res.exit_code == 2, res.output
    assert "stories: is written as a [...] list; add the item by hand" in res.output
    assert cfg.read_bytes() == before


def test_the_new_story_analyses_like_the_hand_written_one(cfg):
    """The stanza from the denial, analysed as it is, gives the demo story's firsts."""
    res = invoke(cfg, "story", "new", "--from-denial", DENIAL)
    assert res.exit_code == 0, res.output
    res = invoke(cfg, "analyze", "elonmusk-denies-ianbremmer-2022-10-11")
    assert res.exit_code == 0, res.output
    db = yaml.safe_load(cfg.read_text())["storage"]["database"]
    con = open_db(db, read_only=True)
    try:
        got = con.execute("""
            SELECT first_claim_item, first_claim_press_at, first_denial_item,
                   first_denial_press_at, first_rebuttal_item, claim_to_denial
            FROM story_firsts WHERE story_id = 'elonmusk-denies-ianbremmer-2022-10-11'
            """).df().astype(str).values.tolist()
    finally:
        con.close()
    assert got == [[CLAIM, "2022-10-11 12:55:00+00:00", DENIAL, "2022-10-11 14:20:00+00:00",
                    "1579840492139446286", "0 days 01:30:00"]]
